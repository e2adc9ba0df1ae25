"""Measure what ``submit`` costs on big and hostile input files, and print one table.

    python benchmarks/big_input.py                 # 1,000,000 items; 1,000 vs 100,000 columns
    python benchmarks/big_input.py --items 200000  # a quicker run

* peak memory (VmHWM, this process's own peak, read from /proc at its end) and time of
  ``bulkctl submit card-blocks FILE --dry-run`` on a JSON Lines file of N generated items:
  the file is validated in one streaming pass and read again chunk by chunk, so the peak
  stays flat as N grows (it must stay below 300 MB at 1,000,000);
* the same for one line of 100 MB, refused by its number without being held;
* the time to validate a CSV header of 1,000 and of 100,000 columns, named and empty:
  it grows linearly (100x the columns, about 100x the time, never 10,000x).

Nothing is sent: ``--dry-run`` needs no server.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
    "BULKCTL_API_KEY": "bench-key",
    "BULKCTL_AUTH_TOKEN": "bench-token",
}
# runs bulkctl's own entry point, then reports this process's peak resident memory
RUN_AND_MEASURE = """
import sys
from bulkctl.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(f"peak-kb {peak}", file=sys.stderr)
"""


def measure_submit(path: Path, home: Path) -> tuple[float, float, str]:
    """(seconds, peak MB, last stderr line) of ``submit card-blocks PATH --dry-run``."""
    env = dict(os.environ, **ENV)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_STATE_HOME"] = str(home / "state")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_MEASURE, "submit", "card-blocks", str(path), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - start
    lines = proc.stderr.splitlines()
    peak_kb = next(int(line.split()[1]) for line in lines if line.startswith("peak-kb "))
    said = next((line for line in lines if not line.startswith("peak-kb ")), "")
    return seconds, peak_kb / 1024, said


def write_items(path: Path, count: int) -> None:
    with path.open("w") as out:
        for index in range(count):
            out.write(f'{{"id": "{5_000_000 + index}"}}\n')


def write_long_line(path: Path, megabytes: int) -> None:
    with path.open("w") as out:
        out.write('{"id": "1"}\n{"id": "2", "note": "')
        block = "x" * (1 << 20)
        for _ in range(megabytes):
            out.write(block)
        out.write('"}\n{"id": "3"}\n')


def header_seconds(columns: int, *, empty: bool) -> float:
    """Time to read and validate a CSV of one header of ``columns`` and one row."""
    import io

    from bulkctl.api.kinds import KINDS
    from bulkctl.files.reading import InputFile
    from bulkctl.files.submission import InvalidInput

    names = ["" if empty else f"c{index}" for index in range(columns)]
    text = ",".join(names) + "\n" + ",".join("1" for _ in names) + "\n"
    start = time.perf_counter()
    source = InputFile(KINDS["card-blocks"], "-", io.StringIO(text), "csv")
    try:
        source.check()
    except InvalidInput:
        pass  # a header of unknown or empty names is refused: the time to say so is measured
    finally:
        source.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--line-mb", type=int, default=100)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bulkctl-bench-") as tmp:
        home = Path(tmp)
        for count in sorted({args.items // 10, args.items}):
            path = home / f"items-{count}.jsonl"
            write_items(path, count)
            seconds, peak, said = measure_submit(path, home)
            rows.append(
                (f"submit --dry-run, {count:,} items", f"{seconds:.1f} s", f"{peak:.0f} MB")
            )
            print(f"  {said}", file=sys.stderr)
            path.unlink()
        path = home / "long-line.jsonl"
        write_long_line(path, args.line_mb)
        seconds, peak, said = measure_submit(path, home)
        rows.append(
            (f"submit, one line of {args.line_mb} MB", f"{seconds:.1f} s", f"{peak:.0f} MB")
        )
        print(f"  {said}", file=sys.stderr)
    for empty in (False, True):
        what = "empty" if empty else "named"
        small = header_seconds(1_000, empty=empty)
        large = header_seconds(100_000, empty=empty)
        rows.append((f"CSV header, 1,000 {what} columns", f"{small * 1000:.1f} ms", ""))
        rows.append(
            (
                f"CSV header, 100,000 {what} columns",
                f"{large * 1000:.1f} ms",
                f"x{large / small:.0f}",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>10}  {'peak / ratio':>12}")
    for name, seconds_text, extra in rows:
        print(f"{name:<{width}}  {seconds_text:>10}  {extra:>12}")


if __name__ == "__main__":
    main()
