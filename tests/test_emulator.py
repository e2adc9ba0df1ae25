"""The emulator: documented answers, and a state machine whose invariants hold at every instant."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request
from bulkctl.emulator.state import EmulatorState, InvalidState
from tests.conftest import T0, ManualClock, make_emulator

AUTH = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}
ALLOWED = {
    ("SUBMITTED", "RUNNING"),
    ("RUNNING", "PAUSED"),
    ("PAUSED", "RUNNING"),
    ("RUNNING", "CANCELLED"),
    ("PAUSED", "CANCELLED"),
    ("RUNNING", "COMPLETED"),
    ("RUNNING", "PARTIALLY_COMPLETED"),
    ("RUNNING", "FAILED"),
}
FINAL = {"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"}


def call(
    emulator: Emulator,
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    raw = b"" if body is None else json.dumps(body).encode()
    response = emulator.handle(
        Request(method, url, dict(AUTH if headers is None else headers), raw)
    )
    data = json.loads(response.body) if response.body else None
    return response.status, data, response.headers


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/multi/bulks?limit=0", "limit"),
        ("/multi/bulks?limit=101", "limit"),
        ("/multi/bulks?offset=-1", "offset"),
        ("/multi/bulks?offset=2147483648", "offset"),
        ("/multi/bulks?status=running", "status"),
        ("/multi/bulks/12a", "bulk_id"),
        ("/multi/backoffice/bulks/12a/operations", "bulk_id"),
        ("/multi/bulks/1/operations?status=PAUSED", "status"),
    ],
)
def test_invalid_parameters_get_the_documented_400(url: str, field: str) -> None:
    emulator, _ = make_emulator(bulks=5)
    status, body, headers = call(emulator, "GET", url)
    assert status == 400
    assert body["syntaxErrors"]["invalidFields"][0]["fieldName"] == field
    assert headers["request-ref"]
    assert emulator.violations  # a conforming client never sends these


def test_execute_without_its_body_is_400() -> None:
    emulator, _ = make_emulator(bulks=5)
    bulk_id = emulator.state.order[0]
    assert call(emulator, "POST", f"/multi/bulks/{bulk_id}/execute")[0] == 400
    assert call(emulator, "POST", f"/multi/bulks/{bulk_id}/execute", {"mode": "FAST"})[0] == 400


def test_unknown_ids_are_404_and_every_answer_has_a_request_ref() -> None:
    emulator, _ = make_emulator(bulks=5)
    for method, url in [
        ("GET", "/multi/bulks/999"),
        ("GET", "/multi/bulks/999/operations"),
        ("POST", "/multi/bulks/999/pause"),
        ("GET", "/nowhere"),
    ]:
        status, body, headers = call(emulator, method, url)
        assert status == 404 and body["code"] == "NOT_FOUND"
        assert headers["request-ref"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"api-key": DEMO_API_KEY},
        {"authorization": f"Bearer {DEMO_TOKEN}"},
        {"api-key": "wrong", "authorization": f"Bearer {DEMO_TOKEN}"},
    ],
)
def test_both_api_key_and_bearer_are_needed(headers: dict[str, str]) -> None:
    emulator, _ = make_emulator(bulks=5)
    status, _, response_headers = call(emulator, "GET", "/multi/bulks", headers=headers)
    assert status == 401 and response_headers["request-ref"]


def test_multi_tokens_expire_five_minutes_after_last_use() -> None:
    emulator, clock = make_emulator(bulks=5)
    _, body, _ = call(
        emulator,
        "POST",
        "/multi/login_with_password",
        {"email": "demo@bulkctl.example", "password": {"value": "Demo-Passw0rd!"}},
        headers={"api-key": DEMO_API_KEY},
    )
    auth = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {body['token']}"}
    clock.advance(299)
    assert call(emulator, "GET", "/multi/bulks", headers=auth)[0] == 200
    clock.advance(299)
    assert call(emulator, "GET", "/multi/bulks", headers=auth)[0] == 200  # use renews it
    clock.advance(301)
    assert call(emulator, "GET", "/multi/bulks", headers=auth)[0] == 401


def test_access_token_answers_the_documented_token_object() -> None:
    emulator, _ = make_emulator(bulks=5)
    status, body, _ = call(
        emulator,
        "POST",
        "/multi/backoffice/access_token",
        {"identity": {"type": "CORPORATE", "id": "1001"}},
        headers={"api-key": DEMO_API_KEY},
    )
    assert status == 200 and isinstance(body["token"]["token"], str)
    auth = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {body['token']['token']}"}
    assert call(emulator, "GET", "/multi/backoffice/bulks", headers=auth)[0] == 200
    assert call(emulator, "GET", "/multi/bulks", headers=auth)[0] == 401  # a Back Office token


def identity_headers(emulator: Emulator, kind: str, ident: str) -> dict[str, str] | int:
    """The headers of a token for one identity, or the status of the refusal."""
    status, body, _ = call(
        emulator,
        "POST",
        "/multi/backoffice/access_token",
        {"identity": {"type": kind, "id": ident}},
        headers={"api-key": DEMO_API_KEY},
    )
    if status != 200:
        return status
    return {"api-key": DEMO_API_KEY, "authorization": f"Bearer {body['token']['token']}"}


def test_each_identity_has_its_own_bulks_and_acts_on_them_alone() -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=30, now=clock()), clock=clock, identities=3)
    assert emulator.identities == (
        ("CORPORATE", "1001"),
        ("CONSUMER", "2001"),
        ("CORPORATE", "1002"),
    )
    assert identity_headers(emulator, "CONSUMER", "2002") == 409  # not served: 3 identities
    first = identity_headers(emulator, "CORPORATE", "1001")
    other = identity_headers(emulator, "CORPORATE", "1002")
    assert isinstance(first, dict) and isinstance(other, dict)
    url = "/multi/backoffice/bulks?limit=100"
    mine = [b["bulkId"] for b in call(emulator, "GET", url, headers=first)[1]["bulkProcesses"]]
    theirs = [b["bulkId"] for b in call(emulator, "GET", url, headers=other)[1]["bulkProcesses"]]
    assert mine == emulator.state.listing(None)  # corporate:1001 is the first: the demo's own
    assert theirs == emulator.identity_state(("CORPORATE", "1002")).listing(None) != mine
    assert len(theirs) == 30
    submitted = emulator.identity_state(("CORPORATE", "1002")).insert_submitted(clock(), 1)[0]
    body = {"mode": "ON_FAILURE_CONTINUE"}
    assert (
        call(emulator, "POST", f"/multi/backoffice/bulks/{submitted}/execute", body, first)[0]
        == 404
    )
    assert (
        call(emulator, "POST", f"/multi/backoffice/bulks/{submitted}/execute", body, other)[0]
        == 204
    )
    assert emulator.identity_state(("CORPORATE", "1002")).bulks[submitted].status == "RUNNING"


def test_seeded_data_covers_every_status_and_realistic_operations() -> None:
    state = EmulatorState(bulks=300, now=T0)
    statuses = Counter(b.status for b in state.bulks.values())
    assert set(statuses) == {
        "SUBMITTED",
        "RUNNING",
        "PARTIALLY_COMPLETED",
        "COMPLETED",
        "FAILED",
        "PAUSED",
        "CANCELLED",
    }
    operations = {b.operation for b in state.bulks.values()}
    assert {
        "/transfers",
        "/sends",
        "/outgoing_wire_transfers",
        "/users",
        "/managed_cards/{id}/block",
    } <= operations
    again = EmulatorState(bulks=300, now=T0)
    assert [b.to_api() for b in again.bulks.values()] == [b.to_api() for b in state.bulks.values()]


def check_invariants(emulator: Emulator, previous: dict[str, str]) -> None:
    state = emulator.state
    for bulk_id, bulk in state.bulks.items():
        api = bulk.to_api(details=True)
        counts = {c["status"]: c["count"] for c in api["operationStatusCounts"]}
        assert all(v >= 0 for v in counts.values())
        assert sum(counts.values()) == api["submittedItemsCount"], bulk_id
        status = api["status"]
        if status != previous.get(bulk_id, status):
            assert (previous[bulk_id], status) in ALLOWED, (bulk_id, previous[bulk_id], status)
        previous[bulk_id] = status
        if status == "SUBMITTED":
            assert "executionStart" not in api and counts["SUBMITTED"] == bulk.items
        else:
            assert "executionStart" in api and "mode" in api
        assert ("executionFinish" in api) == (status in FINAL)
        if "executionFinish" in api:
            assert api["executionFinish"] >= api["executionStart"]
        if status == "COMPLETED":
            assert counts["COMPLETED"] == bulk.items
        if status == "FAILED":
            assert counts["COMPLETED"] == 0
        if status == "PARTIALLY_COMPLETED":
            assert counts["FAILED"] > 0 and counts["COMPLETED"] > 0
        if status == "RUNNING":
            assert counts["RUNNING"] == 1
        if bulk.items <= 40:  # the operations list agrees with the counts
            _, page, _ = call(emulator, "GET", f"/multi/bulks/{bulk_id}/operations?limit=100")
            listed = Counter(op["status"] for op in page["operations"])
            assert {k: v for k, v in counts.items() if v} == dict(listed)
            assert [op["sequence"] for op in page["operations"]] == list(range(1, bulk.items + 1))


@pytest.mark.parametrize("seed", range(12))
def test_random_actions_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    state = EmulatorState(bulks=40, now=clock(), pace=5.0, seed=seed)
    emulator = Emulator(state, clock=clock)
    previous: dict[str, str] = {}
    check_invariants(emulator, previous)
    for _ in range(60):
        bulk_id = rng.choice(state.order)
        action = rng.choice(["execute", "pause", "resume", "cancel", "wait", "wait"])
        if action == "wait":
            clock.advance(rng.choice([0.1, 1, 5, 60, 600]))
            call(emulator, "GET", "/multi/bulks?limit=1")  # any request brings time up to date
        else:
            body = (
                {"mode": rng.choice(["ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"])}
                if action == "execute"
                else None
            )
            before = state.bulks[bulk_id].status
            status, answer, _ = call(emulator, "POST", f"/multi/bulks/{bulk_id}/{action}", body)
            assert status in (204, 409)
            if status == 409:
                assert answer == {"errorCode": "INVALID_STATE"}
            else:
                assert state.bulks[bulk_id].status != before or before == "RUNNING"
        check_invariants(emulator, previous)
    assert emulator.violations == []


def test_on_failure_stop_stops_at_the_first_failed_operation() -> None:
    clock = ManualClock()
    state = EmulatorState(bulks=0, now=clock(), pace=10.0)
    state.insert_submitted(clock(), 1)
    bulk = state.bulks[state.order[0]]
    bulk.items, bulk.forced_fails, bulk._fails = 20, (6,), [6]
    state.act(bulk.bulk_id, "execute", clock(), "ON_FAILURE_STOP")
    clock.advance(100)
    state.advance(clock())
    counts = bulk.operation_counts()
    assert bulk.status == "PARTIALLY_COMPLETED"
    assert (counts["COMPLETED"], counts["FAILED"], counts["CANCELLED"]) == (6, 1, 13)


def test_on_failure_continue_runs_everything() -> None:
    clock = ManualClock()
    state = EmulatorState(bulks=0, now=clock(), pace=10.0)
    state.insert_submitted(clock(), 1)
    bulk = state.bulks[state.order[0]]
    bulk.items, bulk.forced_fails, bulk._fails = 20, (6, 9), [6, 9]
    state.act(bulk.bulk_id, "execute", clock(), "ON_FAILURE_CONTINUE")
    clock.advance(100)
    state.advance(clock())
    assert bulk.status == "PARTIALLY_COMPLETED"
    assert bulk.operation_counts()["COMPLETED"] == 18


def test_illegal_transitions_raise() -> None:
    state = EmulatorState(bulks=50, now=T0)
    completed = state.listing("COMPLETED")[0]
    for action in ("execute", "pause", "resume", "cancel"):
        with pytest.raises(InvalidState):
            state.act(completed, action, T0, "ON_FAILURE_STOP")


def test_churn_inserts_at_the_top() -> None:
    emulator, _ = make_emulator(bulks=10)
    emulator.faults.churn = 3
    _, first, _ = call(emulator, "GET", "/multi/bulks?limit=100")
    assert first["count"] == 13
    _, second, _ = call(emulator, "GET", "/multi/bulks?limit=100")
    assert second["count"] == 16
    assert second["bulkProcesses"][3:6] == first["bulkProcesses"][0:3]
