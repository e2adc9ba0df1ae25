"""Serving the emulator for tests, the quota scenario and the benchmarks, in one place.

``serving`` runs an ``Emulator`` object in a thread of this process (its state can be read and
changed by the caller); ``emulator_process`` runs ``bulkctl emulator serve`` as its own process,
as a user would. ``bulkctl_command`` is how either side starts the real console script.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bulkctl.emulator.server import running as serving

__all__ = ["bulkctl_command", "emulator_process", "serving"]


def bulkctl_command(bin_dir: Path | None = None) -> list[str]:
    """The console script in ``bin_dir`` (default: next to this interpreter), else the one on
    PATH, else ``python -m bulkctl``."""
    script = (bin_dir or Path(sys.executable).parent) / "bulkctl"
    if script.exists():
        return [str(script)]
    found = shutil.which("bulkctl")
    return [found] if found else [sys.executable, "-m", "bulkctl"]


@contextmanager
def emulator_process(
    *args: str,
    bin_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    stderr: int | IO[str] | None = subprocess.DEVNULL,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``bulkctl emulator serve --port 0 ARGS...`` until the block ends; yields its Multi API
    base URL and the process (whose stderr is a pipe when ``stderr=subprocess.PIPE``)."""
    proc = subprocess.Popen(
        [*bulkctl_command(bin_dir), "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=None if env is None else dict(env),
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        if "listening on" not in first:
            raise RuntimeError(f"the emulator did not start: {first!r}")
        yield first.split()[-1] + "/multi", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
