"""Checking the items of a submission against what the spec states, each problem named by
the field and by where the item was read ("line 3", "row 4", "sequence 17"); numbers that
no format holds are kept as ``OutOfRange`` and named, never converted. No file reading here:
``bulkctl.files.reading`` reads, and ``bulkctl.files.submission`` (rerun) checks items of its own.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bulkctl.api.kinds import DIGITS, INT64_MAX, INT64_MIN, KINDS, Kind, Schema
from bulkctl.errors import UsageError, closest

if TYPE_CHECKING:
    from jsonschema import ValidationError

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
        near = closest(name.strip().replace("_", "-"), list(KINDS))
        guess = f"did you mean {near}? " if near else ""
        raise UsageError(f"unknown kind {name!r}", hint=f"{guess}kinds: {', '.join(KINDS)}")
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
        kind = schema.get("type")
        if kind == "integer" and _INTEGER_TEXT.match(value.strip()):
            return parse_int(value.strip())
        if kind == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value
    if isinstance(value, list):
        return [coerce(v, schema.get("items")) for v in value]
    if isinstance(value, dict):
        props: dict[str, Schema] = dict(schema.get("properties", {}))
        for alternative in schema.get("anyOf", ()):
            props.update(alternative.get("properties", {}))
        return {k: coerce(v, props.get(k)) for k, v in value.items()}
    return value


# -- validation -------------------------------------------------------------------------------


class BodyChecker:
    """One kind's request-body schema as a jsonschema (Draft 2020-12) validator, built once
    per kind (``body_checker``), whose errors become messages naming the field.

    Two departures from plain Draft 2020-12, both closer to what the server accepts:
    an integer is a JSON integer (``1.0`` is refused; ``true`` never passes, as in
    jsonschema), and a ``pattern``'s ``$`` ends the text (Python's also passes a final
    newline).
    """

    def __init__(self, schema: Schema) -> None:
        from jsonschema import Draft202012Validator, validators  # only once a file is checked

        Draft202012Validator.check_schema(schema)
        checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
        strict = validators.extend(  # type: ignore[no-untyped-call]
            Draft202012Validator, {"pattern": _pattern}, type_checker=checker
        )
        self._validator = strict(schema)

    def problems(self, body: Any, name: str) -> list[str]:
        """What is wrong with ``body`` (``name``: ``requestBody``, or "" for a bare record),
        every problem, each message naming the field (``requestBody.destination.id: ...``)."""
        found: dict[tuple[str | int, ...], list[ValidationError]] = {}
        for error in self._validator.iter_errors(body):
            found.setdefault(tuple(error.absolute_path), []).append(error)
        messages: list[str] = []
        for path, errors in found.items():
            messages += _messages(_name(name, path), errors)
        return messages


_CHECKERS: dict[str, BodyChecker] = {}


def body_checker(kind: Kind) -> BodyChecker | None:
    """The kind's body validator, built on first use; None for a kind without a body."""
    if kind.body is None:
        return None
    checker = _CHECKERS.get(kind.name)
    if checker is None:
        checker = _CHECKERS[kind.name] = BodyChecker(kind.body)
    return checker


def _is_integer(_checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(validator: Any, pattern: str, value: Any, schema: Schema) -> Iterator[Any]:
    if not isinstance(value, str):
        return
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        ended = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        compiled = _PATTERNS[pattern] = re.compile(ended)
    if compiled.search(value) is None:
        from jsonschema import ValidationError

        yield ValidationError(f"{value!r} does not match {pattern!r}")


def _name(name: str, path: tuple[str | int, ...]) -> str:
    for step in path:
        name = _join(name, str(step))
    return name


def _messages(name: str, errors: list[ValidationError]) -> list[str]:
    """The messages for the errors found at one place: every missing field of an object,
    else one message, the most telling."""
    label = name or "the body"
    value: Any = errors[0].instance
    schema: Schema = dict(errors[0].schema) if isinstance(errors[0].schema, dict) else {}
    by_keyword = {str(e.validator): e for e in errors}
    if isinstance(value, OutOfRange):  # whatever the field: no format holds it
        return [f"{label}: the number {value}"]
    if "required" in by_keyword and isinstance(value, dict):
        return [f"{_join(name, key)}: required" for key in schema["required"] if key not in value]
    if "type" in by_keyword:
        return [_wrong_type(label, name, schema, value)]
    if "anyOf" in by_keyword:
        return [f"{label}: must be {schema.get('title', 'an object')}, got {shown(value)}"]
    if "minimum" in by_keyword:
        return [f"{label}: must be at least {schema['minimum']}, got {value}"]
    if "maximum" in by_keyword:
        return [f"{label}: must be at most {schema['maximum']}, got {value}"]
    if "maxItems" in by_keyword:
        return [f"{label}: at most {schema['maxItems']} entries, got {len(value)}"]
    return [_wrong_string(label, schema, value, by_keyword)]


def _wrong_type(label: str, name: str, schema: Schema, value: Any) -> str:
    kind = schema.get("type")
    if kind == "integer":
        hint = " (in the smallest unit, e.g. cents)" if name.endswith("mount") else ""
        return f"{label}: must be a whole number{hint}, got {shown(value)}"
    if kind == "boolean":
        return f"{label}: must be true or false"
    if kind == "string":
        quoted = " (in quotes)" if isinstance(value, int | float) else ""
        return f"{label}: must be a string{quoted}, got {shown(value)}"
    if kind == "array":
        return f"{label}: must be an array, got {shown(value)}"
    return f"{label}: must be {schema.get('title') or 'an object'}, got {shown(value)}"


def _wrong_string(label: str, schema: Schema, value: Any, by_keyword: Mapping[str, Any]) -> str:
    if schema.get("title"):
        return f"{label}: must be {schema['title']}, got {shown(value)}"
    if "enum" in by_keyword:
        return f"{label}: must be one of {', '.join(schema['enum'])}, got {shown(value)}"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if ("minLength" in by_keyword or "maxLength" in by_keyword) and low == high:
        return f"{label}: must be {low} characters, got {shown(value)}"
    if "minLength" in by_keyword:
        if low == 1:
            return f"{label}: must not be empty"
        return f"{label}: at least {low} characters, got {len(value)}"
    if "maxLength" in by_keyword:
        return f"{label}: at most {high} characters, got {len(value)}"
    if schema.get("pattern") == DIGITS:
        return f"{label}: must be digits only (0-9), got {shown(value)}"
    return f"{label}: does not match {schema.get('pattern')}, got {shown(value)}"


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def _check_path_id(value: Any, label: str) -> list[str]:
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [f"{label}: must be a string of digits (in quotes), got {value}"]
    return [f"{label}: must be digits only (0-9), got {shown(value)}"]


def normalize_item(
    kind: Kind, record: Any, *, from_text: bool = False, check_body: bool = True
) -> tuple[Item, list[str]]:
    """The item as sent for one record, and every problem of it.

    A record is ``{pathParams, requestBody}``, or a bare request body whose ``id`` field is
    the path id. ``from_text`` (CSV) turns text into the integers and booleans the kind's
    schema asks for. ``check_body=False`` skips the schema, for a record already checked.
    """
    if not isinstance(record, dict):
        return {}, [f"must be a JSON object, got {shown(record)}"]
    if "pathParams" in record or "requestBody" in record:
        return _normalize_wrapped(kind, record, from_text, check_body)
    return _normalize_bare(kind, record, from_text, check_body)


def _normalize_wrapped(
    kind: Kind, record: dict[str, Any], from_text: bool, check_body: bool
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
    if check_body:
        problems += _body_problems(kind, body, "requestBody")
    item["requestBody"] = body
    return item, problems


def _normalize_bare(
    kind: Kind, record: dict[str, Any], from_text: bool, check_body: bool
) -> tuple[Item, list[str]]:
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
    if check_body:
        problems += _body_problems(kind, body, "")
    item["requestBody"] = body
    return item, problems


def _body_problems(kind: Kind, body: Any, name: str) -> list[str]:
    checker = body_checker(kind)
    return checker.problems(body, name) if checker is not None else []


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


def checked_item(
    kind: Kind, record: Any, from_text: bool, *, checked_before: bool = False
) -> tuple[Item, list[str]]:
    """The item and every problem of it; ``checked_before``: the same record passed before,
    so the schema and the JSON encoding need no second look."""
    item, messages = normalize_item(
        kind, record, from_text=from_text, check_body=not checked_before
    )
    if checked_before:
        return item, messages
    return item, messages + ([] if messages else _unsendable(item))
