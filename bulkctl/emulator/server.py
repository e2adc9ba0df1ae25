"""Serve an ``Emulator`` over real HTTP on a local port (stdlib server, one thread a request)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bulkctl.emulator.app import Emulator, Request


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API behind a load balancer
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(
            method=self.command,
            url=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.emulator.handle(request)
        if response.delay > 0:
            time.sleep(response.delay)
        if response.drop:
            self.close_connection = True
            return
        payload = response.body or b""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if payload and response.trickle > 0:
            self.wfile.flush()
            for i in range(len(payload)):  # a slow server: the read timeout restarts per byte
                time.sleep(response.trickle)
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
        elif payload and self.command != "HEAD":  # HEAD: the headers of the answer, no body
            self.wfile.write(payload)

    def __getattr__(self, name: str) -> Callable[[], None]:
        """Every method (TRACE, OPTIONS, HEAD, PROPFIND, ...) goes to the emulator, which
        answers with a JSON error, never the stdlib's HTML page."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The server's own refusals (a malformed request line, headers too long) in JSON."""
        payload = json.dumps({"code": "BAD_REQUEST", "message": message or ""}).encode("utf-8")
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.emulator = emulator
        self.log = log

    @property
    def root_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"


@contextmanager
def running(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 0, *, poll_interval: float = 0.02
) -> Iterator[str]:
    """Serve ``emulator`` in a background thread; yields the root URL (no API prefix).

    It stops within ``poll_interval`` seconds (``serve_forever``'s default is half a second,
    which every test and benchmark that serves would wait once)."""
    server = EmulatorHTTPServer(emulator, host, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        name="bulkctl-emulator",
        daemon=True,
    )
    thread.start()
    try:
        yield server.root_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
