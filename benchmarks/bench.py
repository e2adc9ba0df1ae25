"""Measure bulkctl against its floors, side by side in one run, and print one table.

    python benchmarks/bench.py            # defaults: 10,000 bulks, 20 ms latency, 15 runs

Everything is timed on this machine in this run, interleaved (A, B, A, B, ...) so that
noise from a shared machine hits both sides alike, and reported as medians:

* ``bulkctl list --all --jsonl`` over 10,000 bulks at 20 ms a request, against a plain
  sequential page-by-page loop over the same API (what a user would otherwise script)
  and against the floor: start-up + first page + ceil(remaining pages / concurrency) x
  latency, where start-up is a minimal typer app's ``--version``;
* the time to the first row;
* ``bulkctl --version`` and ``bulkctl list --help`` against a minimal typer app of two
  commands with an eager ``--version`` callback (``--version`` and ``SUBCOMMAND --help``);
* peak memory (max RSS) of ``list --all --jsonl`` at 1,000 and 100,000 records, and of
  ``list --all --json`` (which holds the whole document) at 100,000: at most 2x ``--jsonl``.

The request-quota scenario has its own script: ``benchmarks/quota.py``.

It starts its own emulators (``bulkctl emulator serve``) on loopback and stops them.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

API_KEY = "demo-api-key-7f3a"
TOKEN = "demo-token-never-expires"

MINIMAL_APP = '''
import typer

app = typer.Typer()


def version(value: bool) -> None:
    if value:
        print("minimal 1.0")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=version, is_eager=True)) -> None:
    """A minimal app."""


@app.command()
def first(count: int = 1) -> None:
    """The first command."""


@app.command()
def second(name: str = "x") -> None:
    """The second command."""


app()
'''

SEQUENTIAL_LOOP = """
import http.client, json, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
headers = {"api-key": sys.argv[2], "Authorization": "Bearer " + sys.argv[3]}
offset = 0
out = sys.stdout
while True:
    conn.request("GET", f"{url.path}/bulks?limit=100&offset={offset}", headers=headers)
    page = json.loads(conn.getresponse().read())
    for bulk in page["bulkProcesses"]:
        out.write(json.dumps(bulk) + "\\n")
    offset += len(page["bulkProcesses"])
    if not page["bulkProcesses"] or offset >= page["count"]:
        break
"""


def bulkctl() -> list[str]:
    script = Path(sys.executable).parent / "bulkctl"
    if script.exists():
        return [str(script)]
    found = shutil.which("bulkctl")
    return [found] if found else [sys.executable, "-m", "bulkctl"]


@contextmanager
def emulator(bulks: int, latency_ms: float) -> Iterator[str]:
    """A served emulator; yields its Multi API base URL."""
    proc = subprocess.Popen(
        [
            *bulkctl(),
            "emulator",
            "serve",
            "--port",
            "0",
            "--bulks",
            str(bulks),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        if "listening on" not in first:
            raise RuntimeError(f"the emulator did not start: {first!r}")
        yield first.split()[-1] + "/multi"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_env(base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BULKCTL_BASE_URL=base_url,
        BULKCTL_API_KEY=API_KEY,
        BULKCTL_AUTH_TOKEN=TOKEN,
        BULKCTL_RATE_LIMIT="0",  # measure speed, not the API's quota
        XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="bench-config-"),
    )
    return env


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr.decode()[-300:]}")
    return elapsed


def first_row(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    proc.wait()
    return elapsed


def peak_rss_mb(command: list[str], env: dict[str, str]) -> float:
    """Max RSS of one child process, in MB (ru_maxrss of the children waited for)."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *command], capture_output=True, text=True, env=env, check=True
    )
    kb = int(out.stdout.strip())
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def interleaved(runs: int, **commands: Callable[[], float]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, measure in commands.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulks", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--skip-memory", action="store_true", help="skip the 100,000-record memory runs"
    )
    args = parser.parse_args()
    _ = resource  # imported so a missing module fails early on unsupported systems

    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        loop = Path(tmp) / "sequential.py"
        loop.write_text(SEQUENTIAL_LOOP)
        rows: list[tuple[str, str, str, str]] = []

        with emulator(args.bulks, args.latency_ms) as url:
            env = run_env(url)
            listing = [
                *bulkctl(),
                "list",
                "--all",
                "--jsonl",
                "--concurrency",
                str(args.concurrency),
            ]
            sequential = [sys.executable, str(loop), url, API_KEY, TOKEN]
            timed(listing, env)  # warm the emulator's caches and the disk cache
            speed = interleaved(
                max(3, args.runs // 3),
                bulkctl=lambda: timed(listing, env),
                sequential=lambda: timed(sequential, env),
                first_row=lambda: first_row(listing, env),
                startup=lambda: timed([sys.executable, str(minimal), "--version"]),
            )
        pages = math.ceil(args.bulks / 100)
        floor = (
            speed["startup"]
            + (1 + math.ceil((pages - 1) / args.concurrency)) * args.latency_ms / 1000
        )
        vs_loop = speed["sequential"] / speed["bulkctl"]
        vs_floor = speed["bulkctl"] / floor
        rows += [
            (
                "list --all --jsonl",
                f"{speed['bulkctl']:.2f} s",
                f"{vs_loop:.1f}x faster than the sequential loop ({speed['sequential']:.2f} s)",
                "PASS" if vs_loop >= 4 else "FAIL (target 4x)",
            ),
            (
                "  vs the floor",
                f"{floor:.2f} s",
                f"{vs_floor:.2f}x the floor",
                "PASS" if vs_floor <= 2 else "FAIL (target 2x)",
            ),
            (
                "time to first row",
                f"{speed['first_row']:.2f} s",
                f"{speed['first_row'] / speed['bulkctl']:.0%} of the whole listing",
                "",
            ),
        ]

        startup = interleaved(
            args.runs,
            version=lambda: timed([*bulkctl(), "--version"]),
            minimal_version=lambda: timed([sys.executable, str(minimal), "--version"]),
            help=lambda: timed([*bulkctl(), "list", "--help"]),
            minimal_help=lambda: timed([sys.executable, str(minimal), "first", "--help"]),
        )
        v = startup["version"] / startup["minimal_version"]
        h = startup["help"] / startup["minimal_help"]
        rows += [
            (
                "bulkctl --version",
                f"{startup['version']:.3f} s",
                f"{v:.2f}x minimal app ({startup['minimal_version']:.3f} s)",
                "PASS" if v <= 1.15 else "FAIL (target 1.15x)",
            ),
            (
                "bulkctl list --help",
                f"{startup['help']:.3f} s",
                f"{h:.2f}x minimal app ({startup['minimal_help']:.3f} s)",
                "PASS" if h <= 1.3 else "FAIL (target 1.3x)",
            ),
        ]

        if not args.skip_memory:
            memory: dict[int, float] = {}
            whole = 0.0  # --json at 100,000 records
            for size in (1_000, 100_000):
                with emulator(size, 0) as url:
                    env = run_env(url)
                    memory[size] = max(
                        peak_rss_mb([*bulkctl(), "list", "--all", "--jsonl"], env) for _ in range(3)
                    )
                    if size == 100_000:
                        whole = max(
                            peak_rss_mb([*bulkctl(), "list", "--all", "--json"], env)
                            for _ in range(3)
                        )
            grew = memory[100_000] - memory[1_000]
            ratio = whole / memory[100_000]
            rows += [
                ("peak memory, 1,000 records", f"{memory[1_000]:.1f} MB", "", ""),
                (
                    "peak memory, 100,000 records",
                    f"{memory[100_000]:.1f} MB",
                    f"+{grew:.1f} MB over 1,000",
                    "PASS" if grew <= 20 else "FAIL (target +20 MB)",
                ),
                (
                    "peak memory, --json 100,000 records",
                    f"{whole:.1f} MB",
                    f"{ratio:.2f}x the --jsonl figure",
                    "PASS" if ratio <= 2 else "FAIL (target 2x)",
                ),
            ]

    print(
        f"bulkctl benchmark: {args.bulks:,} bulks, {args.latency_ms:g} ms latency, concurrency {args.concurrency}, "
        f"medians of interleaved runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0 if all(not r[3].startswith("FAIL") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
