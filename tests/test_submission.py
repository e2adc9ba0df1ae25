"""The submission core: reading, validation, chunks, refs, the journal and rerun plans."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkctl.actions import submitter as gate_submitter
from bulkctl.actions.gate import Submit
from bulkctl.api.client import ApiClient, RetryPolicy
from bulkctl.api.kinds import KIND_NAMES, KINDS, MAX_ITEMS, kind_of_operation, path_params_of
from bulkctl.api.records import parse_bulk, parse_operation
from bulkctl.errors import ExitCode, NetworkError, OutcomeUnknown, UsageError
from bulkctl.files.submission import (
    InvalidInput,
    Journal,
    RerunRefused,
    RerunSelection,
    derive_ref,
    describe_plan,
    items_to_jsonl,
    kind_named,
    load_items,
    parse_sequences,
    plan_chunks,
    plan_rerun,
    require_offered,
    submit_chunks,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TRANSFERS = KINDS["transfers"]
BLOCKS = KINDS["card-blocks"]


def transfer(amount: Any = 100, currency: Any = "EUR", **extra: Any) -> dict[str, Any]:
    return {
        "profileId": "1",
        "source": {"type": "managed_accounts", "id": "2"},
        "destination": {"type": "managed_accounts", "id": "3"},
        "destinationAmount": {"currency": currency, "amount": amount},
        **extra,
    }


def load_text(kind: str, text: str, name: str = "-") -> list[dict[str, Any]]:
    return load_items(KINDS[kind], name, io.StringIO(text))


def problems_of(kind: str, text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load_text(kind, text)
    assert caught.value.exit_code == ExitCode.USAGE
    return [str(p) for p in caught.value.problems]


# -- examples ---------------------------------------------------------------------------------


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".jsonl", ".json", ".csv"))


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_every_example_file_is_valid_for_its_kind(path: Path) -> None:
    kind = KINDS[path.name.split(".")[0]]
    items = load_items(kind, str(path), io.StringIO())
    assert len(items) >= 2
    for item in items:
        assert set(item) == ({"pathParams", "requestBody"} if kind.has_body else {"pathParams"})


def test_every_kind_has_a_jsonl_example_and_there_is_a_csv_and_a_json_array() -> None:
    names = {p.name for p in example_files()}
    assert {f"{k}.jsonl" for k in KIND_NAMES} <= names
    assert "transfers.csv" in names
    assert any(n.endswith(".json") for n in names)


# -- kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("/transfers", "transfers"),
        ("/multi/transfers", "transfers"),
        ("https://sandbox.weavr.io/multi/backoffice/transfers", "transfers"),
        ("/managed_cards/{id}/block", "card-blocks"),
        ("/multi/managed_cards/{card_id}/unblock", "card-unblocks"),
        ("/managed_cards/{id}/remove", "card-removals"),
        ("/managed_cards/{id}/spend_rules", "card-spend-rules"),
        ("/users", "users"),
        ("/users/{user_id}/invite", "user-invites"),
        ("/sends", "sends"),
        ("/outgoing_wire_transfers", "wire-transfers"),
        ("/managed_cards/123/block", None),
        ("/managed_accounts/{id}/block", None),
        ("", None),
        (None, None),
    ],
)
def test_a_bulks_operation_names_its_kind_whatever_the_prefix(
    operation: str | None, kind: str | None
) -> None:
    found = kind_of_operation(operation)
    assert (found.name if found else None) == kind


def test_the_kinds_hold_the_specs_facts() -> None:
    assert KINDS["card-spend-rules"].method == "PATCH"
    assert [k for k in KIND_NAMES if KINDS[k].method != "POST"] == ["card-spend-rules"]
    assert [k for k in KIND_NAMES if not KINDS[k].idempotent] == ["card-removals"]
    assert sorted(k for k in KIND_NAMES if KINDS[k].offered_by("backoffice")) == [
        "card-spend-rules",
        "transfers",
    ]
    assert KINDS["wire-transfers"].required_fields == (
        "destinationBeneficiary",
        "profileId",
        "sourceInstrument",
        "transferAmount",
    )
    assert KINDS["user-invites"].path_param == "_user_id_"
    assert KINDS["users"].path_param is None


def test_kind_named_accepts_any_case_and_refuses_the_unknown() -> None:
    assert kind_named("Card-Blocks") is BLOCKS
    with pytest.raises(UsageError):
        kind_named("card-block")


# -- reading ----------------------------------------------------------------------------------


def test_jsonl_takes_wrapped_and_bare_items_and_skips_blank_lines() -> None:
    text = '{"id": "5"}\n\n{"pathParams": {"_id_": "6"}}\n'
    assert load_text("card-blocks", text) == [
        {"pathParams": {"_id_": "5"}},
        {"pathParams": {"_id_": "6"}},
    ]


def test_a_bare_body_with_an_id_fills_the_path_parameter() -> None:
    line = json.dumps({"id": "9", "allowAtm": False})
    assert load_text("card-spend-rules", line) == [
        {"pathParams": {"_id_": "9"}, "requestBody": {"allowAtm": False}}
    ]


def test_a_json_array_is_read_item_by_item() -> None:
    text = json.dumps([transfer(), {"pathParams": {}, "requestBody": transfer(7)}], indent=2)
    items = load_text("transfers", text)
    assert [i["requestBody"]["destinationAmount"]["amount"] for i in items] == [100, 7]
    assert all(i["pathParams"] == {} for i in items)


def test_csv_dotted_headers_build_nested_objects_typed_by_the_spec() -> None:
    text = (
        "id,allowAtm,spendLimit.0.value.currency,spendLimit.0.value.amount,spendLimit.0.interval,"
        "maxTransactionAmount,blockedMerchantCountries.0,blockedMerchantCountries.1\n"
        "77,false,EUR,5000,DAILY,,KP,IR\n"
    )
    assert load_text("card-spend-rules", text) == [
        {
            "pathParams": {"_id_": "77"},
            "requestBody": {
                "allowAtm": False,
                "spendLimit": [{"value": {"currency": "EUR", "amount": 5000}, "interval": "DAILY"}],
                "blockedMerchantCountries": ["KP", "IR"],
            },
        }
    ]


def test_csv_keeps_ids_as_text_and_reads_stdin() -> None:
    items = load_text("card-blocks", "id\n000123\n")
    assert items == [{"pathParams": {"_id_": "000123"}}]


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "blocks.csv"
    path.write_bytes(b"\xef\xbb\xbfid\n1\n")
    assert load_items(BLOCKS, str(path), io.StringIO()) == [{"pathParams": {"_id_": "1"}}]


def test_a_missing_file_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot read"):
        load_items(BLOCKS, "/nonexistent/dir/blocks.jsonl", io.StringIO())


def test_an_empty_file_has_no_items_to_submit() -> None:
    with pytest.raises(UsageError, match="no items"):
        load_text("card-blocks", "\n\n")


# -- validation -------------------------------------------------------------------------------


def test_every_problem_is_named_with_its_line() -> None:
    lines = [
        json.dumps(transfer()),  # 1: fine
        json.dumps(transfer(amount="100")),  # 2
        "{not json",  # 3
        json.dumps(transfer(amount=10.5, currency="eur")),  # 4: two problems
        json.dumps({"profileId": "x"}),  # 5: pattern and three required
        "[1, 2]",  # 6
        json.dumps(transfer(id="4")),  # 7
        json.dumps({"pathParams": {"_id_": "1"}, "requestBody": transfer(), "extra": 1}),  # 8
    ]
    problems = problems_of("transfers", "\n".join(lines))
    assert problems == [
        'line 2: destinationAmount.amount: must be a whole number (in the smallest unit, e.g. cents), got "100"',
        "line 3: not JSON (Expecting property name enclosed in double quotes)",
        'line 4: destinationAmount.currency: must be 3 capital letters (ISO-4217, e.g. EUR), got "eur"',
        "line 4: destinationAmount.amount: must be a whole number (in the smallest unit, e.g. cents), got 10.5",
        "line 5: source: required",
        "line 5: destination: required",
        "line 5: destinationAmount: required",
        'line 5: profileId: must be digits only (0-9), got "x"',
        "line 6: must be a JSON object, got [1, 2]",
        "line 7: id: unexpected (transfers take no path id)",
        "line 8: extra: unexpected beside pathParams and requestBody",
        "line 8: pathParams._id_: unexpected (transfers take none)",
    ]


def test_path_ids_must_be_digit_strings() -> None:
    text = '{"id": "12a"}\n{"id": 12}\n{}\n{"pathParams": {}}\n{"id": "1", "note": "x"}\n'
    text += '{"id": "12\\n"}\n'
    assert problems_of("card-blocks", text) == [
        'line 1: id: must be digits only (0-9), got "12a"',
        "line 2: id: must be a string of digits (in quotes), got 12",
        "line 3: id: required (it fills _id_)",
        "line 4: pathParams._id_: required",
        "line 5: note: unexpected (card-blocks take only an id)",
        'line 6: id: must be digits only (0-9), got "12\\n"',
    ]


def test_csv_problems_are_named_by_row() -> None:
    text = (
        "profileId,source.type,source.id,destination.type,destination.id,"
        "destinationAmount.currency,destinationAmount.amount\n"
        "1,managed_accounts,2,managed_accounts,3,EUR,100\n"
        "1,managed_accounts,2,bank,3,EUR,12.50\n"
        "1,managed_accounts,2,managed_accounts,3,EUR,100,surplus\n"
        "1,managed_accounts,2,managed_accounts,3,,100\n"
    )
    assert problems_of("transfers", text) == [
        'row 3: destination.type: must be one of managed_cards, managed_accounts, got "bank"',
        'row 3: destinationAmount.amount: must be a whole number (in the smallest unit, e.g. cents), got "12.50"',
        "row 4: 8 cells, but the header names 7",
        "row 5: destinationAmount.currency: required",
    ]


def test_a_csv_header_that_cannot_build_objects_is_refused() -> None:
    assert problems_of("transfers", "a,a.b,c,c\n1,2,3,4\n") == [
        "row 1: column 'c' appears twice",
        "row 1: column 'a' is both a value and the object of 'a.b'",
    ]


def test_a_json_array_names_the_line_each_bad_item_starts_on() -> None:
    text = '[\n  {"id": "1"},\n  {"id": "x"},\n  {"id": "2"}\n]\n'
    assert problems_of("card-unblocks", text) == ['line 3: id: must be digits only (0-9), got "x"']


def test_a_broken_json_array_names_the_line() -> None:
    problems = problems_of("card-unblocks", '[\n {"id": "1"}\n {"id": "2"}\n]')
    assert problems == ["line 3: expected ',' or the closing ']' of the array"]


def test_bodyless_kinds_refuse_a_request_body() -> None:
    text = json.dumps({"pathParams": {"_user_id_": "1"}, "requestBody": {}})
    assert problems_of("user-invites", text) == [
        "line 1: requestBody: unexpected (user-invites take no request body)"
    ]


def test_sends_accept_an_instrument_or_a_beneficiary_as_destination() -> None:
    good = transfer(destination={"beneficiaryId": "44"})
    assert load_text("sends", json.dumps(good))[0]["requestBody"] == good
    bad = transfer(destination={"beneficiary": "44"})
    assert problems_of("sends", json.dumps(bad)) == [
        'line 1: destination: must be an instrument {type, id} or a beneficiary {beneficiaryId}, got {"beneficiary": "44"}'
    ]


def test_users_need_name_surname_and_email() -> None:
    assert problems_of("users", json.dumps({"name": "", "email": "a@b.c"})) == [
        "line 1: surname: required",
        "line 1: name: must not be empty",
    ]


def test_a_hostile_value_is_shown_escaped() -> None:
    (problem,) = problems_of("card-blocks", json.dumps({"id": "\x1b[31mred"}))
    assert "\x1b" not in problem and "\\u001b" in problem


def test_the_error_lists_every_problem_under_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_text("card-blocks", '{"id": "a"}\n{"id": "b"}\n')
    lines = caught.value.lines()
    assert lines[0] == "stdin: 2 problems, nothing was sent"
    assert len(lines) == 3


# -- chunks and refs --------------------------------------------------------------------------


def blocks(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"pathParams": {"_id_": str(n)}} for n in range(start, start + count)]


def test_10001_items_become_two_chunks_in_order() -> None:
    items = blocks(10_001)
    chunks = plan_chunks(BLOCKS, items)
    assert [len(c.items) for c in chunks] == [MAX_ITEMS, 1]
    assert [c.index for c in chunks] == [0, 1]
    assert chunks[0].items[0] == items[0] and chunks[1].items == [items[-1]]
    assert chunks[0].idempotency_ref != chunks[1].idempotency_ref


def test_a_lower_chunk_size_is_honoured_and_a_bad_one_refused() -> None:
    assert [len(c.items) for c in plan_chunks(BLOCKS, blocks(5), chunk_size=2)] == [2, 2, 1]
    for size in (0, MAX_ITEMS + 1):
        with pytest.raises(UsageError):
            plan_chunks(BLOCKS, blocks(5), chunk_size=size)


def test_refs_are_stable_and_change_with_content_index_kind_and_source() -> None:
    items = blocks(3)
    ref = derive_ref(BLOCKS, items, 0)
    assert ref == derive_ref(BLOCKS, blocks(3), 0)
    assert ref.startswith("bulkctl-") and len(ref) <= 50
    others = {
        derive_ref(BLOCKS, blocks(3, start=2), 0),
        derive_ref(BLOCKS, items[:2], 0),
        derive_ref(BLOCKS, items, 1),
        derive_ref(KINDS["card-unblocks"], items, 0),
        derive_ref(BLOCKS, items, 0, source_bulk="77"),
        derive_ref(BLOCKS, items, 0, source_bulk="78"),
        derive_ref(BLOCKS, items, 0, nonce="n"),
    }
    assert ref not in others and len(others) == 7


def test_two_identical_chunks_get_two_refs() -> None:
    (item,) = blocks(1)
    refs = [c.idempotency_ref for c in plan_chunks(BLOCKS, [item] * 4, chunk_size=2)]
    assert len(refs) == 2 and refs[0] != refs[1]


def test_a_ref_ignores_key_order_in_the_items() -> None:
    one = [{"pathParams": {}, "requestBody": {"a": 1, "b": 2}}]
    two = [{"requestBody": {"b": 2, "a": 1}, "pathParams": {}}]
    assert derive_ref(TRANSFERS, one, 0) == derive_ref(TRANSFERS, two, 0)


def test_new_forces_fresh_refs() -> None:
    items = blocks(3)
    same = plan_chunks(BLOCKS, items)[0].idempotency_ref
    assert plan_chunks(BLOCKS, items)[0].idempotency_ref == same
    nonces = iter(["a", "b"])
    first = plan_chunks(BLOCKS, items, new=True, nonce=lambda: next(nonces))
    second = plan_chunks(BLOCKS, items, new=True, nonce=lambda: next(nonces))
    assert len({same, first[0].idempotency_ref, second[0].idempotency_ref}) == 3


def test_card_removals_get_a_journal_key_but_no_ref() -> None:
    (chunk,) = plan_chunks(KINDS["card-removals"], blocks(2))
    assert chunk.idempotency_ref is None and chunk.key.startswith("bulkctl-")


# -- journal ----------------------------------------------------------------------------------


def test_the_journal_names_the_bulk_a_ref_became(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state", now=lambda: 1000.0)
    assert journal.find("bulkctl-1") is None
    journal.record("bulkctl-1", bulk_id="42", kind=BLOCKS, chunk=0, operation_count=3)
    journal.record(
        "bulkctl-2", bulk_id="43", kind=BLOCKS, chunk=1, operation_count=1, source_bulk="7"
    )
    again = Journal(tmp_path / "state")
    entry = again.find("bulkctl-1")
    assert entry is not None and (entry.bulk_id, entry.kind, entry.chunk) == (
        "42",
        "card-blocks",
        0,
    )
    second = again.find("bulkctl-2")
    assert second is not None and second.source_bulk == "7"
    path = tmp_path / "state" / "submissions.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_journal_forgets_old_entries_and_survives_a_garbled_file(tmp_path: Path) -> None:
    clock = [0.0]
    journal = Journal(tmp_path, now=lambda: clock[0])
    journal.record("old", bulk_id="1", kind=BLOCKS, chunk=0, operation_count=1)
    clock[0] = 31 * 24 * 3600.0
    journal.record("new", bulk_id="2", kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.find("old") is None and journal.find("new") is not None
    (tmp_path / "submissions.json").write_text("{garbled")
    assert journal.find("new") is None
    journal.record("again", bulk_id="3", kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.find("again") is not None


# -- rerun ------------------------------------------------------------------------------------


def bulk(status: str = "PARTIALLY_COMPLETED", operation: str = "/transfers") -> Any:
    return parse_bulk({"bulkId": "900", "status": status, "operation": operation})


def op(
    sequence: int,
    status: str,
    *,
    code: str | None = None,
    path: str = "/transfers",
    payload: str | None = None,
) -> Any:
    raw: dict[str, Any] = {
        "operationId": str(sequence),
        "sequence": sequence,
        "method": "POST",
        "path": path,
        "status": status,
        "requestPayload": payload if payload is not None else json.dumps(transfer(sequence)),
    }
    if code:
        raw["responsePayload"] = json.dumps({"errorCode": code, "message": code.lower()})
    return parse_operation(raw)


OPERATIONS = [
    op(1, "COMPLETED"),
    op(2, "FAILED", code="FUNDS_INSUFFICIENT"),
    op(3, "FAILED", code="DESTINATION_NOT_FOUND"),
    op(4, "COMPLETED"),
    op(5, "FAILED", code="FUNDS_INSUFFICIENT"),
    op(6, "CANCELLED"),
    op(7, "SUBMITTED"),
]


def test_rerun_failed_takes_exactly_the_failed_operations_with_their_payloads() -> None:
    plan = plan_rerun(bulk(), OPERATIONS, RerunSelection())
    assert plan.kind is TRANSFERS and plan.source_bulk == "900"
    assert plan.sequences == [2, 3, 5]
    assert plan.items == [{"pathParams": {}, "requestBody": transfer(n)} for n in (2, 3, 5)]
    assert dict(plan.left_out) == {
        "COMPLETED": 2,
        "not run (CANCELLED or SUBMITTED; add --not-run)": 2,
    }


def test_rerun_chooses_by_error_code() -> None:
    selection = RerunSelection(error_codes=frozenset({"FUNDS_INSUFFICIENT"}))
    plan = plan_rerun(bulk(), OPERATIONS, selection)
    assert plan.sequences == [2, 5]
    assert plan.left_out["FAILED with another error code"] == 1


def test_rerun_not_run_adds_cancelled_and_submitted() -> None:
    plan = plan_rerun(bulk(), OPERATIONS, RerunSelection(not_run=True))
    assert plan.sequences == [2, 3, 5, 6, 7]
    only_not_run = plan_rerun(bulk(), OPERATIONS, RerunSelection(failed=False, not_run=True))
    assert only_not_run.sequences == [6, 7]
    assert only_not_run.left_out["FAILED (not chosen)"] == 3


def test_rerun_takes_sequence_ranges() -> None:
    ranges = tuple(parse_sequences(["1-3", "5,7"]))
    plan = plan_rerun(bulk(), OPERATIONS, RerunSelection(not_run=True, sequences=ranges))
    assert plan.sequences == [2, 3, 5, 7]
    assert plan.left_out["outside --sequence"] == 1


@pytest.mark.parametrize("text", ["", "a", "3-1", "0", "1-", "-2", "1;2"])
def test_bad_sequence_ranges_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_sequences([text])


def test_sequence_ranges_parse() -> None:
    assert parse_sequences(["1-5,9", " 12 - 14 "]) == [(1, 5), (9, 9), (12, 14)]


def test_rerun_reads_path_params_segment_by_segment_ignoring_a_prefix() -> None:
    ops = [
        op(1, "FAILED", path="/multi/managed_cards/111/block", payload=""),
        op(2, "FAILED", path="/managed_cards/222/block", payload="{}"),
    ]
    plan = plan_rerun(bulk(operation="/multi/managed_cards/{id}/block"), ops, RerunSelection())
    assert plan.kind is BLOCKS
    assert plan.items == [{"pathParams": {"_id_": "111"}}, {"pathParams": {"_id_": "222"}}]


def test_path_params_of_matches_segment_by_segment() -> None:
    invites = KINDS["user-invites"]
    assert path_params_of(invites, "/users/5/invite") == {"_user_id_": "5"}
    assert path_params_of(invites, "/users/5/invites") is None
    assert path_params_of(invites, "/users/invite") is None
    assert path_params_of(TRANSFERS, "/multi/transfers?x=1") == {}
    assert path_params_of(TRANSFERS, "/transfers/9") is None


def test_rerun_refuses_unreadable_operations_naming_each_sequence() -> None:
    ops = [
        op(1, "FAILED"),
        op(2, "FAILED", path="/sends"),
        op(3, "FAILED", payload="not json"),
        op(4, "FAILED", payload="[1]"),
        op(5, "COMPLETED", payload="ignored: not chosen"),
    ]
    with pytest.raises(InvalidInput) as caught:
        plan_rerun(bulk(), ops, RerunSelection())
    assert [p.where for p in caught.value.problems] == ["sequence 2", "sequence 3", "sequence 4"]
    assert "does not match /transfers" in caught.value.problems[0].message
    assert "--sequence" in (caught.value.hint or "")


def test_rerun_refuses_a_bulk_that_is_not_final_or_has_nothing_to_rerun() -> None:
    with pytest.raises(RerunRefused, match="RUNNING"):
        plan_rerun(bulk(status="RUNNING"), OPERATIONS, RerunSelection())
    with pytest.raises(RerunRefused, match=r"nothing to rerun \(2 COMPLETED\)"):
        plan_rerun(bulk(status="COMPLETED"), OPERATIONS[:1] + OPERATIONS[3:4], RerunSelection())
    with pytest.raises(RerunRefused, match="no known kind"):
        plan_rerun(bulk(operation="/cards/{id}/paint"), OPERATIONS, RerunSelection())


def test_rerun_counts_operations_listed_twice_once() -> None:
    plan = plan_rerun(bulk(), [*OPERATIONS, op(2, "FAILED", code="X")], RerunSelection())
    assert plan.sequences == [2, 3, 5] and plan.left_out["listed twice by the API"] == 1


def test_rerun_items_written_as_jsonl_are_valid_submit_input() -> None:
    plan = plan_rerun(bulk(), OPERATIONS, RerunSelection())
    text = items_to_jsonl(plan.items)
    assert len(text.splitlines()) == 3
    assert load_text("transfers", text) == plan.items


def test_rerun_refs_differ_from_the_original_submission() -> None:
    plan = plan_rerun(bulk(), OPERATIONS, RerunSelection())
    fresh = plan_chunks(plan.kind, plan.items)[0].idempotency_ref
    rerun = plan_chunks(plan.kind, plan.items, source_bulk=plan.source_bulk)[0].idempotency_ref
    assert fresh != rerun


def wire(beneficiary: Any) -> dict[str, Any]:
    return {
        "profileId": "1",
        "sourceInstrument": {"type": "managed_accounts", "id": "2"},
        "transferAmount": {"currency": "EUR", "amount": 100},
        "destinationBeneficiary": beneficiary,
    }


@pytest.mark.parametrize(
    ("beneficiary", "valid"),
    [
        ({"name": "A", "iban": "MT84MALT011000012345MTLCAST001S"}, True),
        (
            {"name": "A", "type": "BUSINESS", "accountNumber": "12345678", "sortCode": "123456"},
            True,
        ),
        ({"name": "A", "account": "X1", "address": "Street 1", "bankCountry": "GB"}, True),
        (
            {
                "name": "A",
                "bankAccountDetails": {"accountNumber": "12345678", "sortCode": "123456"},
            },
            True,
        ),
        ({"beneficiaryId": "5"}, True),
        ({"type": "linked_accounts", "id": "5"}, True),
        ({"name": "A", "iban": "not an iban"}, False),
        ({"name": "A", "type": "PERSONAL", "accountNumber": "1234", "sortCode": "123456"}, False),
        ({"name": "A"}, False),
        ("5", False),
    ],
)
def test_wire_transfers_need_one_of_the_specs_beneficiaries(beneficiary: Any, valid: bool) -> None:
    text = json.dumps(wire(beneficiary))
    if valid:
        assert load_text("wire-transfers", text)[0]["requestBody"] == wire(beneficiary)
    else:
        (problem,) = problems_of("wire-transfers", text)
        assert problem.startswith("line 1: destinationBeneficiary: must be a beneficiary")


def test_a_users_email_must_look_like_one() -> None:
    user = {"name": "A", "surname": "B", "email": "not-an-email"}
    assert problems_of("users", json.dumps(user)) == [
        'line 1: email: must be an email address, got "not-an-email"'
    ]


# -- submitting -------------------------------------------------------------------------------


class Server:
    """Answers submissions like the API: one bulk per idempotency-ref; loses chosen answers."""

    def __init__(self, lose: frozenset[int] = frozenset()) -> None:
        self.lose = lose  # 1-based numbers of the requests whose answer is lost
        self.bulks: dict[str, str] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        ref = request.headers.get("idempotency-ref") or f"none-{len(self.requests)}"
        bulk_id = self.bulks.setdefault(ref, str(1000 + len(self.bulks)))
        if len(self.requests) in self.lose:
            raise httpx.RemoteProtocolError("connection closed")
        count = len(json.loads(request.content))
        return httpx.Response(201, json={"bulkId": bulk_id, "operationCount": count, "path": "x"})


def submitter(server: Server, attempts: int = 2) -> Submit:
    """The gate's sender of one chunk, on a client answered by ``server``."""
    return gate_submitter(client_of(server, attempts))


def client_of(server: Server, attempts: int = 2) -> ApiClient:
    return ApiClient(
        base_url="https://api.example.com/multi",
        api_key="k",
        token="t",
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(attempts=attempts, sleep=lambda _: None, monotonic=lambda: 0.0),
    )


def test_chunks_are_submitted_in_order_and_journalled(tmp_path: Path) -> None:
    server = Server()
    journal = Journal(tmp_path)
    seen: list[int] = []
    chunks = plan_chunks(BLOCKS, blocks(5), chunk_size=2)
    outcomes = submit_chunks(
        submitter(server), BLOCKS, chunks, journal, on_outcome=lambda o: seen.append(o.chunk.index)
    )
    assert seen == [0, 1, 2] and len(server.requests) == 3
    assert [o.record()["items"] for o in outcomes] == [2, 2, 1]
    assert [o.record()["chunk"] for o in outcomes] == [1, 2, 3]
    assert all(journal.find(c.key) for c in chunks)
    again = submit_chunks(submitter(server), BLOCKS, chunks, journal)
    assert len(server.requests) == 3, "the journal named every bulk: nothing sent again"
    assert [o.bulk_id for o in again] == [o.bulk_id for o in outcomes]
    assert all(o.already for o in again)


def test_a_lost_answer_then_a_repeat_gives_one_bulk_per_chunk(tmp_path: Path) -> None:
    server = Server(lose=frozenset({2}))
    journal = Journal(tmp_path)
    items = [{"pathParams": {}, "requestBody": transfer(n)} for n in range(3)]
    chunks = plan_chunks(TRANSFERS, items, chunk_size=2)
    with pytest.raises(NetworkError) as caught:
        submit_chunks(submitter(server, attempts=1), TRANSFERS, chunks, journal)
    assert "chunk 2 of 2; the chunks before it are bulks 1000" in caught.value.message
    assert len(server.bulks) == 2  # the second bulk was made; only its answer was lost
    repeat = submit_chunks(submitter(server), TRANSFERS, chunks, journal)
    assert len(server.bulks) == 2, "one bulk per chunk"
    assert [(o.bulk_id, o.already) for o in repeat] == [("1000", True), ("1001", False)]
    assert len(server.requests) == 3


def test_a_lost_answer_is_retried_with_the_same_ref_within_one_run(tmp_path: Path) -> None:
    server = Server(lose=frozenset({1}))
    outcomes = submit_chunks(
        submitter(server),
        TRANSFERS,
        plan_chunks(TRANSFERS, [{"pathParams": {}, "requestBody": transfer()}]),
        Journal(tmp_path),
    )
    assert len(server.requests) == 2 and len(server.bulks) == 1
    assert outcomes[0].bulk_id == "1000"


def test_a_failed_chunk_names_the_bulks_before_it(tmp_path: Path) -> None:
    server = Server()
    chunks = plan_chunks(KINDS["card-removals"], blocks(3), chunk_size=2)
    server_calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        server_calls["n"] += 1
        if server_calls["n"] == 2:
            raise httpx.ReadTimeout("slow")
        return server(request)

    client = ApiClient(
        base_url="https://api.example.com/multi",
        api_key="k",
        token="t",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(attempts=4, sleep=lambda _: None, monotonic=lambda: 0.0),
    )
    with pytest.raises(OutcomeUnknown) as caught:
        submit_chunks(gate_submitter(client), KINDS["card-removals"], chunks, Journal(tmp_path))
    assert server_calls["n"] == 2, "card-removals are never repeated"
    assert "chunk 2 of 2; the chunks before it are bulks 1000" in caught.value.message


def test_a_journal_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder should be")
    warnings: list[str] = []
    outcomes = submit_chunks(
        submitter(Server()),
        BLOCKS,
        plan_chunks(BLOCKS, blocks(1)),
        Journal(tmp_path / "state"),
        warn=warnings.append,
    )
    assert outcomes[0].bulk_id == "1000" and "journal" in warnings[0]


@pytest.mark.parametrize(
    "content",
    [
        '{"submissions": []}',
        "[]",
        '{"submissions": {"k": 1}}',
        '{"submissions": {"k": {"bulkId": "1"}}}',
    ],
)
def test_a_journal_of_another_shape_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / "submissions.json").write_text(content)
    journal = Journal(tmp_path)
    assert journal.find("k") is None
    journal.record("j", bulk_id="2", kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.find("j") is not None


def test_the_back_office_offers_only_spend_rules_and_transfers() -> None:
    require_offered(TRANSFERS, "backoffice")
    require_offered(KINDS["card-spend-rules"], "backoffice")
    require_offered(KINDS["sends"], "multi")
    with pytest.raises(UsageError) as caught:
        require_offered(KINDS["sends"], "backoffice")
    assert caught.value.exit_code == ExitCode.USAGE
    assert "only card-spend-rules, transfers" in caught.value.message


def test_a_dry_run_describes_counts_chunks_and_the_first_item() -> None:
    chunks = plan_chunks(BLOCKS, blocks(3), chunk_size=2)
    plan = describe_plan(BLOCKS, chunks)
    assert plan["items"] == 3 and plan["method"] == "POST"
    assert [c["items"] for c in plan["chunks"]] == [2, 1]
    assert plan["firstItem"] == {"pathParams": {"_id_": "1"}}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": "1", "x": NaN}', "holds NaN or Infinity"),
        ('{"id": "1", "x": "\\ud800"}', "not valid Unicode"),
    ],
)
def test_values_that_cannot_be_sent_as_json_are_refused(line: str, problem: str) -> None:
    (found,) = problems_of("card-spend-rules", line)
    assert found.startswith("line 1: ") and problem in found


def test_a_rerun_plan_is_checked_like_submit_input_naming_sequences() -> None:
    ops = [op(1, "FAILED"), op(2, "FAILED", payload=json.dumps(transfer(amount="5")))]
    plan = plan_rerun(bulk(), ops, RerunSelection())
    with pytest.raises(InvalidInput) as caught:
        plan.check()
    assert [str(p) for p in caught.value.problems] == [
        'sequence 2: requestBody.destinationAmount.amount: must be a whole number (in the smallest unit, e.g. cents), got "5"'
    ]
    plan_rerun(bulk(), ops[:1], RerunSelection()).check()
