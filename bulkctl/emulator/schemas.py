"""The submission endpoints' request bodies, as the spec describes them, and their checker.

Schemas are plain dicts in a small subset of JSON Schema (type, required, properties,
items, minItems/maxItems, minLength/maxLength, pattern, enum, minimum/maximum, anyOf).
The spec's ``oneOf`` beneficiaries are checked as "matches at least one": SEPA and RIX
beneficiaries have the same shape, so a strict oneOf would refuse both.

Each problem becomes one ``invalidFields`` entry named by its path in the request,
``[3].requestBody.email``. Error words come from the spec's SyntaxError enum: REQUIRED,
REGEX, SIZE, RANGE and IN; a value of the wrong JSON type is IN with the type as param.
"""

from __future__ import annotations

import re
from typing import Any

from bulkctl.emulator.spec import INT32_MAX, INT64_MAX

Schema = dict[str, Any]

ID: Schema = {"type": "string", "pattern": r"^[0-9]+$"}
INT64: Schema = {"type": "integer", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX}
INT32: Schema = {"type": "integer", "minimum": -INT32_MAX - 1, "maximum": INT32_MAX}
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

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "integer": (int,),
}
_PATTERNS: dict[str, re.Pattern[str]] = {}

Problem = tuple[str, str, list[str]]  # fieldName, error, params


def check(value: Any, schema: Schema, name: str, out: list[Problem]) -> None:
    """Append to ``out`` every way ``value`` (found at ``name``) breaks ``schema``."""
    if "anyOf" in schema:
        attempts: list[list[Problem]] = []
        for option in schema["anyOf"]:
            found: list[Problem] = []
            check(value, option, name, found)
            if not found:
                return
            attempts.append(found)
        closest: list[Problem] = min(attempts, key=len)
        out.extend(closest)
        return
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _PYTHON_TYPES[kind]) and not (
            kind == "integer" and isinstance(value, bool)
        )
        if not ok:
            out.append((name, "IN", [kind]))
            return
    if "enum" in schema and value not in schema["enum"]:
        out.append((name, "IN", list(schema["enum"])))
        return
    if isinstance(value, str):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if len(value) < low or (high is not None and len(value) > high):
            out.append((name, "SIZE", [str(low), str(high if high is not None else "")]))
        pattern = schema.get("pattern")
        if pattern is not None:
            compiled = _PATTERNS.get(pattern) or _PATTERNS.setdefault(pattern, re.compile(pattern))
            if compiled.search(value) is None:
                out.append((name, "REGEX", [pattern]))
    elif isinstance(value, int) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            out.append((name, "RANGE", [str(low), str(high)]))
    elif isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                out.append((f"{name}.{key}", "REQUIRED", []))
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(value[key], sub, f"{name}.{key}", out)
    elif isinstance(value, list):
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        if len(value) < low or (high is not None and len(value) > high):
            out.append((name, "SIZE", [str(low), str(high if high is not None else "")]))
        item = schema.get("items")
        if item is not None:
            for i, element in enumerate(value):
                check(element, item, f"{name}[{i}]", out)
