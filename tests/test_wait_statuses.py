"""``wait --status``: the bulks in those statuses at the start, as the listing showed them.
The real process against the emulator; request counts, never wall-clock times."""

from __future__ import annotations

import re

from tests.conftest import Served, run_bulkctl

LINE = re.compile(r"^bulk (\d+): RUNNING(.*)$", re.MULTILINE)


def true_done(served: Served, bulk_id: str) -> str:
    api = served.state.bulks[bulk_id].to_api(details=True)
    counts = {c["status"]: c["count"] for c in api.get("operationStatusCounts", [])}
    done = counts.get("COMPLETED", 0) + counts.get("FAILED", 0)
    return f" ({done:,}/{api['submittedItemsCount']:,} operations done)"


def test_wait_status_running_never_prints_counts_it_did_not_read(served: Served) -> None:
    running = served.state.listing("RUNNING")
    assert len(running) > 1 and any("(0/" not in true_done(served, i) for i in running)
    result = run_bulkctl(
        "wait",
        "--status",
        "running",
        "--timeout",
        "1s",
        "--progress",
        "plain",
        env=served.env(),
    )
    assert result.code == 124, result.stderr
    lines = LINE.findall(result.stderr)
    assert {bulk_id for bulk_id, _ in lines} == set(running)
    for bulk_id, shown in lines:  # the listing carries no counts: none, or the true ones
        assert shown in ("", true_done(served, bulk_id)), (bulk_id, shown)
