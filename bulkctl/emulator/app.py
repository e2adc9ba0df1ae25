"""The emulator's routes: one request in, one answer out, with no transport attached.

Both API prefixes are served: ``/multi`` (login with password) and ``/multi/backoffice``
(access token). The same instance is wrapped by an httpx transport for the in-process
``demo`` profile and by a real HTTP server for ``bulkctl emulator serve`` and the tests.

Anything a spec-conforming client would never send is answered as the API would (400)
and also recorded in ``violations``, so tests can assert that bulkctl stays in bounds.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bulkctl.emulator.auth import (
    DEMO_API_KEY,
    DEMO_EMAIL,
    DEMO_IDENTITIES,
    DEMO_PASSWORD,
    DEMO_TOKEN,
    DIGITS,
    AuthRoutes,
    served_identities,
)
from bulkctl.emulator.messages import (
    Faults,
    Request,
    Response,
    Scripted,
    error_answer,
    json_answer,
    syntax_error,
)
from bulkctl.emulator.quota import Quota, Refusal
from bulkctl.emulator.spec import (
    BULK_STATUSES,
    IDEMPOTENCY_REF_MAX,
    IDEMPOTENCY_WINDOW_SECONDS,
    INT32_MAX,
    INT64_MAX,
    MODES,
    OPERATION_STATUSES,
    PAGE_LIMIT_MAX,
    PREFIXES,
    SUBMISSIONS_BY_PATH,
    SubmissionKind,
)
from bulkctl.emulator.state import EmulatorState, InvalidState, TokenInfo

__all__ = [  # names the tests, the demo and the benchmarks take from here
    "DEMO_API_KEY",
    "DEMO_EMAIL",
    "DEMO_IDENTITIES",
    "DEMO_PASSWORD",
    "DEMO_TOKEN",
    "Emulator",
    "Faults",
    "Request",
    "Response",
    "Scripted",
]
from bulkctl.emulator.submissions import build_operations, check_items, extra_fields


class Emulator(AuthRoutes):
    """The Weavr bulk endpoints, emulated. Thread-safe."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        *,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        journal: Callable[[dict[str, Any]], None] | None = None,
        identities: int = len(DEMO_IDENTITIES),
    ) -> None:
        self.clock = clock
        self.state = state if state is not None else EmulatorState(now=clock())
        self.serving = self.state
        self.identities = served_identities(max(1, identities))
        self._identity_states = {}
        self.faults = faults or Faults()
        self.journal = journal
        self.violations: list[str] = []
        # the latest requests (method, path and query), for tests and --log; bounded for long runs
        self.requests: deque[tuple[str, str]] = deque(maxlen=100_000)
        self._lock = threading.Lock()
        self._fault_rng = random.Random(self.faults.seed)
        self._throttle_flip = False
        self.quota = Quota(self.faults.quota) if self.faults.quota else None
        # requests per route ("GET /multi/bulks/{bulk_id}") and quota answers per route
        self.route_counts: Counter[str] = Counter()
        self.quota_answer_counts: Counter[str] = Counter()
        self._scripted_seen: Counter[int] = Counter()  # requests matched per scripted answer
        self.state.tokens[DEMO_TOKEN] = TokenInfo("any", 0.0, expires_when_idle=False)

    # -- entry point --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        self.seed_outside_the_lock(request)
        with self._lock:
            response = self._handle_locked(request)
        response.headers.setdefault("request-ref", uuid.uuid4().hex[:16])
        if response.body is not None:
            response.headers.setdefault("content-type", "application/json")
        response.delay += self.faults.latency_ms / 1000.0
        response.trickle = self.faults.slow_body
        return response

    def expire_tokens(self) -> None:
        """Make every issued token (but the demo one) invalid, as if it timed out."""
        with self._lock:
            for token in [t for t in self.state.tokens if t != DEMO_TOKEN]:
                del self.state.tokens[token]

    def _handle_locked(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        path = parts.path
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.requests.append((request.method, request.url))
        self.serving = self.state  # until a token names another identity
        api, route, rest = _resolve(path)
        key = f"{request.method} {route}"
        self.route_counts[key] += 1
        if self.quota is not None:
            refusal = self.quota.admit(self.clock())
            if refusal is not None:
                self.quota_answer_counts[key] += 1
                return self._quota_answer(route, refusal)
        fault = self._scripted(request.method, route) or self._fault()
        if fault is not None:
            return fault
        if api is None:
            return error_answer(404, "NOT_FOUND", f"no route for {path}")
        return self._route(api, request.method, rest, query, request)

    # -- counts -------------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Requests received since the start (or the last ``reset_counts``)."""
        return sum(self.route_counts.values())

    @property
    def quota_answer_count(self) -> int:
        """Requests refused by the quota (429 or 409 TOO_MANY_REQUESTS)."""
        return sum(self.quota_answer_counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.route_counts.clear()
            self.quota_answer_counts.clear()

    # -- quotas -------------------------------------------------------------------------------

    def _quota_answer(self, route: str, refusal: Refusal) -> Response:
        """The answer past a window: 409 TOO_MANY_REQUESTS where the spec documents it, else 429."""
        headers: dict[str, str] = {}
        if self.faults.quota_headers:
            headers["x-ratelimit-limit"] = refusal.limit_header()
            headers["x-ratelimit-reset"] = str(refusal.reset_seconds)
        answer = self.faults.quota_answer
        if answer == "spec":
            answer = "409" if _documents_throttle_409(route) else "429"
        if answer == "409":
            return Response(409, json.dumps({"errorCode": "TOO_MANY_REQUESTS"}).encode(), headers)
        return Response(429, None, headers)

    def _scripted(self, method: str, route: str) -> Response | None:
        for index, scripted in enumerate(self.faults.scripted):
            want_method, _, want_route = scripted.route.partition(" ")
            if method != want_method or not route.endswith(want_route):
                continue
            seen = self._scripted_seen[index]
            self._scripted_seen[index] += 1
            if seen < scripted.skip:
                return None
            if scripted.times is not None and seen >= scripted.skip + scripted.times:
                continue
            body = None if scripted.body is None else json.dumps(scripted.body).encode()
            return Response(scripted.status, body, dict(scripted.headers))
        return None

    def _fault(self) -> Response | None:
        f, rng = self.faults, self._fault_rng
        if f.drop_rate and rng.random() < f.drop_rate:
            return Response(0, drop=True)
        if f.fail_rate and rng.random() < f.fail_rate:
            return Response(503, headers={"Retry-After": str(f.retry_after)})
        if f.throttle_rate and rng.random() < f.throttle_rate:
            self._throttle_flip = not self._throttle_flip
            if self._throttle_flip:
                return Response(
                    429,
                    headers={
                        "x-ratelimit-limit": "20, 20;w=1",
                        "x-ratelimit-reset": str(f.retry_after),
                    },
                )
            return json_answer(409, {"errorCode": "TOO_MANY_REQUESTS"})
        return None

    # -- routing ----------------------------------------------------------------------------

    def _route(
        self, api: str, method: str, path: str, query: list[tuple[str, str]], request: Request
    ) -> Response:
        if path == "/login_with_password" and api == "multi":
            return self._only(method, "POST") or self._login(request)
        if path == "/access_token" and api == "backoffice":
            return self._only(method, "POST") or self._access_token(request)
        if path == "/logout" and api == "multi":
            return self._only(method, "POST") or self._logout(request)
        kind = SUBMISSIONS_BY_PATH.get(path)
        if kind is not None:  # before the bulk-id routes: /bulks/transfers is not a bulk id
            if api not in kind.apis:
                self.violations.append(f"{method} {path}: not an endpoint of the {api} API")
                return error_answer(404, "NOT_FOUND", f"no route for {path}")
            denied = self._only(method, kind.method) or self._authenticate(api, request)
            return denied or self._submit(api, kind, request)
        segments = path.strip("/").split("/")
        if not segments or segments[0] != "bulks" or len(segments) > 3:
            return error_answer(404, "NOT_FOUND", f"no route for {path}")
        denied = self._authenticate(api, request)
        if denied is not None:
            return denied
        now = self.clock()
        self.serving.advance(now)
        if len(segments) == 1:
            return self._only(method, "GET") or self._list_bulks(query, now)
        bulk_id = segments[1]
        if not DIGITS.fullmatch(bulk_id):
            self.violations.append(f"{method} {path}: bulk_id does not match ^[0-9]+$")
            return syntax_error("bulk_id", "REGEX", ["^[0-9]+$"])
        if len(segments) == 2:
            return self._only(method, "GET") or self._get_bulk(bulk_id)
        action = segments[2]
        if action == "operations":
            return self._only(method, "GET") or self._list_operations(bulk_id, query)
        if action in ("execute", "pause", "resume", "cancel"):
            return self._only(method, "POST") or self._act(bulk_id, action, request, now)
        return error_answer(404, "NOT_FOUND", f"no route for {path}")

    def _only(self, method: str, allowed: str) -> Response | None:
        if method == allowed:
            return None
        self.violations.append(f"method {method} where the spec has {allowed}")
        return error_answer(405, "METHOD_NOT_ALLOWED", f"use {allowed}")

    # -- bulks --------------------------------------------------------------------------------

    def _paging(
        self, query: list[tuple[str, str]], allowed: tuple[str, ...]
    ) -> tuple[int, int, str | None, Response | None]:
        params: dict[str, str] = {}
        for key, value in query:
            if key in params:
                self.violations.append(f"query parameter {key} given twice")
            params[key] = value
        offset = limit = 0
        for name, low, high, default in (
            ("offset", 0, INT32_MAX, 0),
            ("limit", 1, PAGE_LIMIT_MAX, PAGE_LIMIT_MAX),
        ):
            raw = params.get(name)
            if raw is None:
                number = default
            elif not re.fullmatch(r"-?[0-9]+", raw) or not low <= int(raw) <= high:
                self.violations.append(f"{name}={raw!r} outside {low}..{high}")
                return 0, 0, None, syntax_error(name, "RANGE", [str(low), str(high)])
            else:
                number = int(raw)
            if name == "offset":
                offset = number
            else:
                limit = number
        status = params.get("status")
        if status is not None and status not in allowed:
            self.violations.append(f"status={status!r} is not in the enum")
            return 0, 0, None, syntax_error("status", "IN", list(allowed))
        return offset, limit, status, None

    def _list_bulks(self, query: list[tuple[str, str]], now: float) -> Response:
        offset, limit, status, error = self._paging(query, BULK_STATUSES)
        if error is not None:
            return error
        if self.faults.churn:
            self.serving.insert_submitted(now, self.faults.churn)
        ids = self.serving.listing(status)
        page = [self.serving.bulks[i].api_json() for i in ids[offset : offset + limit]]
        body = f'{{"count": {len(ids)}, "bulkProcesses": [{", ".join(page)}], "responseCount": {len(page)}}}'
        return Response(200, body.encode())

    def _get_bulk(self, bulk_id: str) -> Response:
        bulk = self.serving.bulks.get(bulk_id)
        if bulk is None:
            return error_answer(404, "NOT_FOUND", f"bulk process {bulk_id} not found")
        return json_answer(200, bulk.to_api(details=True))

    def _list_operations(self, bulk_id: str, query: list[tuple[str, str]]) -> Response:
        offset, limit, status, error = self._paging(
            [(k, v) for k, v in query if k != "sequence"], OPERATION_STATUSES
        )
        if error is not None:
            return error
        sequence: int | None = None
        for key, raw in query:
            if key == "sequence":
                in_range = re.fullmatch(r"-?[0-9]{1,19}", raw) is not None
                if not in_range or not -INT64_MAX - 1 <= int(raw) <= INT64_MAX:
                    self.violations.append(f"sequence={raw!r} is not an int64")
                    return syntax_error("sequence", "RANGE", [])
                sequence = int(raw)
        bulk = self.serving.bulks.get(bulk_id)
        if bulk is None:
            return error_answer(404, "NOT_FOUND", f"bulk process {bulk_id} not found")
        if sequence is not None:
            positions: list[int] = [sequence - 1] if 1 <= sequence <= bulk.items else []
            if status is not None:
                positions = [p for p in positions if bulk.operation_status(p) == status]
            total = len(positions)
            window = positions[offset : offset + limit]
        elif status is None:
            total = bulk.items
            window = list(range(offset, min(offset + limit, total)))
        else:
            matching = self._positions_with_status(bulk, status)
            total = len(matching)
            window = matching[offset : offset + limit]
        ops = [bulk.operation_record(p) for p in window]
        return json_answer(200, {"count": total, "operations": ops, "responseCount": len(ops)})

    @staticmethod
    def _positions_with_status(bulk: Any, status: str) -> list[int]:
        if status == "FAILED":
            return [p for p in bulk.fails if p < bulk.cursor]
        if status == "COMPLETED":
            fails = set(bulk.fails)
            return [p for p in range(bulk.cursor) if p not in fails]
        return [p for p in range(bulk.cursor, bulk.items) if bulk.operation_status(p) == status]

    def _act(self, bulk_id: str, action: str, request: Request, now: float) -> Response:
        mode: str | None = None
        if action == "execute":
            body = self._read_json(request)
            if not isinstance(body, dict):
                self.violations.append("execute without its JSON body")
                return syntax_error("mode", "REQUIRED", [])
            mode = body.get("mode")
            if mode not in MODES:
                self.violations.append(f"execute with mode {mode!r}")
                return syntax_error("mode", "IN", list(MODES))
            interval = body.get("webhookInterval")
            if interval is not None and (
                not isinstance(interval, int) or isinstance(interval, bool) or interval > INT32_MAX
            ):
                self.violations.append(f"execute with webhookInterval {interval!r}")
                return syntax_error("webhookInterval", "RANGE", [])
        elif request.body:
            self.violations.append(f"{action} sent a body; the spec defines none")
        if bulk_id not in self.serving.bulks:
            return error_answer(404, "NOT_FOUND", f"bulk process {bulk_id} not found")
        try:
            self.serving.act(bulk_id, action, now, mode)
        except InvalidState:
            return json_answer(409, {"errorCode": "INVALID_STATE"})
        if self.journal is not None and self.serving is self.state:
            self.journal({"at": now, "bulkId": bulk_id, "action": action, "mode": mode})
        return Response(204)

    def _submit(self, api: str, kind: SubmissionKind, request: Request) -> Response:
        ref = request.headers.get("idempotency-ref")
        if ref is not None and not kind.idempotent:
            self.violations.append(
                f"idempotency-ref sent to {kind.path}, which does not document it"
            )
            ref = None
        if ref is not None and len(ref) > IDEMPOTENCY_REF_MAX:
            self.violations.append(f"idempotency-ref longer than {IDEMPOTENCY_REF_MAX}")
            return error_answer(413, "PAYLOAD_TOO_LARGE", "idempotency-ref is too long")
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            self.violations.append(f"{kind.path}: the body is not JSON")
            return json_answer(400, {"message": "the request body is not valid JSON"})
        problems = check_items(kind, body)
        if problems:
            self.violations.append(
                f"{request.method} {kind.path}: {len(problems)} invalid field(s), first "
                f"{problems[0][0]} {problems[0][1]}"
            )
            return json_answer(
                400,
                {
                    "message": f"{len(problems)} invalid field(s)",
                    "syntaxErrors": {
                        "invalidFields": [
                            {"fieldName": name, "error": error, "params": params}
                            for name, error, params in problems[:MAX_INVALID_FIELDS]
                        ]
                    },
                },
            )
        assert isinstance(body, list)
        self.violations.extend(f"{kind.path}: {note}" for note in extra_fields(kind, body))
        now = self.clock()
        fingerprint = ""
        if ref is not None:
            fingerprint = hashlib.sha256(
                f"{request.method} {kind.path} ".encode()
                + json.dumps(body, sort_keys=True).encode()
            ).hexdigest()
            seen = self.serving.idempotency.get((api, ref))
            if seen is not None and now - seen[2] < IDEMPOTENCY_WINDOW_SECONDS:
                if seen[0] == fingerprint:
                    return Response(201, seen[1])
                return error_answer(
                    422,
                    "IDEMPOTENCY_REF_REUSED",
                    "this idempotency-ref was already used with another payload",
                )
        bulk = self.serving.submit(now, kind, build_operations(kind, body))
        answer = json.dumps(
            {"bulkId": bulk.bulk_id, "operationCount": bulk.items, "path": kind.path}
        ).encode()
        if ref is not None:
            self.serving.idempotency[(api, ref)] = (fingerprint, answer, now)
        if self.journal is not None and self.serving is self.state:
            self.journal({"at": now, "submit": kind.name, "api": api, "ref": ref, "items": body})
        return Response(201, answer)


MAX_INVALID_FIELDS = 100  # a 10,000-item body can be wrong everywhere; the answer stays small

# Routes whose documented 409 answer includes TOO_MANY_REQUESTS (BulkProcessorConflictResponse)
_THROTTLED_409 = re.compile(
    r"/multi(/backoffice)?/bulks(/\{bulk_id\}/(execute|pause|resume|cancel))?"
)


def _documents_throttle_409(route: str) -> bool:
    return _THROTTLED_409.fullmatch(route) is not None


def _resolve(path: str) -> tuple[str | None, str, str]:
    """(api, route template with its prefix, path after the prefix) for counting and routing."""
    for prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            api = "backoffice" if prefix.endswith("backoffice") else "multi"
            rest = path[len(prefix) :]
            segments = rest.strip("/").split("/")
            if rest in SUBMISSIONS_BY_PATH or segments[0] != "bulks" or not 2 <= len(segments) <= 3:
                return api, prefix + rest, rest
            template = "/bulks/{bulk_id}" + "".join(f"/{s}" for s in segments[2:])
            return api, prefix + template, rest
    return None, "(unknown)", path
