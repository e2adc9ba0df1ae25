"""Request bodies checked by jsonschema on both sides: the client's schemas (``bulkctl.api.kinds``,
checked in ``bulkctl.files.validation``) and the emulator's own copy. A boolean is never an
integer, null is never an object, and the whole int64 range is an int64."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bulkctl.api.kinds import INT64_MAX, INT64_MIN, KINDS
from bulkctl.emulator.app import Emulator
from bulkctl.emulator.state import EmulatorState
from bulkctl.errors import ExitCode, UsageError
from bulkctl.files.reading import InputFile
from bulkctl.files.submission import InvalidInput, load_items
from bulkctl.files.validation import BodyChecker
from tests.conftest import ManualClock, run_bulkctl
from tests.test_emulator_submissions import VALID, submit


def transfer(**amount: Any) -> dict[str, Any]:
    return {
        "profileId": "1",
        "source": {"type": "managed_accounts", "id": "2"},
        "destination": {"type": "managed_accounts", "id": "3"},
        "destinationAmount": {"currency": "EUR", "amount": 100, **amount},
    }


def client_problems(kind: str, *records: Any) -> list[str]:
    text = "".join(json.dumps(record) + "\n" for record in records)
    with pytest.raises(InvalidInput) as caught:
        load_items(KINDS[kind], "-", io.StringIO(text))
    return [str(p) for p in caught.value.problems]


def client_accepts(kind: str, record: Any) -> bool:
    try:
        load_items(KINDS[kind], "-", io.StringIO(json.dumps(record) + "\n"))
    except InvalidInput:
        return False
    return True


def emulator_fields(kind: str, item: Any) -> tuple[int, list[tuple[str, str]]]:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=1, now=clock()), clock=clock)
    status, body = submit(emulator, kind, [item])
    fields = body["syntaxErrors"]["invalidFields"] if status == 400 else []
    return status, [(f["fieldName"], f["error"]) for f in fields]


# (kind, a wrapped item whose integer field holds true, the field as each side names it)
BOOLEAN_AS_INTEGER: list[tuple[str, dict[str, Any], str]] = [
    (
        "transfers",
        {"requestBody": transfer(amount=True)},
        "requestBody.destinationAmount.amount",
    ),
    (
        "users",
        {
            "requestBody": {
                "name": "Ada",
                "surname": "L",
                "email": "ada@example.com",
                "dateOfBirth": {"year": 1990, "month": True, "day": 1},
            }
        },
        "requestBody.dateOfBirth.month",
    ),
    (
        "card-spend-rules",
        {"pathParams": {"_id_": "7"}, "requestBody": {"minTransactionAmount": True}},
        "requestBody.minTransactionAmount",
    ),
]


@pytest.mark.parametrize(("kind", "item", "field"), BOOLEAN_AS_INTEGER)
def test_the_client_refuses_true_for_an_integer(kind: str, item: Any, field: str) -> None:
    assert client_problems(kind, item) == [
        f"line 1: {field}: must be a whole number"
        + (" (in the smallest unit, e.g. cents)" if field.endswith("mount") else "")
        + ", got true"
    ]


@pytest.mark.parametrize(("kind", "item", "field"), BOOLEAN_AS_INTEGER)
def test_the_emulator_refuses_true_for_an_integer(kind: str, item: Any, field: str) -> None:
    status, fields = emulator_fields(kind, item)
    assert status == 400
    assert fields == [(f"[0].{field}", "IN")]


def test_a_true_amount_is_refused_by_the_real_process_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "transfers.jsonl"
    path.write_text(json.dumps(transfer()) + "\n" + json.dumps(transfer(amount=True)) + "\n")
    result = run_bulkctl("submit", "transfers", str(path), "--dry-run")
    assert result.code == ExitCode.USAGE, result.stderr
    assert "line 2: destinationAmount.amount: must be a whole number" in result.stderr
    assert "line 1" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (None, "[0]"),
        ({"requestBody": None}, "[0].requestBody"),
        ({"pathParams": None, "requestBody": transfer()}, "[0].pathParams"),
        (
            {"requestBody": {**transfer(), "destinationAmount": None}},
            "[0].requestBody.destinationAmount",
        ),
    ],
)
def test_the_emulator_refuses_null_where_the_spec_has_an_object(item: Any, field: str) -> None:
    status, fields = emulator_fields("transfers", item)
    assert status == 400
    assert (field, "IN") in fields


@pytest.mark.parametrize("amount", [INT64_MIN, INT64_MAX, 0])
def test_both_sides_accept_the_whole_int64_range(amount: int) -> None:
    assert client_accepts("transfers", transfer(amount=amount))
    status, _ = emulator_fields("transfers", {"requestBody": transfer(amount=amount)})
    assert status == 201


@pytest.mark.parametrize("amount", [INT64_MIN - 1, INT64_MAX + 1])
def test_the_emulator_refuses_an_amount_beyond_int64(amount: int) -> None:
    status, fields = emulator_fields("transfers", {"requestBody": transfer(amount=amount)})
    assert status == 400
    assert fields == [("[0].requestBody.destinationAmount.amount", "RANGE")]


def test_every_problem_of_one_item_is_named_by_its_field() -> None:
    record = {
        "profileId": "12a",
        "source": {"type": "managed_wallets", "id": "2"},
        "destination": {"id": "3"},
        "destinationAmount": {"currency": "eur", "amount": 1.5},
        "tag": "x" * 51,
    }
    assert client_problems("transfers", record) == [
        'line 1: profileId: must be digits only (0-9), got "12a"',
        "line 1: tag: at most 50 characters, got 51",
        "line 1: source.type: must be one of managed_cards, managed_accounts, "
        'got "managed_wallets"',
        "line 1: destination.type: required",
        'line 1: destinationAmount.currency: must be 3 capital letters (ISO-4217, e.g. EUR), got "eur"',
        "line 1: destinationAmount.amount: must be a whole number (in the smallest unit, e.g. cents), got 1.5",
    ]


def test_a_pattern_s_end_is_the_end_of_the_text_not_a_final_newline() -> None:
    assert client_problems("transfers", {**transfer(), "profileId": "12\n"}) == [
        'line 1: profileId: must be digits only (0-9), got "12\\n"'
    ]


@pytest.mark.parametrize("kind", [k for k in KINDS if KINDS[k].body is not None])
def test_the_client_s_schemas_are_draft_2020_12_and_take_the_emulator_s_valid_items(
    kind: str,
) -> None:
    schema = KINDS[kind].body
    Draft202012Validator.check_schema(schema)
    assert client_accepts(kind, VALID[kind])


def test_a_bad_beneficiary_names_the_alternatives() -> None:
    record = {
        "profileId": "1",
        "sourceInstrument": {"type": "managed_accounts", "id": "2"},
        "transferAmount": {"currency": "EUR", "amount": 1},
        "destinationBeneficiary": {"name": "Ada"},
    }
    [problem] = client_problems("wire-transfers", record)
    assert problem.startswith("line 1: destinationBeneficiary: must be a beneficiary: {name, iban}")


def test_a_record_changed_between_check_and_send_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "transfers.jsonl"
    path.write_text(json.dumps(transfer(amount=1234)) + "\n")
    source = InputFile(KINDS["transfers"], str(path), io.StringIO(""))
    try:
        assert source.check() == 1
        path.write_text(json.dumps(transfer(amount=True)) + "\n")
        with pytest.raises(UsageError, match="changed while it was read: line 1: destinationAm"):
            list(source.items())
    finally:
        source.close()


def test_an_unchanged_record_meets_the_schema_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Any] = []
    problems = BodyChecker.problems

    def counting(self: BodyChecker, body: Any, name: str) -> list[str]:
        checked.append(body)
        return problems(self, body, name)

    monkeypatch.setattr(BodyChecker, "problems", counting)
    path = tmp_path / "transfers.jsonl"
    path.write_text("".join(json.dumps(transfer(amount=n)) + "\n" for n in range(3)))
    source = InputFile(KINDS["transfers"], str(path), io.StringIO(""))
    try:
        source.check()
        items = list(source.items())
    finally:
        source.close()
    assert [item["requestBody"]["destinationAmount"]["amount"] for item in items] == [0, 1, 2]
    assert len(checked) == 3
