"""Issue 23's shared quota, with real processes: three ``bulkctl list --all --jsonl``, each
with its own state folder (three machines), against one served emulator whose quota is
20 requests per 6 s, each paced at that quota. With one Redis store they pace together;
with the state folders alone each paces as if it had the whole quota.

Shared by tests/test_redis_e2e.py and benchmarks/shared_quota.py. The quota answers are
counted in the emulator's log (deterministic for the shared store, a count to compare for
separate files); nothing here measures wall time.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bulkctl.emulator.app import Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.emulator.state import EmulatorState
from tests.conftest import logged_in
from tests.quota_scenario import LoggingEmulator
from tests.serving import bulkctl_command, serving

QUOTA = "20/6s"
PROCESSES = 3
BULKS = 1_800  # 18 pages of 100 each: 54 requests in all, the quota of three windows


@dataclass
class FleetRun:
    codes: list[int]
    stdouts: list[str]
    stderrs: list[str]
    quota_answers: int
    requests: int
    log: list[tuple[float, bool]]  # each request's time on the emulator's clock, refused or not

    @property
    def complete(self) -> bool:
        """Every process exited 0 and listed every bulk once."""
        return all(code == 0 for code in self.codes) and all(
            len(set(out.splitlines())) == BULKS for out in self.stdouts
        )


def run_fleet(
    tmp_path: Path,
    store_url: str | None,
    *,
    during: Callable[[LoggingEmulator], None] | None = None,
    env: dict[str, str] | None = None,
) -> FleetRun:
    """Three processes, separate state folders, ``store_url`` (None: the files alone);
    ``during`` runs with the emulator once they have started (a store killed mid-run, say)."""
    shift = time.time() % 6  # the emulator's fixed windows open as the processes start

    def clock() -> float:
        return time.time() - shift

    emulator = LoggingEmulator(
        EmulatorState(bulks=BULKS, now=clock()),
        clock=clock,
        faults=Faults(quota=parse_quota(QUOTA)),
    )
    emulator.latency = 0.0
    with serving(emulator) as root:
        procs = []
        for i in range(PROCESSES):
            extra = {
                "BULKCTL_RATE_LIMIT": QUOTA,
                "XDG_STATE_HOME": str(tmp_path / f"machine{i}" / "state"),
                "XDG_CONFIG_HOME": str(tmp_path / f"machine{i}" / "config"),
                "NO_PROXY": "127.0.0.1,localhost",
            }
            if store_url is not None:
                extra["BULKCTL_RATE_LIMIT_STORE"] = store_url
            outside = {k: v for k, v in os.environ.items() if not k.startswith("BULKCTL_")}
            full = {**outside, **(env or {}), **logged_in(root + "/multi", **extra)}
            # files, not pipes: a pipe left unread while another process is waited for would
            # stop its writer, and the three would no longer run together
            out, err = tmp_path / f"machine{i}" / "stdout", tmp_path / f"machine{i}" / "stderr"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w") as stdout, err.open("w") as stderr:
                command = [*bulkctl_command(), "list", "--all", "--jsonl"]
                procs.append(
                    subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=full
                    )
                )
        if during is not None:
            during(emulator)
        for proc in procs:
            proc.wait(timeout=180)
    machines = [tmp_path / f"machine{i}" for i in range(PROCESSES)]
    return FleetRun(
        codes=[proc.returncode for proc in procs],
        stdouts=[(m / "stdout").read_text() for m in machines],
        stderrs=[(m / "stderr").read_text() for m in machines],
        quota_answers=emulator.quota_answer_count,
        requests=emulator.request_count,
        log=[(t - shift, refused) for t, refused in emulator.log],
    )
