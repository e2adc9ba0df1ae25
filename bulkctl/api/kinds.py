"""The nine kinds of bulk submission, as the published specs describe them.

Each kind names its submission endpoint (method, path, the path parameter its items fill),
the single operation a bulk of it runs (``operation`` of the bulk, e.g.
``/managed_cards/{id}/block``), which APIs offer it, whether its endpoint documents an
``idempotency-ref`` header, and a schema of its request body: the subset of the spec that
bulkctl checks locally (required fields, types, patterns, enums); the server judges the rest.

The schemas are JSON Schema (Draft 2020-12) dicts, checked by ``jsonschema`` in
``bulkctl.files.validation``. The emulator keeps its own copy of them on purpose, so that a
mistake in one is caught by the other.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

MULTI = "multi"
BACKOFFICE = "backoffice"
MAX_ITEMS = 10_000  # maxItems of every submission endpoint
DIGITS = r"^[0-9]+$"  # Id, UserId, ProfileId, ScheduledTimestamp, every path id


Schema = dict[str, Any]  # JSON Schema (Draft 2020-12); ``title`` names a value in messages


def _string(
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    enum: tuple[str, ...] = (),
    title: str = "",
) -> Schema:
    schema: Schema = {"type": "string"}
    for key, value in (
        ("title", title),
        ("pattern", pattern),
        ("minLength", min_length),
        ("maxLength", max_length),
        ("enum", list(enum)),
    ):
        if value:
            schema[key] = value
    return schema


def _object(title: str, required: tuple[str, ...], **properties: Schema) -> Schema:
    return {"type": "object", "title": title, "required": list(required), "properties": properties}


def _integer(minimum: int, maximum: int) -> Schema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _any_of(title: str, *alternatives: Schema) -> Schema:
    return {"title": title, "anyOf": list(alternatives)}


def _array(items: Schema, max_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


_BOOLEAN: Schema = {"type": "boolean"}
# format: int64 (jsonschema ignores formats, so the range is spelled out)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ID = _string(DIGITS)
CURRENCY = _string(r"^[A-Z]*$", 3, 3, title="3 capital letters (ISO-4217, e.g. EUR)")
CURRENCY_AMOUNT = _object(
    "an amount {currency, amount}",
    ("currency", "amount"),
    currency=CURRENCY,
    amount=_integer(INT64_MIN, INT64_MAX),
)
INSTRUMENT_ID = _object(
    "an instrument {type, id}",
    ("id", "type"),
    id=ID,
    type=_string(enum=("managed_cards", "managed_accounts")),
)
BENEFICIARY_ID = _object("a beneficiary {beneficiaryId}", ("beneficiaryId",), beneficiaryId=ID)
TAG = _string(r"^[a-zA-Z0-9_-]+$", max_length=50)
TRANSACTION_DESCRIPTION = _string(
    r"^[a-zA-Z0-9\/\-?:().$_,'+\s#=!\"%&*<>;\{@\r\n]*$", max_length=255
)
COUNTRY = _string(r"^[A-Z]{2}$", 2, 2)
DATE = _object(
    "a date {year, month, day}",
    ("year", "month", "day"),
    year=_integer(1900, 2100),
    month=_integer(1, 12),
    day=_integer(1, 31),
)
MOBILE = _object(
    "a mobile {countryCode, number}",
    ("number", "countryCode"),
    countryCode=_string(r"^\+[0-9]+$", 1, 4),
    number=_string(r"^[0-9]{1,12}$"),
)

USER_CREATE = _object(
    "a user",
    ("email", "name", "surname"),
    name=_string(min_length=1, max_length=50),
    surname=_string(min_length=1, max_length=50),
    email=_string(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", title="an email address"),
    mobile=MOBILE,
    dateOfBirth=DATE,
    tag=TAG,
    countryOfResidence=_string(r"^[A-Z]+$", 2, 2),
    locale=_string(r"^[a-z]{2}(-[A-Z]{2})?$", max_length=5),
    brand=_string(r"^[a-zA-Z0-9]+$", max_length=25),
    roles=_array(
        _string(
            enum=(
                "CARD_ASSIGNEE",
                "CARDS_MANAGEMENT_ROLE",
                "FUNDS_MANAGEMENT_ROLE",
                "ACCESS_MANAGEMENT_ROLE",
                "ADMIN",
            )
        ),
    ),
)

_MERCHANT_LIST = _array(_string(), 200)
_COUNTRY_LIST = _array(COUNTRY, 50)
SPEND_LIMIT = _object(
    "a spend limit {value, interval}",
    ("value", "interval"),
    startTimestamp=_integer(INT64_MIN, INT64_MAX),
    value=CURRENCY_AMOUNT,
    interval=_string(enum=("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY", "ALWAYS")),
)
UPDATE_CARD_LEVEL_SPEND_RULES = _object(
    "spend rules",
    (),
    allowedMerchantCategories=_MERCHANT_LIST,
    blockedMerchantCategories=_MERCHANT_LIST,
    allowedMerchantIds=_MERCHANT_LIST,
    blockedMerchantIds=_MERCHANT_LIST,
    allowedMerchantCountries=_COUNTRY_LIST,
    blockedMerchantCountries=_COUNTRY_LIST,
    allowContactless=_BOOLEAN,
    allowAtm=_BOOLEAN,
    allowECommerce=_BOOLEAN,
    allowCashback=_BOOLEAN,
    allowCreditAuthorisations=_BOOLEAN,
    rolloverPolicy=_object(
        "a rollover policy {rolloverNegative}",
        ("rolloverNegative",),
        rolloverNegative=_BOOLEAN,
    ),
    spendLimit=_array(SPEND_LIMIT),
    minTransactionAmount=_integer(0, INT64_MAX),
    maxTransactionAmount=_integer(0, INT64_MAX),
    updateSpendLimitMethod=_string(enum=("OVERWRITE", "INCREMENT")),
)

TRANSFER_CREATE = _object(
    "a transfer",
    ("profileId", "source", "destination", "destinationAmount"),
    profileId=ID,
    tag=TAG,
    source=INSTRUMENT_ID,
    description=TRANSACTION_DESCRIPTION,
    destination=INSTRUMENT_ID,
    destinationAmount=CURRENCY_AMOUNT,
    scheduledTimestamp=ID,
)
SEND_CREATE = _object(
    "a send",
    ("profileId", "source", "destination", "destinationAmount"),
    profileId=ID,
    tag=TAG,
    source=INSTRUMENT_ID,
    destination=_any_of(
        "an instrument {type, id} or a beneficiary {beneficiaryId}", INSTRUMENT_ID, BENEFICIARY_ID
    ),
    destinationAmount=CURRENCY_AMOUNT,
    description=TRANSACTION_DESCRIPTION,
    scheduledTimestamp=ID,
)
IBAN = _string(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$", 15, 34)
ACCOUNT_NUMBER = _string(r"^[0-9]{8}$")
SORT_CODE = _string(r"^[0-9]{6}$")
NAME = _string(min_length=1, max_length=150)
# SEPA and RIX require the same fields, so the spec's "one of" is "any of" here: an object
# that fits several alternatives is accepted
BENEFICIARIES: tuple[Schema, ...] = (
    _object("SEPA or RIX", ("name", "iban"), name=NAME, iban=IBAN, bankCountry=COUNTRY),
    _object(
        "SWIFT",
        ("name", "account", "address", "bankCountry"),
        name=NAME,
        account=_string(r"^[a-zA-Z0-9]{1,34}$", 1, 34),
        address=_string(min_length=1, max_length=150),
        bankCountry=COUNTRY,
    ),
    _object(
        "Faster Payments",
        ("name", "type", "accountNumber", "sortCode"),
        name=_string(min_length=1, max_length=140),
        type=_string(enum=("PERSONAL", "BUSINESS")),
        accountNumber=ACCOUNT_NUMBER,
        sortCode=SORT_CODE,
    ),
    _object(  # deprecated in the spec, still accepted
        "bank account details",
        ("name", "bankAccountDetails"),
        name=NAME,
        bankAccountDetails=_any_of(
            "{iban} or {accountNumber, sortCode}",
            _object("IBAN", ("iban",), iban=IBAN),
            _object(
                "UK account",
                ("accountNumber", "sortCode"),
                accountNumber=ACCOUNT_NUMBER,
                sortCode=SORT_CODE,
            ),
        ),
    ),
    BENEFICIARY_ID,
    _object(
        "an external account {type, id}",
        ("type", "id"),
        type=_string(enum=("linked_accounts",)),
        id=ID,
    ),
)
OUTGOING_WIRE_TRANSFER_CREATE = _object(
    "an outgoing wire transfer",
    ("destinationBeneficiary", "profileId", "sourceInstrument", "transferAmount"),
    profileId=ID,
    tag=TAG,
    sourceInstrument=_object(
        "a managed account {type, id}",
        ("type", "id"),
        type=_string(enum=("managed_accounts",)),
        id=ID,
    ),
    transferAmount=CURRENCY_AMOUNT,
    purpose=_string(max_length=255),
    description=_string(),
    destinationBeneficiary=_any_of(
        "a beneficiary: {name, iban}, {name, account, address, bankCountry}, "
        "{name, type, accountNumber, sortCode}, {name, bankAccountDetails}, {beneficiaryId} "
        "or {type, id}",
        *BENEFICIARIES,
    ),
    scheduledTimestamp=ID,
)


class Kind(msgspec.Struct, frozen=True):
    """One kind of bulk submission."""

    name: str  # as typed on the command line, e.g. card-blocks
    method: str  # of the submission endpoint (the single operations use POST too)
    path: str  # submission path, with its literal _id_ / _user_id_ segment
    operation: str  # the single operation's template, as a bulk's ``operation`` shows it
    path_param: str | None  # the pathParams key each item fills, e.g. "_id_"
    body: Schema | None  # the item's requestBody, or None when the kind has none
    idempotent: bool  # the endpoint documents an idempotency-ref header
    apis: frozenset[str]  # MULTI and/or BACKOFFICE

    @property
    def has_body(self) -> bool:
        return self.body is not None

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(self.body["required"]) if self.body is not None else ()

    def offered_by(self, api: str) -> bool:
        return api in self.apis


_BOTH = frozenset({MULTI, BACKOFFICE})
_MULTI_ONLY = frozenset({MULTI})

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("users", "POST", "/bulks/users", "/users", None, USER_CREATE, True, _MULTI_ONLY),
        Kind(
            "user-invites",
            "POST",
            "/bulks/users/_user_id_/invite",
            "/users/{user_id}/invite",
            "_user_id_",
            None,
            True,
            _MULTI_ONLY,
        ),
        Kind(
            "card-blocks",
            "POST",
            "/bulks/managed_cards/_id_/block",
            "/managed_cards/{id}/block",
            "_id_",
            None,
            True,
            _MULTI_ONLY,
        ),
        Kind(
            "card-unblocks",
            "POST",
            "/bulks/managed_cards/_id_/unblock",
            "/managed_cards/{id}/unblock",
            "_id_",
            None,
            True,
            _MULTI_ONLY,
        ),
        # the spec lists no parameters for this endpoint: no idempotency-ref
        Kind(
            "card-removals",
            "POST",
            "/bulks/managed_cards/_id_/remove",
            "/managed_cards/{id}/remove",
            "_id_",
            None,
            False,
            _MULTI_ONLY,
        ),
        Kind(
            "card-spend-rules",
            "PATCH",
            "/bulks/managed_cards/_id_/spend_rules",
            "/managed_cards/{id}/spend_rules",
            "_id_",
            UPDATE_CARD_LEVEL_SPEND_RULES,
            True,
            _BOTH,
        ),
        Kind(
            "transfers",
            "POST",
            "/bulks/transfers",
            "/transfers",
            None,
            TRANSFER_CREATE,
            True,
            _BOTH,
        ),
        Kind("sends", "POST", "/bulks/sends", "/sends", None, SEND_CREATE, True, _MULTI_ONLY),
        Kind(
            "wire-transfers",
            "POST",
            "/bulks/outgoing_wire_transfers",
            "/outgoing_wire_transfers",
            None,
            OUTGOING_WIRE_TRANSFER_CREATE,
            True,
            _MULTI_ONLY,
        ),
    )
}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)


def _segments(path: str) -> list[str]:
    """The non-empty segments of a path, or of a URL's path; the query is dropped."""
    if "://" in path:
        path = urlsplit(path).path
    return [s for s in path.split("?", 1)[0].split("/") if s]


def _is_placeholder(segment: str) -> bool:
    return len(segment) > 2 and segment[0] == "{" and segment[-1] == "}"


def _match_tail(template: str, segments: list[str]) -> list[str] | None:
    """The values of the template's placeholders when ``segments`` end with the template."""
    want = _segments(template)
    if len(segments) < len(want):
        return None
    tail = segments[len(segments) - len(want) :]
    values: list[str] = []
    for expected, actual in zip(want, tail, strict=True):
        if _is_placeholder(expected):
            if not actual:
                return None
            values.append(actual)
        elif expected != actual:
            return None
    return values


def kind_of_operation(operation: str | None) -> Kind | None:
    """The kind whose single-operation template a bulk's ``operation`` ends with.

    Any API prefix (``/multi``, a base URL) is ignored, and a placeholder matches a
    placeholder of any name, so ``/multi/managed_cards/{cardId}/block`` is card-blocks.
    """
    if not operation:
        return None
    segments = _segments(operation)
    best: Kind | None = None
    best_len = -1
    for kind in KINDS.values():
        want = _segments(kind.operation)
        if len(segments) < len(want):
            continue
        tail = segments[len(segments) - len(want) :]
        if (
            all(
                (_is_placeholder(w) and _is_placeholder(t)) or w == t
                for w, t in zip(want, tail, strict=True)
            )
            and len(want) > best_len
        ):
            best, best_len = kind, len(want)
    return best


def path_params_of(kind: Kind, path: str | None) -> dict[str, str] | None:
    """The pathParams of one operation, read by matching its ``path`` against the kind's
    template segment by segment (any prefix ignored); None when the path does not match."""
    if not path:
        return None
    values = _match_tail(kind.operation, _segments(path))
    if values is None:
        return None
    if kind.path_param is None:
        return {}
    if len(values) != 1:
        return None
    return {kind.path_param: values[0]}
