"""Shared fixtures: an isolated home for config and state, an emulator on a loopback port
with a clock the test moves, and a runner for the real ``bulkctl`` executable."""

from __future__ import annotations

import io
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from bulkctl.context import Clock, Context, GlobalOptions
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Faults
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.transport import EmulatorTransport
from tests.serving import bulkctl_command, serving

T0 = 1_790_000_000.0  # a fixed "now" for emulator data


class ManualClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class StampedStream(io.StringIO):
    """stderr that remembers when (on the test's clock) each write came."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.stamps: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.stamps.append((self.clock(), text))
        return super().write(text)


# what the machine running the tests may set that changes what bulkctl does: CI runs with
# CI=true (no questions, plain progress), GitHub's runners add annotations and a summary;
# a test that wants one of these sets it itself
OUTSIDE_SETTINGS = (
    "NO_COLOR",
    "HTTPS_PROXY",
    "https_proxy",
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "PAGER",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config and state live under tmp_path; no BULKCTL_* variable leaks in."""
    for name in list(os.environ):
        if name.startswith("BULKCTL_") or name in OUTSIDE_SETTINGS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return tmp_path


@dataclass
class Served:
    emulator: Emulator
    clock: ManualClock
    root: str

    @property
    def multi(self) -> str:
        return self.root + "/multi"

    @property
    def backoffice(self) -> str:
        return self.root + "/multi/backoffice"

    @property
    def state(self) -> EmulatorState:
        return self.emulator.state

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a bulkctl process that is logged in to this emulator."""
        return logged_in(self.multi, **extra)


def logged_in(base_url: str, **extra: str) -> dict[str, str]:
    """Environment for a bulkctl process logged in (with the demo credentials) at ``base_url``."""
    return {
        "BULKCTL_BASE_URL": base_url,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
        **extra,
    }


def make_emulator(
    bulks: int = 300, faults: Faults | None = None, pace: float = 2.0
) -> tuple[Emulator, ManualClock]:
    clock = ManualClock()
    state = EmulatorState(bulks=bulks, now=clock(), pace=pace)
    return Emulator(state, clock=clock, faults=faults), clock


@pytest.fixture
def served() -> Iterator[Served]:
    emulator, clock = make_emulator()
    with serving(emulator) as root:
        yield Served(emulator, clock, root)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_bulkctl(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> Result:
    """Run the real bulkctl process with real pipes; stdin is closed unless ``input`` is given."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [*bulkctl_command(), *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> object:
    return run_bulkctl


@dataclass
class InProcess:
    """A Context wired to an in-process emulator, with captured streams."""

    ctx: Context
    emulator: Emulator
    clock: ManualClock

    @property
    def out(self) -> str:
        value = self.ctx.stdout.getvalue()  # type: ignore[attr-defined]
        assert isinstance(value, str)
        return value

    @property
    def err(self) -> str:
        value = self.ctx.stderr.getvalue()  # type: ignore[attr-defined]
        assert isinstance(value, str)
        return value


class LinkedClock(Clock):
    """The command's clock tied to the emulator's: sleeping moves both at once, so polling,
    back-off and timeouts take no real time and bulks progress as the command waits."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    def now(self) -> float:
        return self.clock()

    def monotonic(self) -> float:
        return self.clock()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(seconds, 0.001))


class NoSleepClock(Clock):
    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def in_process(
    tmp_path: Path,
    emulator: Emulator | None = None,
    clock: ManualClock | None = None,
    env: dict[str, str] | None = None,
    tty: bool = False,
) -> InProcess:
    if emulator is None:
        emulator, clock = make_emulator()
    assert clock is not None
    ctx = Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
            "BULKCTL_API_KEY": DEMO_API_KEY,
            "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
            **(env or {}),
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        clock=NoSleepClock(),
        options=GlobalOptions(),
        stdout_tty=tty,
        transport=EmulatorTransport(emulator),
    )
    return InProcess(ctx, emulator, clock)


class Spawned:
    """A running bulkctl process whose output is read with time limits, never blocking for
    ever; on leaving the ``with`` block a process still alive is killed and reaped."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*bulkctl_command(), *args],
            env=dict(os.environ, **(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # a pytest started in the background ignores SIGINT, and children inherit that
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        self.ended = False
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self.err.extend, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def readline(self, timeout: float = 20) -> str:
        """The next line of stdout ('' at its end); fails the test after ``timeout`` seconds."""
        if self.ended:
            return ""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from bulkctl within {timeout}s") from None
        self.ended = line is None
        return "" if line is None else line

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 20) -> tuple[int, str, str]:
        """Exit code, the rest of stdout and all of stderr, once the process has ended."""
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=timeout)
        rest = []
        while (line := self.readline(timeout)) != "":
            rest.append(line)
        return code, "".join(rest), "".join(self.err)


def run_main(*args: str, env: dict[str, str] | None = None, input: str = "") -> Result:
    """Run bulkctl's own entry point (argument parsing, errors, exit codes) in this process,
    with captured streams and ``input`` on a piped stdin: for matrices, and for the steps of a
    test around the one it runs in a real process, where a new process adds nothing."""
    from unittest import mock

    from bulkctl.__main__ import main

    def no_hard_exit(code: int) -> None:  # main ends with os._exit when threads are alive
        raise SystemExit(code)

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, env or {}),
        mock.patch.object(os, "_exit", no_hard_exit),
        mock.patch.object(sys, "stdin", io.StringIO(input)),
        mock.patch.object(sys, "stdout", out),
        mock.patch.object(sys, "stderr", err),
    ):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())
