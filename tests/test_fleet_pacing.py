"""Identities share one API key's pacer (issue 23): with the injected clock, 80 identities
against a quota of 50 per 10 s cost 2 requests each (a token and a page), draw no quota
answer, and end within one window of the least time the quota allows."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from bulkctl.cli.options import FleetFlags, FormatFlags, PagingFlags
from bulkctl.commands.list import parse, run
from bulkctl.context import Context, GlobalOptions
from bulkctl.emulator.app import DEMO_API_KEY, Emulator, Faults
from bulkctl.emulator.auth import served_identities
from bulkctl.emulator.quota import parse_quota
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.transport import EmulatorTransport
from tests.conftest import T0, LinkedClock, ManualClock

IDENTITIES = 80
QUOTA = 50  # per 10 s
WINDOW = 10.0


def test_identities_pass_one_pacer_and_draw_no_quota_answer(tmp_path: Path) -> None:
    clock = ManualClock(T0 + 4.3)
    emulator = Emulator(
        EmulatorState(bulks=40, now=clock()),
        clock=clock,
        faults=Faults(quota=parse_quota(f"{QUOTA}/10s")),
        identities=IDENTITIES,
    )
    linked = LinkedClock(clock)
    ctx = Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi/backoffice",
            "BULKCTL_API_KEY": DEMO_API_KEY,
            "BULKCTL_RATE_LIMIT": f"{QUOTA}/10s",
            "BULKCTL_CONCURRENCY": "1",  # one request at a time: the counts are exact
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        clock=linked,
        options=GlobalOptions(),
        transport=EmulatorTransport(emulator),
    )
    names = ",".join(f"{k.lower()}:{i}" for k, i in served_identities(IDENTITIES))
    options = parse(
        ctx,
        status=["failed"],
        paging=PagingFlags(all_records=True),
        format=FormatFlags(json_flag=True),
        fleet=FleetFlags(identities=names),
    )
    started = clock()
    assert run(ctx, options) == 0
    elapsed = clock() - started

    requests = 2 * IDENTITIES  # a token and one page of FAILED bulks each
    assert emulator.route_counts["POST /multi/backoffice/access_token"] == IDENTITIES
    assert emulator.route_counts["GET /multi/backoffice/bulks"] == IDENTITIES
    assert emulator.quota_answer_count == 0
    least = (math.ceil(requests / QUOTA) - 1) * WINDOW
    assert least <= elapsed <= least + WINDOW
    document = json.loads(ctx.stdout.getvalue())  # type: ignore[attr-defined]
    assert document["errors"] == []
    for kind, ident in served_identities(IDENTITIES)[::7]:
        mine = {
            b["bulkId"] for b in document["bulks"] if b["identity"] == f"{kind.lower()}:{ident}"
        }
        assert mine == set(emulator.identity_state((kind, ident)).listing("FAILED"))
    # no terminal: plain progress lines, at least one every 10 s of the run
    progress = [
        line
        for line in ctx.stderr.getvalue().splitlines()
        if line.startswith("reading identities: ")  # type: ignore[attr-defined]
    ]  # list's own progress line, counting identities instead of pages
    assert progress and all(" of 80, " in line and "ETA " in line for line in progress)
    assert len(progress) >= int(elapsed // 10)
