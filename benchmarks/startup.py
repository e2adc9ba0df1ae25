"""Start-up cost of bulkctl against a minimal typer app, both installed as a user installs
them (``pip install .`` into a fresh virtual environment, not editable), side by side:

    python benchmarks/startup.py                     # 21 interleaved runs of each; medians
    python benchmarks/startup.py --baseline ../other # and another checkout, side by side

* a one-page ``bulkctl list --status RUNNING`` against a served emulator, against a minimal
  typer app whose ``list`` imports httpx and sends the same request (target at most 1.10x);
* ``bulkctl --version`` and ``bulkctl list --help`` against the same minimal app's
  ``--version`` and ``list --help``.

Runs are interleaved (A, B, A, B, ...) so a shared machine's noise hits both alike.
BULKCTL_RATE_LIMIT=0: a client-side pacer would otherwise be measured, not start-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from tests.serving import emulator_process

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "demo-api-key-7f3a"
TOKEN = "demo-token-never-expires"
TARGET = 1.10

MINIMAL_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "minimal-list"
version = "1.0"
dependencies = ["typer", "httpx"]

[project.scripts]
minimal = "minimal_list:app"
"""

MINIMAL_APP = '''
import os

import typer

app = typer.Typer()


def version(value: bool) -> None:
    if value:
        print("minimal 1.0")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=version, is_eager=True)) -> None:
    """A minimal app."""


@app.command("list")
def list_bulks(status: str = typer.Option(None, "--status", help="Only this status.")) -> None:
    """One page of bulks, one JSON object a line."""
    import json

    import httpx

    headers = {"api-key": os.environ["BULKCTL_API_KEY"]}
    headers["Authorization"] = "Bearer " + os.environ["BULKCTL_AUTH_TOKEN"]
    params = {"offset": 0, "limit": 20, **({"status": status} if status else {})}
    with httpx.Client(base_url=os.environ["BULKCTL_BASE_URL"], headers=headers) as client:
        page = client.get("/bulks", params=params).json()
    for bulk in page["bulkProcesses"]:
        print(json.dumps(bulk))


@app.command()
def second(name: str = "x") -> None:
    """The second command."""
'''


def install(venv: Path, source: Path, minimal_dir: Path) -> Path:
    """A fresh virtual environment holding bulkctl from ``source`` and the minimal app;
    returns its bin dir."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # a copy, so the build leaves nothing behind in the checkout
    copy = venv.parent / f"{venv.name}-source"
    shutil.copytree(
        source, copy, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info")
    )
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, str(copy), str(minimal_dir)], check=True)
    return venv / "bin"


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr.decode()[-300:]}")
    return elapsed


def interleaved(runs: int, **commands: Callable[[], float]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, measure in commands.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--baseline", type=Path, help="another bulkctl checkout to measure in the same runs"
    )
    args = parser.parse_args()
    sources = {"bulkctl": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    with tempfile.TemporaryDirectory(prefix="bulkctl-startup-") as tmp:
        minimal_dir = Path(tmp) / "minimal"
        minimal_dir.mkdir()
        (minimal_dir / "pyproject.toml").write_text(MINIMAL_PYPROJECT)
        (minimal_dir / "minimal_list.py").write_text(MINIMAL_APP)
        bins = {
            name: install(Path(tmp) / f"venv-{name}", source, minimal_dir)
            for name, source in sources.items()
        }
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("BULKCTL_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        env.update(
            XDG_CONFIG_HOME=str(Path(tmp) / "config"),
            XDG_STATE_HOME=str(Path(tmp) / "state"),
            NO_PROXY="127.0.0.1,localhost",
            BULKCTL_RATE_LIMIT="0",
        )
        commands: dict[str, Callable[[], float]] = {}
        with emulator_process("--bulks", "300", bin_dir=bins["bulkctl"], env=env) as (url, _):
            env.update(BULKCTL_BASE_URL=url, BULKCTL_API_KEY=API_KEY, BULKCTL_AUTH_TOKEN=TOKEN)
            for name, bin_dir in bins.items():
                for who, program in ((name, "bulkctl"), (f"{name}-minimal", "minimal")):
                    exe = str(bin_dir / program)
                    timed([exe, "list", "--status", "RUNNING"], env)  # warm the disk cache
                    for what, argv in (
                        ("list", [exe, "list", "--status", "RUNNING"]),
                        ("version", [exe, "--version"]),
                        ("help", [exe, "list", "--help"]),
                    ):
                        commands[f"{who}/{what}"] = lambda argv=argv: timed(argv, env)
            t = interleaved(args.runs, **commands)
    rows = []
    failed = False
    for name in sources:
        for label, what in (
            ("list --status RUNNING (one page)", "list"),
            ("--version", "version"),
            ("list --help", "help"),
        ):
            ours, floor = t[f"{name}/{what}"], t[f"{name}-minimal/{what}"]
            ratio = ours / floor
            verdict = ""
            if what == "list":
                verdict = f"{'FAIL' if ratio > TARGET else 'PASS'} (target {TARGET:.2f}x)"
                failed = failed or (name == "bulkctl" and ratio > TARGET)
            rows.append(
                f"{name:<9} {label:<34} {ours:.3f} s  vs minimal {floor:.3f} s"
                f"  = {ratio:.2f}x  {verdict}".rstrip()
            )
    print(
        f"bulkctl start-up, both installed with pip install (not editable): medians of "
        f"{args.runs} interleaved runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
