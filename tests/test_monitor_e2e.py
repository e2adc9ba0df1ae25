"""wait, watch and summary against the emulator, with its clock under the test's control.

Matrices run in-process with the command's clock tied to the emulator's, so polling and
timeouts take no real time; one real process per command checks the same end to end."""

from __future__ import annotations

import fnmatch
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkctl.api.records import BULK_STATUSES
from bulkctl.cli.options import choose_output
from bulkctl.commands import list as list_cmd
from bulkctl.commands import summary as summary_cmd
from bulkctl.commands import wait as wait_cmd
from bulkctl.errors import ExitCode, MalformedResponse
from bulkctl.lists.filters import BulkFilter
from bulkctl.output.render import BULK_ALL_FIELDS, BULK_FIELDS
from tests.conftest import (
    InProcess,
    LinkedClock,
    Served,
    Spawned,
    bulkctl_command,
    in_process,
    run_bulkctl,
    run_main,
)
from tests.junit_schema import valid_report


def linked(tmp_path: Path, served: Served, answer: Any = None) -> InProcess:
    """An in-process run against ``served``'s emulator (or ``answer``, a fixed JSON body),
    whose sleeping moves the emulator's clock."""
    proc = in_process(tmp_path, served.emulator, served.clock)
    proc.ctx.clock = LinkedClock(served.clock)
    if answer is not None:
        body = json.dumps(answer).encode()
        proc.ctx.transport = httpx.MockTransport(
            lambda request: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        )
    return proc


def wait_in_process(
    tmp_path: Path,
    served: Served,
    *ids: str,
    timeout: float = 1800,
    interval: float = 5,
    junit: Path | None = None,
    answer: Any = None,
) -> tuple[int, InProcess]:
    proc = linked(tmp_path, served, answer)
    options = wait_cmd.WaitOptions(list(ids), timeout=timeout, interval=interval, junit=junit)
    try:
        return wait_cmd.run(proc.ctx, options), proc
    finally:
        proc.ctx.close()


def list_in_process(
    tmp_path: Path,
    served: Served,
    statuses: list[str],
    filters: BulkFilter | None = None,
    wanted: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """What ``bulkctl list --json`` prints, in-process."""
    proc = linked(tmp_path, served)
    output = choose_output(
        output=None,
        json_flag=True,
        jsonl_flag=False,
        fields_spec=None,
        header=True,
        stdout_tty=False,
        available=BULK_ALL_FIELDS,
        default_fields=BULK_FIELDS,
    )
    options = list_cmd.ListOptions(
        statuses=statuses,
        wanted=wanted,
        offset=offset,
        output=output,
        filters=filters or BulkFilter(),
    )
    try:
        list_cmd.run(proc.ctx, options)
    finally:
        proc.ctx.close()
    records = json.loads(proc.out)
    assert isinstance(records, list)
    return records


def summary_in_process(
    tmp_path: Path,
    served: Served,
    statuses: list[str] | None = None,
    fail_on: list[str] | None = None,
    fmt: str = "json",
    filters: BulkFilter | None = None,
    answer: Any = None,
) -> tuple[int, InProcess]:
    """``bulkctl summary`` in-process: statuses and --fail-on as the command combines them."""
    proc = linked(tmp_path, served, answer)
    picked = statuses or list(BULK_STATUSES)
    options = summary_cmd.SummaryOptions(
        statuses=picked + [s for s in fail_on or [] if s not in picked],
        fail_on=fail_on or [],
        fmt=fmt,
        filters=filters or BulkFilter(),
    )
    try:
        return summary_cmd.run(proc.ctx, options), proc
    finally:
        proc.ctx.close()


def submitted(served: Served, items: int = 20, fails: tuple[int, ...] = ()) -> str:
    bulk_id = served.state.insert_submitted(served.clock(), 1)[0]
    bulk = served.state.bulks[bulk_id]
    bulk.items, bulk.fail_rate, bulk.forced_fails, bulk._fails, bulk.pace = (
        items,
        0.0,
        fails,
        sorted(fails),
        10.0,
    )
    return bulk_id


def running_bulk(served: Served, mode: str = "ON_FAILURE_CONTINUE", **kwargs: Any) -> str:
    bulk_id = submitted(served, **kwargs)
    served.state.act(bulk_id, "execute", served.clock(), mode)
    return bulk_id


@contextmanager
def time_passing(served: Served, step: float = 5.0, every: float = 0.2) -> Iterator[None]:
    """Move the emulator's clock forward in the background while a command runs, from its
    first request on (so a slow start-up does not eat the steps)."""
    stop = threading.Event()

    def tick() -> None:
        while not served.emulator.requests and not stop.wait(0.01):
            pass
        while not stop.wait(every):
            served.clock.advance(step)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- wait -------------------------------------------------------------------------------------


def test_wait_exits_0_when_a_running_bulk_completes(served: Served) -> None:
    """The one real process for wait: polls until the bulk completes."""
    bulk_id = running_bulk(served, items=300)
    with time_passing(served, step=10.0):
        result = run_bulkctl(
            "wait", bulk_id, "--interval", "1s", "--timeout", "60s", "--json", env=served.env()
        )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)[0]["status"] == "COMPLETED"
    assert f"bulk {bulk_id}: RUNNING" in result.stderr  # piped: one line per status change
    assert f"bulk {bulk_id}: COMPLETED" in result.stderr


@pytest.mark.parametrize(
    ("status", "code"),
    [("CANCELLED", 10), ("PARTIALLY_COMPLETED", 11), ("FAILED", 12), ("COMPLETED", 0)],
)
def test_wait_exit_code_names_the_outcome(
    tmp_path: Path, served: Served, status: str, code: int
) -> None:
    bulk_id = served.state.listing(status)[0]
    got, proc = wait_in_process(tmp_path, served, bulk_id)
    assert got == code, proc.err


def test_several_bulks_exit_with_the_highest_code(tmp_path: Path, served: Served) -> None:
    ids = [
        served.state.listing(s)[0]
        for s in ("COMPLETED", "FAILED", "CANCELLED", "PARTIALLY_COMPLETED")
    ]
    assert wait_in_process(tmp_path, served, *ids)[0] == 12
    assert wait_in_process(tmp_path, served, ids[0], ids[2], ids[3])[0] == 11


def test_wait_times_out_with_124_and_names_what_is_pending(tmp_path: Path, served: Served) -> None:
    paused = served.state.listing("PAUSED")[0]
    done = served.state.listing("COMPLETED")[0]
    code, proc = wait_in_process(tmp_path, served, paused, done, timeout=2, interval=1)
    assert code == 124
    assert proc.ctx.clock.slept == [1, 1]  # type: ignore[attr-defined]
    assert f"still pending: {paused} PAUSED" in proc.err
    assert f"bulk {paused} is PAUSED; waiting" in proc.err


def test_wait_rides_out_network_errors_and_503(tmp_path: Path, served: Served) -> None:
    bulk_id = running_bulk(served, items=300)
    faults = served.emulator.faults
    faults.fail_rate, faults.drop_rate, faults.throttle_rate, faults.retry_after = 0.3, 0.2, 0.1, 0
    code, proc = wait_in_process(tmp_path, served, bulk_id, interval=1, timeout=90)
    assert code == 0, proc.err
    assert "retrying" in proc.err
    assert served.state.bulks[bulk_id].to_api()["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "bad", [["--interval", "500ms"], ["--interval", "0s"], ["--timeout", "soon"], ["12x"]]
)
def test_wait_bad_input_exits_2(served: Served, bad: list[str]) -> None:
    args = bad if bad == ["12x"] else ["1", *bad]
    assert run_main("wait", *args, env=served.env()).code == 2  # parsing only: no process needed
    assert not served.emulator.requests


def test_junit_of_a_partial_bulk_counts_one_failure_per_failed_operation(
    served: Served, tmp_path: Path
) -> None:
    bulk_id = running_bulk(served, items=40, fails=(2, 11, 30))
    served.clock.advance(60)
    report = tmp_path / "report.xml"
    served.emulator.reset_counts()
    code, _ = wait_in_process(tmp_path, served, bulk_id, junit=report)
    assert code == 11
    # one GET, one page of FAILED operations (status filter), nothing else
    assert served.emulator.route_counts["GET /multi/bulks/{bulk_id}/operations"] == 1
    assert served.emulator.request_count == 2
    assert any("status=FAILED" in url for _, url in served.emulator.requests)
    root = valid_report(report)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    # the outcome (passes: the failures are the operations'), the completed count, 3 failures
    assert len(cases) == 5 == int(suite.get("tests", "0"))
    assert cases[0].get("name") == f"bulk {bulk_id} outcome"
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert "37 operations COMPLETED" in (cases[1].findtext("system-out") or "")
    failures = cases[2:]
    assert int(suite.get("failures", "0")) == 3 == int(root.get("failures", "0"))
    assert [c.get("name", "").split()[0] for c in failures] == ["#3", "#12", "#31"]
    assert all("errorCode" in (c.find("failure").text or "") for c in failures)  # type: ignore[union-attr]
    assert all(c.get("time") is not None for c in cases)
    assert suite.get("timestamp") and suite.get("time")


def test_wait_keeps_waiting_on_an_unknown_status_until_its_timeout(
    tmp_path: Path, served: Served
) -> None:
    rebooting = {
        "bulkId": "7",
        "status": "REBOOTING",
        "submittedItemsCount": 0,
        "operationStatusCounts": [{"status": "COMPLETED", "count": 9}],
    }
    code, proc = wait_in_process(tmp_path, served, "7", timeout=2, interval=1, answer=rebooting)
    assert code == 124
    assert "REBOOTING" in proc.err
    assert proc.ctx.clock.slept == [1, 1]  # type: ignore[attr-defined]


# -- summary ----------------------------------------------------------------------------------


def test_summary_counts_match_list_all_in_at_most_seven_requests(
    tmp_path: Path, served: Served
) -> None:
    """The one real process for summary; the listings it is checked against run in-process."""
    result = run_bulkctl("summary", "--json", env=served.env())
    counts = json.loads(result.stdout)
    assert len(served.emulator.requests) == 7
    assert all("limit=1" in url for _, url in served.emulator.requests)
    assert sorted(counts) == sorted(BULK_STATUSES)
    for status, count in counts.items():
        assert len(list_in_process(tmp_path, served, [status])) == count, status


def test_fail_on_exits_9_exactly_when_a_count_is_above_zero(tmp_path: Path, served: Served) -> None:
    hit, proc = summary_in_process(
        tmp_path, served, fail_on=["FAILED", "PARTIALLY_COMPLETED"], fmt="plain"
    )
    assert hit == 9
    assert "FAILED" in proc.err
    for bulk_id in list(served.state.listing("PAUSED")):
        served.state.bulks[bulk_id].status = "COMPLETED"
    served.state._version += 1
    clear, proc = summary_in_process(
        tmp_path, served, statuses=["RUNNING"], fail_on=["PAUSED"], fmt="plain"
    )
    assert clear == 0, proc.err
    assert "PAUSED\t0" in proc.out


def test_summary_markdown_has_a_total(tmp_path: Path, served: Served) -> None:
    _, proc = summary_in_process(tmp_path, served, fmt="markdown")
    lines = proc.out.splitlines()
    assert lines[0] == "| status | count |"
    assert lines[-1] == "| TOTAL | 300 |"


def test_summary_refuses_a_negative_count_rather_than_add_it_up(
    tmp_path: Path, served: Served
) -> None:
    hostile = {"count": -2_147_483_648, "bulkProcesses": [], "responseCount": 0}
    with pytest.raises(MalformedResponse) as refused:  # not a pass of --fail-on FAILED
        summary_in_process(tmp_path, served, fail_on=["FAILED"], answer=hostile)
    assert refused.value.exit_code == ExitCode.ERROR
    assert "'count'" in refused.value.message


# -- filters against brute force ------------------------------------------------------------------


def brute_force(
    served: Served,
    status: str | None,
    operation: str | None,
    mode: str | None,
    since_ms: int | None,
    until_ms: int | None,
) -> list[str]:
    out = []
    for bulk_id in served.state.listing(status):
        raw = served.state.bulks[bulk_id].to_api()
        op = raw.get("operation", "")
        if operation:
            glob = any(ch in operation for ch in "*?[")
            if not (fnmatch.fnmatchcase(op, operation) if glob else operation in op):
                continue
        if mode and raw.get("mode") != mode:
            continue
        latest = raw.get("executionFinish", raw.get("executionStart"))
        if since_ms is not None and (latest is None or latest < since_ms):
            continue
        if until_ms is not None and (latest is None or latest >= until_ms):
            continue
        out.append(bulk_id)
    return out


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("status", "operation", "mode", "since_h", "until_h"),
    [
        (None, "/managed_cards/*", None, None, None),
        (None, "transfers", None, None, None),
        ("COMPLETED", None, "ON_FAILURE_STOP", None, None),
        (None, None, None, 200, None),
        (None, None, None, None, 100),
        ("PARTIALLY_COMPLETED", "/sends", "ON_FAILURE_CONTINUE", 600, 24),
    ],
)
def test_filters_match_a_brute_force_filter_for_list_and_summary(
    tmp_path: Path,
    served: Served,
    status: str | None,
    operation: str | None,
    mode: str | None,
    since_h: int | None,
    until_h: int | None,
) -> None:
    now_ms = int(served.clock() * 1000)  # the emulator's data is dated around its own clock
    since_ms = (now_ms - since_h * 3600 * 1000) // 1000 * 1000 if since_h else None
    until_ms = (now_ms - until_h * 3600 * 1000) // 1000 * 1000 if until_h else None
    filters = BulkFilter.parse(  # the flags as typed: --mode in lower case, times in ISO
        operation=operation,
        mode=mode.lower().replace("_", "-") if mode else None,
        since=iso(since_ms) if since_ms else None,
        until=iso(until_ms) if until_ms else None,
        now=served.clock(),
    )
    statuses_flag = [status] if status else []
    expected = brute_force(served, status, operation, mode, since_ms, until_ms)
    listed = list_in_process(tmp_path, served, statuses_flag, filters)
    assert [r["bulkId"] for r in listed] == expected
    limited = list_in_process(tmp_path, served, statuses_flag, filters, wanted=3, offset=1)
    assert [r["bulkId"] for r in limited] == expected[1:4]
    _, proc = summary_in_process(tmp_path, served, statuses_flag, filters=filters)
    summary = json.loads(proc.out)
    statuses = [status] if status else list(summary)
    for s in statuses:
        assert summary[s] == len(brute_force(served, s, operation, mode, since_ms, until_ms)), s


@pytest.mark.parametrize(
    "bad", [["--mode", "sideways"], ["--since", "last tuesday"], ["--operation", ""]]
)
def test_bad_filters_exit_2(served: Served, bad: list[str]) -> None:
    assert run_main("list", *bad, env=served.env()).code == 2  # parsing only
    assert not served.emulator.requests


# -- watch ------------------------------------------------------------------------------------


def test_watch_one_bulk_piped_streams_changes_then_ends_like_wait(served: Served) -> None:
    bulk_id = running_bulk(served, items=100, fails=(3,))
    with time_passing(served, step=1.0, every=0.3):
        result = run_bulkctl("watch", bulk_id, "--interval", "1s", env=served.env())
    assert result.code == 11, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["previousStatus"] is None and events[0]["bulk"]["status"] == "RUNNING"
    assert events[-1]["bulk"]["status"] == "PARTIALLY_COMPLETED"
    assert events[-1]["previousStatus"] == "RUNNING"
    assert len(events) >= 3  # progress changes stream as they happen


def test_watch_list_piped_emits_changes_and_ends_cleanly_on_ctrl_c(served: Served) -> None:
    bulk_id = submitted(served)
    args = ["watch", "--status", "SUBMITTED,RUNNING", "--interval", "1s"]
    with Spawned(*args, env=served.env()) as child:
        first = json.loads(child.readline())
        assert first["previousStatus"] is None
        served.state.act(bulk_id, "execute", served.clock(), "ON_FAILURE_STOP")
        change = None
        for _ in range(1000):  # each line read waits at most 20 s
            event = json.loads(child.readline())
            if event["bulk"]["bulkId"] == bulk_id and event["previousStatus"] == "SUBMITTED":
                change = event
                break
        assert change is not None and change["bulk"]["status"] == "RUNNING"
        child.interrupt()
        code, rest, err = child.finish()
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err
    for line in rest.splitlines():
        json.loads(line)  # only complete lines


def test_watch_one_bulk_live_view_on_a_terminal(served: Served) -> None:
    import pexpect

    bulk_id = running_bulk(served, items=50)
    env = dict(os.environ, **served.env())
    command = bulkctl_command()
    with time_passing(served, step=1.0, every=0.3):
        child = pexpect.spawn(
            command[0],
            [*command[1:], "watch", bulk_id, "--interval", "1s"],
            env=env,
            encoding="utf-8",
            timeout=60,
            dimensions=(30, 120),
        )
        child.expect("rate")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert "COMPLETED" in (child.before or "")


def test_summary_of_given_bulks_counts_only_them_with_a_row_each(
    tmp_path: Path, served: Served
) -> None:
    failed, completed = served.state.listing("FAILED")[0], served.state.listing("COMPLETED")[0]
    served.emulator.reset_counts()
    result = run_bulkctl(
        "summary", failed, completed, "--markdown", "--fail-on", "FAILED", env=served.env()
    )
    assert result.code == 9, result.stderr
    assert served.emulator.request_count == 2  # one GET per bulk, never the whole account
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    bulk_rows = [r.split("|")[1:-1] for r in rows if r.split("|")[1].strip() in (failed, completed)]
    assert sorted((r[0].strip(), r[2].strip()) for r in bulk_rows) == sorted(
        [(failed, "FAILED"), (completed, "COMPLETED")]
    )
    counts = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in rows}
    assert counts["FAILED"] == "1" and counts["COMPLETED"] == "1" and counts["TOTAL"] == "2"
