"""``wait --status``: the bulks in those statuses at the start, as the listing showed them.
The real process against the emulator; request counts, never wall-clock times."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Served, run_bulkctl
from tests.junit_schema import valid_report

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


GET_BULK = "GET /multi/bulks/{bulk_id}"
LIST = "GET /multi/bulks"


def test_wait_status_cancelled_takes_the_listing_at_its_word(served: Served) -> None:
    cancelled = served.state.listing("CANCELLED")
    assert 1 < len(cancelled) < 100  # one page
    result = run_bulkctl("wait", "--status", "cancelled", "--progress", "plain", env=served.env())
    assert result.code == 10, result.stderr
    assert {i for i in cancelled if f"bulk {i}: CANCELLED" in result.stderr} == set(cancelled)
    assert served.emulator.request_count == 1  # the one page that named them, nothing more
    assert served.emulator.route_counts[LIST] == 1


def test_wait_status_cancelled_reports_the_listed_bulks_as_final(
    served: Served, tmp_path: Path
) -> None:
    cancelled = served.state.listing("CANCELLED")
    report = tmp_path / "r.xml"
    result = run_bulkctl("wait", "--status", "cancelled", "--junit", str(report), env=served.env())
    assert result.code == 10, result.stderr
    assert served.emulator.route_counts[GET_BULK] == 0  # no GET of a bulk already final
    root = valid_report(report)
    outcomes = {
        case.get("name"): case
        for case in root.iter("testcase")
        if (case.get("name") or "").endswith(" outcome")
    }
    assert set(outcomes) == {f"bulk {i} outcome" for i in cancelled}
    for case in outcomes.values():
        error = case.find("error")
        assert error is not None and error.get("type") == "CANCELLED"
        assert "never answered" not in (error.get("message") or "")
        assert "(0/" not in (error.get("message") or "")  # the listing gave no counts
