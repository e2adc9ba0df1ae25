"""The real ``bulkctl`` process against the emulator on a loopback port: deadlines against a
trickling server, SIGTERM, logins that fail once, tokens that expire twice, a refused
connection and a hostile responsePayload in the JUnit report. One process per path; no
assertion on wall-clock time."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_EMAIL, DEMO_PASSWORD, Faults, Request, Response
from tests.conftest import Served, Spawned, make_emulator, run_bulkctl, serving
from tests.junit_schema import valid_report

LOGIN = "POST /multi/login_with_password"
GET_BULK = "GET /multi/bulks/{bulk_id}"


def until(check: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Wait for ``check`` (a bound, not a measurement: fails the test after ``limit`` s)."""
    end = time.monotonic() + limit
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def running_bulk(served: Served, items: int = 100) -> str:
    state = served.state
    bulk_id = state.insert_submitted(served.clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.pace, bulk.fail_rate = items, 10.0, 0.0
    state.act(bulk_id, "execute", served.clock(), "ON_FAILURE_CONTINUE")
    return bulk_id


def intercept(served: Served, answer: Callable[[Request], Response | None]) -> None:
    """Answer some requests in the test's place (the server runs in this process)."""
    handle = served.emulator.handle

    def patched(request: Request) -> Response:
        return answer(request) or handle(request)

    served.emulator.handle = patched  # type: ignore[method-assign]


def password_env(served: Served, **extra: str) -> dict[str, str]:
    return {
        "BULKCTL_BASE_URL": served.multi,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_EMAIL": DEMO_EMAIL,
        "BULKCTL_PASSWORD": DEMO_PASSWORD,
        "BULKCTL_RATE_LIMIT": "0",
        **extra,
    }


@pytest.fixture
def trickling() -> Iterator[Served]:
    """An emulator that sends every answer one byte every half second."""
    emulator, clock = make_emulator(bulks=20, faults=Faults(slow_body=0.5))
    with serving(emulator) as root:
        yield Served(emulator, clock, root)


# -- deadlines ----------------------------------------------------------------------------------


def test_a_trickling_answer_is_cut_at_request_timeout(trickling: Served) -> None:
    bulk_id = trickling.state.listing("COMPLETED")[0]
    env = trickling.env(BULKCTL_REQUEST_TIMEOUT="1", BULKCTL_RETRIES="1")
    result = run_bulkctl("show", bulk_id, env=env)
    assert result.code == 6, result.stderr
    assert "request_timeout" in result.stderr
    assert "Traceback" not in result.stderr


def test_wait_timeout_abandons_a_trickling_answer_with_124(trickling: Served) -> None:
    bulk_id = trickling.state.listing("COMPLETED")[0]
    result = run_bulkctl("wait", bulk_id, "--timeout", "2s", env=trickling.env())
    assert result.code == 124, result.stderr
    assert f"still pending: {bulk_id}" in result.stderr
    assert trickling.emulator.request_count == 1  # abandoned, never retried past the deadline


# -- signals ------------------------------------------------------------------------------------


def test_sigterm_during_wait_junit_exits_143_with_a_well_formed_report(
    served: Served, tmp_path: Path
) -> None:
    done = served.state.listing("FAILED")[0]
    pending = running_bulk(served)
    report = tmp_path / "reports" / "junit.xml"
    args = ["wait", done, pending, "--interval", "1s", "--junit", str(report)]
    with Spawned(*args, env=served.env()) as child:
        until(lambda: served.emulator.route_counts[GET_BULK] >= 3, "two polls")
        requests = served.emulator.request_count
        child.proc.send_signal(signal.SIGTERM)
        code, _, err = child.finish()
    assert code == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert served.emulator.request_count <= requests + 1  # at most the poll in flight
    suites = valid_report(report).findall("testsuite")
    assert len(suites) == 2
    outcome = suites[0].find("testcase/failure")
    assert outcome is not None and outcome.get("type") == "FAILED"
    interrupted = suites[1].find("testcase/error")
    assert interrupted is not None and interrupted.get("type") == "terminated"
    assert "RUNNING" in (interrupted.get("message") or "")


# -- logins -------------------------------------------------------------------------------------


def test_a_login_answered_503_once_is_retried(served: Served) -> None:
    refused: list[str] = []

    def once(request: Request) -> Response | None:
        if request.url.startswith("/multi/login_with_password") and not refused:
            refused.append(request.url)
            return Response(503)
        return None

    intercept(served, once)
    bulk_id = served.state.listing("COMPLETED")[0]
    result = run_bulkctl("wait", bulk_id, env=password_env(served))
    assert result.code == 0, result.stderr
    # the refused login never reached the emulator's counts: one 503, then one login
    assert len(refused) == 1 and served.emulator.route_counts[LOGIN] == 1


def test_two_token_expiries_during_one_wait_bring_two_logins(served: Served) -> None:
    bulk_id = running_bulk(served)
    counts = served.emulator.route_counts
    args = ["wait", bulk_id, "--interval", "1s", "--timeout", "10m"]
    with Spawned(*args, env=password_env(served)) as child:
        until(lambda: counts[LOGIN] == 1 and counts[GET_BULK] >= 1, "the first poll")
        served.emulator.expire_tokens()
        until(lambda: counts[LOGIN] == 2, "the second login")
        # expire again only once a request has reached the emulator after that login (an
        # expiry between a login and its retried request would be a second 401 in a row)
        polled = counts[GET_BULK]
        until(lambda: counts[GET_BULK] > polled, "a poll with the new token")
        served.emulator.expire_tokens()
        until(lambda: counts[LOGIN] == 3, "the third login")
        served.clock.advance(60)  # the bulk completes
        code, _, err = child.finish(timeout=30)
    assert code == 0, err
    # the first login is no login "again"; then one per expiry
    assert err.count("logged in as") == 1 and err.count("logged in again") == 2


# -- refusals and hostile text ---------------------------------------------------------------


def test_a_refused_connection_exits_6_at_once(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "BULKCTL_BASE_URL": f"http://127.0.0.1:{port}/multi",
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": "t0ken-for-a-refused-test",
    }
    result = run_bulkctl("wait", "123", "--timeout", "1h", env=env)
    assert result.code == 6, result.stderr
    assert "cannot connect" in result.stderr and "retrying" not in result.stderr


def test_control_characters_in_a_response_payload_keep_the_report_well_formed(
    served: Served, tmp_path: Path
) -> None:
    bulk_id = served.state.listing("FAILED")[0]
    nasty = 'bad \x1b[2J\x00\x07\x0b\ufffe <&> "end"'

    def failed_page(request: Request) -> Response | None:
        if "/operations" not in request.url:
            return None
        page = {
            "count": 1,
            "responseCount": 1,
            "operations": [
                {
                    "operationId": "1",
                    "sequence": 1,
                    "method": "POST",
                    "path": f"/x{nasty}",
                    "status": "FAILED",
                    "responsePayload": nasty,
                }
            ],
        }
        return Response(200, json.dumps(page).encode(), {"content-type": "application/json"})

    intercept(served, failed_page)
    report = tmp_path / "r.xml"
    result = run_bulkctl("wait", bulk_id, "--junit", str(report), env=served.env())
    assert result.code == 12, result.stderr
    root = valid_report(report)
    failure = root.findall("testsuite/testcase/failure")[-1]
    assert '\\x1b[2J\\x00\\x07\\x0b\\ufffe <&> "end"' in (failure.text or "")


def test_an_unwritable_junit_path_exits_2_before_any_request(
    served: Served, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bulk_id = served.state.listing("FAILED")[0]
    result = run_bulkctl("wait", bulk_id, "--junit", str(blocker / "r.xml"), env=served.env())
    assert result.code == 2, result.stderr
    assert served.emulator.request_count == 0


# -- a report on every exit -------------------------------------------------------------------


def report_error(report: Path) -> tuple[str, str]:
    """(type, message) of the command's own error case in a valid report."""
    root = valid_report(report)
    errors = [e for e in root.iter("error")]
    assert errors, "no <error> case"
    last = errors[-1]
    return last.get("type") or "", last.get("message") or ""


def test_refused_credentials_exit_3_with_a_report_naming_them(
    served: Served, tmp_path: Path
) -> None:
    bulk_id = served.state.listing("COMPLETED")[0]
    report = tmp_path / "r.xml"
    env = password_env(served, BULKCTL_PASSWORD="not-the-password")
    result = run_bulkctl("wait", bulk_id, "--junit", str(report), env=env)
    assert result.code == 3, result.stderr
    kind, message = report_error(report)
    assert "exit 3" in message and kind


def test_a_refused_connection_exits_6_with_a_report(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "BULKCTL_BASE_URL": f"http://127.0.0.1:{port}/multi",
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": "t0ken-for-a-refused-test",
    }
    report = tmp_path / "r.xml"
    result = run_bulkctl("wait", "123", "--junit", str(report), env=env)
    assert result.code == 6, result.stderr
    kind, message = report_error(report)
    assert kind == "NetworkError" and "cannot connect" in message and "exit 6" in message
    root = valid_report(report)
    assert root.get("errors") == "1"  # one cause, counted once: the bulk's case is skipped
    outcome = root.find("testsuite/testcase/skipped")
    assert outcome is not None and "still never answered" in (outcome.get("message") or "")


def test_a_404_among_several_ids_exits_4_with_a_report(served: Served, tmp_path: Path) -> None:
    done = served.state.listing("COMPLETED")[0]
    report = tmp_path / "r.xml"
    result = run_bulkctl("wait", done, "999999999", "--junit", str(report), env=served.env())
    assert result.code == 4, result.stderr
    kind, message = report_error(report)
    assert kind == "NotFound" and "exit 4" in message


def test_sigterm_during_the_first_login_writes_a_report(served: Served, tmp_path: Path) -> None:
    release = threading.Event()
    seen = threading.Event()

    def held(request: Request) -> Response | None:
        if request.url.startswith("/multi/login_with_password"):
            seen.set()
            release.wait(20)
        return None

    intercept(served, held)
    bulk_id = served.state.listing("COMPLETED")[0]
    report = tmp_path / "r.xml"
    with Spawned("wait", bulk_id, "--junit", str(report), env=password_env(served)) as child:
        until(seen.is_set, "the login")
        child.proc.send_signal(signal.SIGTERM)
        code, _, err = child.finish()
        release.set()
    assert code == 143, err
    kind, message = report_error(report)
    assert kind == "terminated" and "terminated" in message
    suite = valid_report(report).find("testsuite")
    assert suite is not None and bulk_id in (suite.get("name") or "")  # the bulk is named


def test_submit_wait_writes_its_report_at_the_timeout(served: Served, tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    report = tmp_path / "r.xml"
    result = run_bulkctl(
        "submit", "transfers", str(examples / "transfers.csv"), "--execute", "--yes",
        "--wait", "--timeout", "2s", "--interval", "1s", "--junit", str(report),
        env=served.env(),
    )  # fmt: skip
    assert result.code == 124, result.stderr
    root = valid_report(report)
    assert root.get("name") == "bulkctl submit --wait"
    [bulk_id] = result.stdout.split()
    outcome = root.find("testsuite/testcase/error")
    assert outcome is not None and outcome.get("type") == "timeout"
    assert bulk_id in (root.find("testsuite").get("name") or "")  # type: ignore[union-attr]
