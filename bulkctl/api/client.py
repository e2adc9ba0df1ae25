"""The client: typed methods over the bulk endpoints, and the loop around each request.

``ApiClient`` sends spec-conforming requests, retries what is safe to retry, maps every
answer to a typed record or to one of the errors in ``bulkctl.errors``, and never lets a
transport exception or a malformed body escape as anything else. The exchange itself is
``transport``'s, the errors ``statuses``', the waits between attempts ``retry``'s.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

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
from bulkctl.api.retry import (
    RETRYABLE_STATUSES,
    SUBMIT_RETRY_STATUSES,
    RetryPolicy,
    _Attempts,
    _PolicyClock,
    parse_reset,
    parse_retry_after,
    when_text,
)
from bulkctl.api.statuses import _excerpt, error_from_response, success_body
from bulkctl.api.transport import MAX_ANSWER_BYTES, ConcurrencyLimiter, Transport
from bulkctl.api.wire import check_base_url, check_credential
from bulkctl.errors import (
    BulkctlError,
    DeadlineReached,
    MalformedResponse,
    NetworkError,
    OutcomeUnknown,
    ServerError,
    Throttled,
    Unauthorized,
    UsageError,
)
from bulkctl.pacing.pacer import Pacer, PaceUsage, QuotaWaitTooLong, parse_limit_header
from bulkctl.pacing.rates import format_seconds

__all__ = [  # names importers take from here; each lives in its own module
    "SUBMIT_RETRY_STATUSES",
    "ApiClient",
    "RetryPolicy",
    "check_bulk_id",
    "error_from_response",
    "parse_reset",
    "parse_retry_after",
]

RecordT = TypeVar("RecordT")
PATH_ID = re.compile(r"[0-9]+")
SUBMIT_SECONDS_PER_ITEM = 0.01  # on top of request_timeout: 10,000 items get 100 s more


def check_bulk_id(bulk_id: str) -> str:
    """A path id must be ASCII digits only (the spec's ^[0-9]+$), checked before any request."""
    if not PATH_ID.fullmatch(bulk_id):
        raise UsageError(
            f"invalid bulk id {bulk_id!r}: a bulk id is digits only (0-9)",
            hint="find ids with:",
            suggest=("list",),
        )
    return bulk_id


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
        self.reauth = reauth
        self.request_timeout = request_timeout
        self.quota_wait = quota_wait
        self.deadline: float | None = None
        self.pacer = pacer or Pacer((), clock=_PolicyClock(self.retry))
        self._reauth_lock = threading.Lock()
        self._reauth_failed: tuple[str | None] | None = None  # the token a login failed to replace
        self._transport = Transport(
            self.base_url,
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ca_bundle=ca_bundle,
            env=env,
            concurrency=concurrency,
            max_answer_bytes=max_answer_bytes,
            monotonic=lambda: self.retry.monotonic(),  # the policy may be swapped (watch)
            debug=debug,
        )

    def __repr__(self) -> str:
        hidden = {
            k: "<hidden>" if v else None
            for k, v in (("api_key", self.api_key), ("token", self.token))
        }
        return f"ApiClient(base_url={self.base_url!r}, api_key={hidden['api_key']}, token={hidden['token']})"

    def close(self) -> None:
        self._transport.close()  # workers still in flight (after Ctrl-C or an error) must not retry
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
        budget = self._budget(deadline)
        while True:
            sent_token = self.token
            extra = {**(headers or {}), **self._headers(authenticated)}
            started, answer = self._attempt(
                method, path, params, json_body, extra, timeout, what, budget
            )
            if isinstance(answer, NetworkError):
                self.pacer.answered(started)
                self._no_answer(answer, what, budget, changes=state_change and not idempotent)
                continue
            if 200 <= answer.status_code < 300:
                self.pacer.success(started)
                if not expect_body:
                    return None, answer
                return success_body(answer, what, excerpt=not secret_answer), answer
            error = error_from_response(answer, what, self._wall_now())
            unauthorized = isinstance(error, Unauthorized) and authenticated
            if unauthorized and self._refresh(sent_token, budget):
                continue
            if isinstance(error, Throttled):
                self._throttled(error, answer, started, what, budget)
                continue  # the pacer holds the next attempt back; no attempt is used
            self.pacer.answered(started)
            retryable = (not state_change or idempotent) and answer.status_code in retry_statuses
            if isinstance(error, ServerError) and retryable:
                why = f"HTTP {answer.status_code}"
                self._maybe_retry(budget, error, why, error.retry_after, what)
                continue
            raise error

    def _budget(self, deadline: float | None) -> _Attempts:
        """A new request's budget: the retry policy's time, and the earlier hard deadline."""
        policy = self.retry
        hards = [d for d in (deadline, self.deadline) if d is not None]
        return _Attempts(
            retry_until=policy.monotonic() + policy.deadline, hard=min(hards) if hards else None
        )

    def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str],
        timeout: float | None,
        what: str,
        budget: _Attempts,
    ) -> tuple[float, httpx.Response | NetworkError]:
        """One exchange within the concurrency cap, once the pacer lets it start: its start
        time, and the answer or the transport's failure."""
        overall = self.request_timeout if timeout is None else timeout
        with self.limiter:
            started = self._pace(what, budget)
            try:
                response = self._transport.send(
                    method, path, params, json_body, headers, overall=overall, hard=budget.hard
                )
            except NetworkError as exc:
                return started, exc
            except BaseException:
                self.pacer.answered(started)  # a probe that ends so lets the next go
                raise
        return started, response

    def _no_answer(
        self, failure: NetworkError, what: str, budget: _Attempts, *, changes: bool
    ) -> None:
        """No answer came back: a change that may have arrived is an unknown outcome (never
        sent twice); anything else is retried while the budget lasts."""
        if changes and failure.sent:
            raise OutcomeUnknown(
                f"{what}: no answer came back, so it may or may not have happened "
                f"({failure.message})",
                hint="check before trying again: bulkctl show BULK_ID",
                sent=True,
            ) from failure
        self._maybe_retry(budget, failure, failure.message, None, what)

    def _throttled(
        self,
        error: Throttled,
        response: httpx.Response,
        started: float,
        what: str,
        budget: _Attempts,
    ) -> None:
        """A quota answer: fewer requests in flight, the pacer told, and a wait the server
        named checked against the deadline and quota_wait."""
        self.limiter.throttled()
        self.pacer.quota_answer(
            started,
            error.retry_after,
            parse_limit_header(response.headers.get("x-ratelimit-limit")),
        )
        if budget.quota_since is None:
            budget.quota_since = self.retry.monotonic()
        if self._transport.closed:
            raise error
        if error.retry_after is not None:
            self._check_named_wait(what, error, error.retry_after, budget)

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
        path, meant = self.pacer.path, self.pacer.state_path
        where = f"quota waits are shared through {path}; " if path is not None else ""
        if path is None and meant is not None:
            where = f"the state file {meant} could not be used, so waits are not shared; "
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
        self.retry.before_retry(
            budget,
            error,
            why,
            retry_after,
            what,
            closed=self._transport.closed,
            on_retry=self.on_retry,
        )

    def _refresh(self, rejected_token: str | None, budget: _Attempts) -> bool:
        """A new token after a 401; True when the request should be repeated with it. At
        most one re-login per request: never a loop."""
        if budget.relogged:
            return False
        budget.relogged = True
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
