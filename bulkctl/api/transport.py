"""The transport: answers read whole within a cap on their decoded size, and requests
limited in number while in flight."""

from __future__ import annotations

import threading
import zlib
from typing import Any

import httpx

from bulkctl import __version__
from bulkctl.errors import MalformedResponse

USER_AGENT = f"bulkctl/{__version__}"
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # decoded; real pages are tens of KB
CHUNK_BYTES = 64 * 1024


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
