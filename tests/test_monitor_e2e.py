"""wait, watch and summary against the emulator, with its clock under the test's control."""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bulkctl.emulator.app import Request, Response
from bulkctl.emulator.server import running
from tests.conftest import Served, bulkctl_command, logged_in, run_bulkctl


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
    """Move the emulator's clock forward in the background while a command runs."""
    stop = threading.Event()

    def tick() -> None:
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
    bulk_id = running_bulk(served, items=300)
    with time_passing(served, step=2.0):
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
def test_wait_exit_code_names_the_outcome(served: Served, status: str, code: int) -> None:
    bulk_id = served.state.listing(status)[0]
    result = run_bulkctl("wait", bulk_id, env=served.env())
    assert result.code == code, result.stderr


def test_several_bulks_exit_with_the_highest_code(served: Served) -> None:
    ids = [
        served.state.listing(s)[0]
        for s in ("COMPLETED", "FAILED", "CANCELLED", "PARTIALLY_COMPLETED")
    ]
    assert run_bulkctl("wait", *ids, env=served.env()).code == 12
    assert run_bulkctl("wait", ids[0], ids[2], ids[3], env=served.env()).code == 11


def test_wait_times_out_with_124_and_names_what_is_pending(served: Served) -> None:
    paused = served.state.listing("PAUSED")[0]
    done = served.state.listing("COMPLETED")[0]
    started = time.monotonic()
    result = run_bulkctl(
        "wait", paused, done, "--timeout", "2s", "--interval", "1s", env=served.env()
    )
    assert result.code == 124
    assert time.monotonic() - started < 30
    assert f"still pending: {paused} PAUSED" in result.stderr
    assert f"bulk {paused} is PAUSED; waiting" in result.stderr


def test_wait_rides_out_network_errors_and_503(served: Served) -> None:
    bulk_id = running_bulk(served, items=300)
    faults = served.emulator.faults
    faults.fail_rate, faults.drop_rate, faults.throttle_rate, faults.retry_after = 0.3, 0.2, 0.1, 0
    with time_passing(served):
        result = run_bulkctl(
            "wait", bulk_id, "--interval", "1s", "--timeout", "90s", env=served.env()
        )
    assert result.code == 0, result.stderr
    assert "retrying" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "bad", [["--interval", "500ms"], ["--interval", "0s"], ["--timeout", "soon"], ["12x"]]
)
def test_wait_bad_input_exits_2(served: Served, bad: list[str]) -> None:
    args = bad if bad == ["12x"] else ["1", *bad]
    assert run_bulkctl("wait", *args, env=served.env()).code == 2
    assert not served.emulator.requests


def test_junit_has_one_failure_per_failed_operation(served: Served, tmp_path: Path) -> None:
    bulk_id = running_bulk(served, items=40, fails=(2, 11, 30))
    served.clock.advance(60)
    report = tmp_path / "report.xml"
    result = run_bulkctl("wait", bulk_id, "--junit", str(report), env=served.env())
    assert result.code == 11
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == 40
    assert len(failures) == 3 == int(suite.get("failures", "0"))
    assert [c.get("name", "").split()[0] for c in failures] == ["#3", "#12", "#31"]
    assert all("errorCode" in (c.find("failure").text or "") for c in failures)  # type: ignore[union-attr]


class Hostile:
    def __init__(self, body: Any) -> None:
        self.body = body

    def handle(self, request: Request) -> Response:
        return Response(200, json.dumps(self.body).encode(), {"content-type": "application/json"})


def test_wait_keeps_waiting_on_an_unknown_status_until_its_timeout() -> None:
    server = Hostile(
        {
            "bulkId": "7",
            "status": "REBOOTING",
            "submittedItemsCount": -1,
            "operationStatusCounts": [{"status": "COMPLETED", "count": -9}],
        }
    )
    with running(server) as root:  # type: ignore[arg-type]
        env = logged_in(root + "/multi")
        result = run_bulkctl("wait", "7", "--timeout", "2s", "--interval", "1s", env=env)
    assert result.code == 124
    assert "REBOOTING" in result.stderr
    assert "Traceback" not in result.stderr


# -- summary ----------------------------------------------------------------------------------


def test_summary_counts_match_list_all_in_at_most_seven_requests(served: Served) -> None:
    result = run_bulkctl("summary", "--json", env=served.env())
    counts = json.loads(result.stdout)
    assert len(served.emulator.requests) == 7
    assert all("limit=1" in url for _, url in served.emulator.requests)
    for status, count in counts.items():
        listed = run_bulkctl("list", "-s", status, "--all", "--json", env=served.env())
        assert len(json.loads(listed.stdout)) == count, status


def test_fail_on_exits_9_exactly_when_a_count_is_above_zero(served: Served) -> None:
    hit = run_bulkctl("summary", "--fail-on", "failed,partially_completed", env=served.env())
    assert hit.code == 9
    assert "FAILED" in hit.stderr
    for bulk_id in list(served.state.listing("PAUSED")):
        served.state.bulks[bulk_id].status = "COMPLETED"
    served.state._version += 1
    clear = run_bulkctl("summary", "--status", "RUNNING", "--fail-on", "PAUSED", env=served.env())
    assert clear.code == 0, clear.stderr
    assert "PAUSED\t0" in clear.stdout


def test_summary_markdown_has_a_total(served: Served) -> None:
    result = run_bulkctl("summary", "--markdown", env=served.env())
    lines = result.stdout.splitlines()
    assert lines[0] == "| status | count |"
    assert lines[-1] == "| TOTAL | 300 |"


def test_summary_prints_hostile_counts_as_they_came() -> None:
    server = Hostile({"count": -12, "bulkProcesses": [], "responseCount": 0})
    with running(server) as root:  # type: ignore[arg-type]
        env = logged_in(root + "/multi")
        result = run_bulkctl("summary", "--json", env=env)
    assert result.code == 0, result.stderr
    assert set(json.loads(result.stdout).values()) == {-12}


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
    args: list[str] = []
    if status:
        args += ["--status", status]
    if operation:
        args += ["--operation", operation]
    if mode:
        args += ["--mode", mode.lower().replace("_", "-")]
    if since_ms:
        args += ["--since", iso(since_ms)]
    if until_ms:
        args += ["--until", iso(until_ms)]
    expected = brute_force(served, status, operation, mode, since_ms, until_ms)
    listed = run_bulkctl("list", *args, "--all", "--json", env=served.env())
    assert listed.code == 0, listed.stderr
    assert [r["bulkId"] for r in json.loads(listed.stdout)] == expected
    limited = run_bulkctl(
        "list", *args, "--limit", "3", "--offset", "1", "--json", env=served.env()
    )
    assert [r["bulkId"] for r in json.loads(limited.stdout)] == expected[1:4]
    summary = json.loads(run_bulkctl("summary", *args, "--json", env=served.env()).stdout)
    statuses = [status] if status else list(summary)
    for s in statuses:
        assert summary[s] == len(brute_force(served, s, operation, mode, since_ms, until_ms)), s


@pytest.mark.parametrize(
    "bad", [["--mode", "sideways"], ["--since", "yesterday"], ["--operation", ""]]
)
def test_bad_filters_exit_2(served: Served, bad: list[str]) -> None:
    assert run_bulkctl("list", *bad, env=served.env()).code == 2
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
    env = dict(os.environ, **served.env())
    proc = subprocess.Popen(
        [*bulkctl_command(), "watch", "--status", "SUBMITTED,RUNNING", "--interval", "1s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert first["previousStatus"] is None
    served.state.act(bulk_id, "execute", served.clock(), "ON_FAILURE_STOP")
    deadline = time.monotonic() + 20
    change = None
    while time.monotonic() < deadline:
        event = json.loads(proc.stdout.readline())
        if event["bulk"]["bulkId"] == bulk_id and event["previousStatus"] == "SUBMITTED":
            change = event
            break
    assert change is not None and change["bulk"]["status"] == "RUNNING"
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()  # through the same buffered stream that readline filled
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=20)
    assert proc.returncode == 130
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
