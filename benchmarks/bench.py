"""Measure bulkctl against its floors, side by side in one run, and print one table.

    python benchmarks/bench.py                        # 10,000 bulks, 20 ms latency
    python benchmarks/bench.py --baseline ../other    # and another checkout, in the same runs

Everything is timed on this machine in this run, interleaved (A, B, C, then B, C, A, ...: each
round starts one further on) so that noise from a shared machine hits every side alike, and
reported as medians of the wall time and of the CPU time (user + system) each process used:

* ``bulkctl list --all --jsonl`` over 10,000 bulks at 20 ms a request, against the anchor: a
  hand-written client (``HAND_WRITTEN``: httpx, 8 threads, the same pages of 100, JSON Lines
  out), which pays what bulkctl cannot avoid (Python, httpx, the requests) and nothing else
  (target at most 1.1x);
* the time to the first row, against the client's first row (target at most 1.1x);
* the client runs with httpx's own command-line module kept out (``LEAN``), as bulkctl keeps
  it out (``bulkctl/__init__.py``) and as an install without click has it: here click comes
  with the test tools, and a plain script would pay for importing click, rich and pygments,
  which is this environment's cost, not a client's;
* beside the client, for scale, the same client as the command of a minimal typer app
  (``IN_TYPER``): what the chosen stack adds to the very same work, in the same rounds; for
  the first row also that app without the TLS context its client builds (bulkctl builds
  none for ``http://``): typer's start-up alone;
* one page (``list --limit 100 --jsonl``) against the client reading one page;
* ``bulkctl --version`` and ``bulkctl list --help`` against a minimal typer app of two
  commands with an eager ``--version`` callback (``--version`` and ``SUBCOMMAND --help``);
* peak memory (max RSS) of ``list --all --jsonl`` at 1,000 and 100,000 records, and of
  ``list --all --json`` (which holds the whole document) at 100,000: at most 2x ``--jsonl``.

With ``--baseline PATH`` (another checkout of bulkctl) the listing, first row and one page
are measured for it too, in the same rounds, for a before/after table: both checkouts then
run from their source (``python -P -c "from bulkctl.__main__ import main; ..."`` with
``PYTHONPATH``), with this interpreter and its packages.

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
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from benchmarks.bench_ui import compile_bytecode
from tests.serving import bulkctl_command, emulator_process

ROOT = Path(__file__).resolve().parent.parent
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


# httpx imports its command-line client (click, rich, pygments) when click is installed, as
# the test tools install it here; bulkctl keeps it out, and so does the anchor
LEAN = "import sys\nsys.modules['httpx._main'] = None\n" + HAND_WRITTEN


def _in_typer(client: str) -> str:
    """``client`` as the command of a minimal typer app (with a second command, so that it is
    a group, as bulkctl is): the same work, and what typer adds to it."""
    body = client.split("pages = int(sys.argv[4]) if len(sys.argv) > 4 else None", 1)[1]
    body = body.split("\n", 1)[1]  # the rest of that line: its comment
    return (
        "import sys\nsys.modules['httpx._main'] = None\n"
        "import json\nfrom concurrent.futures import ThreadPoolExecutor\n\nimport httpx\n"
        "import typer\n\napp = typer.Typer(add_completion=False)\n\n\n@app.command()\n"
        "def listing(base_url: str, api_key: str, token: str, pages: int = 0) -> None:\n"
        "    pages = pages or None\n"
        + textwrap.indent(body, "    ")
        + "\n\n@app.command()\ndef other() -> None:\n    pass\n\n\napp()\n"
    )


IN_TYPER = _in_typer(HAND_WRITTEN)
# the same app without the TLS context its client builds (bulkctl builds none for http://):
# typer's start-up alone, for the first row
IN_TYPER_NO_TLS = IN_TYPER.replace(
    "limits=httpx.Limits(max_connections=8))",
    "limits=httpx.Limits(max_connections=8), verify=False)",
)
assert IN_TYPER_NO_TLS != IN_TYPER, "the client's httpx.Client line changed: update the variant"


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


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """The wall time of one run of ``command`` and the CPU time (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr.decode()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def first_row(command: list[str], env: dict[str, str]) -> tuple[float, None]:
    """The time until the first line of ``command``'s output arrived; the process is then
    stopped (the rest is the listing's measure), so a sample is short and many fit."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.kill()
    proc.wait()
    if not line:
        raise RuntimeError(f"{command} wrote nothing")
    return elapsed, None


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


Measure = Callable[[], tuple[float, float | None]]


def interleaved(runs: int, **commands: Measure) -> dict[str, tuple[float, float | None]]:
    """Medians of the wall and CPU times of each measure, over ``runs`` rounds of them all;
    each round starts one measure further on, so none always runs first or after another."""
    names = list(commands)
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu = commands[name]()
            walls[name].append(wall)
            if cpu is not None:
                cpus[name].append(cpu)
    return {
        name: (
            statistics.median(walls[name]),
            statistics.median(cpus[name]) if cpus[name] else None,
        )
        for name in names
    }


def from_source(checkout: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A bulkctl checkout run from its source (as its console script runs it), its bytecode
    compiled first; the command and its environment."""
    import compileall

    compileall.compile_dir(str(checkout / "bulkctl"), quiet=1)
    # each checkout's console-script target: console() where it has one, else main()
    code = "import bulkctl.__main__ as m; getattr(m, 'console', m.main)()"
    # -P: the working folder is not put first on sys.path, or its bulkctl would be the one run
    return [sys.executable, "-P", "-c", code], {**env, "PYTHONPATH": str(checkout)}


def cpu_text(cpu: float | None) -> str:
    return "" if cpu is None else f"{cpu:.3f} s"


Row = tuple[str, str, str, str, str]


def speed_rows(
    speed: dict[str, tuple[float, float | None]], baseline: Path | None, size: int
) -> list[Row]:
    """The listing, first row and one page against the hand-written client (and the
    baseline's, when measured)."""
    rows: list[Row] = []
    cases = [
        (f"list --all --jsonl, {size:,} bulks", "listing", 1.1),
        ("time to first row", "first_row", 1.1),
        ("list --limit 100 --jsonl (one page)", "one_page", None),
    ]
    for label, key, target in cases:
        theirs, theirs_cpu = speed[f"hand_{key}"]
        for who in ("bulkctl", "baseline") if baseline is not None else ("bulkctl",):
            ours, ours_cpu = speed[f"{who}_{key}"]
            typed, _ = speed[f"typer_{key}"]
            bare = speed.get(f"typer_no_tls_{key}", (None, None))[0]
            without = "" if bare is None else f", {ours / bare:.2f}x it without TLS ({bare:.3f} s)"
            ratio = ours / theirs
            cpu = (
                ""
                if ours_cpu is None or theirs_cpu is None
                else f", CPU {ours_cpu / theirs_cpu:.2f}x"
            )
            verdict = (
                "" if target is None else "PASS" if ratio <= target else f"FAIL (target {target}x)"
            )
            rows.append(
                (
                    label if who == "bulkctl" else "  the same, the baseline checkout",
                    f"{ours:.3f} s",
                    cpu_text(ours_cpu),
                    f"{ratio:.2f}x the hand-written client ({theirs:.3f} s{cpu}); "
                    f"{ours / typed:.2f}x it in a minimal typer app ({typed:.3f} s{without})",
                    verdict if who == "bulkctl" else "",
                )
            )
    return rows


def startup_rows(runs: int, minimal: Path) -> list[Row]:
    startup = interleaved(
        runs,
        version=lambda: timed([*bulkctl(), "--version"]),
        minimal_version=lambda: timed([sys.executable, str(minimal), "--version"]),
        help=lambda: timed([*bulkctl(), "list", "--help"]),
        minimal_help=lambda: timed([sys.executable, str(minimal), "first", "--help"]),
    )
    rows: list[Row] = []
    for label, ours, theirs, what, target in (
        ("bulkctl --version", "version", "minimal_version", "--version", 1.15),
        ("bulkctl list --help", "help", "minimal_help", "SUBCOMMAND --help", 1.3),
    ):
        (wall, cpu), (their_wall, _) = startup[ours], startup[theirs]
        ratio = wall / their_wall
        rows.append(
            (
                label,
                f"{wall:.3f} s",
                cpu_text(cpu),
                f"{ratio:.2f}x a minimal typer app's {what} ({their_wall:.3f} s)",
                "PASS" if ratio <= target else f"FAIL (target {target}x)",
            )
        )
    return rows


def memory_rows() -> list[Row]:
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
                    peak_rss_mb([*bulkctl(), "list", "--all", "--json"], env) for _ in range(3)
                )
    grew = memory[100_000] - memory[1_000]
    ratio = whole / memory[100_000]
    return [
        ("peak memory, 1,000 records", f"{memory[1_000]:.1f} MB", "", "", ""),
        (
            "peak memory, 100,000 records",
            f"{memory[100_000]:.1f} MB",
            "",
            f"+{grew:.1f} MB over 1,000",
            "PASS" if grew <= 20 else "FAIL (target +20 MB)",
        ),
        (
            "peak memory, --json 100,000 records",
            f"{whole:.1f} MB",
            "",
            f"{ratio:.2f}x the --jsonl figure",
            "PASS" if ratio <= 2 else "FAIL (target 2x)",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulks", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=15, help="rounds of the start-up measures")
    parser.add_argument(
        "--list-runs", type=int, default=7, help="rounds of the listing measures (each a few s)"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--baseline", type=Path, help="another bulkctl checkout to measure in the same rounds"
    )
    parser.add_argument(
        "--skip-memory", action="store_true", help="skip the 100,000-record memory runs"
    )
    args = parser.parse_args()
    print(compile_bytecode())  # httpx's is in site-packages: an editable bulkctl needs its own
    baseline = args.baseline.resolve() if args.baseline else None

    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        client = Path(tmp) / "hand_written.py"
        client.write_text(LEAN)
        in_typer = Path(tmp) / "in_typer.py"
        in_typer.write_text(IN_TYPER)
        no_tls = Path(tmp) / "in_typer_no_tls.py"
        no_tls.write_text(IN_TYPER_NO_TLS)
        with emulator(args.bulks, args.latency_ms) as url:
            env = run_env(url)
            by_hand = [sys.executable, str(client), url, API_KEY, TOKEN]
            sides: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
                "hand": (by_hand, env, ["1"]),
                "typer": (
                    [sys.executable, str(in_typer), "listing", url, API_KEY, TOKEN],
                    env,
                    ["--pages", "1"],
                ),
                "bulkctl": (bulkctl(), env, []),
            }
            if baseline is not None:  # both run from source, alike
                sides["bulkctl"] = (*from_source(ROOT, env), [])
                sides["baseline"] = (*from_source(baseline, env), [])
            measures: dict[str, Measure] = {}
            firsts: dict[str, Measure] = {}  # short samples (the rest is not read): 3x as many
            for who, (command, side_env, one) in sides.items():
                if who not in ("hand", "typer"):
                    every = [*command, "list", "--all", "--jsonl"]
                    every += ["--concurrency", str(args.concurrency)]
                    page = [*command, "list", "--limit", "100", "--jsonl"]
                else:
                    every, page = command, [*command, *one]
                timed(every, side_env)  # warm the emulator's caches and the disk cache
                measures[f"{who}_listing"] = partial(timed, every, side_env)
                measures[f"{who}_one_page"] = partial(timed, page, side_env)
                firsts[f"{who}_first_row"] = partial(first_row, every, side_env)
            bare = [sys.executable, str(no_tls), "listing", url, API_KEY, TOKEN]
            firsts["typer_no_tls_first_row"] = partial(first_row, bare, env)
            speed = interleaved(args.list_runs, **measures)
            speed |= interleaved(3 * args.list_runs, **firsts)
        rows = speed_rows(speed, baseline, args.bulks)
        rows += startup_rows(args.runs, minimal)
        if not args.skip_memory:
            rows += memory_rows()

    print(
        f"bulkctl benchmark: {args.bulks:,} bulks, {args.latency_ms:g} ms latency, "
        f"concurrency {args.concurrency}, medians of interleaved runs ({args.list_runs} rounds "
        f"of the listings, {3 * args.list_runs} of first rows, {args.runs} of start-up), "
        f"{os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    header: Row = ("measure", "median", "CPU", "compared with", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0 if all(not r[4].startswith("FAIL") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
