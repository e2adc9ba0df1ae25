"""Measure issue 10's request-quota scenario and print one table.

    python benchmarks/quota.py              # in-process, on a discrete-event clock (~1 min)
    python benchmarks/quota.py --real       # plus one real process in real time (~25 s)

``bulkctl list --all --jsonl`` over 25,000 bulks (250 requests) against an emulator that
applies fixed windows of 100 requests per 10 s, paced at the served quota
(``rate_limit 100/10s``) and unpaced (``rate_limit 0``: the quota is learned from its
answers), with and without ``--quota-headers``, starting as a window opens and mid-window.

Per case: the quota answers in each fixed window (deterministic counts, from the
emulator's log), and the finishing time as a ratio of the least time the quota allows
(from the first request to the start of the window the last request could start in at the
earliest), plus how late that is in windows. Targets (issue 10): paced, at most 3 quota
answers in all; unpaced, at most concurrency + 4 in the first window that refuses and at
most 3 in each later one; finished within one window of the least time. Last, three
runners on separate machines sharing a 100/60s quota: the window each learns (issue 19's
target: 60 s, 10% either way) and the quota answers they draw.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from bulkctl.emulator.app import Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.emulator.state import EmulatorState
from tests.quota_scenario import (
    T0,
    LoggingEmulator,
    Outcome,
    list_against_fixed_windows,
    run_listing,
    runners_sharing_a_quota,
)
from tests.serving import bulkctl_command, serving

CONCURRENCY = 8


def verdict(outcome: Outcome, requests: int, paced: bool) -> str:
    answers = outcome.windows()
    refused = [i for i, n in enumerate(answers) if n]
    if outcome.code != 0 or len(set(outcome.records)) != len(outcome.records):
        return "FAIL (exit or records)"
    if paced:
        ok = sum(answers) <= 3
    else:
        first = refused[0] if refused else len(answers)
        ok = (not refused or answers[first] <= CONCURRENCY + 4) and all(
            n <= 3 for n in answers[first + 1 :]
        )
    ok = ok and outcome.late(requests) <= 1.0
    return "PASS" if ok else "FAIL"


def row(name: str, outcome: Outcome, requests: int, paced: bool) -> tuple[str, ...]:
    least = outcome.least_end(requests) - outcome.first
    took = outcome.last_answered - outcome.first
    return (
        name,
        str(outcome.code),
        f"{len(outcome.records):,}",
        str(outcome.emulator.request_count),
        " ".join(str(n) for n in outcome.windows()),
        f"{took / least:.2f}" if least > 0 else "-",
        f"{outcome.late(requests):+.2f}",
        verdict(outcome, requests, paced),
    )


def real_process(bulks: int) -> Outcome:
    """The real ``bulkctl`` against a served emulator (real time, no headers, pacing off)."""
    import os
    import subprocess

    from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN

    emulator = LoggingEmulator(
        EmulatorState(bulks=bulks, now=time.time()),
        clock=time.time,
        faults=Faults(quota=parse_quota("100/10s")),
    )
    emulator.latency = 0.0
    command = bulkctl_command()
    with serving(emulator) as root, tempfile.TemporaryDirectory() as home:
        env = dict(
            os.environ,
            BULKCTL_BASE_URL=root + "/multi",
            BULKCTL_API_KEY=DEMO_API_KEY,
            BULKCTL_AUTH_TOKEN=DEMO_TOKEN,
            BULKCTL_RATE_LIMIT="0",
            XDG_CONFIG_HOME=home + "/config",
            XDG_STATE_HOME=home + "/state",
        )
        proc = subprocess.run(
            [*command, "list", "--all", "--jsonl"], capture_output=True, text=True, env=env
        )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, emulator, 100, 10)


def phases() -> list[str]:
    """The pacer alone (one request at a time) at 40 phases of a window, 250 and 2,000
    pages, 2 ms and 30 ms a request: the worst counts and lateness over the phases."""
    lines = []
    for requests in (250, 2000):
        for latency in (0.002, 0.03):
            first_worst = later_worst = 0
            lates = []
            for i in range(40):
                counts, late = list_against_fixed_windows(i / 4, requests=requests, latency=latency)
                first = next(k for k, n in enumerate(counts) if n)
                first_worst = max(first_worst, counts[first])
                later_worst = max([later_worst, *counts[first + 1 :]])
                lates.append(late)
            ok = first_worst <= 1 + 4 and later_worst <= 3 and max(lates) <= 1.0
            lines.append(
                f"  {requests:>5} pages, {latency * 1000:>2.0f} ms a request: first window "
                f"at most {first_worst}, later at most {later_worst}; late (windows) "
                f"mean {sum(lates) / len(lates):.2f}, worst {max(lates):.2f}  "
                f"{'PASS' if ok else 'FAIL'}"
            )
    return lines


def runners() -> list[str]:
    """Three runners on separate machines, each paced to the whole 100/60s quota, sharing
    it (issue 19): the window each learns from the answers, and the quota answers."""
    lines = []
    for phase in (0.0, 13.0, 29.0, 47.0):
        fleet = runners_sharing_a_quota(phase, runners=3, requests=600)
        learned = [r.pacer._learn for r in fleet]
        ok = all(54 <= x.w_lo <= 60 <= x.w_hi <= 66 for x in learned)
        windows = ", ".join(f"{x.limit}/{x.w_lo:.1f}-{x.w_hi:.1f}s" for x in learned)
        refused = sum(r.refused for r in fleet)
        lines.append(
            f"  start {phase:>4.0f} s into a window: learned {windows}; {refused} quota "
            f"answers  {'PASS' if ok else 'FAIL'}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulks", type=int, default=25_000)
    parser.add_argument("--real", action="store_true", help="add one real process, real time")
    args = parser.parse_args()
    requests = -(-args.bulks // 100)
    rows = [
        (
            "case",
            "exit",
            "records",
            "requests",
            "quota answers per window",
            "time/least",
            "late (windows)",
            "",
        )
    ]
    for rate_limit in ("100/10s", "0"):
        for headers in (False, True):
            for start in (0.0, 4.3):
                with tempfile.TemporaryDirectory() as tmp:
                    outcome = run_listing(
                        Path(tmp),
                        bulks=args.bulks,
                        rate_limit=rate_limit,
                        headers=headers,
                        start=T0 + start,
                        concurrency=CONCURRENCY,
                    )
                name = (
                    f"rate_limit {rate_limit}, {'headers' if headers else 'no headers'}, "
                    f"{'mid-window' if start else 'window start'}"
                )
                rows.append(row(name, outcome, requests, rate_limit != "0"))
    if args.real:
        rows.append(
            row("real process, rate_limit 0, no headers", real_process(args.bulks), requests, False)
        )
    print(
        f"bulkctl quota benchmark: list --all --jsonl, {args.bulks:,} bulks ({requests} requests), "
        f"quota 100/10s fixed windows, concurrency {CONCURRENCY}"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    print("every phase of a window, rate_limit 0, no headers (the pacer alone, serial):")
    swept = phases()
    print("\n".join(swept))
    print("three runners sharing a 100/60s quota, no headers (a window of 60 s, 10% either way):")
    shared = runners()
    print("\n".join(shared))
    cases_ok = all(not r[-1].startswith("FAIL") for r in rows[1:])
    return 0 if cases_ok and all(line.endswith("PASS") for line in swept + shared) else 1


if __name__ == "__main__":
    sys.exit(main())
