"""Quotas in the emulator: fixed windows on its clock, the answers the spec documents per
endpoint, optional rate-limit headers, and request counts a test can assert."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from typing import Any

import httpx
import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Faults, Request
from bulkctl.emulator.quota import Window, parse_quota
from bulkctl.emulator.server import running
from bulkctl.emulator.state import EmulatorState
from tests.conftest import T0, ManualClock, bulkctl_command

AUTH = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}
# seconds from T0 to the end of its fixed minute and hour windows
TO_MINUTE_END = math.ceil((math.floor(T0 / 60) + 1) * 60 - T0)
TO_HOUR_END = math.ceil((math.floor(T0 / 3600) + 1) * 3600 - T0)


def quota_emulator(quota: str, headers: bool = False) -> tuple[Emulator, ManualClock]:
    clock = ManualClock()
    faults = Faults(quota=parse_quota(quota), quota_headers=headers)
    return Emulator(EmulatorState(bulks=5, now=clock()), clock=clock, faults=faults), clock


def get(emulator: Emulator, url: str, method: str = "GET", body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    return emulator.handle(Request(method, url, dict(AUTH), raw))


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("100/60s", (Window(100, 60),)),
        ("100/60s,1000/3600s", (Window(100, 60), Window(1000, 3600))),
        ("10/6", (Window(10, 6),)),
        (" 5 / 1m , 7/1h ", (Window(5, 60), Window(7, 3600))),
        ("10000/1d", (Window(10000, 86400),)),
    ],
)
def test_quotas_are_written_n_per_window(text: str, windows: tuple[Window, ...]) -> None:
    assert parse_quota(text) == windows


@pytest.mark.parametrize("text", ["", "100", "100/", "/60s", "0/60s", "10/0s", "10/1.5s", "a/60s"])
def test_malformed_quotas_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quota(text)


def test_past_a_window_every_request_is_refused_until_it_is_over() -> None:
    emulator, clock = quota_emulator("3/60s")
    assert [get(emulator, "/multi/bulks").status for _ in range(3)] == [200, 200, 200]
    refused = [get(emulator, "/multi/bulks") for _ in range(4)]
    assert {r.status for r in refused} == {409}
    assert all(json.loads(r.body) == {"errorCode": "TOO_MANY_REQUESTS"} for r in refused)
    clock.advance(TO_MINUTE_END - 1)
    assert get(emulator, "/multi/bulks").status == 409  # still the same fixed window
    clock.advance(1)
    assert get(emulator, "/multi/bulks").status == 200  # a new window
    assert emulator.request_count == 9
    assert emulator.quota_answer_count == 5
    assert emulator.route_counts == {"GET /multi/bulks": 9}
    assert emulator.quota_answer_counts == {"GET /multi/bulks": 5}
    assert emulator.violations == []


def test_by_default_a_quota_answer_carries_no_rate_limit_header() -> None:
    emulator, _ = quota_emulator("1/60s")
    get(emulator, "/multi/bulks")
    answer = get(emulator, "/multi/bulks/1")
    assert answer.status == 429
    assert not {"x-ratelimit-limit", "x-ratelimit-reset", "retry-after"} & {
        name.lower() for name in answer.headers
    }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        # the spec documents 409 TOO_MANY_REQUESTS (BulkProcessorConflictResponse) on these
        ("GET", "/multi/bulks", 409),
        ("POST", "/multi/bulks/1/execute", 409),
        ("POST", "/multi/bulks/1/pause", 409),
        ("POST", "/multi/bulks/1/resume", 409),
        ("POST", "/multi/backoffice/bulks/1/cancel", 409),
        ("GET", "/multi/backoffice/bulks", 409),
        # 429 (documented on login and logout; Weavr's general answer elsewhere)
        ("POST", "/multi/login_with_password", 429),
        ("POST", "/multi/logout", 429),
        ("POST", "/multi/backoffice/access_token", 429),
        ("GET", "/multi/bulks/1", 429),
        ("GET", "/multi/bulks/1/operations", 429),
        ("POST", "/multi/bulks/transfers", 429),
        ("PATCH", "/multi/backoffice/bulks/managed_cards/_id_/spend_rules", 429),
    ],
)
def test_the_quota_answer_is_what_the_spec_documents_for_the_endpoint(
    method: str, path: str, status: int
) -> None:
    emulator, _ = quota_emulator("1/60s")
    get(emulator, "/multi/bulks/1")
    assert get(emulator, path, method).status == status
    assert emulator.quota_answer_counts == {
        f"{method} {re.sub(r'/bulks/1(?=/|$)', '/bulks/{bulk_id}', path)}": 1
    }


def test_quota_headers_say_the_windows_and_when_the_exceeded_one_resets() -> None:
    emulator, clock = quota_emulator("2/60s,3/3600s", headers=True)
    get(emulator, "/multi/bulks")
    get(emulator, "/multi/bulks")
    minute = get(emulator, "/multi/bulks/1")
    assert minute.status == 429
    assert minute.headers["x-ratelimit-limit"] == "2, 2;w=60, 3;w=3600"
    assert minute.headers["x-ratelimit-reset"] == str(TO_MINUTE_END)
    clock.advance(TO_MINUTE_END)
    assert get(emulator, "/multi/bulks").status == 200  # the third of the hour
    hour = get(emulator, "/multi/bulks/1")
    assert hour.headers["x-ratelimit-limit"] == "3, 2;w=60, 3;w=3600"
    assert hour.headers["x-ratelimit-reset"] == str(TO_HOUR_END - TO_MINUTE_END)
    assert emulator.request_count == 5 and emulator.quota_answer_count == 2


def test_refused_requests_do_not_use_up_the_next_window() -> None:
    emulator, clock = quota_emulator("2/60s")
    for _ in range(10):
        get(emulator, "/multi/bulks")
    clock.advance(TO_MINUTE_END)
    assert [get(emulator, "/multi/bulks").status for _ in range(3)] == [200, 200, 409]


def test_counts_are_per_route_template_and_can_be_reset() -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=5, now=clock()), clock=clock)
    bulk_id = emulator.state.order[0]
    get(emulator, "/multi/bulks?limit=2")
    get(emulator, f"/multi/bulks/{bulk_id}")
    get(emulator, f"/multi/bulks/{bulk_id}/operations?limit=5")
    get(emulator, f"/multi/bulks/{bulk_id}/operations?offset=5")
    get(emulator, "/multi/bulks/transfers")  # a submission path, not a bulk id
    assert emulator.route_counts == {
        "GET /multi/bulks": 1,
        "GET /multi/bulks/{bulk_id}": 1,
        "GET /multi/bulks/{bulk_id}/operations": 2,
        "GET /multi/bulks/transfers": 1,
    }
    assert emulator.request_count == 5 and emulator.quota_answer_count == 0
    emulator.reset_counts()
    assert emulator.request_count == 0


def test_a_slow_body_still_arrives_whole_over_http() -> None:
    clock = ManualClock()
    emulator = Emulator(
        EmulatorState(bulks=5, now=clock()), clock=clock, faults=Faults(slow_body=0.001)
    )
    with running(emulator) as root:
        answer = httpx.get(root + "/multi/bulks?limit=1", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["responseCount"] == 1


SERVE_QUOTA = ("--bulks", "3", "--quota", "2/3600s", "--quota-headers")


def test_emulator_serve_applies_quota_and_headers_from_its_flags() -> None:
    proc = subprocess.Popen(
        [*bulkctl_command(), "emulator", "serve", "--port", "0", *SERVE_QUOTA],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        root = first.split()[-1]
        assert root.startswith("http://127.0.0.1:")
        banner = first + "".join(proc.stdout.readline() for _ in range(7))
        assert "--profile emu" in banner
        statuses = [httpx.get(root + "/multi/bulks/1", headers=AUTH) for _ in range(3)]
        assert [a.status_code for a in statuses] == [404, 404, 429]
        assert statuses[2].headers["x-ratelimit-limit"] == "2, 2;w=3600"
        assert int(statuses[2].headers["x-ratelimit-reset"]) <= 3600
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_emulator_serve_refuses_a_malformed_quota() -> None:
    proc = subprocess.run(
        [*bulkctl_command(), "emulator", "serve", "--port", "0", "--quota", "100"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--quota" in proc.stderr and "Traceback" not in proc.stderr
