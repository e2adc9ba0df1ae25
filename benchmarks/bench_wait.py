"""What `bulkctl wait` costs in requests, against the emulator, with time simulated.

The command runs in this process against the in-process emulator; its clock is tied to the
emulator's, so sleeping moves both and an hour passes in a second. Request counts do not
depend on the machine, so one run is the measure. Prints one table: requests per poll and
per waited hour for `wait` on 1 and on 50 bulks, with the targets of issue 10, and how soon
each bulk's end was reported.

    python benchmarks/bench_wait.py
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bulkctl.context import Clock, Context, GlobalOptions
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request, Response
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.transport import EmulatorTransport
from bulkctl.waiting.wait import WaitOptions, wait_for

T0 = 1_790_000_000.0
HOUR = 3600.0
NON_FINAL = ("RUNNING", "PAUSED", "SUBMITTED")


class SimulatedClock(Clock):
    """One clock for the command and the emulator: sleeping moves it."""

    def __init__(self) -> None:
        self.t = T0
        self.polls = 0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)


@dataclass
class Outcome:
    requests: int
    listing: int
    gets: int
    failed_pages: int
    polls: int
    waited: float
    worst_report: float  # the largest (seconds late) / allowed max(5 s, 10% waited) ratio


def run(name: str, bulks: int, seconds: Callable[[int], float], tty: bool, tmp: Path) -> Outcome:
    clock = SimulatedClock()
    state = EmulatorState(bulks=40, now=clock.t)
    emulator = Emulator(state, clock=lambda: clock.t)
    ids = []
    for i in range(bulks):
        bulk_id = state.insert_submitted(clock.t, 1)[0]
        bulk = state.bulks[bulk_id]
        bulk.items, bulk.pace, bulk.fail_rate = int(seconds(i) * 10), 10.0, 0.0
        bulk.forced_fails = (1,) if i % 4 == 0 else ()
        bulk._fails = list(bulk.forced_fails)
        state.act(bulk_id, "execute", clock.t, "ON_FAILURE_CONTINUE")
        ids.append(bulk_id)
    seen_final: dict[str, float] = {}
    poll_times: set[float] = set()
    handle = emulator.handle

    def counting(request: Request) -> Response:
        poll_times.add(clock.t)
        answer = handle(request)
        path = request.url.split("?")[0]
        bulk_id = path.rsplit("/", 1)[-1]
        ended = bulk_id in state.bulks and state.bulks[bulk_id].status not in NON_FINAL
        if ended and bulk_id not in seen_final:
            seen_final[bulk_id] = clock.t
        return answer

    emulator.handle = counting  # type: ignore[method-assign]
    ctx = Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
            "BULKCTL_API_KEY": DEMO_API_KEY,
            "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
            "BULKCTL_RATE_LIMIT": "0",
        },
        config_dir=tmp / name / "cfg",
        state_dir=tmp / name / "state",
        clock=clock,
        options=GlobalOptions(),
        stderr_tty=tty,
        transport=EmulatorTransport(emulator),
    )
    started = clock.t
    try:
        wait_for(
            ctx,
            WaitOptions(
                ids, timeout=2 * HOUR, interval=0, junit=tmp / name / "r.xml", adaptive=True
            ),
        )
    finally:
        ctx.close()
    worst = 0.0
    for bulk_id in ids:
        finish = (state.bulks[bulk_id].finish_ms or 0) / 1000
        late = seen_final.get(bulk_id, clock.t) - finish
        worst = max(worst, late / max(5.0, 0.1 * (finish - started)))
    counts = emulator.route_counts
    return Outcome(
        requests=emulator.request_count,
        listing=counts["GET /multi/bulks"],
        gets=counts["GET /multi/bulks/{bulk_id}"],
        failed_pages=counts["GET /multi/bulks/{bulk_id}/operations"],
        polls=len(poll_times),
        waited=clock.t - started,
        worst_report=worst,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        one = run("one", 1, lambda i: HOUR, False, tmp)
        many = run("fifty", 50, lambda i: HOUR * (i + 1) / 50, False, tmp)
        shown = run("fifty-tty", 50, lambda i: HOUR * (i + 1) / 50, True, tmp)
    rows = [
        (
            "wait, 1 bulk running 1 h",
            one,
            f"{one.requests} requests in all (target at most 150)",
            one.requests <= 150,
        ),
        (
            "wait, 50 bulks over 1 h, piped",
            many,
            f"{(many.listing + many.gets - 50) / many.polls:.2f} a poll besides the 50 ends "
            f"and {many.failed_pages} FAILED pages (target at most 4)",
            many.listing + (many.gets - 50) <= 4 * many.polls,
        ),
        (
            "wait, 50 bulks over 1 h, terminal",
            shown,
            f"{shown.requests / shown.polls:.2f} a poll (listing + 5 details)",
            True,
        ),
    ]
    print("| measure | requests | polls | per poll | per waited hour | end seen | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    ok = True
    for label, o, target, met in rows:
        met = met and o.worst_report <= 1.0
        ok = ok and met
        print(
            f"| {label} | {o.requests} | {o.polls} | {o.requests / o.polls:.2f} | "
            f"{o.requests / (o.waited / HOUR):.0f} | {o.worst_report:.2f} of allowed | "
            f"{target}: {'met' if met else 'MISSED'} |"
        )
    print()
    print("'end seen': the latest report of an end, as a share of max(5 s, 10% of the time waited)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
