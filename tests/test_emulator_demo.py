"""The demo profile's emulator: one timeline across commands, bulks that move on their own,
submitted bulks built through the submission endpoints, and failures that add up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request
from bulkctl.emulator.demo import DEMO_FILE, DEMO_LIFETIME, DEMO_SUBMISSIONS, load_demo
from bulkctl.emulator.spec import SUBMISSIONS_BY_NAME
from bulkctl.emulator.submissions import check_items
from tests.conftest import ManualClock

AUTH = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}


def call(emulator: Emulator, method: str, url: str, body: Any = None, **headers: str) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = emulator.handle(Request(method, url, {**AUTH, **headers}, raw))
    return answer.status, json.loads(answer.body) if answer.body else None


def page(emulator: Emulator, url: str) -> Any:
    status, body = call(emulator, "GET", url)
    assert status == 200
    return body


def running_bulks(emulator: Emulator) -> dict[str, dict[str, Any]]:
    listed = page(emulator, "/multi/bulks?status=RUNNING")["bulkProcesses"]
    return {b["bulkId"]: page(emulator, f"/multi/bulks/{b['bulkId']}") for b in listed}


def processed(bulk: dict[str, Any]) -> int:
    counts = {c["status"]: c["count"] for c in bulk["operationStatusCounts"]}
    return counts["COMPLETED"] + counts["FAILED"]


def test_the_demo_keeps_its_timeline_between_commands(tmp_path: Path) -> None:
    clock = ManualClock()
    first = running_bulks(load_demo(tmp_path, clock))  # one command, no action taken
    assert (tmp_path / DEMO_FILE).exists()
    clock.advance(600)
    later = running_bulks(load_demo(tmp_path, clock))  # the next command, ten minutes on
    assert first, "the demo shows RUNNING bulks"
    for bulk_id, bulk in first.items():
        if bulk_id in later:
            assert later[bulk_id]["executionStart"] == bulk["executionStart"]
    moved = [i for i in first if i in later and processed(later[i]) > processed(first[i])]
    assert len(moved) >= len(first) // 2  # running bulks make progress with no execute


def test_list_and_show_agree_a_minute_apart(tmp_path: Path) -> None:
    clock = ManualClock()
    listed = page(load_demo(tmp_path, clock), "/multi/bulks?limit=100")["bulkProcesses"]
    clock.advance(60)
    demo = load_demo(tmp_path, clock)
    for bulk in listed:
        if bulk["status"] not in ("RUNNING", "SUBMITTED"):
            shown = page(demo, f"/multi/bulks/{bulk['bulkId']}")
            assert {k: shown[k] for k in bulk} == bulk


def test_an_hour_on_the_demo_starts_afresh(tmp_path: Path) -> None:
    clock = ManualClock()
    load_demo(tmp_path, clock)
    epoch = json.loads((tmp_path / DEMO_FILE).read_text())["epoch"]
    clock.advance(DEMO_LIFETIME + 1)
    load_demo(tmp_path, clock)
    assert json.loads((tmp_path / DEMO_FILE).read_text())["epoch"] == epoch + DEMO_LIFETIME + 1


def test_demo_submissions_are_valid_and_fail_on_execution(tmp_path: Path) -> None:
    clock = ManualClock()
    demo = load_demo(tmp_path, clock)
    for name, items, _ in DEMO_SUBMISSIONS:
        assert check_items(SUBMISSIONS_BY_NAME[name], items) == []
    submitted = [b for b in demo.state.bulks.values() if b.stored is not None]
    assert len(submitted) == len(DEMO_SUBMISSIONS)
    assert {b.status for b in submitted} == {"SUBMITTED"}
    for bulk in submitted:
        status, _ = call(
            demo, "POST", f"/multi/bulks/{bulk.bulk_id}/execute", {"mode": "ON_FAILURE_CONTINUE"}
        )
        assert status == 204
    clock.advance(3600)
    for bulk in submitted:
        shown = page(demo, f"/multi/bulks/{bulk.bulk_id}")
        assert shown["status"] == "PARTIALLY_COMPLETED"
    assert demo.violations == []


def test_failed_operations_of_partially_completed_demo_bulks_group_by_error_code(
    tmp_path: Path,
) -> None:
    demo = load_demo(tmp_path, ManualClock())
    listed = page(demo, "/multi/bulks?status=PARTIALLY_COMPLETED&limit=5")["bulkProcesses"]
    assert listed
    for bulk in listed:
        shown = page(demo, f"/multi/bulks/{bulk['bulkId']}")
        failed = {c["status"]: c["count"] for c in shown["operationStatusCounts"]}["FAILED"]
        codes: Counter[str] = Counter()
        for offset in range(0, failed, 100):
            ops = page(
                demo,
                f"/multi/bulks/{bulk['bulkId']}/operations?status=FAILED&offset={offset}",
            )["operations"]
            codes.update(json.loads(op["responsePayload"])["errorCode"] for op in ops)
        assert failed > 0 and sum(codes.values()) == failed
        assert all(code.isupper() for code in codes)


def test_a_demo_submission_and_its_ref_outlive_the_command(tmp_path: Path) -> None:
    clock = ManualClock()
    items = [{"pathParams": {"_id_": "42"}}, {"pathParams": {"_id_": "43991"}}]
    url = "/multi/bulks/managed_cards/_id_/block"
    status, created = call(
        load_demo(tmp_path, clock), "POST", url, items, **{"idempotency-ref": "blocks-1"}
    )
    assert status == 201
    clock.advance(30)
    demo = load_demo(tmp_path, clock)
    assert page(demo, f"/multi/bulks/{created['bulkId']}")["status"] == "SUBMITTED"
    again = call(demo, "POST", url, items, **{"idempotency-ref": "blocks-1"})
    assert again == (201, created)
    assert (
        call(
            demo, "POST", f"/multi/bulks/{created['bulkId']}/execute", {"mode": "ON_FAILURE_STOP"}
        )[0]
        == 204
    )
    clock.advance(600)
    demo = load_demo(tmp_path, clock)
    assert page(demo, f"/multi/bulks/{created['bulkId']}")["status"] == "PARTIALLY_COMPLETED"
    assert demo.violations == []
