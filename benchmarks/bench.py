"""Measure bulkctl against its floors, side by side in one run, and print one table.

    python benchmarks/bench.py            # defaults: 10,000 bulks, 20 ms latency, 15 runs

Everything is timed on this machine in this run, interleaved (A, B, A, B, ...) so that
noise from a shared machine hits both sides alike, and reported as medians:

* ``bulkctl list --all --jsonl`` over 10,000 bulks at 20 ms a request, against the anchor: a
  hand-written client (``HAND_WRITTEN``: httpx, 8 threads, the same pages of 100, JSON Lines
  out), which pays what bulkctl cannot avoid (Python, httpx, the requests) and nothing else
  (target at most 1.1x);
* the time to the first row, against the client's first row (target at most 1.1x);
* one page (``list --limit 100 --jsonl``) against the client reading one page;
* ``bulkctl --version`` and ``bulkctl list --help`` against a minimal typer app of two
  commands with an eager ``--version`` callback (``--version`` and ``SUBCOMMAND --help``);
* peak memory (max RSS) of ``list --all --jsonl`` at 1,000 and 100,000 records, and of
  ``list --all --json`` (which holds the whole document) at 100,000: at most 2x ``--jsonl``.

The request-quota scenario has its own script: ``benchmarks/quota.py``.

It starts its own emulators (``bulkctl emulator serve``) on loopback and stops them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from benchmarks.bench_ui import compile_bytecode
from tests.serving import bulkctl_command, emulator_process

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

HAND_WRITTEN = """
import json, sys
from concurrent.futures import ThreadPoolExecutor

import httpx

base_url, api_key, token = sys.argv[1:4]
pages = int(sys.argv[4]) if len(sys.argv) > 4 else None  # None: every page
headers = {"api-key": api_key, "Authorization": "Bearer " + token}
out = sys.stdout
with httpx.Client(base_url=base_url, headers=headers, limits=httpx.Limits(max_connections=8)) as client:

    def page(offset):
        answer = client.get("/bulks", params={"offset": offset, "limit": 100})
        answer.raise_for_status()
        return answer.json()

    first = page(0)
    out.write("".join(json.dumps(b) + "\\n" for b in first["bulkProcesses"]))
    out.flush()
    last = first["count"] if pages is None else min(first["count"], 100 * pages)
    with ThreadPoolExecutor(8) as pool:
        for answer in pool.map(page, range(100, last, 100)):
            out.write("".join(json.dumps(b) + "\\n" for b in answer["bulkProcesses"]))
"""


def bulkctl() -> list[str]:
    return bulkctl_command()


@contextmanager
def emulator(bulks: int, latency_ms: float) -> Iterator[str]:
    """A served emulator (``bulkctl emulator serve``); yields its Multi API base URL."""
    with emulator_process("--bulks", str(bulks), "--latency-ms", str(latency_ms)) as (url, _):
        yield url


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
    print(compile_bytecode())  # httpx's is in site-packages: an editable bulkctl needs its own

    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        client = Path(tmp) / "hand_written.py"
        client.write_text(HAND_WRITTEN)
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
            by_hand = [sys.executable, str(client), url, API_KEY, TOKEN]
            one_page = [*bulkctl(), "list", "--limit", "100", "--jsonl"]
            timed(listing, env)  # warm the emulator's caches and the disk cache
            timed(by_hand, env)
            speed = interleaved(
                max(3, args.runs // 3),
                bulkctl=lambda: timed(listing, env),
                by_hand=lambda: timed(by_hand, env),
                first_row=lambda: first_row(listing, env),
                by_hand_first_row=lambda: first_row(by_hand, env),
                one_page=lambda: timed(one_page, env),
                by_hand_one_page=lambda: timed([*by_hand, "1"], env),
            )
        for label, ours, theirs, target in (
            ("list --all --jsonl", "bulkctl", "by_hand", 1.1),
            ("time to first row", "first_row", "by_hand_first_row", 1.1),
            ("list --limit 100 --jsonl (one page)", "one_page", "by_hand_one_page", None),
        ):
            ratio = speed[ours] / speed[theirs]
            verdict = (
                "" if target is None else "PASS" if ratio <= target else f"FAIL (target {target}x)"
            )
            rows.append(
                (
                    label,
                    f"{speed[ours]:.3f} s",
                    f"{ratio:.2f}x the hand-written client ({speed[theirs]:.3f} s)",
                    verdict,
                )
            )

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
