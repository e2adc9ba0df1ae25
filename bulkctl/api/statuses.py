"""The one error mapping: an HTTP answer that is not a success, or a transport failure,
becomes one of the errors in ``bulkctl.errors`` (status, request-ref and details kept)."""

from __future__ import annotations

import http
import json
import math
import re
from typing import Any

import httpx

from bulkctl.api.retry import parse_reset, parse_retry_after
from bulkctl.errors import (
    IDENTITY_CONFLICTS,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    MalformedResponse,
    NetworkError,
    NotFound,
    ServerError,
    Throttled,
    Unauthorized,
)
from bulkctl.safetext import safe_text


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


def _details(response: httpx.Response) -> dict[str, Any]:
    """What every error keeps of an answer: status, request-ref, and the body's message,
    error code and invalid fields (the server's text, made safe)."""
    body = _json_body(response)
    obj = body if isinstance(body, dict) else {}
    error_code = obj.get("errorCode") if isinstance(obj.get("errorCode"), str) else None
    if error_code is None and isinstance(obj.get("code"), str):
        error_code = obj["code"]
    invalid: list[dict[str, Any]] = []
    syntax = obj.get("syntaxErrors")
    if isinstance(syntax, dict) and isinstance(syntax.get("invalidFields"), list):
        invalid = [f for f in syntax["invalidFields"] if isinstance(f, dict)]
    elif isinstance(obj.get("validationErrors"), list):
        invalid = [f for f in obj["validationErrors"] if isinstance(f, dict)]
    return {
        "status": response.status_code,
        "request_ref": response.headers.get("request-ref"),
        "api_message": _text_field(obj, "message", "title", "detail"),
        "error_code": error_code,
        "invalid_fields": invalid,
    }


def error_from_response(response: httpx.Response, what: str, now: float | None = None) -> ApiError:
    """Map a non-2xx answer to the project's error, keeping status, request-ref and details;
    ``now`` (wall time) reads a ``Retry-After`` date."""
    status = response.status_code
    common = _details(response)
    error_code = common["error_code"]
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
        return _not_found(response, what, common)
    if status == 409:
        return _identity_conflict(response, what, common) or Conflict(f"{what}: conflict", **common)
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


def _identity_conflict(
    response: httpx.Response, what: str, common: dict[str, Any]
) -> Conflict | None:
    """A 409 of POST /access_token that says why the identity was refused, and the fix."""
    known = IDENTITY_CONFLICTS.get(common["error_code"] or "")
    try:
        path = response.request.url.path
    except RuntimeError:  # an answer built without its request
        return None
    if known is None or not path.endswith("/access_token"):
        return None
    meaning, fix = known
    login = ("auth", "login", "--identity", "TYPE:ID")
    return Conflict(
        f"{what}: {meaning.format(identity='this identity')}",
        hint=fix,
        suggest=login if fix.endswith(":") else (),
        **common,
    )


_BULKS_PATH = re.compile(r"(?P<root>.*?)/bulks(?:/(?P<rest>[^/]*))?(?:/.*)?")


def _not_found(response: httpx.Response, what: str, common: dict[str, Any]) -> NotFound:
    """A 404 that says what to do: a root without /multi names the right one; an unknown
    bulk says how ids are found. Both keep the line short (the API's words repeat ours)."""
    try:
        url = response.request.url
    except RuntimeError:  # an answer built without its request
        return NotFound(f"{what}: not found", **common)
    short = {**common, "api_message": None, "error_code": None}
    host = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    for login, api in (("/access_token", "/multi/backoffice"), ("/login_with_password", "/multi")):
        if url.path.endswith(login) and not url.path.endswith(api + login):
            base = safe_text(host + url.path.removesuffix(login))
            return NotFound(
                f"{what}: no {login[1:]} at {base}",
                hint=f"this login's API root ends in {api}: --base-url {host}{api}",
                **short,
            )
    match = _BULKS_PATH.fullmatch(url.path)
    if match is None:
        return NotFound(f"{what}: not found", **common)
    root = match.group("root").rstrip("/")
    if not root.endswith(("/multi", "/multi/backoffice")):
        base = host + root
        # a root ending in /backoffice lacks the /multi before it, not after it
        if base.endswith("/backoffice"):
            fixed = base.removesuffix("/backoffice") + "/multi/backoffice"
        else:
            fixed = base + "/multi"
        return NotFound(
            f"{what}: no Weavr API at {safe_text(base)}",
            hint=f"its root ends in /multi or /multi/backoffice: --base-url {safe_text(fixed)}",
            **short,
        )
    if (match.group("rest") or "").isdigit():  # an unknown id: its request-ref helps nobody
        return NotFound(
            f"{what}: not found",
            hint="find bulk ids with:",
            suggest=("list",),
            **{**short, "request_ref": None},
        )
    return NotFound(f"{what}: not found", **common)


def network_error(exc: httpx.HTTPError, base_url: str) -> NetworkError:
    """The project's error for an httpx transport failure talking to ``base_url``."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
            return NetworkError(
                f"TLS failure talking to {base_url}: {text}",
                hint="set ca_bundle (bulkctl config set ca_bundle FILE) or SSL_CERT_FILE",
            )
        reason = re.sub(r"^\[Errno -?\d+\] ", "", text)  # "Connection refused"
        return NetworkError(
            f"cannot connect to {base_url}: {reason}",
            hint="check the base URL, your network or proxy (HTTPS_PROXY)",
            reason=reason.lower(),
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(
            f"no answer from {base_url} in time ({type(exc).__name__})",
            hint="raise read_timeout, or try again",
            sent=True,
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return NetworkError(
            f"the connection to {base_url} broke before a complete answer ({exc})",
            sent=True,
        )
    return NetworkError(f"network failure talking to {base_url}: {text}")


def success_body(response: httpx.Response, what: str, *, excerpt: bool) -> Any:
    """The JSON of a 2xx answer (None when it has none); MalformedResponse when it is not
    JSON (``excerpt``: quote its start, unless it holds a secret)."""
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
