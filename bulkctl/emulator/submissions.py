"""Bulk submissions: checking the items of a request and turning them into operations.

How a test makes an operation fail when its bulk is executed:

* ``FAIL:CODE`` (CODE in capitals, digits and ``_``) in any string of the item's
  ``requestBody`` fails it with ``{"errorCode": "CODE", "message": ...}``. Use the
  ``description`` of transfers, sends and wire transfers, the ``surname`` of users, or an
  entry of ``allowedMerchantIds`` for spend rules (a ``tag`` cannot hold a colon).
* For every kind with a path id (invites, blocks, unblocks, removals, spend rules), an id
  whose last three digits are ``99N`` (N from 1 to 9) fails with the N-th error code of
  that kind in ``FAILURE_CODES`` (counting from 1, wrapping round): card-blocks with an id
  ending in ``991`` fail with INSTRUMENT_ALREADY_BLOCKED.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bulkctl.emulator.schemas import (
    SEND,
    SPEND_RULES,
    TRANSFER,
    USER,
    WIRE_TRANSFER,
    ItemChecker,
    Schema,
    item_schema,
)
from bulkctl.emulator.spec import (
    SUBMISSION_MAX_ITEMS,
    SUBMISSION_MIN_ITEMS,
    SubmissionKind,
)

BODY_SCHEMAS: dict[str, Schema] = {
    "users": USER,
    "card-spend-rules": SPEND_RULES,
    "transfers": TRANSFER,
    "sends": SEND,
    "wire-transfers": WIRE_TRANSFER,
}

# realistic error codes of each single operation, keyed by its template
FAILURE_CODES: dict[str, tuple[str, ...]] = {
    "/transfers": ("FUNDS_INSUFFICIENT", "SOURCE_INSTRUMENT_BLOCKED", "DESTINATION_NOT_FOUND"),
    "/sends": ("FUNDS_INSUFFICIENT", "DESTINATION_INSTRUMENT_BLOCKED", "CURRENCY_MISMATCH"),
    "/outgoing_wire_transfers": (
        "FUNDS_INSUFFICIENT",
        "INVALID_BENEFICIARY_DETAILS",
        "AMOUNT_INVALID",
    ),
    "/users": ("EMAIL_NOT_UNIQUE", "MOBILE_OR_COUNTRY_CODE_INVALID"),
    "/users/{user_id}/invite": ("USER_NOT_FOUND", "USER_ALREADY_ACTIVE"),
    "/managed_cards/{id}/block": ("INSTRUMENT_ALREADY_BLOCKED", "INSTRUMENT_DESTROYED"),
    "/managed_cards/{id}/unblock": ("INSTRUMENT_NOT_BLOCKED", "INSTRUMENT_DESTROYED"),
    "/managed_cards/{id}/remove": ("INSTRUMENT_ALREADY_DESTROYED", "INSTRUMENT_NOT_FOUND"),
    "/managed_cards/{id}/spend_rules": ("INSTRUMENT_DESTROYED", "SPEND_LIMIT_INVALID"),
}

FAIL_MARKER = re.compile(r"FAIL:([A-Z][A-Z0-9_]*)")
FAILING_ID = re.compile(r"99([1-9])")
_CHECKERS: dict[str, ItemChecker] = {}  # one validator a kind, built when first needed

Problem = tuple[str, str, list[str]]


@dataclass(frozen=True)
class StoredOperation:
    path: str  # the single operation's path, filled in
    request_payload: str  # the request body as JSON text; "" for kinds without one
    fail_code: str | None  # the errorCode it fails with when executed, if any


def failure_message(code: str) -> str:
    return code.replace("_", " ").capitalize()


def check_items(kind: SubmissionKind, body: Any) -> list[Problem]:
    """Every problem of a submission body, fieldNames as sent (``[3].requestBody.email``)."""
    if not isinstance(body, list):
        return [("body", "IN", ["array"])]
    if not SUBMISSION_MIN_ITEMS <= len(body) <= SUBMISSION_MAX_ITEMS:
        return [("body", "SIZE", [str(SUBMISSION_MIN_ITEMS), str(SUBMISSION_MAX_ITEMS)])]
    checker = _CHECKERS.get(kind.name)
    if checker is None:
        schema = item_schema(kind.path_param, BODY_SCHEMAS.get(kind.name))
        checker = _CHECKERS[kind.name] = ItemChecker(schema)
    problems: list[Problem] = []
    for i, item in enumerate(body):
        if isinstance(item, dict) and "pathParams" not in item:
            item = {**item, "pathParams": {}}  # absent is no path id; null is no object
        problems += checker.check(item, f"[{i}]")
    return problems


def extra_fields(kind: SubmissionKind, body: list[Any]) -> list[str]:
    """What a careful client would not send though the schema lets it (for ``violations``)."""
    notes = []
    for i, item in enumerate(body):
        if not kind.has_body and "requestBody" in item:
            notes.append(f"[{i}].requestBody sent to {kind.name}, whose operation has no body")
        params = item.get("pathParams") or {}
        unknown = set(params) - {kind.path_param}
        if unknown:
            notes.append(f"[{i}].pathParams has unknown keys {sorted(unknown)}")
        if len(notes) >= 5:
            break
    return notes


def build_operations(kind: SubmissionKind, body: list[dict[str, Any]]) -> list[StoredOperation]:
    """The operations of a valid submission, in order."""
    codes = FAILURE_CODES[kind.operation]
    operations = []
    for item in body:
        path = kind.operation
        fail_code: str | None = None
        if kind.path_param is not None:
            ident = item["pathParams"][kind.path_param]
            path = re.sub(r"\{[a-z_]+\}", ident, kind.operation)
            match = FAILING_ID.fullmatch(ident[-3:])
            if match is not None:
                fail_code = codes[(int(match[1]) - 1) % len(codes)]
        payload = ""
        if kind.has_body:
            request_body = item["requestBody"]
            payload = json.dumps(request_body, ensure_ascii=False)
            marked = _marker(request_body)
            if marked is not None:
                fail_code = marked
        operations.append(StoredOperation(path, payload, fail_code))
    return operations


def _marker(value: Any) -> str | None:
    if isinstance(value, str):
        match = FAIL_MARKER.search(value)
        return match[1] if match else None
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        found = _marker(child)
        if found is not None:
            return found
    return None
