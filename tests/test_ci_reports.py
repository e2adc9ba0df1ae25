"""The JUnit report of ``wait`` as a CI dashboard reads it: counts that say what failed,
times, failed operations capped and kept when the wait is cut short, and a report on error
exits too. In-process against the emulator with the command's clock tied to it; every
report is validated against tests/junit-10.xsd."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkctl.commands import wait as wait_cmd
from bulkctl.emulator.transport import EmulatorTransport
from bulkctl.errors import NotFound, UsageError
from tests.conftest import InProcess, LinkedClock, in_process, make_emulator
from tests.junit_schema import valid_report

OPERATIONS = "GET /multi/bulks/{bulk_id}/operations"


def waiter(tmp_path: Path, **env: str) -> InProcess:
    emulator, clock = make_emulator(bulks=30)
    proc = in_process(tmp_path, emulator, clock, env=env)
    proc.ctx.clock = LinkedClock(clock)
    return proc


def ended_bulk(proc: InProcess, items: int, fails: tuple[int, ...]) -> str:
    """A bulk executed ON_FAILURE_CONTINUE and run to its end."""
    state = proc.emulator.state
    bulk_id = state.insert_submitted(proc.clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.fail_rate, bulk.forced_fails, bulk._fails, bulk.pace = (
        items,
        0.0,
        fails,
        sorted(fails),
        100.0,
    )
    state.act(bulk_id, "execute", proc.clock(), "ON_FAILURE_CONTINUE")
    proc.clock.advance(items / 100 + 60)
    return bulk_id


def wait(proc: InProcess, *ids: str, **options: Any) -> int:
    options.setdefault("timeout", "10m")
    options.setdefault("interval", "5s")
    parsed = wait_cmd.parse(proc.ctx, bulk_ids=list(ids), flags=wait_cmd.WaitFlags(**options))
    try:
        return wait_cmd.run(proc.ctx, parsed)
    finally:
        proc.ctx.close()


def counts(element: Any) -> tuple[int, int, int, int]:
    return tuple(int(element.get(k, "0")) for k in ("tests", "failures", "errors", "skipped"))  # type: ignore[return-value]


def test_a_partial_bulk_with_2_of_3_done_reads_as_1_failure_out_of_3(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    bulk_id = ended_bulk(proc, items=3, fails=(1,))
    report = tmp_path / "r.xml"
    assert wait(proc, bulk_id, junit=str(report)) == 11
    root = valid_report(report)
    suite = root.find("testsuite")
    assert suite is not None
    assert counts(suite) == (3, 1, 0, 0)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    outcome, completed, failed = suite.findall("testcase")
    assert outcome.find("failure") is None and "PARTIALLY_COMPLETED" in (
        outcome.findtext("system-out") or ""
    )
    assert (completed.findtext("system-out") or "").startswith("2 operations COMPLETED")
    assert failed.find("failure") is not None and failed.get("name", "").startswith("#2")
    # time on every testcase, time and timestamp on every testsuite
    assert all(c.get("time") for c in suite.findall("testcase"))
    assert suite.get("time") and suite.get("timestamp", "").startswith("20")


def test_failed_operations_are_capped_and_the_rest_counted(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    bulk_id = ended_bulk(proc, items=250, fails=tuple(range(250)))
    report = tmp_path / "r.xml"
    proc.emulator.reset_counts()
    assert wait(proc, bulk_id, junit=str(report), junit_max_failures=100) == 12
    assert proc.emulator.route_counts[OPERATIONS] == 1  # one page: the cap, not the count
    suite = valid_report(report).find("testsuite")
    assert suite is not None
    # outcome (failure), completed count, 100 failed operations, 1 skipped "not listed"
    assert counts(suite) == (103, 101, 0, 1)
    skipped = suite.find("testcase/skipped")
    assert skipped is not None
    assert "150 failed operations not listed (100 listed)" in (skipped.get("message") or "")


def test_pages_read_before_the_deadline_are_kept_with_a_note(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    bulk_id = ended_bulk(proc, items=250, fails=tuple(range(250)))
    inner = EmulatorTransport(proc.emulator)
    pages: list[str] = []

    def slow_third_page(request: httpx.Request) -> httpx.Response:
        if "/operations" in request.url.path:
            pages.append(str(request.url))
            if len(pages) == 3:  # the deadline passes while page 3 is in flight
                proc.clock.advance(3600)
                time.sleep(1)
        return inner.handle_request(request)

    proc.ctx.transport = httpx.MockTransport(slow_third_page)
    report = tmp_path / "r.xml"
    assert wait(proc, bulk_id, junit=str(report), timeout="10m") == 12
    suite = valid_report(report).find("testsuite")
    assert suite is not None
    failures = [c for c in suite.findall("testcase") if c.get("name", "").startswith("#")]
    assert len(failures) == 200  # both pages read before the deadline are in the report
    skipped = suite.find("testcase/skipped")
    assert skipped is not None
    message = skipped.get("message") or ""
    assert "50 failed operations not listed (200 listed)" in message and "timeout" in message


def test_a_failed_bulk_without_counts_still_lists_its_failed_operations(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    failed_ops = [
        {
            "operationId": str(i),
            "sequence": i,
            "method": "POST",
            "path": "/x",
            "status": "FAILED",
            "responsePayload": json.dumps({"errorCode": "DENIED", "message": "no"}),
        }
        for i in range(2)
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/operations"):
            body: Any = {"count": 2, "responseCount": 2, "operations": failed_ops}
        else:  # operationStatusCounts is optional in the spec: this answer has none
            body = {"bulkId": "5", "status": "FAILED", "submittedItemsCount": 2}
        return httpx.Response(200, json=body)

    proc.ctx.transport = httpx.MockTransport(answer)
    report = tmp_path / "r.xml"
    assert wait(proc, "5", junit=str(report)) == 12
    suite = valid_report(report).find("testsuite")
    assert suite is not None
    assert counts(suite) == (4, 3, 0, 0)  # the outcome and both operations fail
    types = [c.find("failure").get("type") for c in suite.findall("testcase")[2:]]  # type: ignore[union-attr]
    assert types == ["DENIED", "DENIED"]


def test_a_404_on_one_of_several_ids_writes_a_report_naming_it(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    done = ended_bulk(proc, items=2, fails=())
    report = tmp_path / "r.xml"
    with pytest.raises(NotFound):
        wait(proc, done, "999999", junit=str(report))
    root = valid_report(report)
    errors = [e for e in root.iter("error")]
    command = [e for e in errors if e.get("type") == "NotFound"]
    assert command and "exit 4" in (command[0].get("message") or "")
    # counted once, on the case of the bulk it names, which the server did answer
    assert root.get("errors") == "1"
    missing = root.find("testsuite[@name='bulk 999999']/testcase/error")
    assert missing is not None and missing.get("type") == "NotFound"
    message = missing.get("message") or ""
    assert message.startswith("not found (HTTP 404") and "never answered" not in message
    assert not [c for c in root.iter("testcase") if c.get("name") == "bulkctl wait"]


def test_a_usage_error_after_the_path_is_checked_writes_a_report(tmp_path: Path) -> None:
    proc = waiter(tmp_path)
    proc.ctx.stdin.write("12\nnot-an-id\n")
    proc.ctx.stdin.seek(0)
    report = tmp_path / "r.xml"
    with pytest.raises(UsageError):
        wait(proc, "-", junit=str(report))
    error = valid_report(report).find("testsuite/testcase/error")
    assert error is not None and error.get("type") == "UsageError"
    assert "stdin, line 2" in (error.get("message") or "")
    assert proc.emulator.request_count == 0


def test_a_long_read_says_which_page_it_is_on(tmp_path: Path) -> None:
    from bulkctl.waiting.outcomes import FailedOperations

    proc = waiter(tmp_path)
    bulk_id = ended_bulk(proc, items=250, fails=tuple(range(250)))
    lines: list[str] = []
    reader = FailedOperations(proc.ctx, proc.ctx.client(), None, on_page=lines.append)
    reader.ended(proc.ctx.client().get_bulk(bulk_id))
    proc.ctx.close()
    assert lines == [f"reading failed operations of {bulk_id}: page {n} of 3" for n in (1, 2, 3)]
    assert len(reader.bulks[bulk_id].operations) == 250 and reader.bulks[bulk_id].done


def test_a_suite_time_covers_its_cases_when_the_bulk_ran_before_the_wait(
    tmp_path: Path,
) -> None:
    proc = waiter(tmp_path)
    bulk_id = ended_bulk(proc, items=2_600, fails=())  # ran 26 s, all before the wait began
    report = tmp_path / "r.xml"
    assert wait(proc, bulk_id, junit=str(report)) == 0
    root = valid_report(report)
    suite = root.find("testsuite")
    assert suite is not None
    cases = [float(c.get("time", "0")) for c in suite.findall("testcase")]
    assert max(cases) >= 26  # the bulk's own run time, longer than the wait
    assert float(suite.get("time", "0")) >= sum(cases)
    assert float(root.get("time", "0")) >= float(suite.get("time", "0"))
