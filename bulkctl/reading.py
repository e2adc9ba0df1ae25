"""Reading a file of items for ``submit``: JSON Lines, a JSON array or CSV, each record
named by its line or row, and validated against what the spec states before anything is
sent. No HTTP here; ``bulkctl.submission`` chunks and sends what this module reads.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bulkctl.api.kinds import DIGITS, KINDS, Kind, Schema
from bulkctl.errors import UsageError

FORMATS: tuple[str, ...] = ("jsonl", "json", "csv")
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

    def __init__(self, source: str, problems: Sequence[Problem], hint: str | None = None) -> None:
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: {count} {noun}, nothing was sent", hint=hint)
        self.source = source
        self.problems = list(problems)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {p}" for p in self.problems)] + (
            [self.hint] if self.hint else []
        )


def kind_named(name: str) -> Kind:
    """The kind for a command-line name such as ``card-blocks``; UsageError otherwise."""
    kind = KINDS.get(name.strip().lower())
    if kind is None:
        raise UsageError(f"unknown kind {name!r}", hint=f"one of: {', '.join(KINDS)}")
    return kind


# -- reading ----------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """A value for an error message: JSON, escaped (never terminal control), kept short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def detect_format(name: str, text: str) -> str:
    """jsonl, json or csv: ``.csv`` is CSV; otherwise '[' opens a JSON array, '{' JSON Lines."""
    if name.lower().endswith(".csv"):
        return "csv"
    head = text.lstrip()
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl"
    return "csv"


def read_source(source: str, stdin: TextIO) -> str:
    """The text of FILE, or of stdin for ``-`` (UTF-8; a byte-order mark is dropped)."""
    if source == "-":
        text = stdin.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{source}: not UTF-8 text (byte {exc.start})") from exc
    return text.removeprefix("\ufeff")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def parse_records(text: str, fmt: str) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """Each record of the text with where it is, and the problems of the text itself.

    CSV records are nested objects built from dotted headers (``a.b`` -> {"a": {"b": …}},
    a numeric segment an array index), every value a string, empty cells left out.
    """
    if fmt == "jsonl":
        return _parse_jsonl(text)
    if fmt == "json":
        return _parse_json_array(text)
    if fmt == "csv":
        return _parse_csv(text)
    raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")


def _parse_jsonl(text: str) -> tuple[list[tuple[str, Any]], list[Problem]]:
    records: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except (ValueError, RecursionError) as exc:
            problems.append(Problem(f"line {number}", f"not JSON ({_json_reason(exc)})"))
    return records, problems


def _json_reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def _parse_json_array(text: str) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """Element by element, so that each item is named by the line it starts on."""
    decoder = json.JSONDecoder()
    records: list[tuple[str, Any]] = []
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        return [], [Problem(f"line {_line_of(text, pos)}", "expected a JSON array '['")]
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        return [], []
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            where = f"line {_line_of(text, pos)}"
            return records, [Problem(where, f"not JSON ({_json_reason(exc)}); reading stopped")]
        records.append((f"line {_line_of(text, pos)}", value))
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
            continue
        if text.startswith("]", pos) and not text[pos + 1 :].strip():
            return records, []
        where = f"line {_line_of(text, pos)}"
        return records, [Problem(where, "expected ',' or the closing ']' of the array")]


def _skip_space(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON whitespace."""
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _parse_csv(text: str) -> tuple[list[tuple[str, Any]], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [Problem("row 1", f"not CSV ({exc})")]
    if header is None:
        return [], []
    columns = [h.strip() for h in header]
    header_problems = _check_header(columns)
    if header_problems:
        return [], [Problem("row 1", p) for p in header_problems]
    records: list[tuple[str, Any]] = []
    row_number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"row {row_number + 1}", f"not CSV ({exc})"))
            break
        row_number += 1
        if not any(cell.strip() for cell in row):
            continue
        where = f"row {row_number}"
        if len(row) > len(columns):
            problems.append(
                Problem(where, f"{len(row)} cells, but the header names {len(columns)}")
            )
            continue
        cells = {c: v for c, v in zip(columns, row, strict=False) if v != ""}
        records.append((where, _unflatten(cells)))
    return records, problems


def _check_header(columns: list[str]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(columns, start=1):
        if not name or any(not part for part in name.split(".")):
            problems.append(f"column {index} has no usable name ({name!r})")
        elif name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    for name in seen:
        parts = name.split(".")
        for cut in range(1, len(parts)):
            prefix = ".".join(parts[:cut])
            if prefix in seen:
                problems.append(f"column {prefix!r} is both a value and the object of {name!r}")
    return sorted(set(problems), key=problems.index)


def _unflatten(cells: dict[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for name, value in cells.items():
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)  # type: ignore[no-any-return]


def _lists(node: Any) -> Any:
    """Objects whose keys are all digits become arrays, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isascii() and k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _coerce(value: Any, schema: Schema | None) -> Any:
    """CSV text made into the integers and booleans the schema asks for; the rest as is."""
    if schema is None:
        return value
    if isinstance(value, str):
        if schema.type == "integer" and _INTEGER_TEXT.match(value.strip()):
            return int(value.strip())
        if schema.type == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value
    if isinstance(value, list):
        return [_coerce(v, schema.items) for v in value]
    if isinstance(value, dict):
        props: dict[str, Schema] = dict(schema.properties)
        for alternative in schema.one_of:
            props.update(alternative.properties)
        return {k: _coerce(v, props.get(k)) for k, v in value.items()}
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
        body = _coerce(body, kind.body)
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
        body = _coerce(body, kind.body)
    problems += check_value(body, kind.body, "")
    item["requestBody"] = body
    return item, problems


def _unsendable(item: Item) -> list[str]:
    """What would keep the item from being sent as JSON in UTF-8: NaN, lone surrogates."""
    try:
        json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        if isinstance(exc, UnicodeEncodeError):
            return ["holds text that is not valid Unicode (a lone surrogate escape)"]
        return ["holds NaN or Infinity, which JSON does not allow"]
    return []


def validate_records(
    kind: Kind, records: Iterable[tuple[str, Any]], *, from_text: bool = False
) -> tuple[list[Item], list[Problem]]:
    """Items for the records, and every problem of every record, named by where it is."""
    items: list[Item] = []
    problems: list[Problem] = []
    for where, record in records:
        item, messages = normalize_item(kind, record, from_text=from_text)
        messages += _unsendable(item)
        problems += [Problem(where, m) for m in messages]
        items.append(item)
    return items, problems


def load_items(kind: Kind, source: str, stdin: TextIO, fmt: str | None = None) -> list[Item]:
    """The validated items of FILE (or ``-``), ready to send; ``InvalidInput`` naming every
    problem, with its line or row, when any record is wrong, or when there are none."""
    text = read_source(source, stdin)
    name = "stdin" if source == "-" else source
    chosen = fmt or detect_format(name, text)
    records, problems = parse_records(text, chosen)
    items, item_problems = validate_records(kind, records, from_text=chosen == "csv")
    problems += item_problems
    problems.sort(key=_position)
    if problems:
        raise InvalidInput(name, problems)
    if not items:
        raise UsageError(f"{name}: no items to submit")
    return items


def _position(problem: Problem) -> int:
    number = problem.where.rsplit(" ", 1)[-1]
    return int(number) if number.isdigit() else 0
