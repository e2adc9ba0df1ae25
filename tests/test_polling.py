"""What polling costs, in requests (deterministic), and what the waits report: in-process
against the emulator, the command's clock tied to the emulator's so hours pass in no time."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from bulkctl.api.records import parse_bulk, parse_operation
from bulkctl.commands import watch as watch_cmd
from bulkctl.emulator.app import Emulator
from bulkctl.errors import ExitCode, NetworkError
from bulkctl.waiting.junit import build_junit, xml_safe
from bulkctl.waiting.outcomes import BulkFailures, Ending, FailedOperations, WaitRecord
from bulkctl.waiting.polling import poll_interval, unreachable
from bulkctl.waiting.progress import bulk_elapsed
from bulkctl.waiting.wait import WaitOptions, wait_for
from tests.conftest import T0, InProcess, LinkedClock, ManualClock, in_process, make_emulator
from tests.junit_schema import valid_report, valid_xml

BULK_ROUTE = "GET /multi/bulks/{bulk_id}"
LIST_ROUTE = "GET /multi/bulks"
OPS_ROUTE = "GET /multi/bulks/{bulk_id}/operations"


class CountingClock(LinkedClock):
    """A LinkedClock that records the emulator's request count at every sleep (one poll's
    requests are the difference between two sleeps)."""

    def __init__(self, clock: ManualClock, emulator: Emulator) -> None:
        super().__init__(clock)
        self.emulator = emulator
        self.marks: list[tuple[float, int]] = []

    def sleep(self, seconds: float) -> None:
        self.marks.append((self.clock(), self.emulator.request_count))
        super().sleep(seconds)


def running(emulator: Emulator, clock: ManualClock, seconds: float, fails: int = 0) -> str:
    """A new RUNNING bulk that ends after ``seconds`` (10 operations a second)."""
    state = emulator.state
    bulk_id = state.insert_submitted(clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items = int(seconds * 10)
    bulk.pace, bulk.fail_rate = 10.0, 0.0
    bulk.forced_fails = tuple(range(1, 1 + fails))
    bulk._fails = sorted(bulk.forced_fails)
    state.act(bulk_id, "execute", clock(), "ON_FAILURE_CONTINUE")
    return bulk_id


def waiter(tmp_path: Path, bulks: int = 40, tty: bool = False) -> tuple[InProcess, CountingClock]:
    emulator, clock = make_emulator(bulks=bulks)
    proc = in_process(tmp_path, emulator, clock)
    counting = CountingClock(clock, emulator)
    proc.ctx.clock = counting
    proc.ctx.stderr_tty = tty
    return proc, counting


def run_wait(proc: InProcess, ids: list[str], **kwargs: object) -> int:
    options = WaitOptions(ids, **{"timeout": 7200.0, "interval": 0.0, "adaptive": True, **kwargs})  # type: ignore[arg-type]
    try:
        return wait_for(proc.ctx, options)
    finally:
        proc.ctx.close()


# -- the schedule -------------------------------------------------------------------------------


def test_the_default_interval_starts_quick_and_grows_to_30s_within_10_percent() -> None:
    assert poll_interval(0) == 3
    assert poll_interval(100) == 10
    assert poll_interval(10_000) == 30
    for waited in range(0, 7200, 7):
        assert poll_interval(waited) <= max(5.0, 0.1 * waited)


def test_one_bulk_running_for_an_hour_costs_at_most_150_requests(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    bulk_id = running(proc.emulator, proc.clock, 3600)
    started = proc.clock()
    proc.emulator.reset_counts()
    assert run_wait(proc, [bulk_id]) == 0
    assert proc.emulator.request_count <= 150
    assert proc.emulator.route_counts[BULK_ROUTE] == proc.emulator.request_count  # GETs only
    finish = proc.emulator.state.bulks[bulk_id].finish_ms
    assert finish is not None
    ran = finish / 1000 - started
    reported = proc.clock() - finish / 1000
    assert ran == pytest.approx(3600, abs=1)
    assert reported <= max(5.0, 0.1 * ran)  # the end is seen within 10% of the time waited


@pytest.mark.parametrize("ends_at", [2, 20, 200, 2000])
def test_a_bulk_s_end_is_reported_within_5s_or_10_percent(tmp_path: Path, ends_at: int) -> None:
    proc, _ = waiter(tmp_path)
    started = proc.clock()
    bulk_id = running(proc.emulator, proc.clock, ends_at)
    assert run_wait(proc, [bulk_id]) == 0
    finish = proc.emulator.state.bulks[bulk_id].finish_ms
    assert finish is not None
    assert proc.clock() - finish / 1000 <= max(5.0, 0.1 * (finish / 1000 - started))


def test_a_fixed_interval_is_kept(tmp_path: Path) -> None:
    proc, clock = waiter(tmp_path)
    bulk_id = running(proc.emulator, proc.clock, 100)
    assert run_wait(proc, [bulk_id], interval=7.0, adaptive=False) == 0
    assert max(clock.slept) == 7.0
    assert proc.emulator.route_counts[BULK_ROUTE] == 16  # at 0, 7, ... 98, then 105


# -- many bulks ---------------------------------------------------------------------------------


def test_a_piped_wait_on_50_bulks_lists_statuses_and_reads_each_bulk_once_as_it_ends(
    tmp_path: Path,
) -> None:
    proc, clock = waiter(tmp_path)
    ids = [running(proc.emulator, proc.clock, 60 * (i + 1), fails=i % 3) for i in range(50)]
    report = tmp_path / "out" / "report.xml"
    proc.emulator.reset_counts()
    assert run_wait(proc, ids, junit=report) == ExitCode.PARTIALLY_COMPLETED
    counts = proc.emulator.route_counts
    with_failures = sum(1 for i in range(50) if i % 3)
    assert counts[OPS_ROUTE] == with_failures  # its FAILED operations, one page each
    assert counts[LIST_ROUTE] > 0
    finishes = [proc.emulator.state.bulks[i].finish_ms / 1000 for i in ids]  # type: ignore[operator]
    seen, before = 0, 0.0
    for at, total in clock.marks:  # each poll: at most 4 requests, plus the bulks it saw end
        ended = sum(1 for f in finishes if before <= f <= at)
        failed_pages = sum(1 for i, f in enumerate(finishes) if i % 3 and before <= f <= at)
        assert total - seen <= 4 + ended + failed_pages, (at, total - seen, ended)
        seen, before = total, at
    polls = len(clock.marks) + 1
    assert proc.emulator.request_count <= 4 * polls + 50 + with_failures
    root = ET.parse(report).getroot()
    assert len(root.findall("testsuite")) == 50


def test_three_bulks_are_read_with_a_get_each(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    ids = [running(proc.emulator, proc.clock, 30) for _ in range(3)]
    proc.emulator.reset_counts()
    assert run_wait(proc, ids) == 0
    assert proc.emulator.route_counts[LIST_ROUTE] == 0


def test_on_a_terminal_at_most_5_bulks_a_poll_are_read_in_detail(tmp_path: Path) -> None:
    proc, clock = waiter(tmp_path, tty=True)
    ids = [running(proc.emulator, proc.clock, 600) for _ in range(20)]
    proc.emulator.reset_counts()
    assert run_wait(proc, ids, timeout=300) == ExitCode.TIMEOUT
    gets = proc.emulator.route_counts[BULK_ROUTE]
    polls = len(clock.marks) + 1
    assert 0 < gets <= 5 * polls
    assert proc.emulator.route_counts[LIST_ROUTE] <= 3 * polls


# -- JUnit ----------------------------------------------------------------------------------


def test_a_completed_10000_operation_bulk_costs_one_request(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    bulk_id = running(proc.emulator, proc.clock, 1000)  # 10,000 operations
    proc.clock.advance(2000)
    proc.emulator.reset_counts()
    assert run_wait(proc, [bulk_id], junit=tmp_path / "r.xml") == 0
    assert proc.emulator.request_count == 1
    cases = valid_report(tmp_path / "r.xml").findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [
        f"bulk {bulk_id} outcome",
        f"bulk {bulk_id} completed operations",
    ]
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)  # passed


def test_cancelled_is_an_error_and_pending_bulks_are_errors_at_the_timeout(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    cancelled = running(proc.emulator, proc.clock, 100)
    proc.emulator.state.act(cancelled, "cancel", proc.clock())
    pending = running(proc.emulator, proc.clock, 10_000)
    report = tmp_path / "r.xml"
    assert run_wait(proc, [cancelled, pending], timeout=60, junit=report) == 124
    suites = valid_report(report).findall("testsuite")
    first = suites[0].find("testcase/error")
    second = suites[1].find("testcase/error")
    assert first is not None and first.get("type") == "CANCELLED"
    assert second is not None and second.get("type") == "timeout"
    assert "RUNNING" in (second.get("message") or "")


def test_every_xml_text_is_safe_even_with_control_characters() -> None:
    nasty = "bad\x00\x01\x07\x1b[2J\x0b\x0c\ud800\ufffe end"
    assert xml_safe(nasty) == "bad\\x00\\x01\\x07\\x1b[2J\\x0b\\x0c\\ud800\\ufffe end"
    bulk = parse_bulk({"bulkId": "5", "status": "FAILED", "operation": f"/x{nasty}"})
    op = parse_operation(
        {"sequence": 1, "status": "FAILED", "path": nasty, "responsePayload": nasty}
    )
    record = WaitRecord("wait", 0.0, T0, bulk_ids=["5"], latest={"5": bulk})
    record.failures = FailedOperations(None, None, None)  # type: ignore[arg-type]  # nothing read here
    record.failures.bulks["5"] = BulkFailures("5", None, {op.key: op}, problem=nasty)
    parsed = valid_xml(build_junit(record, Ending("interrupted", nasty, "interrupted"), 1.0))
    assert "\\x1b[2J" in (parsed.findall("testsuite/testcase/failure")[-1].text or "")
    # outcome, completed operations, the failed operation, the failures not read
    assert len(parsed.findall("testsuite")[0].findall("testcase")) == 4


def test_an_unwritable_junit_path_exits_2_before_any_request(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    from bulkctl.errors import UsageError

    with pytest.raises(UsageError):
        run_wait(proc, ["5"], junit=blocker / "r.xml")
    assert proc.emulator.request_count == 0


# -- the deadline, refusals, heartbeat -----------------------------------------------------------


def test_a_refused_connection_before_any_success_exits_6_after_one_attempt(tmp_path: Path) -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise httpx.ConnectError("[Errno 111] Connection refused")

    proc, _ = waiter(tmp_path)
    proc.ctx.transport = httpx.MockTransport(refuse)
    with pytest.raises(NetworkError) as caught:
        run_wait(proc, ["5"], timeout=600)
    assert caught.value.exit_code == 6
    assert len(calls) == 1


def test_an_outage_after_a_first_success_is_ridden_out(tmp_path: Path) -> None:
    proc, _ = waiter(tmp_path)
    bulk_id = running(proc.emulator, proc.clock, 100)
    transport = proc.ctx.transport
    assert transport is not None
    answered = [0]

    def flaky(request: httpx.Request) -> httpx.Response:
        answered[0] += 1
        if 2 <= answered[0] <= 30:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return transport.handle_request(request)

    proc.ctx.transport = httpx.MockTransport(flaky)
    assert run_wait(proc, [bulk_id]) == 0
    assert "still waiting" in proc.err


def test_unreachable_names_refusals_and_unknown_hosts_only() -> None:
    assert unreachable(NetworkError("cannot connect to https://x: [Errno 111] Connection refused"))
    assert unreachable(
        NetworkError("cannot connect to https://x: [Errno -2] Name or service not known")
    )
    assert not unreachable(NetworkError("cannot connect to https://x: timed out"))
    assert not unreachable(NetworkError("refused", sent=True))


def test_a_piped_wait_beats_at_least_once_a_minute(tmp_path: Path) -> None:
    proc, clock = waiter(tmp_path)
    bulk_id = running(proc.emulator, proc.clock, 1200)
    assert run_wait(proc, [bulk_id], interval=300.0, adaptive=False) == 0
    beats = [line for line in proc.err.splitlines() if line.startswith("still waiting after")]
    assert len(beats) >= 1200 // 60 - 1
    assert max(clock.slept) <= 60
    assert "1 RUNNING" in beats[0] and "operations done" in beats[0]


def test_elapsed_counts_from_execution_start() -> None:
    bulk = parse_bulk({"bulkId": "1", "status": "RUNNING", "executionStart": 1_000_000})
    assert bulk_elapsed(bulk, 1_000 + 125) == "2m 05s"
    done = parse_bulk(
        {"bulkId": "1", "status": "COMPLETED", "executionStart": 0, "executionFinish": 90_000}
    )
    assert bulk_elapsed(done, 10**9) == "1m 30s"
    assert bulk_elapsed(parse_bulk({"bulkId": "1", "status": "SUBMITTED"}), 5) == ""


# -- watch ------------------------------------------------------------------------------------


class StopAfter(CountingClock):
    def __init__(self, clock: ManualClock, emulator: Emulator, polls: int) -> None:
        super().__init__(clock, emulator)
        self.polls = polls

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if len(self.marks) >= self.polls:
            raise KeyboardInterrupt


def test_watch_on_a_terminal_reads_at_most_5_bulks_in_detail_a_poll(tmp_path: Path) -> None:
    emulator, clock = make_emulator(bulks=40)
    proc = in_process(tmp_path, emulator, clock, tty=True)
    for _ in range(12):
        running(emulator, clock, 3000)
    stopper = StopAfter(clock, emulator, polls=6)
    proc.ctx.clock = stopper
    options = watch_cmd.parse(proc.ctx, status=["RUNNING"], all_records=True)
    emulator.reset_counts()
    with pytest.raises(KeyboardInterrupt):
        watch_cmd.run(proc.ctx, options)
    proc.ctx.close()
    seen = 0
    for _, total in stopper.marks:
        assert total - seen <= 1 + 5  # one page of RUNNING bulks, at most 5 details
        seen = total
    assert emulator.route_counts[BULK_ROUTE] == 5 * 6
    assert "/" in proc.out and "DONE" in proc.out


def test_watch_keeps_a_change_marked_for_a_few_seconds(tmp_path: Path) -> None:
    proc = in_process(tmp_path, tty=True)
    clock = LinkedClock(proc.clock)
    proc.ctx.clock = clock
    view = watch_cmd.ListView(proc.ctx)
    bulk = parse_bulk({"bulkId": "1", "status": "RUNNING"})
    view.update([bulk], {"1"})
    clock.sleep(5)
    view.update([bulk], set())
    assert "1" in view.marked
    clock.sleep(6)
    view.update([bulk], set())
    view.stop()
    assert "1" not in view.marked


# -- an action answered 5xx ----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_an_action_answered_5xx_says_it_may_have_happened_and_how_to_check(
    tmp_path: Path, status: int
) -> None:
    from bulkctl.actions import action_options, run_action
    from bulkctl.errors import ServerError

    posts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the action reads the bulk first: it may be paused
            return httpx.Response(200, json={"bulkId": "12", "status": "RUNNING"})
        posts.append(request.method)
        return httpx.Response(status)

    proc = in_process(tmp_path)
    proc.ctx.transport = httpx.MockTransport(answer)
    with pytest.raises(ServerError) as caught:
        run_action(proc.ctx, action_options("pause", ["12"], yes=True))
    proc.ctx.close()
    lines = caught.value.lines()
    assert "may or may not have happened" in lines[0]
    assert lines[1] == "check before trying again: bulkctl show 12"
    assert posts == ["POST"]  # never repeated: it may have been applied
