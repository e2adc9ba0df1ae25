"""The only module that speaks HTTP.

``ApiClient`` sends spec-conforming requests, retries what is safe to retry, maps every
answer to a typed record or to one of the errors in ``bulkctl.errors``, and never lets a
transport exception or a malformed body escape as anything else.
"""

from __future__ import annotations

import datetime
import email.utils
import http
import json
import math
import random
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bulkctl import __version__
from bulkctl.api.records import (
    INT32_MAX,
    BulkProcess,
    Page,
    ShapeError,
    parse_bulk,
    parse_bulk_page,
    parse_operation_page,
    parse_token,
)
from bulkctl.api.wire import check_base_url, check_credential, goes_direct
from bulkctl.errors import (
    ApiError,
    BadRequest,
    BulkctlError,
    Conflict,
    DeadlineReached,
    Forbidden,
    MalformedResponse,
    NetworkError,
    NotFound,
    OutcomeUnknown,
    ServerError,
    Throttled,
    Unauthorized,
    UsageError,
)
from bulkctl.pacing.learner import format_seconds
from bulkctl.pacing.pacer import Pacer, PaceUsage, QuotaWaitTooLong, parse_limit_header
from bulkctl.safetext import safe_text

RecordT = TypeVar("RecordT")
USER_AGENT = f"bulkctl/{__version__}"
PATH_ID = re.compile(r"[0-9]+")
RETRYABLE_STATUSES = frozenset({502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0
NAMED_WAIT_MAX = 10.0**12  # seconds: a larger number still means "far ahead", never "now"
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # decoded; real pages are tens of KB
SUBMIT_RETRY_STATUSES = frozenset({500, 502, 503, 504})
SUBMIT_SECONDS_PER_ITEM = 0.01  # on top of request_timeout: 10,000 items get 100 s more

CHUNK_BYTES = 64 * 1024


def check_bulk_id(bulk_id: str) -> str:
    """A path id must be ASCII digits only (the spec's ^[0-9]+$), checked before any request."""
    if not PATH_ID.fullmatch(bulk_id):
        raise UsageError(
            f"invalid bulk id {bulk_id!r}: a bulk id is digits only (0-9)",
            hint="find ids with:",
            suggest=("list",),
        )
    return bulk_id


class ConcurrencyLimiter:
    """Caps requests in flight; throttling halves the cap for the rest of the command."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._in_flight = 0
        self._cond = threading.Condition()

    def __enter__(self) -> None:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self.limit = max(1, self.limit // 2)


@dataclass
class RetryPolicy:
    attempts: int = 4
    deadline: float = 120.0  # seconds for one logical request, its retries included
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: Retry-After, else full jitter."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))


@dataclass
class _Attempts:
    """The budget of one logical request: attempts, retry time, re-login and quota wait."""

    retry_until: float
    hard: float | None  # the caller's absolute deadline (monotonic), if any
    count: int = 0
    relogged: bool = False
    quota_since: float | None = None  # when this request first waited for the quota


class _PolicyClock:
    """The retry policy's clock for a client built without a pacer (tests, the demo)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def now(self) -> float:
        return self.policy.monotonic()

    def monotonic(self) -> float:
        return self.policy.monotonic()

    def sleep(self, seconds: float) -> None:
        self.policy.sleep(seconds)


class _Abandoned(Exception):
    """The caller stopped waiting for this exchange: stop reading."""


def read_capped(response: httpx.Response, cap: int, abandoned: threading.Event) -> bytes:
    """The decoded body of a streamed answer, at most ``cap`` bytes however it is compressed;
    raises MalformedResponse past the cap."""

    def too_large(how: str) -> MalformedResponse:
        return MalformedResponse(
            f"the answer {how} past {cap // (1024 * 1024)} MiB; bulkctl stopped reading it",
            status=response.status_code,
            request_ref=response.headers.get("request-ref"),
        )

    if response.is_stream_consumed:  # built in memory (an in-process transport), decoded
        if len(response.content) > cap:
            raise too_large("grew")
        return response.content
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise too_large(f"is {int(declared):,} bytes, ")
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, told by the header
    elif encoding not in ("", "identity"):
        raise MalformedResponse(
            f"the answer is in an encoding bulkctl did not ask for ({encoding[:30]!r})",
            status=response.status_code,
            request_ref=response.headers.get("request-ref"),
        )
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_raw(CHUNK_BYTES):
            if abandoned.is_set():
                raise _Abandoned
            pending = chunk
            while pending:
                if decoder is None:
                    out, pending = pending, b""
                else:
                    # a step at a time: one call's output buffer stays small
                    out = decoder.decompress(pending, min(cap + 1 - size, 8 * CHUNK_BYTES))
                    pending = decoder.unconsumed_tail
                size += len(out)
                if size > cap:
                    raise too_large("expands" if decoder is not None else "grew")
                parts.append(out)
        if decoder is not None:
            out = decoder.flush(cap + 1 - size)
            size += len(out)
            if size > cap:
                raise too_large("expands")
            parts.append(out)
    except zlib.error as exc:
        raise MalformedResponse(
            f"the answer could not be decompressed ({encoding}: {exc})",
            status=response.status_code,
            request_ref=response.headers.get("request-ref"),
        ) from exc
    return b"".join(parts)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return parse_reset(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(delta, NAMED_WAIT_MAX) if delta > 0 else None


def parse_reset(value: str | None) -> float | None:
    """Seconds from ``x-ratelimit-reset`` (seconds until the window resets, as the spec says);
    a number too large to mean anything (an epoch time, say) is read as far ahead, never now."""
    if not value:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return min(float(int(value)), NAMED_WAIT_MAX) if len(value) <= 20 else NAMED_WAIT_MAX


def when_text(seconds: float, now: float) -> str:
    """'at 2026-12-06 22:30:00 UTC (in 10m)' for a wait of ``seconds`` from wall time ``now``."""
    try:
        at = datetime.datetime.fromtimestamp(now + seconds, tz=datetime.UTC)
    except (OverflowError, ValueError, OSError):
        return f"in {format_seconds(seconds)}"
    return f"at {at:%Y-%m-%d %H:%M:%S} UTC (in {format_seconds(seconds)})"


def _excerpt(body: bytes) -> str:
    return body[:60].decode("utf-8", "replace")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; 1e400 (inf to Python) is no number."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python reads NaN and Infinity; JSON has neither


def _text_field(obj: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` that holds a string, made safe (the server's text)."""
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return safe_text(value[:300])
    return None


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deep enough to recurse out
        return None


def error_from_response(response: httpx.Response, what: str, now: float | None = None) -> ApiError:
    """Map a non-2xx answer to the project's error, keeping status, request-ref and details;
    ``now`` (wall time) reads a ``Retry-After`` date."""
    status = response.status_code
    body = _json_body(response)
    obj = body if isinstance(body, dict) else {}
    api_message = _text_field(obj, "message", "title", "detail")
    error_code = obj.get("errorCode") if isinstance(obj.get("errorCode"), str) else None
    if error_code is None and isinstance(obj.get("code"), str):
        error_code = obj["code"]
    invalid: list[dict[str, Any]] = []
    syntax = obj.get("syntaxErrors")
    if isinstance(syntax, dict) and isinstance(syntax.get("invalidFields"), list):
        invalid = [f for f in syntax["invalidFields"] if isinstance(f, dict)]
    elif isinstance(obj.get("validationErrors"), list):
        invalid = [f for f in obj["validationErrors"] if isinstance(f, dict)]
    common: dict[str, Any] = {
        "status": status,
        "request_ref": response.headers.get("request-ref"),
        "api_message": api_message,
        "error_code": error_code,
        "invalid_fields": invalid,
    }
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    quota = status == 429 or (status == 409 and error_code == "TOO_MANY_REQUESTS")
    if retry_after is None and quota:  # the bulk endpoints' 409 may carry it too
        retry_after = parse_reset(response.headers.get("x-ratelimit-reset"))
    if quota:
        return Throttled(f"{what}: throttled by the API", retry_after=retry_after, **common)
    if status == 400:
        return BadRequest(f"{what}: the API rejected the request", **common)
    if status == 401:
        return Unauthorized(
            f"{what}: not authenticated (the token is missing, wrong or expired)",
            hint="run:",
            suggest=("auth", "login"),
            **common,
        )
    if status == 403:
        return Forbidden(
            f"{what}: not allowed",
            hint="the credentials lack the permission this needs",
            **common,
        )
    if status == 404:
        return NotFound(f"{what}: not found", **common)
    if status == 409:
        return Conflict(f"{what}: conflict", **common)
    if 300 <= status < 400:
        location = safe_text(response.headers.get("location", "?"))
        return ServerError(
            f"{what}: unexpected redirect to {location}; not followed, credentials not sent",
            **common,
        )
    if 400 <= status < 500:  # a status the spec does not list: its name and the server's words
        try:
            name = http.HTTPStatus(status).phrase.lower()
        except ValueError:
            name = "refused by the API"
        return ApiError(f"{what}: {name}", **common)
    return ServerError(f"{what}: server error", retry_after=retry_after, **common)


class ApiClient:
    """Typed methods over the bulk endpoints of one base URL.

    Every request passes ``pacer`` before it starts, has an overall deadline of
    ``request_timeout`` seconds (connect, send and the whole answer), and reads at most
    ``max_answer_bytes`` of decoded answer. ``deadline`` (monotonic seconds, as the retry
    policy's clock counts) is the command's own hard deadline: past it a request is
    abandoned and ``DeadlineReached`` raised. Each endpoint method also takes a
    ``deadline=`` of its own for one call.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        request_timeout: float = 60.0,
        ca_bundle: str | None = None,
        env: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        on_retry: Callable[[str], None] | None = None,
        debug: Callable[[str], None] | None = None,
        reauth: Callable[[], str | None] | None = None,
        pacer: Pacer | None = None,
        quota_wait: float = 600.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        check_base_url(base_url)  # no user:pass@, no http:// but to loopback
        for label, secret in (("the API key", api_key), ("the token", token)):
            if secret is not None:
                check_credential(label, secret)  # before any request, never retried
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self.retry = retry or RetryPolicy()
        self.limiter = ConcurrencyLimiter(concurrency)
        self.on_retry = on_retry
        self.debug = debug
        self.reauth = reauth
        self.request_timeout = request_timeout
        self.quota_wait = quota_wait
        self.max_answer_bytes = max_answer_bytes
        self.deadline: float | None = None
        self.pacer = pacer or Pacer((), clock=_PolicyClock(self.retry))
        self._reauth_lock = threading.Lock()
        self._reauth_failed: tuple[str | None] | None = None  # the token a login failed to replace
        self._closed = False
        self._timeouts = (connect_timeout, read_timeout)
        cafile = ca_bundle or (env or {}).get("SSL_CERT_FILE")
        verify: ssl.SSLContext | bool = True
        if self.base_url.startswith("http://"):
            verify = False  # loopback only (see wire.check_base_url): no TLS to set up
        elif cafile and transport is None:
            try:
                verify = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"cannot load CA bundle {cafile}: {exc}") from exc
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            verify=verify,
            # loopback never goes through a proxy, whatever HTTP(S)_PROXY and NO_PROXY say
            trust_env=transport is None and not goes_direct(self.base_url),
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
            ),
            limits=httpx.Limits(
                max_connections=max(concurrency, 1) + 2,
                max_keepalive_connections=max(concurrency, 1) + 2,
            ),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",  # the encodings read_capped decodes
            },
        )

    def __repr__(self) -> str:
        hidden = {
            k: "<hidden>" if v else None
            for k, v in (("api_key", self.api_key), ("token", self.token))
        }
        return f"ApiClient(base_url={self.base_url!r}, api_key={hidden['api_key']}, token={hidden['token']})"

    def close(self) -> None:
        self._closed = True  # workers still in flight (after Ctrl-C or an error) must not retry
        self._http.close()
        self.pacer.close()

    def pace_usage(self, seconds: float = 60.0) -> PaceUsage:
        """Requests started within the last ``seconds`` by this user's bulkctl processes,
        and the limit for that window (None when none applies): 'paced: 12 of 100'."""
        return self.pacer.usage(seconds)

    def plan_requests(self, requests: int) -> None:
        """Say up front when ``requests`` more requests need a longer quota wait than
        ``quota_wait`` allows (a listing, once its first page told its size)."""
        message = self.pacer.plan(requests, self.quota_wait)
        if message is not None and self.pacer.note is not None:
            self.pacer.note(f"{message}: raise quota_wait, or ask for less")

    # -- endpoints --------------------------------------------------------------------------

    def list_bulks(
        self, *, offset: int, limit: int, status: str | None = None, deadline: float | None = None
    ) -> Page:
        params = self._paging(offset, limit)
        if status is not None:
            params["status"] = status
        body = self._call("GET", "/bulks", params=params, what="list bulks", deadline=deadline)
        return self._decode(parse_bulk_page, body, "list bulks")

    def get_bulk(self, bulk_id: str, *, deadline: float | None = None) -> BulkProcess:
        check_bulk_id(bulk_id)
        what = f"get bulk {bulk_id}"
        body = self._call("GET", f"/bulks/{bulk_id}", what=what, deadline=deadline)
        return self._decode(lambda obj: parse_bulk(obj, bulk_id), body, what)

    def list_operations(
        self,
        bulk_id: str,
        *,
        offset: int,
        limit: int,
        status: str | None = None,
        sequence: int | None = None,
        deadline: float | None = None,
    ) -> Page:
        check_bulk_id(bulk_id)
        params = self._paging(offset, limit)
        if status is not None:
            params["status"] = status
        if sequence is not None:
            params["sequence"] = str(sequence)
        what = f"list operations of bulk {bulk_id}"
        body = self._call(
            "GET", f"/bulks/{bulk_id}/operations", params=params, what=what, deadline=deadline
        )
        return self._decode(parse_operation_page, body, what)

    # A token request changes nothing that a repeat would harm: both are retried like reads.

    def login_with_password(self, email: str, password: str) -> str:
        body = self._call(
            "POST",
            "/login_with_password",
            json_body={"email": email, "password": {"value": password}},
            what="login",
            authenticated=False,
            secret_answer=True,
        )
        return self._decode(parse_token, body, "login", excerpt=False)

    def access_token(self, identity_type: str, identity_id: str) -> str:
        body = self._call(
            "POST",
            "/access_token",
            json_body={"identity": {"type": identity_type, "id": identity_id}},
            what="access token",
            authenticated=False,
            secret_answer=True,
        )
        return self._decode(parse_token, body, "access token", excerpt=False)

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _paging(offset: int, limit: int) -> dict[str, str]:
        if not 0 <= offset <= INT32_MAX or not 1 <= limit <= 100:
            raise UsageError(f"offset {offset} / limit {limit} outside what the API accepts")
        params = {"limit": str(limit)}
        if offset:
            params["offset"] = str(offset)
        return params

    def _decode(
        self,
        parse: Callable[[Any], RecordT],
        body: tuple[Any, httpx.Response],
        what: str,
        *,
        excerpt: bool = True,  # False for a token answer: its body is a secret
    ) -> RecordT:
        data, response = body
        try:
            return parse(data)
        except ShapeError as exc:
            raise MalformedResponse(
                f"{what}: the answer is not what the API describes: {exc}",
                status=response.status_code,
                request_ref=response.headers.get("request-ref"),
                body_excerpt=_excerpt(response.content) if excerpt else None,
            ) from exc

    def _headers(self, authenticated: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.api_key:
            headers["api-key"] = self.api_key
        if authenticated and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        state_change: bool = False,
        idempotent: bool = False,
        retry_statuses: frozenset[int] = RETRYABLE_STATUSES,
        expect_body: bool = True,
        timeout: float | None = None,
        deadline: float | None = None,
        secret_answer: bool = False,
    ) -> tuple[Any, httpx.Response]:
        """One logical request, with its own retry budget; returns (decoded JSON, answer).

        ``state_change``: the request changes something, so it is repeated only when it
        surely never arrived, unless ``idempotent`` says that a repeat is harmless (a
        submission carrying its idempotency-ref): then transport errors and
        ``retry_statuses`` are retried too. ``timeout`` replaces ``request_timeout`` for
        this request (e.g. scaled to a submission's size); ``deadline`` is an absolute
        monotonic deadline for this call, on top of the client's ``deadline``.
        ``secret_answer``: the answer holds a secret (a token), so no error quotes it.
        Quota answers (429, 409 TOO_MANY_REQUESTS) are waited out and use no attempt.
        """
        policy = self.retry
        hards = [d for d in (deadline, self.deadline) if d is not None]
        budget = _Attempts(
            retry_until=policy.monotonic() + policy.deadline, hard=min(hards) if hards else None
        )
        repeatable = not state_change or idempotent
        while True:
            sent_token = self.token
            extra = {**(headers or {}), **self._headers(authenticated)}
            with self.limiter:
                started = self._pace(what, budget)
                try:
                    response = self._send(method, path, params, json_body, extra, timeout, budget)
                except NetworkError as exc:
                    failure: NetworkError | None = exc
                except BaseException:
                    self.pacer.answered(started)  # a probe that ends so lets the next go
                    raise
                else:
                    failure = None
            if failure is not None:
                self.pacer.answered(started)
                if state_change and failure.sent and not idempotent:
                    raise OutcomeUnknown(
                        f"{what}: no answer came back, so it may or may not have happened "
                        f"({failure.message})",
                        hint="check before trying again: bulkctl show BULK_ID",
                        sent=True,
                    ) from failure
                self._maybe_retry(budget, failure, failure.message, None, what)
                continue
            if 200 <= response.status_code < 300:
                self.pacer.success(started)
                if not expect_body:
                    return None, response
                return self._parse_success(response, what, excerpt=not secret_answer), response
            error = error_from_response(response, what, self._wall_now())
            if isinstance(error, Unauthorized) and authenticated and not budget.relogged:
                budget.relogged = True  # at most one re-login per request: never a loop
                if self._refresh(sent_token):
                    continue
            if isinstance(error, Throttled):
                self.limiter.throttled()
                self.pacer.quota_answer(
                    started,
                    error.retry_after,
                    parse_limit_header(response.headers.get("x-ratelimit-limit")),
                )
                if budget.quota_since is None:
                    budget.quota_since = policy.monotonic()
                if self._closed:
                    raise error
                if error.retry_after is not None:
                    self._check_named_wait(what, error, error.retry_after, budget)
                continue  # the pacer holds the next attempt back; no attempt is used
            self.pacer.answered(started)
            retryable = repeatable and response.status_code in retry_statuses
            if isinstance(error, ServerError) and retryable:
                why = f"HTTP {response.status_code}"
                self._maybe_retry(budget, error, why, error.retry_after, what)
                continue
            raise error

    def _pace(self, what: str, budget: _Attempts) -> float:
        """Wait for the pacer within the quota wait and the hard deadline; the start time."""
        now = self.retry.monotonic()
        waited = 0.0 if budget.quota_since is None else now - budget.quota_since
        allowed = max(0.0, self.quota_wait - waited)
        by_deadline = budget.hard is not None and budget.hard - now < allowed
        if budget.hard is not None:
            allowed = min(allowed, max(0.0, budget.hard - now))
        try:
            return self.pacer.acquire(allowed)
        except QuotaWaitTooLong as exc:
            if by_deadline:
                start = when_text(exc.wait, self._wall_now())
                if exc.blocked:
                    raise DeadlineReached(
                        f"{what}: {exc.why}; the next request could start {start}, "
                        f"after the deadline ({format_seconds(exc.left)} left)"
                    ) from None
                raise DeadlineReached(
                    f"{what}: the rate limit leaves no request before the deadline "
                    f"({exc.why}; the next could start {start}, "
                    f"{format_seconds(exc.left)} left)"
                ) from None
            raise Throttled(f"{what}: {exc.message}", hint=self._quota_hint()) from None

    def _wall_now(self) -> float:
        """The wall time, from the command's clock (a client without a pacer has none)."""
        clock = self.pacer.clock
        return time.time() if isinstance(clock, _PolicyClock) else clock.now()

    def _quota_hint(self) -> str:
        """The ways out of a quota wait, and where the waits are shared."""
        path = self.pacer.path
        where = f"quota waits are shared through {path}; " if path is not None else ""
        return (
            f"{where}raise quota_wait (now {format_seconds(self.quota_wait)}: bulkctl config "
            "set quota_wait SECONDS), set rate_limit (0 turns pacing and sharing off), or "
            "forget what answers taught: bulkctl config reset-limits"
        )

    def _check_named_wait(
        self, what: str, error: Throttled, named: float, budget: _Attempts
    ) -> None:
        """A wait the server named that ends past the deadline or past quota_wait ends the
        command now, naming the time (a deadline's command exits 124, others 1); a state
        change is so never sent twice for one quota answer."""
        now = self.retry.monotonic()
        waited = 0.0 if budget.quota_since is None else now - budget.quota_since
        past_deadline = budget.hard is not None and now + named > budget.hard
        if not past_deadline and named <= self.quota_wait - waited + 1e-9:
            return
        start = when_text(named, self._wall_now())
        quota_wait = f"later than quota_wait ({format_seconds(self.quota_wait)}) allows"
        if budget.hard is not None:
            left = format_seconds(max(0.0, budget.hard - now))
            beyond = f"after the deadline ({left} left)" if past_deadline else quota_wait
            raise DeadlineReached(
                f"{what}: the API's quota allows the next request {start}, {beyond}"
            )
        raise Throttled(
            f"{what}: the API's quota allows the next request {start}, {quota_wait}",
            hint=self._quota_hint(),
            status=error.status,
            request_ref=error.request_ref,
            error_code=error.error_code,
        )

    def _maybe_retry(
        self, budget: _Attempts, error: BulkctlError, why: str, retry_after: float | None, what: str
    ) -> None:
        policy = self.retry
        budget.count += 1
        attempt = budget.count
        if self._closed:
            raise error
        if attempt >= policy.attempts:
            if attempt > 1:
                error.message += f" (gave up after {attempt} attempts)"
            raise error
        wait = policy.backoff(attempt, retry_after)
        now = policy.monotonic()
        if budget.hard is not None and now + wait >= budget.hard:
            policy.sleep(max(0.0, budget.hard - now))  # a wait of bulkctl's ends at the deadline
            raise DeadlineReached(f"{what}: {why}, and the deadline came before a retry")
        if now + wait > budget.retry_until:
            error.message += " (no time left to retry)"
            raise error
        if self.on_retry is not None:
            self.on_retry(
                f"{what}: {why}; retrying in {wait:.1f}s (attempt {attempt + 1} of {policy.attempts})"
            )
        policy.sleep(wait)

    def _refresh(self, rejected_token: str | None) -> bool:
        """A new token after a 401; True when the request should be repeated with it."""
        if self.reauth is None:
            return False
        with self._reauth_lock:
            if self.token != rejected_token:
                return True  # another thread already refreshed it
            if self._reauth_failed and self._reauth_failed[0] == rejected_token:
                return False  # one failed login for a token is enough: no prompt per thread
            token = self.reauth()
            if not token:
                self._reauth_failed = (rejected_token,)
                return False
            self.token = token
            return True

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str],
        timeout: float | None,
        budget: _Attempts,
    ) -> httpx.Response:
        """One exchange, abandoned at the request's overall deadline or the hard deadline."""
        if self._closed:
            raise NetworkError(f"{method} {path}: not sent, the command is ending")
        monotonic = self.retry.monotonic
        started = monotonic()
        overall = timeout if timeout is not None else self.request_timeout
        until = started + overall
        hard_first = budget.hard is not None and budget.hard < until
        if budget.hard is not None:
            until = min(until, budget.hard)
        outcome: dict[str, Any] = {}
        done = threading.Event()
        abandoned = threading.Event()

        def exchange() -> None:
            try:
                outcome["response"] = self._exchange(
                    method, path, params, json_body, headers, max(0.0, until - started), abandoned
                )
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                done.set()

        # the exchange runs in its own thread so the caller regains control at the deadline
        # even while a server trickles its answer (httpx's read timeout restarts per chunk)
        threading.Thread(target=exchange, name="bulkctl-request", daemon=True).start()
        if not done.wait(max(0.0, until - monotonic())):
            abandoned.set()
            if hard_first:
                raise DeadlineReached(f"{method} {path}: abandoned at the deadline")
            raise NetworkError(
                f"no complete answer from {self.base_url} within {format_seconds(overall)} "
                "(request_timeout)",
                hint="raise request_timeout, or try again",
                sent=True,
            )
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, BulkctlError):
                raise error
            if isinstance(error, httpx.HTTPError):
                raise self._network_error(error) from error
            raise error
        response: httpx.Response = outcome["response"]
        if self.debug is not None:
            elapsed = (monotonic() - started) * 1000
            shown = {
                k: ("<redacted>" if k.lower() in ("api-key", "authorization") else v)
                for k, v in headers.items()
            }
            # the answer's header values are the server's text: made safe like any other
            ref = safe_text(response.headers.get("request-ref", "-")[:200])
            self.debug(
                safe_text(
                    f"{method} {response.request.url} -> {response.status_code} "
                    f"({elapsed:.0f} ms, request-ref {ref}) headers {shown}"
                )
            )
        return response

    def _exchange(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str],
        left: float,
        abandoned: threading.Event,
    ) -> httpx.Response:
        """Send and read the whole answer (decoded, capped); a plain response comes back."""
        connect, read = self._timeouts
        request = self._http.build_request(
            method,
            path,
            params=params,
            json=json_body,
            headers=headers,
            timeout=httpx.Timeout(
                connect=min(connect, left), read=min(read, left), write=min(read, left), pool=left
            ),
        )
        streamed = self._http.send(request, stream=True)
        try:
            body = read_capped(streamed, self.max_answer_bytes, abandoned)
        finally:
            streamed.close()
        kept = [
            (k, v)
            for k, v in streamed.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(streamed.status_code, headers=kept, content=body, request=request)

    def _network_error(self, exc: httpx.HTTPError) -> NetworkError:
        """The project's error for an httpx transport failure."""
        text = str(exc) or type(exc).__name__
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
                return NetworkError(
                    f"TLS failure talking to {self.base_url}: {text}",
                    hint="set ca_bundle (bulkctl config set ca_bundle FILE) or SSL_CERT_FILE",
                )
            return NetworkError(
                f"cannot connect to {self.base_url}: {text}",
                hint="check the base URL, your network or proxy (HTTPS_PROXY)",
            )
        if isinstance(exc, httpx.TimeoutException):
            return NetworkError(
                f"no answer from {self.base_url} in time ({type(exc).__name__})",
                hint="raise read_timeout, or try again",
                sent=True,
            )
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return NetworkError(
                f"the connection to {self.base_url} broke before a complete answer ({exc})",
                sent=True,
            )
        return NetworkError(f"network failure talking to {self.base_url}: {text}")

    def _parse_success(self, response: httpx.Response, what: str, *, excerpt: bool) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        ctype = response.headers.get("content-type", "")
        data = _json_body(response) if (not ctype or "json" in ctype.lower()) else None
        if data is None:
            raise MalformedResponse(
                f"{what}: the answer is not JSON" + (f" (content-type {ctype})" if ctype else ""),
                status=response.status_code,
                request_ref=response.headers.get("request-ref"),
                body_excerpt=_excerpt(response.content) if excerpt else None,
            )
        return data
