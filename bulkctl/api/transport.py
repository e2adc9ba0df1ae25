"""The transport: caps and the deadline. Each exchange is read whole within a cap on its
decoded size and abandoned at its deadline; requests are limited in number in flight."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import httpcore
import httpx

from bulkctl import __version__
from bulkctl.api.statuses import network_error
from bulkctl.api.wire import goes_direct
from bulkctl.errors import DeadlineReached, MalformedResponse, NetworkError, UsageError
from bulkctl.pacing.rates import format_seconds
from bulkctl.safetext import safe_text

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
    """The exchange's deadline passed between two parts of its answer: stop reading."""


class _Deadline(threading.local):
    """The real-time (``time.monotonic``) deadline of the exchange this thread is running,
    and whether the last socket operation's timeout was cut short to meet it."""

    until: float | None = None
    cut: bool = False

    def left(self, timeout: float | None) -> float | None:
        """``timeout`` cut to the time left; raises once nothing is left."""
        if self.until is None:
            self.cut = False
            return timeout
        left = self.until - time.monotonic()
        self.cut = timeout is None or left < timeout
        if left <= 0:
            raise _Abandoned
        return left if self.cut else timeout

    def left_to_connect(self, timeout: float | None) -> float | None:
        """``left`` for a connect or a TLS handshake: httpcore's ConnectTimeout once none is left."""
        try:
            return self.left(timeout)
        except _Abandoned:
            raise httpcore.ConnectTimeout("the exchange's deadline passed") from None


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake waits at most until the
    deadline of the exchange using it: a server that trickles its answer, or its headers, a
    byte at a time is cut at the deadline (a plain read timeout restarts at every byte)."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, self._deadline.left(timeout))
        except _Abandoned:
            raise httpcore.ReadTimeout("the exchange's deadline passed") from None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        try:
            for at in range(0, max(len(view), 1), CHUNK_BYTES):  # the time left at each part
                self._stream.write(bytes(view[at : at + CHUNK_BYTES]), self._deadline.left(timeout))
        except _Abandoned:
            raise httpcore.WriteTimeout("the exchange's deadline passed") from None

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left_to_connect(timeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its connections held to the exchange's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend, deadline: _Deadline) -> None:
        self._backend = backend
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left_to_connect(timeout)

        def connect() -> httpcore.NetworkStream:
            return self._backend.connect_tcp(host, port, left, local_address, socket_options)

        # a name lookup has no timeout of its own: it runs in a thread of its own (once a
        # connection, not a request), waited for within the time left
        stream = connect() if _is_address(host) else _within(connect, left)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = self._deadline.left_to_connect(timeout)
        return _DeadlineStream(
            self._backend.connect_unix_socket(path, left, socket_options), self._deadline
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address, which needs no name lookup."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return True
    return False


def _within(
    connect: Callable[[], httpcore.NetworkStream], left: float | None
) -> httpcore.NetworkStream:
    """``connect()`` in a thread of its own, waited for ``left`` seconds at most; a
    connection that comes too late is closed."""
    outcome: dict[str, Any] = {}
    lock = threading.Lock()
    done = threading.Event()

    def run() -> None:
        try:
            stream = connect()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        else:
            with lock:
                if "late" in outcome:
                    stream.close()
                else:
                    outcome["stream"] = stream
        finally:
            done.set()

    threading.Thread(target=run, name="bulkctl-connect", daemon=True).start()
    if not done.wait(left):
        with lock:
            outcome["late"] = True
            stream = outcome.pop("stream", None)
        if stream is not None:
            stream.close()
        raise httpcore.ConnectTimeout("the name lookup or the connection took too long")
    if "error" in outcome:
        raise outcome["error"]
    connected: httpcore.NetworkStream = outcome["stream"]
    return connected


def _hold_to_deadline(client: httpx.Client, deadline: _Deadline) -> None:
    """Put ``deadline`` under every connection pool of ``client``: the direct one and any
    proxy's (a transport given in code has none; its answer is checked between parts)."""
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _DeadlineBackend(backend, deadline)  # type: ignore[union-attr]


def read_capped(response: httpx.Response, cap: int, deadline: _Deadline) -> bytes:
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
        for chunk in response.iter_raw():  # each part as it comes
            deadline.left(None)  # a transport given in code has no sockets to hold to it
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


class Transport:
    """One base URL's HTTP exchanges, each read whole under ``max_answer_bytes`` and
    abandoned at its overall deadline; ``closed`` once the command ends (nothing more is sent).

    Each exchange runs in the caller's thread, and every socket operation of it waits at
    most until its deadline, so the caller regains control then even while a server
    trickles its answer (httpx's read timeout restarts per chunk)."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None,
        env: Mapping[str, str] | None,
        concurrency: int,
        max_answer_bytes: int,
        monotonic: Callable[[], float],
        debug: Callable[[str], None] | None,
    ) -> None:
        self.base_url = base_url
        self.max_answer_bytes = max_answer_bytes
        self.monotonic = monotonic
        self.debug = debug
        self.closed = False
        self._timeouts = (connect_timeout, read_timeout)
        self._deadline = _Deadline()
        self._http = httpx.Client(
            base_url=base_url,
            transport=transport,
            verify=_verify(base_url, ca_bundle or (env or {}).get("SSL_CERT_FILE"), transport),
            # loopback never goes through a proxy, whatever HTTP(S)_PROXY and NO_PROXY say
            trust_env=transport is None and not goes_direct(base_url),
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
        _hold_to_deadline(self._http, self._deadline)

    def close(self) -> None:
        self.closed = True
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str],
        *,
        overall: float,
        hard: float | None,
    ) -> httpx.Response:
        """One exchange, abandoned after ``overall`` seconds or at ``hard`` (monotonic), the
        caller's deadline: DeadlineReached when that came first, else NetworkError."""
        if self.closed:
            raise NetworkError(f"{method} {path}: not sent, the command is ending")
        started = self.monotonic()
        until = started + overall
        hard_first = hard is not None and hard < until
        if hard is not None:
            until = min(until, hard)
        deadline = self._deadline
        deadline.cut = False
        # the same span in real time: the injected clock may be a test's
        deadline.until = time.monotonic() + max(0.0, until - started)
        try:
            response = self._exchange(
                method, path, params, json_body, headers, max(0.0, until - started)
            )
        except (httpx.HTTPError, _Abandoned) as error:
            cut = isinstance(error, (_Abandoned, httpx.PoolTimeout)) or (
                isinstance(error, httpx.TimeoutException) and deadline.cut
            )
            if not cut:
                assert isinstance(error, httpx.HTTPError)
                raise network_error(error, self.base_url) from error
            raise self._too_late(method, path, overall, hard_first) from None
        finally:
            deadline.until = None
        if self.monotonic() > until:  # complete, but after the deadline (on the injected
            # clock too): abandoned like an answer still in flight then, never used
            raise self._too_late(method, path, overall, hard_first)
        if self.debug is not None:
            self._log(method, response, headers, started)
        return response

    def _too_late(
        self, method: str, path: str, overall: float, hard_first: bool
    ) -> DeadlineReached | NetworkError:
        """The error of an exchange abandoned at its deadline: the caller's, or its own."""
        if hard_first:
            return DeadlineReached(f"{method} {path}: abandoned at the deadline")
        return NetworkError(
            f"no complete answer from {self.base_url} within {format_seconds(overall)} "
            "(request_timeout)",
            hint="raise request_timeout, or try again",
            sent=True,
        )

    def _log(
        self, method: str, response: httpx.Response, headers: dict[str, str], started: float
    ) -> None:
        """One debug line per exchange, its secrets redacted."""
        assert self.debug is not None
        elapsed = (self.monotonic() - started) * 1000
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

    def _exchange(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str],
        left: float,
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
            body = read_capped(streamed, self.max_answer_bytes, self._deadline)
        finally:
            streamed.close()
        kept = [
            (k, v)
            for k, v in streamed.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(streamed.status_code, headers=kept, content=body, request=request)


def _verify(
    base_url: str, cafile: str | None, transport: httpx.BaseTransport | None
) -> ssl.SSLContext | bool:
    """TLS verification: none over http:// (loopback only, see wire.check_base_url), else the
    CA bundle named, else the system's."""
    if base_url.startswith("http://"):
        return False
    if cafile and transport is None:
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load CA bundle {cafile}: {exc}") from exc
    return True
