"""Checking the items of a submission against what the spec states, each problem named by
the field and by where the item was read ("line 3", "row 4", "sequence 17"); numbers that
no format holds are kept as ``OutOfRange`` and named, never converted. No file reading here:
``bulkctl.files.reading`` reads, and ``bulkctl.files.submission`` (rerun) checks items of its own.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bulkctl.api.kinds import DIGITS, INT64_MAX, INT64_MIN, KINDS, Kind, Schema
from bulkctl.errors import UsageError

Item = dict[str, Any]  # {"pathParams": {...}, "requestBody": {...}} as sent; no body for some kinds
_DIGITS_RE = re.compile(DIGITS)
_INTEGER_TEXT = re.compile(r"^-?[0-9]+$")


# -- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, and where: "line 3", "row 4", "sequence 17"."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class InvalidInput(UsageError):
    """Every problem found in the input; nothing was sent (exit 2)."""

    def __init__(
        self, source: str, problems: Sequence[Problem], hint: str | None = None, *, more: int = 0
    ) -> None:
        count = len(problems) + more
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: {count:,} {noun}, nothing was sent", hint=hint)
        self.source = source
        self.problems = list(problems)
        self.more = more  # problems found but not listed

    def lines(self, command: Callable[..., str] | None = None) -> list[str]:
        listed = [f"  {p}" for p in self.problems]
        if self.more:
            listed.append(f"  ... and {self.more:,} more")
        hint = self.hint_text(command)
        return [self.message, *listed] + ([hint] if hint else [])


def kind_named(name: str) -> Kind:
    """The kind for a command-line name such as ``card-blocks``; UsageError otherwise."""
    kind = KINDS.get(name.strip().lower())
    if kind is None:
        raise UsageError(f"unknown kind {name!r}", hint=f"one of: {', '.join(KINDS)}")
    return kind


# -- numbers ----------------------------------------------------------------------------------


class OutOfRange:
    """A number in the input that no field's format holds: an integer beyond int64, a float
    beyond a float's range, NaN or Infinity. Kept as text, so it is named, never converted."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def __str__(self) -> str:
        short = self.text if len(self.text) <= 24 else self.text[:21] + "..."
        return f"{short} ({self.what})"


def parse_int(text: str) -> int | OutOfRange:
    if len(text.lstrip("-")) > 19:  # before int(): 5,000 digits are no int64, and slow
        return OutOfRange(text, "beyond a 64-bit integer")
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else OutOfRange(text, "beyond a 64-bit integer")


def parse_float(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text, "beyond a float's range")


NOT_JSON = "which JSON does not allow"


def parse_constant(text: str) -> OutOfRange:
    return OutOfRange(text, NOT_JSON)


def shown(value: Any) -> str:
    """A value for an error message: JSON, escaped (never terminal control), kept short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def coerce(value: Any, schema: Schema | None) -> Any:
    """CSV text made into the integers and booleans the schema asks for; the rest as is."""
    if schema is None:
        return value
    if isinstance(value, str):
        if schema.type == "integer" and _INTEGER_TEXT.match(value.strip()):
            return parse_int(value.strip())
        if schema.type == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value
    if isinstance(value, list):
        return [coerce(v, schema.items) for v in value]
    if isinstance(value, dict):
        props: dict[str, Schema] = dict(schema.properties)
        for alternative in schema.one_of:
            props.update(alternative.properties)
        return {k: coerce(v, props.get(k)) for k, v in value.items()}
    return value


# -- validation -------------------------------------------------------------------------------


def check_value(value: Any, schema: Schema, name: str) -> list[str]:
    """What is wrong with ``value`` against ``schema``, each message naming the field."""
    label = name or "the body"
    if schema.one_of:
        if not isinstance(value, dict):
            return [f"{label}: must be {schema.title}, got {shown(value)}"]
        if any(not check_value(value, alt, name) for alt in schema.one_of):
            return []
        return [f"{label}: must be {schema.title}, got {shown(value)}"]
    kind = schema.type
    if kind == "object":
        if not isinstance(value, dict):
            what = schema.title or "an object"
            return [f"{label}: must be {what}, got {shown(value)}"]
        problems = [
            f"{_join(name, key)}: required" for key in schema.required if value.get(key) is None
        ]
        for key, sub in schema.properties.items():
            if value.get(key) is not None:
                problems += check_value(value[key], sub, _join(name, key))
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{label}: must be an array, got {shown(value)}"]
        problems = []
        if schema.max_items is not None and len(value) > schema.max_items:
            problems.append(f"{label}: at most {schema.max_items} entries, got {len(value)}")
        if schema.items is not None:
            for index, entry in enumerate(value):
                problems += check_value(entry, schema.items, _join(name, str(index)))
        return problems
    if isinstance(value, OutOfRange):  # whatever the field: no format holds it
        return [f"{label}: the number {value}"]
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (in the smallest unit, e.g. cents)" if name.endswith("mount") else ""
            return [f"{label}: must be a whole number{hint}, got {shown(value)}"]
        if schema.minimum is not None and value < schema.minimum:
            return [f"{label}: must be at least {schema.minimum}, got {value}"]
        if schema.maximum is not None and value > schema.maximum:
            return [f"{label}: must be at most {schema.maximum}, got {value}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{label}: must be true or false"]
    if kind == "string":
        return _check_string(value, schema, label)
    return []


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _matches(pattern: str, value: str) -> bool:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern, re.ASCII)
    return compiled.fullmatch(value) is not None


def _check_string(value: Any, schema: Schema, label: str) -> list[str]:
    if not isinstance(value, str):
        quoted = " (in quotes)" if isinstance(value, int | float) else ""
        return [f"{label}: must be a string{quoted}, got {shown(value)}"]
    length = len(value)
    short = schema.min_length is not None and length < schema.min_length
    long = schema.max_length is not None and length > schema.max_length
    unlike = schema.pattern is not None and not _matches(schema.pattern, value)
    if not (short or long or unlike) and (not schema.enum or value in schema.enum):
        return []
    if schema.title:
        return [f"{label}: must be {schema.title}, got {shown(value)}"]
    if schema.enum and value not in schema.enum:
        return [f"{label}: must be one of {', '.join(schema.enum)}, got {shown(value)}"]
    if (short or long) and schema.min_length == schema.max_length:
        return [f"{label}: must be {schema.min_length} characters, got {shown(value)}"]
    if short:
        if schema.min_length == 1:
            return [f"{label}: must not be empty"]
        return [f"{label}: at least {schema.min_length} characters, got {length}"]
    if long:
        return [f"{label}: at most {schema.max_length} characters, got {length}"]
    if schema.pattern == DIGITS:
        return [f"{label}: must be digits only (0-9), got {shown(value)}"]
    return [f"{label}: does not match {schema.pattern}, got {shown(value)}"]


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def _check_path_id(value: Any, label: str) -> list[str]:
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [f"{label}: must be a string of digits (in quotes), got {value}"]
    return [f"{label}: must be digits only (0-9), got {shown(value)}"]


def normalize_item(kind: Kind, record: Any, *, from_text: bool = False) -> tuple[Item, list[str]]:
    """The item as sent for one record, and every problem of it.

    A record is ``{pathParams, requestBody}``, or a bare request body whose ``id`` field is
    the path id. ``from_text`` (CSV) turns text into the integers and booleans the kind's
    schema asks for.
    """
    if not isinstance(record, dict):
        return {}, [f"must be a JSON object, got {shown(record)}"]
    if "pathParams" in record or "requestBody" in record:
        return _normalize_wrapped(kind, record, from_text)
    return _normalize_bare(kind, record, from_text)


def _normalize_wrapped(
    kind: Kind, record: dict[str, Any], from_text: bool
) -> tuple[Item, list[str]]:
    problems = [
        f"{key}: unexpected beside pathParams and requestBody"
        for key in record
        if key not in ("pathParams", "requestBody")
    ]
    params = record.get("pathParams", {})
    path_params: dict[str, Any] = {}
    if not isinstance(params, dict):
        problems.append(f"pathParams: must be an object, got {shown(params)}")
    else:
        for key in params:
            if key != kind.path_param:
                takes = f"take only {kind.path_param}" if kind.path_param else "take none"
                problems.append(f"pathParams.{key}: unexpected ({kind.name} {takes})")
        if kind.path_param is not None:
            if params.get(kind.path_param) is None:
                problems.append(f"pathParams.{kind.path_param}: required")
            else:
                problems += _check_path_id(params[kind.path_param], f"pathParams.{kind.path_param}")
                path_params[kind.path_param] = params[kind.path_param]
    item: Item = {"pathParams": path_params}
    if kind.body is None:
        if "requestBody" in record:
            problems.append(f"requestBody: unexpected ({kind.name} take no request body)")
        return item, problems
    body = record.get("requestBody")
    if body is None:
        problems.append("requestBody: required")
        return item, problems
    if from_text:
        body = coerce(body, kind.body)
    problems += check_value(body, kind.body, "requestBody")
    item["requestBody"] = body
    return item, problems


def _normalize_bare(kind: Kind, record: dict[str, Any], from_text: bool) -> tuple[Item, list[str]]:
    body = dict(record)
    problems: list[str] = []
    path_params: dict[str, Any] = {}
    if kind.path_param is not None:
        if body.get("id") is None:
            problems.append(f"id: required (it fills {kind.path_param})")
        else:
            problems += _check_path_id(body["id"], "id")
            path_params[kind.path_param] = body["id"]
        body.pop("id", None)
    elif "id" in body:
        problems.append(f"id: unexpected ({kind.name} take no path id)")
        body.pop("id")
    item: Item = {"pathParams": path_params}
    if kind.body is None:
        problems += [f"{key}: unexpected ({kind.name} take only an id)" for key in body]
        return item, problems
    if from_text:
        body = coerce(body, kind.body)
    problems += check_value(body, kind.body, "")
    item["requestBody"] = body
    return item, problems


def _unsendable(item: Item) -> list[str]:
    """What would keep the item from being sent as JSON in UTF-8: NaN, lone surrogates, a
    number out of range in a field the spec does not name."""
    try:
        json.dumps(item, ensure_ascii=False, allow_nan=False, default=_refuse).encode("utf-8")
    except _Unsendable as exc:
        if exc.number.what == NOT_JSON:
            return [f"holds NaN or Infinity, {NOT_JSON}"]
        return [f"holds the number {exc.number}"]
    except ValueError as exc:
        if isinstance(exc, UnicodeEncodeError):
            return ["holds text that is not valid Unicode (a lone surrogate escape)"]
        return ["holds NaN or Infinity, which JSON does not allow"]
    return []


class _Unsendable(Exception):
    def __init__(self, number: OutOfRange) -> None:
        super().__init__(str(number))
        self.number = number


def _refuse(value: Any) -> Any:
    raise _Unsendable(value) if isinstance(value, OutOfRange) else TypeError(type(value).__name__)


def validate_records(
    kind: Kind, records: Iterable[tuple[str, Any]], *, from_text: bool = False
) -> tuple[list[Item], list[Problem]]:
    """Items for the records, and every problem of every record, named by where it is."""
    items: list[Item] = []
    problems: list[Problem] = []
    for where, record in records:
        item, messages = checked_item(kind, record, from_text)
        problems += [Problem(where, m) for m in messages]
        items.append(item)
    return items, problems


def checked_item(kind: Kind, record: Any, from_text: bool) -> tuple[Item, list[str]]:
    item, messages = normalize_item(kind, record, from_text=from_text)
    return item, messages + ([] if messages else _unsendable(item))
