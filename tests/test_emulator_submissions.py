"""Submissions to the emulator: every endpoint with its method, bodies checked as the spec
describes them, idempotency-ref, and operations that fail on data the test chooses."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request
from bulkctl.emulator.server import running
from bulkctl.emulator.spec import SUBMISSION_KINDS, SUBMISSIONS_BY_NAME
from bulkctl.emulator.state import EmulatorState
from tests.conftest import ManualClock

AUTH = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}

TRANSFER = {
    "profileId": "110000000000000117",
    "source": {"type": "managed_accounts", "id": "1101"},
    "destination": {"type": "managed_cards", "id": "2202"},
    "destinationAmount": {"currency": "EUR", "amount": 1250},
    "description": "Invoice 42",
}
VALID: dict[str, dict[str, Any]] = {
    "users": {"requestBody": {"name": "Ada", "surname": "Lovelace", "email": "ada@example.com"}},
    "user-invites": {"pathParams": {"_user_id_": "4401"}},
    "card-blocks": {"pathParams": {"_id_": "5501"}},
    "card-unblocks": {"pathParams": {"_id_": "5502"}},
    "card-removals": {"pathParams": {"_id_": "5503"}},
    "card-spend-rules": {
        "pathParams": {"_id_": "5504"},
        "requestBody": {
            "allowAtm": False,
            "allowedMerchantCountries": ["MT", "DE"],
            "spendLimit": [{"value": {"currency": "EUR", "amount": 5000}, "interval": "DAILY"}],
            "updateSpendLimitMethod": "OVERWRITE",
        },
    },
    "transfers": {"pathParams": {}, "requestBody": TRANSFER},
    "sends": {"requestBody": {**TRANSFER, "destination": {"beneficiaryId": "7701"}}},
    "wire-transfers": {
        "requestBody": {
            "profileId": "110000000000000118",
            "sourceInstrument": {"type": "managed_accounts", "id": "1101"},
            "transferAmount": {"currency": "EUR", "amount": 99},
            "destinationBeneficiary": {
                "name": "Ada Lovelace",
                "iban": "MT84MALT011000012345MTLCAST001S",
            },
            "description": "Rent",
        }
    },
}
# (kind, how to break the second item, the fieldName the answer must name, its error)
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "users",
        {"requestBody": {"name": "Ada", "surname": "L"}},
        "[1].requestBody.email",
        "REQUIRED",
    ),
    ("user-invites", {"pathParams": {"_user_id_": "12a"}}, "[1].pathParams._user_id_", "REGEX"),
    ("card-blocks", {}, "[1].pathParams._id_", "REQUIRED"),
    ("card-unblocks", {"pathParams": {"_id_": 5502}}, "[1].pathParams._id_", "IN"),
    ("card-removals", {"pathParams": {"_id_": ""}}, "[1].pathParams._id_", "REGEX"),
    (
        "card-spend-rules",
        {"pathParams": {"_id_": "1"}, "requestBody": {"allowAtm": "no"}},
        "[1].requestBody.allowAtm",
        "IN",
    ),
    (
        "transfers",
        {"requestBody": {**TRANSFER, "destinationAmount": {"currency": "EUR", "amount": "12.50"}}},
        "[1].requestBody.destinationAmount.amount",
        "IN",
    ),
    ("sends", {"requestBody": {**TRANSFER, "tag": "a:b"}}, "[1].requestBody.tag", "REGEX"),
    (
        "wire-transfers",
        {
            "requestBody": {
                "profileId": "1",
                "sourceInstrument": {"type": "managed_accounts", "id": "1"},
            }
        },
        "[1].requestBody.transferAmount",
        "REQUIRED",
    ),
    ("transfers", {"pathParams": {}}, "[1].requestBody", "REQUIRED"),
    ("transfers", "not an object", "[1]", "IN"),
]


def make() -> tuple[Emulator, ManualClock]:
    clock = ManualClock()
    return Emulator(EmulatorState(bulks=5, now=clock()), clock=clock), clock


def submit(
    emulator: Emulator,
    kind: str,
    items: Any,
    ref: str | None = None,
    api: str = "/multi",
    method: str | None = None,
) -> tuple[int, Any]:
    endpoint = SUBMISSIONS_BY_NAME[kind]
    headers = dict(AUTH)
    if ref is not None:
        headers["idempotency-ref"] = ref
    answer = emulator.handle(
        Request(method or endpoint.method, api + endpoint.path, headers, json.dumps(items).encode())
    )
    return answer.status, json.loads(answer.body) if answer.body else None


def get(emulator: Emulator, url: str) -> Any:
    answer = emulator.handle(Request("GET", url, dict(AUTH)))
    assert answer.status == 200, answer.body
    return json.loads(answer.body or b"")


def test_the_nine_multi_kinds_and_their_methods_are_the_spec_s() -> None:
    assert {(k.name, k.method, k.path) for k in SUBMISSION_KINDS} == {
        ("users", "POST", "/bulks/users"),
        ("user-invites", "POST", "/bulks/users/_user_id_/invite"),
        ("card-blocks", "POST", "/bulks/managed_cards/_id_/block"),
        ("card-unblocks", "POST", "/bulks/managed_cards/_id_/unblock"),
        ("card-removals", "POST", "/bulks/managed_cards/_id_/remove"),
        ("card-spend-rules", "PATCH", "/bulks/managed_cards/_id_/spend_rules"),
        ("transfers", "POST", "/bulks/transfers"),
        ("sends", "POST", "/bulks/sends"),
        ("wire-transfers", "POST", "/bulks/outgoing_wire_transfers"),
    }


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_submission_makes_a_submitted_bulk_that_keeps_its_items(kind: str) -> None:
    emulator, _ = make()
    endpoint = SUBMISSIONS_BY_NAME[kind]
    items = [VALID[kind], copy.deepcopy(VALID[kind])]
    status, body = submit(emulator, kind, items)
    assert status == 201
    assert body["operationCount"] == 2 and body["path"] == endpoint.path
    bulk = get(emulator, f"/multi/bulks/{body['bulkId']}")
    assert bulk["status"] == "SUBMITTED"
    assert bulk["operation"] == endpoint.operation and bulk["submittedItemsCount"] == 2
    assert emulator.state.order[0] == body["bulkId"]  # newest first
    ops = get(emulator, f"/multi/bulks/{body['bulkId']}/operations")["operations"]
    assert [op["sequence"] for op in ops] == [1, 2]
    assert {op["method"] for op in ops} == {endpoint.method}
    assert {op["status"] for op in ops} == {"SUBMITTED"}
    params = VALID[kind].get("pathParams", {})
    expected_path = endpoint.operation
    if endpoint.path_param is not None:
        expected_path = expected_path.replace(
            expected_path[expected_path.index("{") : expected_path.index("}") + 1],
            params[endpoint.path_param],
        )
    assert ops[0]["path"] == expected_path
    if endpoint.has_body:
        assert json.loads(ops[0]["requestPayload"]) == VALID[kind]["requestBody"]
    else:
        assert ops[0]["requestPayload"] == ""
    assert emulator.violations == []


@pytest.mark.parametrize(("kind", "bad", "field", "error"), INVALID)
def test_an_invalid_item_is_a_400_naming_the_item_and_field(
    kind: str, bad: Any, field: str, error: str
) -> None:
    emulator, _ = make()
    before = len(emulator.state.order)
    status, body = submit(emulator, kind, [VALID[kind], bad, VALID[kind]])
    assert status == 400
    fields = body["syntaxErrors"]["invalidFields"]
    assert {"fieldName": field, "error": error} in [
        {"fieldName": f["fieldName"], "error": f["error"]} for f in fields
    ]
    assert all(f["fieldName"].startswith("[1]") for f in fields)
    assert len(emulator.state.order) == before  # nothing created
    assert emulator.violations  # a careful client never sends this


def test_every_problem_of_every_item_is_named() -> None:
    emulator, _ = make()
    bad = {"requestBody": {"name": "", "surname": "x" * 51, "email": "nope", "roles": ["BOSS"]}}
    status, body = submit(emulator, "users", [VALID["users"], bad, bad])
    assert status == 400
    names = [(f["fieldName"], f["error"]) for f in body["syntaxErrors"]["invalidFields"]]
    for i in (1, 2):
        assert (f"[{i}].requestBody.name", "SIZE") in names
        assert (f"[{i}].requestBody.surname", "SIZE") in names
        assert (f"[{i}].requestBody.email", "REGEX") in names
        assert (f"[{i}].requestBody.roles[0]", "IN") in names


@pytest.mark.parametrize(("count", "status"), [(0, 400), (1, 201), (10_000, 201), (10_001, 400)])
def test_a_submission_holds_1_to_10000_items(count: int, status: int) -> None:
    emulator, _ = make()
    answer, body = submit(
        emulator, "card-blocks", [{"pathParams": {"_id_": str(i + 1)}} for i in range(count)]
    )
    assert answer == status
    if status == 400:
        assert body["syntaxErrors"]["invalidFields"][0]["error"] == "SIZE"
        assert body["syntaxErrors"]["invalidFields"][0]["params"] == ["1", "10000"]
    else:
        assert body["operationCount"] == count


def test_a_body_that_is_not_an_array_is_refused() -> None:
    emulator, _ = make()
    assert submit(emulator, "transfers", VALID["transfers"])[0] == 400


def test_the_back_office_has_only_spend_rules_and_transfers() -> None:
    emulator, _ = make()
    for kind in ("card-spend-rules", "transfers"):
        assert submit(emulator, kind, [VALID[kind]], api="/multi/backoffice")[0] == 201
    assert emulator.violations == []
    for kind in (
        "users",
        "user-invites",
        "card-blocks",
        "card-unblocks",
        "card-removals",
        "sends",
        "wire-transfers",
    ):
        assert submit(emulator, kind, [VALID[kind]], api="/multi/backoffice")[0] == 404
    assert len(emulator.violations) == 7


def test_spend_rules_are_patched_not_posted() -> None:
    emulator, _ = make()
    assert (
        submit(emulator, "card-spend-rules", [VALID["card-spend-rules"]], method="POST")[0] == 405
    )
    assert submit(emulator, "transfers", [VALID["transfers"]], method="PUT")[0] == 405


def test_a_submission_needs_api_key_and_token() -> None:
    emulator, _ = make()
    answer = emulator.handle(
        Request(
            "POST",
            "/multi/bulks/transfers",
            {"api-key": DEMO_API_KEY},
            json.dumps([VALID["transfers"]]).encode(),
        )
    )
    assert answer.status == 401


@pytest.mark.parametrize(
    "path", ["/bulks/transfers", "/bulks/users", "/bulks/sends", "/bulks/outgoing_wire_transfers"]
)
def test_submission_paths_are_never_taken_for_a_bulk_id(path: str) -> None:
    emulator, _ = make()
    answer = emulator.handle(Request("GET", "/multi" + path, dict(AUTH)))
    assert answer.status == 405  # the submission endpoint, with the wrong method
    assert "bulk_id" not in (answer.body or b"").decode()
    bulk_id = emulator.state.order[0]
    assert get(emulator, f"/multi/bulks/{bulk_id}")["bulkId"] == bulk_id


def test_the_same_ref_and_payload_give_the_same_bulk() -> None:
    emulator, clock = make()
    first = submit(emulator, "transfers", [VALID["transfers"]], ref="payout-7")
    clock.advance(3600)
    again = submit(emulator, "transfers", [copy.deepcopy(VALID["transfers"])], ref="payout-7")
    assert first == again and first[0] == 201
    assert sum(1 for b in emulator.state.bulks.values() if b.stored is not None) == 1
    assert emulator.violations == []


def test_the_same_ref_with_another_payload_is_refused_422() -> None:
    emulator, _ = make()
    assert submit(emulator, "transfers", [VALID["transfers"]], ref="payout-8")[0] == 201
    other = [{"requestBody": {**TRANSFER, "destinationAmount": {"currency": "EUR", "amount": 1}}}]
    status, body = submit(emulator, "transfers", other, ref="payout-8")
    assert status == 422 and body["code"] == "IDEMPOTENCY_REF_REUSED"
    status, _ = submit(emulator, "sends", [VALID["sends"]], ref="payout-8")  # another endpoint
    assert status == 422
    assert submit(emulator, "transfers", other, ref="payout-9")[0] == 201
    assert sum(1 for b in emulator.state.bulks.values() if b.stored is not None) == 2


def test_a_ref_on_card_removals_is_not_documented_and_not_honoured() -> None:
    emulator, _ = make()
    first = submit(emulator, "card-removals", [VALID["card-removals"]], ref="r")
    second = submit(emulator, "card-removals", [VALID["card-removals"]], ref="r")
    assert first[1]["bulkId"] != second[1]["bulkId"]
    assert emulator.violations  # bulkctl should not send one there


def run_to_the_end(emulator: Emulator, clock: ManualClock, bulk_id: str) -> dict[str, Any]:
    answer = emulator.handle(
        Request(
            "POST",
            f"/multi/bulks/{bulk_id}/execute",
            dict(AUTH),
            b'{"mode": "ON_FAILURE_CONTINUE"}',
        )
    )
    assert answer.status == 204
    clock.advance(3600)
    return dict(get(emulator, f"/multi/bulks/{bulk_id}"))


def test_fail_code_in_a_description_fails_that_operation_with_that_code() -> None:
    emulator, clock = make()
    items = [
        {"requestBody": {**TRANSFER, "description": text}}
        for text in ("ok", "FAIL:FUNDS_INSUFFICIENT march", "ok", "x FAIL:DESTINATION_NOT_FOUND")
    ]
    _, created = submit(emulator, "transfers", items)
    bulk = run_to_the_end(emulator, clock, created["bulkId"])
    assert bulk["status"] == "PARTIALLY_COMPLETED"
    failed = get(emulator, f"/multi/bulks/{created['bulkId']}/operations?status=FAILED")[
        "operations"
    ]
    assert [op["sequence"] for op in failed] == [2, 4]
    payloads = [json.loads(op["responsePayload"]) for op in failed]
    assert [p["errorCode"] for p in payloads] == ["FUNDS_INSUFFICIENT", "DESTINATION_NOT_FOUND"]
    assert all(p["message"] for p in payloads)
    assert json.loads(failed[0]["requestPayload"])["description"] == "FAIL:FUNDS_INSUFFICIENT march"
    assert emulator.violations == []


@pytest.mark.parametrize(
    ("kind", "ident", "code"),
    [
        ("card-blocks", "123991", "INSTRUMENT_ALREADY_BLOCKED"),
        ("card-blocks", "123992", "INSTRUMENT_DESTROYED"),
        ("card-unblocks", "991", "INSTRUMENT_NOT_BLOCKED"),
        ("card-removals", "5993", "INSTRUMENT_ALREADY_DESTROYED"),  # wraps round two codes
        ("user-invites", "77992", "USER_ALREADY_ACTIVE"),
    ],
)
def test_a_path_id_ending_in_99n_fails_with_the_kind_s_nth_code(
    kind: str, ident: str, code: str
) -> None:
    emulator, clock = make()
    param = SUBMISSIONS_BY_NAME[kind].path_param
    items = [{"pathParams": {param: "1000"}}, {"pathParams": {param: ident}}]
    _, created = submit(emulator, kind, items)
    bulk = run_to_the_end(emulator, clock, created["bulkId"])
    assert bulk["status"] == "PARTIALLY_COMPLETED"
    failed = get(emulator, f"/multi/bulks/{created['bulkId']}/operations?status=FAILED")[
        "operations"
    ]
    assert len(failed) == 1 and ident in failed[0]["path"]
    assert json.loads(failed[0]["responsePayload"])["errorCode"] == code


def test_on_failure_stop_stops_at_the_chosen_failure() -> None:
    emulator, clock = make()
    items = [{"pathParams": {"_id_": i}} for i in ("1", "2", "3991", "4", "5")]
    _, created = submit(emulator, "card-blocks", items)
    bulk_id = created["bulkId"]
    emulator.handle(
        Request(
            "POST", f"/multi/bulks/{bulk_id}/execute", dict(AUTH), b'{"mode": "ON_FAILURE_STOP"}'
        )
    )
    clock.advance(3600)
    counts = {
        c["status"]: c["count"]
        for c in get(emulator, f"/multi/bulks/{bulk_id}")["operationStatusCounts"]
    }
    assert counts["COMPLETED"] == 2 and counts["FAILED"] == 1 and counts["CANCELLED"] == 2


def test_a_submission_over_http_then_its_operations() -> None:
    emulator, _ = make()
    with running(emulator) as root, httpx.Client(base_url=root + "/multi", headers=AUTH) as client:
        answer = client.patch(
            "/bulks/managed_cards/_id_/spend_rules",
            json=[VALID["card-spend-rules"]],
            headers={"idempotency-ref": "rules-1"},
        )
        assert answer.status_code == 201
        bulk_id = answer.json()["bulkId"]
        again = client.patch(
            "/bulks/managed_cards/_id_/spend_rules",
            json=[VALID["card-spend-rules"]],
            headers={"idempotency-ref": "rules-1"},
        )
        assert again.json()["bulkId"] == bulk_id
        ops = client.get(f"/bulks/{bulk_id}/operations").json()["operations"]
    assert ops[0]["path"] == "/managed_cards/5504/spend_rules" and ops[0]["method"] == "PATCH"
    assert emulator.route_counts["PATCH /multi/bulks/managed_cards/_id_/spend_rules"] == 2
    assert emulator.violations == []
