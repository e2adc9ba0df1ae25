"""The only module that speaks HTTP.

``ApiClient`` sends spec-conforming requests, retries what is safe to retry, maps every
answer to a typed record or to one of the errors in ``bulkctl.errors``, and never lets a
transport exception or a malformed body escape as anything else.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import ssl
import threading
import time
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
from bulkctl.errors import (
    ApiError,
    BadRequest,
    BulkctlError,
    Conflict,
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

RecordT = TypeVar("RecordT")
USER_AGENT = f"bulkctl/{__version__}"
PATH_ID = re.compile(r"[0-9]+")
RETRYABLE_STATUSES = frozenset({502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0


def check_bulk_id(bulk_id: str) -> str:
    """A path id must be ASCII digits only (the spec's ^[0-9]+$), checked before any request."""
    if not PATH_ID.fullmatch(bulk_id):
        raise UsageError(
            f"invalid bulk id {bulk_id!r}: a bulk id is digits only (0-9)",
            hint="find ids with: bulkctl list",
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
    deadline: float = 120.0  # seconds for the whole command, retries included
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    started: float | None = None

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: Retry-After, else full jitter."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def remaining(self) -> float:
        if self.started is None:
            self.started = self.monotonic()
        return self.deadline - (self.monotonic() - self.started)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 10**6))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return delta if delta > 0 else None


def _excerpt(body: bytes) -> str:
    return body[:60].decode("utf-8", "replace")


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deep enough to recurse out
        return None


def error_from_response(response: httpx.Response, what: str) -> ApiError:
    """Map a non-2xx answer to the project's error, keeping status, request-ref and details."""
    status = response.status_code
    body = _json_body(response)
    obj = body if isinstance(body, dict) else {}
    api_message = obj.get("message") if isinstance(obj.get("message"), str) else None
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
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None and status == 429:
        retry_after = parse_retry_after(response.headers.get("x-ratelimit-reset"))
    if status == 429 or (status == 409 and error_code == "TOO_MANY_REQUESTS"):
        return Throttled(f"{what}: throttled by the API", retry_after=retry_after, **common)
    if status == 400:
        return BadRequest(f"{what}: the API rejected the request", **common)
    if status == 401:
        return Unauthorized(
            f"{what}: not authenticated (the token is missing, wrong or expired)",
            hint="run: bulkctl auth login",
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
        from bulkctl.safetext import safe_text  # the header is the server's text

        location = safe_text(response.headers.get("location", "?"))
        return ServerError(
            f"{what}: unexpected redirect to {location}; not followed, credentials not sent",
            **common,
        )
    return ServerError(f"{what}: server error", retry_after=retry_after, **common)


class ApiClient:
    """Typed methods over the bulk endpoints of one base URL."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        ca_bundle: str | None = None,
        env: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        on_retry: Callable[[str], None] | None = None,
        debug: Callable[[str], None] | None = None,
        reauth: Callable[[], str | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self.retry = retry or RetryPolicy()
        self.limiter = ConcurrencyLimiter(concurrency)
        self.on_retry = on_retry
        self.debug = debug
        self.reauth = reauth
        self._reauth_lock = threading.Lock()
        self._reauthed = False
        self._closed = False
        cafile = ca_bundle or (env or {}).get("SSL_CERT_FILE")
        verify: ssl.SSLContext | bool = True
        if self.base_url.startswith("http://"):
            verify = False  # loopback only (see config.check_base_url): no TLS to set up
        elif cafile and transport is None:
            try:
                verify = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"cannot load CA bundle {cafile}: {exc}") from exc
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            verify=verify,
            trust_env=transport is None,
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
            ),
            limits=httpx.Limits(
                max_connections=max(concurrency, 1) + 2,
                max_keepalive_connections=max(concurrency, 1) + 2,
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._closed = True  # workers still in flight (after Ctrl-C or an error) must not retry
        self._http.close()

    # -- endpoints --------------------------------------------------------------------------

    def list_bulks(self, *, offset: int, limit: int, status: str | None = None) -> Page:
        params = self._paging(offset, limit)
        if status is not None:
            params["status"] = status
        body = self._call("GET", "/bulks", params=params, what="list bulks")
        return self._decode(parse_bulk_page, body, "list bulks")

    def get_bulk(self, bulk_id: str) -> BulkProcess:
        check_bulk_id(bulk_id)
        what = f"get bulk {bulk_id}"
        body = self._call("GET", f"/bulks/{bulk_id}", what=what)
        return self._decode(parse_bulk, body, what)

    def list_operations(
        self,
        bulk_id: str,
        *,
        offset: int,
        limit: int,
        status: str | None = None,
        sequence: int | None = None,
    ) -> Page:
        check_bulk_id(bulk_id)
        params = self._paging(offset, limit)
        if status is not None:
            params["status"] = status
        if sequence is not None:
            params["sequence"] = str(sequence)
        what = f"list operations of bulk {bulk_id}"
        body = self._call("GET", f"/bulks/{bulk_id}/operations", params=params, what=what)
        return self._decode(parse_operation_page, body, what)

    def act(self, bulk_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        """POST /bulks/{id}/execute|pause|resume|cancel; only execute carries a body."""
        check_bulk_id(bulk_id)
        self._call(
            "POST",
            f"/bulks/{bulk_id}/{action}",
            json_body=body,
            what=f"{action} bulk {bulk_id}",
            state_change=True,
            expect_body=False,  # the spec answers 204; any 2xx means it was accepted
        )

    def login_with_password(self, email: str, password: str) -> str:
        body = self._call(
            "POST",
            "/login_with_password",
            json_body={"email": email, "password": {"value": password}},
            what="login",
            authenticated=False,
            state_change=True,
        )
        return self._decode(parse_token, body, "login")

    def access_token(self, identity_type: str, identity_id: str) -> str:
        body = self._call(
            "POST",
            "/access_token",
            json_body={"identity": {"type": identity_type, "id": identity_id}},
            what="access token",
            authenticated=False,
            state_change=True,
        )
        return self._decode(parse_token, body, "access token")

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
        self, parse: Callable[[Any], RecordT], body: tuple[Any, httpx.Response], what: str
    ) -> RecordT:
        data, response = body
        try:
            return parse(data)
        except ShapeError as exc:
            raise MalformedResponse(
                f"{what}: the answer is not what the API describes: {exc}",
                status=response.status_code,
                request_ref=response.headers.get("request-ref"),
                body_excerpt=_excerpt(response.content),
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
        json_body: dict[str, Any] | None = None,
        authenticated: bool = True,
        state_change: bool = False,
        expect_body: bool = True,
    ) -> tuple[Any, httpx.Response]:
        attempt = 0
        while True:
            attempt += 1
            sent_token = self.token
            try:
                response = self._send(method, path, params, json_body, authenticated)
            except NetworkError as exc:
                if state_change and exc.sent:
                    raise OutcomeUnknown(
                        f"{what}: no answer came back, so it may or may not have happened "
                        f"({exc.message})",
                        hint="check before trying again: bulkctl show BULK_ID",
                        sent=True,
                    ) from exc
                self._maybe_retry(attempt, exc, exc.message, None, what)
                continue
            if 200 <= response.status_code < 300:
                if not expect_body:
                    return None, response
                return self._parse_success(response, what), response
            error = error_from_response(response, what)
            if isinstance(error, Unauthorized) and authenticated and self._refresh(sent_token):
                continue
            if isinstance(error, Throttled):
                self.limiter.throttled()
                self._maybe_retry(attempt, error, "throttled", error.retry_after, what)
                continue
            # a state change that got a 5xx may have been applied: only reads are repeated
            retryable = response.status_code in RETRYABLE_STATUSES and not state_change
            if isinstance(error, ServerError) and retryable:
                why = f"HTTP {response.status_code}"
                self._maybe_retry(attempt, error, why, error.retry_after, what)
                continue
            raise error

    def _maybe_retry(
        self, attempt: int, error: BulkctlError, why: str, retry_after: float | None, what: str
    ) -> None:
        policy = self.retry
        if self._closed:
            raise error
        if attempt >= policy.attempts:
            if attempt > 1:
                error.message += f" (gave up after {attempt} attempts)"
            raise error
        wait = policy.backoff(attempt, retry_after)
        if wait > policy.remaining():
            error.message += " (no time left to retry)"
            raise error
        if self.on_retry is not None:
            self.on_retry(
                f"{what}: {why}; retrying in {wait:.1f}s (attempt {attempt + 1} of {policy.attempts})"
            )
        policy.sleep(wait)

    def _refresh(self, rejected_token: str | None) -> bool:
        """One new token per command after a 401; True when the request should be repeated."""
        if self.reauth is None:
            return False
        with self._reauth_lock:
            if self.token != rejected_token:
                return True  # another thread already refreshed it
            if self._reauthed:
                return False
            self._reauthed = True
            token = self.reauth()
            if not token:
                return False
            self.token = token
            return True

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: dict[str, Any] | None,
        authenticated: bool,
    ) -> httpx.Response:
        if self._closed:
            raise NetworkError(f"{method} {path}: not sent, the command is ending")
        headers = self._headers(authenticated)
        started = time.monotonic()
        try:
            with self.limiter:
                response = self._http.request(
                    method, path, params=params, json=json_body, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            text = str(exc) or type(exc).__name__
            if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
                raise NetworkError(
                    f"TLS failure talking to {self.base_url}: {text}",
                    hint="set ca_bundle (bulkctl config set ca_bundle FILE) or SSL_CERT_FILE",
                ) from exc
            raise NetworkError(
                f"cannot connect to {self.base_url}: {text}",
                hint="check the base URL, your network or proxy (HTTPS_PROXY)",
            ) from exc
        except httpx.TimeoutException as exc:
            raise NetworkError(
                f"no answer from {self.base_url} in time ({type(exc).__name__})",
                hint="raise read_timeout, or try again",
                sent=True,
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise NetworkError(
                f"the connection to {self.base_url} broke before a complete answer ({exc})",
                sent=True,
            ) from exc
        except (httpx.ProxyError, httpx.UnsupportedProtocol, httpx.TransportError) as exc:
            raise NetworkError(f"network failure talking to {self.base_url}: {exc}") from exc
        if self.debug is not None:
            elapsed = (time.monotonic() - started) * 1000
            shown = {
                k: ("<redacted>" if k.lower() in ("api-key", "authorization") else v)
                for k, v in headers.items()
            }
            self.debug(
                f"{method} {response.request.url} -> {response.status_code} "
                f"({elapsed:.0f} ms, request-ref {response.headers.get('request-ref', '-')}) "
                f"headers {shown}"
            )
        return response

    def _parse_success(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        ctype = response.headers.get("content-type", "")
        data = _json_body(response) if (not ctype or "json" in ctype.lower()) else None
        if data is None:
            raise MalformedResponse(
                f"{what}: the answer is not JSON" + (f" (content-type {ctype})" if ctype else ""),
                status=response.status_code,
                request_ref=response.headers.get("request-ref"),
                body_excerpt=_excerpt(response.content),
            )
        return data
