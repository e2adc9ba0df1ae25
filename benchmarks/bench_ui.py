"""Measure ``bulkctl ui``: time to the first screen, and the requests of an idle ui.

    python benchmarks/bench_ui.py                 # start-up, 7 interleaved runs each side
    python benchmarks/bench_ui.py --as-found      # the same without compiling bytecode first
    python benchmarks/bench_ui.py --idle 11       # + an idle ui over real time (11 minutes)
    python benchmarks/bench_ui.py --idle-simulated

Start-up: the time from spawn until the newest bulk's id appears in an 80x24 pty, for
``bulkctl ui`` and for a minimal Textual app that imports httpx, fetches the same page from
the same served emulator and fills a DataTable; both with BULKCTL_RATE_LIMIT=0, interleaved,
medians. Target: ui <= 1.5x the minimal app. bulkctl's bytecode is compiled first, as pip
does on install (``--as-found`` skips that), and the CPU time each side used by then is shown
too: it moves less than wall time when other work shares the machine.

Idle requests: an idle ui (no keys) over ``emulator serve`` defaults (300 bulks); the
emulator logs every request and the script counts those in minutes 2 to N. Target: <= 20
a minute. The emulator has no accelerated clock (``--pace`` is operations per second), so
``--idle-simulated`` runs the ui's refresh loop in-process on an injected clock instead:
the same code and budget, 11 minutes in about a second.

Requires the ui extra (pip install '.[ui]') and pexpect (the test extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from tests.serving import bulkctl_command, emulator_process

API_KEY = "demo-api-key-7f3a"
TOKEN = "demo-token-never-expires"
PAGE = 100  # what the ui reads first

MINIMAL_APP = textwrap.dedent(
    """
    import os
    import httpx
    from textual.app import App
    from textual.widgets import DataTable

    class Minimal(App):
        BINDINGS = [("q", "quit")]

        def compose(self):
            yield DataTable()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns("BULK ID", "STATUS", "OPERATION", "ITEMS")
            self.run_worker(self.fetch, thread=True)

        def fetch(self):
            answer = httpx.get(
                os.environ["BULKCTL_BASE_URL"] + "/bulks",
                params={"limit": PAGE_SIZE},
                headers={
                    "api-key": os.environ["BULKCTL_API_KEY"],
                    "Authorization": "Bearer " + os.environ["BULKCTL_AUTH_TOKEN"],
                },
            ).json()
            rows = [
                (b["bulkId"], b["status"], b["operation"], str(b["submittedItemsCount"]))
                for b in answer["bulkProcesses"]
            ]
            self.call_from_thread(self.query_one(DataTable).add_rows, rows)

    Minimal().run()
    """
).replace("PAGE_SIZE", str(PAGE))


@contextmanager
def served(bulks: int = 300) -> Iterator[tuple[str, list[float]]]:
    """``emulator serve --log``: yields its Multi API base URL and the arrival times of requests."""
    arrivals: list[float] = []
    with emulator_process("--bulks", str(bulks), "--log", stderr=subprocess.PIPE) as (url, proc):
        stderr = proc.stderr
        assert stderr is not None

        def count() -> None:
            for line in stderr:
                if '"GET ' in line or '"POST ' in line:
                    arrivals.append(time.monotonic())

        threading.Thread(target=count, daemon=True).start()
        yield url, arrivals


def environment(base_url: str, home: str) -> dict[str, str]:
    return {
        **os.environ,
        "BULKCTL_BASE_URL": base_url,
        "BULKCTL_API_KEY": API_KEY,
        "BULKCTL_AUTH_TOKEN": TOKEN,
        "BULKCTL_RATE_LIMIT": "0",
        "XDG_CONFIG_HOME": home + "/config",
        "XDG_STATE_HOME": home + "/state",
        "TERM": "xterm-256color",
    }


def newest_id(base_url: str) -> str:
    request = urllib.request.Request(
        base_url + "/bulks?limit=1",
        headers={"api-key": API_KEY, "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.load(answer)["bulkProcesses"][0]["bulkId"])


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system, every thread) a live process has used, where /proc
    says it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_id(command: list[str], env: dict[str, str], bulk_id: str) -> tuple[float, float | None]:
    """Seconds from spawn until ``bulk_id`` is on the 80x24 screen, and the CPU seconds the
    process used by then; then quits with q."""
    import pexpect

    started = time.perf_counter()
    child = pexpect.spawn(command[0], command[1:], env=env, dimensions=(24, 80), timeout=60)
    child.expect(re.escape(bulk_id.encode()))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(child.pid)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    return elapsed, cpu


def compile_bytecode() -> str:
    """Write bulkctl's bytecode before timing, as pip does when it installs a package.

    Textual and httpx load theirs from site-packages; an editable install run with
    PYTHONDONTWRITEBYTECODE set (as many CI machines and containers do) would otherwise compile
    every bulkctl module from source on each start, which no installed copy does."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("bulkctl")
    if spec is None or not spec.submodule_search_locations:
        return "bytecode: bulkctl not found, left as it is"
    folder = next(iter(spec.submodule_search_locations))
    if not compileall.compile_dir(folder, quiet=1):
        return "bytecode: could not write all of bulkctl's, left as it is"
    return "bytecode: bulkctl's compiled first, as an installed copy has it"


def startup(runs: int, bytecode: bool = True) -> None:
    if bytecode:
        print(compile_bytecode())
    else:
        unwritten = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
        print(f"bytecode: as found (PYTHONDONTWRITEBYTECODE={unwritten})")
    with served() as (base_url, _), tempfile.TemporaryDirectory() as home:
        env = environment(base_url, home)
        bulk_id = newest_id(base_url)
        app = Path(home) / "minimal_textual.py"
        app.write_text(MINIMAL_APP, encoding="utf-8")
        ui_runs, minimal_runs = [], []
        for _ in range(runs):  # interleaved, so a noisy machine hits both alike
            ui_runs.append(time_to_id([*bulkctl_command(), "ui"], env, bulk_id))
            minimal_runs.append(time_to_id([sys.executable, str(app)], env, bulk_id))
    ui, minimal = (statistics.median(t for t, _ in r) for r in (ui_runs, minimal_runs))
    print(f"time to the newest bulk's id in an 80x24 pty (median of {runs}):")
    print(f"  bulkctl ui               {ui * 1000:7.0f} ms")
    print(f"  minimal Textual + httpx  {minimal * 1000:7.0f} ms")
    print(f"  ratio                    {ui / minimal:7.2f}x   (target <= 1.5x)")
    cpu = [[c for _, c in r if c is not None] for r in (ui_runs, minimal_runs)]
    if all(cpu):  # CPU time moves less than wall time when other work shares the machine
        ui_cpu, minimal_cpu = (statistics.median(c) for c in cpu)
        print(f"CPU time used by then (median; ticks of {1000 // os.sysconf('SC_CLK_TCK')} ms):")
        print(f"  bulkctl ui               {ui_cpu * 1000:7.0f} ms")
        print(f"  minimal Textual + httpx  {minimal_cpu * 1000:7.0f} ms")
        print(f"  ratio                    {ui_cpu / minimal_cpu:7.2f}x")


def idle_real(minutes: int) -> None:
    with served() as (base_url, arrivals), tempfile.TemporaryDirectory() as home:
        import pexpect

        env = environment(base_url, home)
        bulk_id = newest_id(base_url)
        arrivals.clear()
        command = [*bulkctl_command(), "ui"]
        child = pexpect.spawn(command[0], command[1:], env=env, dimensions=(24, 80), timeout=60)
        started = time.monotonic()
        child.expect(re.escape(bulk_id.encode()))
        while time.monotonic() - started < minutes * 60:
            with contextlib.suppress(pexpect.TIMEOUT):  # keep reading: the pty must not fill up
                child.read_nonblocking(65536, timeout=1)
        child.send("q")
        child.expect(pexpect.EOF)
        child.close()
    window = [t for t in arrivals if t - started >= 60]
    rate = len(window) / (minutes - 1)
    print(f"idle ui, emulator serve defaults, real time: {len(arrivals)} requests in {minutes} min")
    print(f"  minutes 2-{minutes}: {rate:.1f} requests a minute   (target <= 20)")


def idle_simulated(minutes: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import io

    from bulkctl.context import Clock, Context, GlobalOptions
    from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator
    from bulkctl.emulator.state import EmulatorState
    from bulkctl.emulator.transport import EmulatorTransport
    from bulkctl.ui.backend import Backend
    from bulkctl.ui.board import Board

    clock = [1_790_000_000.0]

    class InjectedClock(Clock):
        """The context's clock on the injected one: the shared pacer's minute passes too."""

        def now(self) -> float:
            return clock[0]

        def monotonic(self) -> float:
            return clock[0]

        def sleep(self, seconds: float) -> None:
            clock[0] += seconds

    emulator = Emulator(EmulatorState(now=clock[0]), clock=lambda: clock[0])
    with tempfile.TemporaryDirectory() as home:
        ctx = Context(
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            stdin=io.StringIO(),
            env={
                "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
                "BULKCTL_API_KEY": DEMO_API_KEY,
                "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
            },
            config_dir=Path(home) / "config",
            state_dir=Path(home) / "state",
            clock=InjectedClock(),
            options=GlobalOptions(),
            transport=EmulatorTransport(emulator),
        )
        board = Board(Backend.from_context(ctx, now=lambda: clock[0], monotonic=lambda: clock[0]))
        start, counted_from = clock[0], None
        visible_rows = 24 - 8  # the table's rows on an 80x24 screen
        while clock[0] - start < minutes * 60:
            if counted_from is None and clock[0] - start >= 60:
                counted_from = len(emulator.requests)
            visible = [b.bulk_id for b in board.shown()[:visible_rows] if b.bulk_id]
            clock[0] += board.refresh(visible)
        ctx.close()
    assert counted_from is not None
    rate = (len(emulator.requests) - counted_from) / (minutes - 1)
    print(f"idle ui, 300 bulks, injected clock: {len(emulator.requests)} requests in {minutes} min")
    print(f"  minutes 2-{minutes}: {rate:.1f} requests a minute   (target <= 20)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="start-up runs per side")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    parser.add_argument(
        "--as-found",
        action="store_true",
        help="do not compile bulkctl's bytecode first (measure the checkout as it is)",
    )
    parser.add_argument("--idle", type=int, metavar="MINUTES", help="idle ui over real time")
    parser.add_argument(
        "--idle-simulated", action="store_true", help="idle ui on an injected clock (11 min)"
    )
    args = parser.parse_args()
    if not args.no_startup:
        startup(args.runs, bytecode=not args.as_found)
    if args.idle_simulated:
        idle_simulated(11)
    if args.idle:
        idle_real(args.idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
