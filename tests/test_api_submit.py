"""ApiClient.submit_bulk on a scripted transport: what goes on the wire, and what is retried."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from bulkctl.api import changes
from bulkctl.api.client import ApiClient, RetryPolicy
from bulkctl.api.kinds import KINDS
from bulkctl.errors import (
    BadRequest,
    MalformedResponse,
    NetworkError,
    OutcomeUnknown,
    ServerError,
    UsageError,
)
from tests.test_api_client import Script, answer

CREATED = {"bulkId": "1100000000000000301", "operationCount": 2, "path": "/bulks/transfers"}
TRANSFER = {
    "pathParams": {},
    "requestBody": {
        "profileId": "1",
        "source": {"type": "managed_accounts", "id": "2"},
        "destination": {"type": "managed_accounts", "id": "3"},
        "destinationAmount": {"currency": "EUR", "amount": 100},
    },
}


def client_for(script: Script) -> tuple[ApiClient, list[float]]:
    slept: list[float] = []
    policy = RetryPolicy(
        attempts=3, sleep=slept.append, monotonic=lambda: 0.0, rng=random.Random(1)
    )
    client = ApiClient(
        base_url="https://api.example.com/multi",
        api_key="key-123456789",
        token="tok-123456789",
        transport=httpx.MockTransport(script),
        retry=policy,
    )
    return client, slept


@pytest.mark.parametrize(
    ("kind", "method", "path", "item"),
    [
        ("transfers", "POST", "/multi/bulks/transfers", TRANSFER),
        (
            "card-blocks",
            "POST",
            "/multi/bulks/managed_cards/_id_/block",
            {"pathParams": {"_id_": "7"}},
        ),
        (
            "card-spend-rules",
            "PATCH",
            "/multi/bulks/managed_cards/_id_/spend_rules",
            {"pathParams": {"_id_": "7"}, "requestBody": {"allowAtm": False}},
        ),
        (
            "user-invites",
            "POST",
            "/multi/bulks/users/_user_id_/invite",
            {"pathParams": {"_user_id_": "8"}},
        ),
    ],
)
def test_a_chunk_is_sent_as_the_spec_describes(
    kind: str, method: str, path: str, item: dict[str, object]
) -> None:
    script = Script([answer(201, CREATED)])
    client, _ = client_for(script)
    result = changes.submit_bulk(client, KINDS[kind], [item, item], "bulkctl-abc")
    script.verify()
    (request,) = script.requests
    assert request.method == method
    assert request.url.path == path
    assert request.url.query == b""
    assert request.headers["idempotency-ref"] == "bulkctl-abc"
    assert request.headers["api-key"] == "key-123456789"
    assert request.headers["authorization"] == "Bearer tok-123456789"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == [item, item]
    assert (result.bulk_id, result.operation_count, result.path) == (
        "1100000000000000301",
        2,
        "/bulks/transfers",
    )


def test_card_removals_carry_no_ref_and_a_lost_answer_is_an_unknown_outcome() -> None:
    script = Script([httpx.ReadTimeout("slow")])
    client, slept = client_for(script)
    with pytest.raises(OutcomeUnknown) as caught:
        changes.submit_bulk(client, KINDS["card-removals"], [{"pathParams": {"_id_": "7"}}], None)
    script.verify()
    assert len(script.requests) == 1 and slept == []
    assert "idempotency-ref" not in script.requests[0].headers
    assert "bulkctl list --operation" in caught.value.lines()[-1]


def test_card_removals_are_not_repeated_after_a_5xx() -> None:
    script = Script([answer(503, {"message": "busy"})])
    client, _ = client_for(script)
    with pytest.raises(ServerError):
        changes.submit_bulk(client, KINDS["card-removals"], [{"pathParams": {"_id_": "7"}}], None)
    assert len(script.requests) == 1


def test_a_ref_is_refused_for_a_kind_that_documents_none() -> None:
    client, _ = client_for(Script([]))
    with pytest.raises(UsageError):
        changes.submit_bulk(
            client, KINDS["card-removals"], [{"pathParams": {"_id_": "7"}}], "bulkctl-x"
        )


@pytest.mark.parametrize(
    "first",
    [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), answer(503, {})],
    ids=["timeout", "dropped", "503"],
)
def test_a_submission_with_a_ref_is_repeated_with_the_same_ref_and_body(
    first: object,
) -> None:
    script = Script([first, answer(201, CREATED)])  # type: ignore[list-item]
    client, slept = client_for(script)
    result = changes.submit_bulk(client, KINDS["transfers"], [TRANSFER], "bulkctl-same")
    script.verify()
    assert result.bulk_id == CREATED["bulkId"]
    assert len(script.requests) == 2 and len(slept) == 1
    refs = {r.headers["idempotency-ref"] for r in script.requests}
    assert refs == {"bulkctl-same"}
    assert script.requests[0].content == script.requests[1].content


def test_a_submission_gives_up_after_the_attempts() -> None:
    script = Script([httpx.ReadTimeout("slow")] * 3)
    client, _ = client_for(script)
    with pytest.raises(NetworkError):
        changes.submit_bulk(client, KINDS["transfers"], [TRANSFER], "bulkctl-same")
    assert len(script.requests) == 3


def test_a_400_keeps_the_field_names_as_sent() -> None:
    invalid = {
        "syntaxErrors": {
            "invalidFields": [{"fieldName": "[0].requestBody.profileId", "error": "REGEX"}]
        }
    }
    client, _ = client_for(Script([answer(400, invalid)]))
    with pytest.raises(BadRequest) as caught:
        changes.submit_bulk(client, KINDS["transfers"], [TRANSFER], "bulkctl-r")
    assert caught.value.invalid_fields[0]["fieldName"] == "[0].requestBody.profileId"


@pytest.mark.parametrize("body", [{}, {"bulkId": None}, [], {"operationCount": 1}])
def test_an_answer_without_a_bulk_id_is_malformed(body: object) -> None:
    client, _ = client_for(Script([answer(201, body)]))
    with pytest.raises(MalformedResponse):
        changes.submit_bulk(client, KINDS["transfers"], [TRANSFER], "bulkctl-r")


@pytest.mark.parametrize("count", [0, 10_001])
def test_a_chunk_outside_1_to_10000_items_is_not_sent(count: int) -> None:
    script = Script([])
    client, _ = client_for(script)
    with pytest.raises(UsageError):
        changes.submit_bulk(
            client, KINDS["card-blocks"], [{"pathParams": {"_id_": "1"}}] * count, None
        )
    assert script.requests == []
