"""Waits the server names (Retry-After, x-ratelimit-reset): read as specified, bounded, never
read as "now"; a state change is sent once per quota answer; past quota_wait or the deadline
the command ends at once, naming the time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.api.changes import act
from bulkctl.api.client import parse_reset, parse_retry_after
from bulkctl.emulator.app import DEMO_API_KEY, Emulator, Faults, Scripted
from bulkctl.errors import DeadlineReached, ExitCode, Throttled
from bulkctl.pacing.pacer import SHARED_MAX, Pacer, QuotaWaitTooLong, Window
from bulkctl.pacing.store import state_file
from tests.conftest import logged_in, make_emulator, run_bulkctl, serving
from tests.test_api_client import Script, answer, client_for
from tests.test_pacer import SharedFakeClock

YEAR_9999 = "Fri, 31 Dec 9999 23:59:59 GMT"
TOO_MANY = {"errorCode": "TOO_MANY_REQUESTS"}
FAR_AHEAD = [
    {"Retry-After": YEAR_9999},
    {"Retry-After": "90000"},
    {"x-ratelimit-reset": "1790000000"},  # an epoch time where seconds are specified
    {"Retry-After": "9" * 400},
]


def test_headers_are_read_as_the_spec_says() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after("90000") == 90000
    assert parse_retry_after(YEAR_9999, now=1_790_000_000) == pytest.approx(
        253402300799 - 1_790_000_000
    )
    assert parse_retry_after("9" * 400) == pytest.approx(1e12)  # far ahead, never an error
    assert parse_reset("12") == 12
    assert parse_reset("1790000000") == 1_790_000_000  # far ahead, never "now"
    assert parse_reset("Fri, 31 Dec 9999 23:59:59 GMT") is None  # seconds only


@pytest.mark.parametrize("headers", FAR_AHEAD)
def test_execute_answered_with_a_wait_far_ahead_sends_once_and_says_when(
    headers: dict[str, str],
) -> None:
    script = Script([answer(409, TOO_MANY, headers)])
    client, slept, _ = client_for(script)
    with pytest.raises(Throttled) as caught:
        act(client, "123", "execute")
    assert len(script.requests) == 1 and slept == []
    text = " ".join(caught.value.lines())
    assert caught.value.exit_code == ExitCode.ERROR
    assert "allows the next request" in text and "later than quota_wait (10m)" in text
    if "Retry-After" in headers and headers["Retry-After"] == YEAR_9999:
        assert "at 9999-12-31 23:59:59 UTC" in text
    assert "rate_limit" in text and "quota_wait" in text and "reset-limits" in text


def test_a_wait_within_quota_wait_is_waited_once_then_the_change_is_sent_once_more() -> None:
    script = Script([answer(409, TOO_MANY, {"Retry-After": "30"}), answer(204)])
    client, slept, _ = client_for(script)
    act(client, "123", "execute")
    assert slept == [30] and len(script.requests) == 2


def test_a_named_wait_past_the_deadline_ends_at_once_with_124_naming_the_time() -> None:
    script = Script([answer(429, headers={"Retry-After": "120"})])
    client, slept, _ = client_for(script)
    client.deadline = client.retry.monotonic() + 5
    with pytest.raises(DeadlineReached) as caught:
        client.get_bulk("123")
    assert caught.value.exit_code == ExitCode.TIMEOUT
    assert "allows the next request at " in caught.value.message
    assert "after the deadline (5s left)" in caught.value.message
    assert slept == [] and len(script.requests) == 1


def test_a_named_wait_is_shared_for_a_day_at_most(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    first = Pacer((Window(60, 100),), clock=clock, path=path)
    first.quota_answer(first.acquire(0), parse_retry_after(YEAR_9999, clock.now()), ())
    second = Pacer((Window(60, 100),), clock=clock, path=path)
    with pytest.raises(QuotaWaitTooLong) as caught:
        second.acquire(600)  # another process: still held back, never let through at once
    assert caught.value.wait == pytest.approx(SHARED_MAX)
    second.acquire(2 * SHARED_MAX)
    assert clock.slept == [pytest.approx(SHARED_MAX)]


def _execute_answered_year_9999() -> tuple[Emulator, str]:
    """An emulator whose execute is throttled until the year 9999, and a bulk to execute."""
    faults = Faults(
        scripted=(
            Scripted(
                "POST /bulks/{bulk_id}/execute",
                409,
                headers=(("Retry-After", YEAR_9999),),
                body=TOO_MANY,
            ),
        )
    )
    emulator, clock = make_emulator(bulks=5, faults=faults)
    return emulator, emulator.state.insert_submitted(clock(), 1)[0]


def test_a_real_execute_answered_with_year_9999_sends_one_request_and_exits_1() -> None:
    emulator, bulk_id = _execute_answered_year_9999()
    with serving(emulator) as root:
        env = _env(root)
        result = run_bulkctl("execute", bulk_id, "--yes", env=env)
    assert result.code == ExitCode.ERROR, result.stderr
    assert emulator.route_counts["POST /multi/bulks/{bulk_id}/execute"] == 1
    assert "9999-12-31 23:59:59 UTC" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("usable", [True, False])
def test_the_quota_error_names_the_state_file_even_when_it_could_not_be_used(
    isolated_home: Path, usable: bool
) -> None:
    emulator, bulk_id = _execute_answered_year_9999()
    with serving(emulator) as root:
        path = state_file(isolated_home / "state" / "bulkctl", root + "/multi", DEMO_API_KEY)
        if not usable:
            path.mkdir(parents=True, mode=0o700)  # a folder where the file should be
            path.parent.chmod(0o700)
        result = run_bulkctl("execute", bulk_id, "--yes", env=_env(root))
    assert result.code == ExitCode.ERROR, result.stderr
    said = result.stderr.replace("\n  ", " ")
    assert str(path) in said, said
    assert ("could not be used" in said) is not usable
    assert "quota_wait" in said and "rate_limit" in said and "reset-limits" in said


def test_a_real_wait_answered_with_year_9999_exits_124_at_once_naming_the_time() -> None:
    answered = (("Retry-After", YEAR_9999),)
    faults = Faults(
        scripted=(
            Scripted("GET /bulks/{bulk_id}", 409, headers=answered, body=TOO_MANY),
            Scripted("GET /bulks", 429, headers=answered),
        )
    )
    emulator, clock = make_emulator(bulks=5, faults=faults)
    bulk_id = emulator.state.insert_submitted(clock(), 1)[0]
    with serving(emulator) as root:
        result = run_bulkctl("wait", bulk_id, "--timeout", "5s", env=_env(root))
    assert result.code == ExitCode.TIMEOUT, result.stderr
    assert emulator.request_count == 1  # no second request in the 5 s
    assert "9999-12-31 23:59:59 UTC" in result.stderr
    assert "after the deadline" in result.stderr
    assert "timed out after 5s" not in result.stderr


def _env(root: str) -> dict[str, str]:
    return logged_in(root + "/multi", BULKCTL_RATE_LIMIT="100/60s")
