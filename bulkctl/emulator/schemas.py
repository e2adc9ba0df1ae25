"""The submission endpoints' request bodies, as the spec describes them, and their checker.

The emulator keeps its own copy of the spec's schemas, apart from the client's, so that a
mistake in either is caught by the other. Schemas are JSON Schema (Draft 2020-12) dicts,
checked by ``jsonschema``; the spec's ``format: int32/int64`` become ``minimum``/``maximum``
(jsonschema ignores formats). The spec's ``oneOf`` beneficiaries are ``anyOf`` here: SEPA and
RIX beneficiaries have the same shape, so a strict oneOf would refuse both.

Each problem becomes one ``invalidFields`` entry named by its path in the request,
``[3].requestBody.email``. Error words come from the spec's SyntaxError enum: REQUIRED,
REGEX, SIZE, RANGE and IN; a value of the wrong JSON type (``null`` where an object belongs,
``true`` where an integer belongs) is IN with the type as param.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bulkctl.emulator.spec import ID_PATTERN, INT64_MAX

if TYPE_CHECKING:
    from jsonschema import ValidationError

Schema = dict[str, Any]

ID: Schema = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
# format: int64, spelled out as a range: jsonschema ignores formats
INT64: Schema = {"type": "integer", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX}
TAG: Schema = {"type": "string", "maxLength": 50, "pattern": r"^[a-zA-Z0-9_-]+$"}
SCHEDULED: Schema = {"type": "string", "pattern": r"^[0-9]+$"}
COUNTRY: Schema = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": r"^[A-Z]{2}$"}
NATIONALITY: Schema = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": r"^[A-Z]+$"}
DATE_OF_BIRTH: Schema = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
TEXT_150: Schema = {"type": "string", "minLength": 1, "maxLength": 150}
# the transaction description's character set
DESCRIPTION: Schema = {
    "type": "string",
    "maxLength": 255,
    "pattern": r"^[a-zA-Z0-9/\-?:().$_,'+\s#=!\"%&*<>;{@\r\n]*$",
}
CURRENCY_AMOUNT: Schema = {
    "type": "object",
    "required": ["currency", "amount"],
    "properties": {
        "currency": {"type": "string", "minLength": 3, "maxLength": 3, "pattern": r"^[A-Z]*$"},
        "amount": INT64,
    },
}
INSTRUMENT_ID: Schema = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {
        "id": ID,
        "type": {"type": "string", "enum": ["managed_cards", "managed_accounts"]},
    },
}
BENEFICIARY_ID: Schema = {
    "type": "object",
    "required": ["beneficiaryId"],
    "properties": {"beneficiaryId": ID},
}
IBAN: Schema = {
    "type": "string",
    "minLength": 15,
    "maxLength": 34,
    "pattern": r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
}
BIC: Schema = {
    "type": "string",
    "minLength": 8,
    "maxLength": 11,
    "pattern": r"^[a-zA-Z0-9]{4}[a-zA-Z]{2}[a-zA-Z0-9]{2}[a-zA-Z0-9]{0,3}$",
}
ACCOUNT_NUMBER: Schema = {"type": "string", "pattern": r"^[0-9]{8}$"}
SORT_CODE: Schema = {"type": "string", "pattern": r"^[0-9]{6}$"}
BENEFICIARY_COMMON: dict[str, Schema] = {
    "address": TEXT_150,
    "bankName": {"type": "string"},
    "bankAddress": TEXT_150,
    "bankCountry": COUNTRY,
    "nationality": NATIONALITY,
    "dateOfBirth": DATE_OF_BIRTH,
}
PERSON_TYPE: Schema = {"type": "string", "enum": ["PERSONAL", "BUSINESS"]}
BENEFICIARIES: list[Schema] = [
    {  # the deprecated OutgoingWireTransferBeneficiary
        "type": "object",
        "required": ["name", "bankAccountDetails"],
        "properties": {
            **BENEFICIARY_COMMON,
            "name": {"type": "string"},
            "type": PERSON_TYPE,
            "bankAccountDetails": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["iban"],
                        "properties": {"iban": IBAN, "bankIdentifierCode": BIC},
                    },
                    {
                        "type": "object",
                        "required": ["accountNumber", "sortCode"],
                        "properties": {
                            "accountNumber": ACCOUNT_NUMBER,
                            "sortCode": SORT_CODE,
                            "secondaryReference": {"type": "string"},
                        },
                    },
                ]
            },
        },
    },
    {  # SEPA and RIX
        "type": "object",
        "required": ["name", "iban"],
        "properties": {
            **BENEFICIARY_COMMON,
            "name": TEXT_150,
            "iban": IBAN,
            "bankIdentifierCode": BIC,
        },
    },
    {  # SWIFT
        "type": "object",
        "required": ["name", "account", "address", "bankCountry"],
        "properties": {
            **BENEFICIARY_COMMON,
            "name": TEXT_150,
            "account": {
                "type": "string",
                "minLength": 1,
                "maxLength": 34,
                "pattern": r"^[a-zA-Z0-9]{1,34}$",
            },
            "bankIdentifierCode": {
                "type": "string",
                "minLength": 8,
                "maxLength": 11,
                "pattern": r"^[a-zA-Z0-9]{8,11}$",
            },
        },
    },
    {  # Faster Payments
        "type": "object",
        "required": ["name", "type", "accountNumber", "sortCode"],
        "properties": {
            **BENEFICIARY_COMMON,
            "name": {"type": "string", "minLength": 1, "maxLength": 140},
            "type": PERSON_TYPE,
            "accountNumber": ACCOUNT_NUMBER,
            "sortCode": SORT_CODE,
            "secondaryReference": {"type": "string"},
        },
    },
    BENEFICIARY_ID,
    {  # ExternalAccountId
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"type": "string", "enum": ["linked_accounts"]}, "id": ID},
    },
]

TRANSFER: Schema = {
    "type": "object",
    "required": ["profileId", "source", "destination", "destinationAmount"],
    "properties": {
        "profileId": ID,
        "tag": TAG,
        "source": INSTRUMENT_ID,
        "description": DESCRIPTION,
        "destination": INSTRUMENT_ID,
        "destinationAmount": CURRENCY_AMOUNT,
        "scheduledTimestamp": SCHEDULED,
    },
}
SEND: Schema = {
    **TRANSFER,
    "properties": {
        **TRANSFER["properties"],
        "destination": {"anyOf": [INSTRUMENT_ID, BENEFICIARY_ID]},
    },
}
WIRE_TRANSFER: Schema = {
    "type": "object",
    "required": ["destinationBeneficiary", "profileId", "sourceInstrument", "transferAmount"],
    "properties": {
        "profileId": ID,
        "tag": TAG,
        "sourceInstrument": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {"type": {"type": "string", "enum": ["managed_accounts"]}, "id": ID},
        },
        "transferAmount": CURRENCY_AMOUNT,
        "purpose": {"type": "string", "maxLength": 255},
        "description": {"type": "string"},
        "destinationBeneficiary": {"anyOf": BENEFICIARIES},
        "scheduledTimestamp": SCHEDULED,
    },
}
USER: Schema = {
    "type": "object",
    "required": ["email", "name", "surname"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "surname": {"type": "string", "minLength": 1, "maxLength": 50},
        "email": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"},
        "mobile": {
            "type": "object",
            "required": ["number", "countryCode"],
            "properties": {
                "countryCode": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 4,
                    "pattern": r"^\+[0-9]+$",
                },
                "number": {"type": "string", "pattern": r"^[0-9]{1,12}$"},
            },
        },
        "dateOfBirth": {
            "type": "object",
            "required": ["year", "month", "day"],
            "properties": {
                "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
                "month": {"type": "integer", "minimum": 1, "maximum": 12},
                "day": {"type": "integer", "minimum": 1, "maximum": 31},
            },
        },
        "tag": TAG,
        "countryOfResidence": {
            "type": "string",
            "minLength": 2,
            "maxLength": 2,
            "pattern": r"^[A-Z]+$",
        },
        "locale": {"type": "string", "maxLength": 5, "pattern": r"^[a-z]{2}(-[A-Z]{2})?$"},
        "brand": {"type": "string", "maxLength": 25, "pattern": r"^[a-zA-Z0-9]+$"},
        "roles": {
            "type": "array",
            "items": {
                "type": "string",
                "enum": [
                    "CARD_ASSIGNEE",
                    "CARDS_MANAGEMENT_ROLE",
                    "FUNDS_MANAGEMENT_ROLE",
                    "ACCESS_MANAGEMENT_ROLE",
                    "ADMIN",
                ],
            },
        },
    },
}


def _strings(max_items: int, item: Schema | None = None) -> Schema:
    return {"type": "array", "maxItems": max_items, "items": item or {"type": "string"}}


SPEND_RULES: Schema = {
    "type": "object",
    "properties": {
        "allowedMerchantCategories": _strings(200),
        "blockedMerchantCategories": _strings(200),
        "allowedMerchantIds": _strings(200),
        "blockedMerchantIds": _strings(200),
        "allowedMerchantCountries": _strings(50, COUNTRY),
        "blockedMerchantCountries": _strings(50, COUNTRY),
        "allowContactless": {"type": "boolean"},
        "allowAtm": {"type": "boolean"},
        "allowECommerce": {"type": "boolean"},
        "allowCashback": {"type": "boolean"},
        "allowCreditAuthorisations": {"type": "boolean"},
        "rolloverPolicy": {
            "type": "object",
            "required": ["rolloverNegative"],
            "properties": {"rolloverNegative": {"type": "boolean"}},
        },
        "spendLimit": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["value", "interval"],
                "properties": {
                    "startTimestamp": INT64,
                    "value": CURRENCY_AMOUNT,
                    "interval": {
                        "type": "string",
                        "enum": ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY", "ALWAYS"],
                    },
                },
            },
        },
        "minTransactionAmount": {**INT64, "minimum": 0},
        "maxTransactionAmount": {**INT64, "minimum": 0},
        "updateSpendLimitMethod": {"type": "string", "enum": ["OVERWRITE", "INCREMENT"]},
    },
}

Problem = tuple[str, str, list[str]]  # fieldName, error, params


def item_schema(path_param: str | None, body: Schema | None) -> Schema:
    """One item of a submission: ``pathParams`` (the path id, digits) and ``requestBody``."""
    params: Schema = {"type": "object", "properties": {}}
    if path_param is not None:
        params = {"type": "object", "required": [path_param], "properties": {path_param: ID}}
    schema: Schema = {"type": "object", "properties": {"pathParams": params}}
    if body is not None:
        schema["required"] = ["requestBody"]
        schema["properties"]["requestBody"] = body
    return schema


class ItemChecker:
    """A jsonschema (Draft 2020-12) validator for one kind's items, built once per kind;
    its errors become ``invalidFields`` entries named as sent (``[3].requestBody.email``)."""

    def __init__(self, schema: Schema) -> None:
        from jsonschema import Draft202012Validator  # only once a submission is checked

        Draft202012Validator.check_schema(schema)
        self._validator = Draft202012Validator(schema)

    def check(self, item: Any, name: str) -> list[Problem]:
        """Every way ``item`` (the ``name``-th of the request, e.g. ``[3]``) breaks the schema."""
        out: list[Problem] = []
        for error in self._validator.iter_errors(item):
            _add(error, name, out)
        return _unique(out)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        if (problem[0], problem[1]) not in seen:
            seen.add((problem[0], problem[1]))
            kept.append(problem)
    return kept


def _field(name: str, path: Any) -> str:
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else f".{step}"
    return name


def _add(error: ValidationError, name: str, out: list[Problem]) -> None:
    field = _field(name, error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value, keyword = error.instance, error.validator
    if keyword == "anyOf":  # the alternative that comes closest names the problems
        by_option: dict[Any, list[ValidationError]] = {}
        for sub in error.context or ():
            by_option.setdefault(sub.schema_path[0], []).append(sub)
        closest = min(by_option.values(), key=len, default=[])
        for sub in closest:
            _add(sub, name, out)
        if not closest:
            out.append((field, "IN", []))
    elif keyword == "required":
        present: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
        out += [
            (f"{field}.{key}", "REQUIRED", []) for key in schema["required"] if key not in present
        ]
    elif keyword == "type":
        out.append((field, "IN", [str(schema["type"])]))
    elif keyword == "enum":
        out.append((field, "IN", [str(v) for v in schema["enum"]]))
    elif keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        low = schema.get("minItems" if "Items" in keyword else "minLength", 0)
        high = schema.get("maxItems" if "Items" in keyword else "maxLength")
        out.append((field, "SIZE", [str(low), "" if high is None else str(high)]))
    elif keyword == "pattern":
        out.append((field, "REGEX", [str(schema["pattern"])]))
    elif keyword in ("minimum", "maximum"):
        out.append((field, "RANGE", [str(schema.get("minimum")), str(schema.get("maximum"))]))
    else:
        out.append((field, "IN", []))
