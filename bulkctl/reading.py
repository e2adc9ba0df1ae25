"""Reading a file of items for ``submit``: JSON Lines, a JSON array or CSV, each record
named by its line or row, and validated against what the spec states before anything is
sent. No HTTP here; ``bulkctl.submission`` chunks and sends what this module reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from bulkctl.api.kinds import DIGITS, INT64_MAX, INT64_MIN, KINDS, Kind, Schema
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

    def __init__(
        self, source: str, problems: Sequence[Problem], hint: str | None = None, *, more: int = 0
    ) -> None:
        count = len(problems) + more
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: {count:,} {noun}, nothing was sent", hint=hint)
        self.source = source
        self.problems = list(problems)
        self.more = more  # problems found but not listed

    def lines(self) -> list[str]:
        listed = [f"  {p}" for p in self.problems]
        if self.more:
            listed.append(f"  ... and {self.more:,} more")
        return [self.message, *listed] + ([self.hint] if self.hint else [])


def kind_named(name: str) -> Kind:
    """The kind for a command-line name such as ``card-blocks``; UsageError otherwise."""
    kind = KINDS.get(name.strip().lower())
    if kind is None:
        raise UsageError(f"unknown kind {name!r}", hint=f"one of: {', '.join(KINDS)}")
    return kind


# -- reading ----------------------------------------------------------------------------------

MAX_LINE = 1 << 20  # a line (a JSON array's item) longer than this is refused, never held whole
MAX_PROBLEMS = 1000  # problems listed; the rest are counted
MAX_COLUMN_NAME = 1000  # characters of a CSV column name
MAX_COLUMN_DEPTH = 32  # dotted levels of a CSV column name (a.b.c is 3)
_BLOCK = 1 << 16
_BOM = b"\xef\xbb\xbf"


class OutOfRange:
    """A number in the input that no field's format holds: an integer beyond int64, a float
    beyond a float's range, NaN or Infinity. Kept as text, so it is named, never converted."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def __str__(self) -> str:
        short = self.text if len(self.text) <= 24 else self.text[:21] + "..."
        return f"{short} ({self.what})"


def _parse_int(text: str) -> int | OutOfRange:
    if len(text.lstrip("-")) > 19:  # before int(): 5,000 digits are no int64, and slow
        return OutOfRange(text, "beyond a 64-bit integer")
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else OutOfRange(text, "beyond a 64-bit integer")


def _parse_float(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text, "beyond a float's range")


NOT_JSON = "which JSON does not allow"


def _parse_constant(text: str) -> OutOfRange:
    return OutOfRange(text, NOT_JSON)


_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)


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


class _Stop(Exception):
    """Reading cannot go on: the problem, at its place."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


Record = tuple[str, Any]  # where ("line 3", "row 4"), and the record read there
Read = tuple[str, Any, str | None]  # where, the record (None when unreadable), the problem


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Each line's number and bytes, split on b"\\n" only (never on U+2028 or U+0085, which
    JSON allows in strings); None for a line over MAX_LINE, skipped without holding it."""
    number = 0
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := handle.readline(_BLOCK)) and not rest.endswith(b"\n"):
                pass  # the rest of the long line, a block at a time
            yield number, None
            continue
        yield number, line


def _decoded(line: bytes, where: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Stop(Problem(where, f"not UTF-8 text (byte {exc.start + 1} of the line)")) from exc


def _json_reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def _read_jsonl(handle: BinaryIO) -> Iterator[Read]:
    for number, line in _lines(handle):
        where = f"line {number}"
        if line is None:
            yield where, None, f"longer than {MAX_LINE:,} bytes"
            continue
        try:
            text = _decoded(line, where)
        except _Stop as stop:
            yield where, None, stop.problem.message
            continue
        if not text.strip():
            continue
        try:
            yield where, _DECODER.decode(text), None
        except (ValueError, RecursionError) as exc:
            yield where, None, f"not JSON ({_json_reason(exc)})"


class _TextBuffer:
    """The text of a binary file, decoded a block at a time, with the line number of its
    first character, so a JSON array is read without holding more than an item."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self) -> None:
        """More text; raises _Stop on bytes that are not UTF-8."""
        if self.pos:
            self.line += self.text.count("\n", 0, self.pos)
            self.text = self.text[self.pos :]
            self.pos = 0
        block = self.handle.read(_BLOCK)
        try:
            self.text += self.decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            raise _Stop(Problem(f"line {self.where_line()}", "not UTF-8 text")) from exc
        self.eof = not block

    def where_line(self) -> int:
        return self.line + self.text.count("\n", 0, self.pos)

    def skip_space(self) -> bool:
        """Past JSON whitespace; False at the end of the file."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.text):
                return True
            if self.eof:
                return False
            self.fill()

    def value(self) -> Any:
        """The JSON value at pos, read as far as it goes (up to MAX_LINE); raises _Stop."""
        where = f"line {self.where_line()}"
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end - self.pos > MAX_LINE:
                    break
                if end < len(self.text) or self.eof:  # a number may go on in the next block
                    self.pos = end
                    return value
            except RecursionError as exc:
                raise _Stop(
                    Problem(where, "not JSON (nested too deeply); reading stopped")
                ) from exc
            except ValueError as exc:
                if self.eof:
                    reason = _json_reason(exc)
                    raise _Stop(Problem(where, f"not JSON ({reason}); reading stopped")) from exc
            if len(self.text) - self.pos > MAX_LINE:
                break
            self.fill()
        raise _Stop(Problem(where, f"an item longer than {MAX_LINE:,} bytes; reading stopped"))


def _read_json_array(handle: BinaryIO) -> Iterator[Read]:
    """Element by element, so that each item is named by the line it starts on."""
    buffer = _TextBuffer(handle)
    try:
        if not buffer.skip_space() or buffer.text[buffer.pos] != "[":
            raise _Stop(Problem(f"line {buffer.where_line()}", "expected a JSON array '['"))
        buffer.pos += 1
        if buffer.skip_space() and buffer.text[buffer.pos] == "]":
            buffer.pos += 1
        else:
            while True:
                if not buffer.skip_space():
                    break
                where = f"line {buffer.where_line()}"
                yield where, buffer.value(), None
                ended = not buffer.skip_space()
                if not ended and buffer.text[buffer.pos] == ",":
                    buffer.pos += 1
                    continue
                if not ended and buffer.text[buffer.pos] == "]":
                    buffer.pos += 1
                    if not buffer.skip_space():
                        return
                problem = "expected ',' or the closing ']' of the array"
                raise _Stop(Problem(f"line {buffer.where_line()}", problem))
        if buffer.skip_space():
            problem = "expected ',' or the closing ']' of the array"
            raise _Stop(Problem(f"line {buffer.where_line()}", problem))
    except _Stop as stop:
        yield stop.problem.where, None, stop.problem.message


def _csv_lines(handle: BinaryIO) -> Iterator[str]:
    for number, line in _lines(handle):
        if line is None:
            problem = f"longer than {MAX_LINE:,} bytes; reading stopped"
            raise _Stop(Problem(f"line {number}", problem))
        yield _decoded(line, f"line {number}")


def _read_csv(handle: BinaryIO) -> Iterator[Read]:
    csv.field_size_limit(MAX_LINE)
    reader = csv.reader(_csv_lines(handle))
    try:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise _Stop(Problem("row 1", f"not CSV ({exc})")) from exc
        if header is None:
            return
        columns = [h.strip() for h in header]
        header_problems = _check_header(columns)
        if header_problems:
            for problem in header_problems:
                yield "row 1", None, problem
            return
        row_number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _Stop(Problem(f"row {row_number + 1}", f"not CSV ({exc})")) from exc
            row_number += 1
            if not any(cell.strip() for cell in row):
                continue
            where = f"row {row_number}"
            if len(row) > len(columns):
                yield where, None, f"{len(row)} cells, but the header names {len(columns)}"
                continue
            cells = {c: v for c, v in zip(columns, row, strict=False) if v != ""}
            yield where, _unflatten(cells), None
    except _Stop as stop:
        yield stop.problem.where, None, stop.problem.message


_READERS: dict[str, Callable[[BinaryIO], Iterator[Read]]] = {
    "jsonl": _read_jsonl,
    "json": _read_json_array,
    "csv": _read_csv,
}


def read_source(source: str, stdin: TextIO) -> str:
    """The text of FILE, or of stdin for ``-`` (UTF-8; a byte-order mark is dropped); whole,
    for callers that want it so (``submit`` streams: see ``InputFile``)."""
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


def parse_records(text: str, fmt: str) -> tuple[list[Record], list[Problem]]:
    """Each record of the text with where it is, and the problems of the text itself.

    CSV records are nested objects built from dotted headers (``a.b`` -> {"a": {"b": …}},
    a numeric segment an array index), every value a string, empty cells left out.
    """
    reader = _READERS.get(fmt)
    if reader is None:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    records: list[Record] = []
    problems: list[Problem] = []
    for where, record, problem in reader(io.BytesIO(text.encode("utf-8", "surrogatepass"))):
        if problem is not None:
            problems.append(Problem(where, problem))
        else:
            records.append((where, record))
    return records, problems


def _check_header(columns: list[str]) -> list[str]:
    """The problems of a CSV header, in time linear in its size (names are bounded)."""
    problems: dict[str, None] = {}  # in order, each once
    seen: set[str] = set()
    for index, name in enumerate(columns, start=1):
        parts = name.split(".", MAX_COLUMN_DEPTH)
        if len(name) > MAX_COLUMN_NAME:
            problems[f"column {index}: a name over {MAX_COLUMN_NAME:,} characters"] = None
        elif not name or any(not part for part in parts):
            problems[f"column {index} has no usable name ({_named(name)})"] = None
        elif len(parts) > MAX_COLUMN_DEPTH:
            problems[f"column {index} nests deeper than {MAX_COLUMN_DEPTH} levels"] = None
        elif name in seen:
            problems[f"column {_named(name)} appears twice"] = None
        else:
            seen.add(name)
    for name in seen:
        prefix = ""
        for part in name.split(".")[:-1]:
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in seen:
                problem = (
                    f"column {_named(prefix)} is both a value and the object of {_named(name)}"
                )
                problems[problem] = None
    return list(problems)


def _named(name: str) -> str:
    """A column name for a message, quoted as Python does (escapes shown), kept short."""
    return repr(name if len(name) <= 40 else name[:37] + "...")


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
            return _parse_int(value.strip())
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
        item, messages = _checked_item(kind, record, from_text)
        problems += [Problem(where, m) for m in messages]
        items.append(item)
    return items, problems


def _checked_item(kind: Kind, record: Any, from_text: bool) -> tuple[Item, list[str]]:
    item, messages = normalize_item(kind, record, from_text=from_text)
    return item, messages + ([] if messages else _unsendable(item))


class InputFile:
    """A file of items for ``submit``, read twice and never held whole: once to validate
    every record (``check``), once to send (``items``). Stdin is first spooled to a private
    temporary file, so it can be read twice too."""

    def __init__(self, kind: Kind, source: str, stdin: TextIO, fmt: str | None = None) -> None:
        self.kind = kind
        self.name = "stdin" if source == "-" else source
        self.handle = _spooled(stdin) if source == "-" else _opened(source)
        head = self.handle.read(_BLOCK)
        self.start = len(_BOM) if head.startswith(_BOM) else 0
        self.fmt = fmt or detect_format(self.name, head[self.start :].decode("utf-8", "replace"))
        if self.fmt not in _READERS:
            raise UsageError(f"unknown format {self.fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
        self.count = 0

    def _read(self) -> Iterator[Read]:
        self.handle.seek(self.start)
        return _READERS[self.fmt](self.handle)

    def check(self) -> int:
        """Validate every record in one pass; the number of items, or ``InvalidInput``
        naming the problems (the first MAX_PROBLEMS, the rest counted), or a UsageError when
        there are none."""
        problems: list[Problem] = []
        more = 0
        count = 0
        for where, record, problem in self._read():
            messages = [problem] if problem is not None else []
            if problem is None:
                count += 1
                messages = _checked_item(self.kind, record, self.fmt == "csv")[1]
            for message in messages:
                if len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(where, message))
                else:
                    more += 1
        if problems:
            problems.sort(key=_position)
            raise InvalidInput(self.name, problems, more=more)
        if not count:
            raise UsageError(f"{self.name}: no items to submit")
        self.count = count
        return count

    def items(self) -> Iterator[Item]:
        """The items, read again after ``check``; a record that is wrong now (the file
        changed meanwhile) stops the reading with a UsageError."""
        for where, record, problem in self._read():
            item, messages = (
                ({}, [problem])
                if problem is not None
                else _checked_item(self.kind, record, self.fmt == "csv")
            )
            if messages:
                raise UsageError(
                    f"{self.name} changed while it was read: {where}: {messages[0]}",
                    hint="send it again once it no longer changes",
                )
            yield item

    def close(self) -> None:
        self.handle.close()


def _opened(source: str) -> BinaryIO:
    try:
        return open(source, "rb")  # closed by InputFile.close
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc


def _spooled(stdin: TextIO) -> BinaryIO:
    """Stdin copied to a private temporary file (0600, already unlinked), a block at a time."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  closed by InputFile.close
    raw = getattr(stdin, "buffer", None)
    while True:
        block = raw.read(_BLOCK) if raw is not None else stdin.read(_BLOCK).encode("utf-8")
        if not block:
            break
        spool.write(block)
    spool.seek(0)
    return spool


def load_items(kind: Kind, source: str, stdin: TextIO, fmt: str | None = None) -> list[Item]:
    """The validated items of FILE (or ``-``), ready to send; ``InvalidInput`` naming every
    problem, with its line or row, when any record is wrong, or when there are none. Holds
    every item: ``submit`` streams through ``InputFile`` instead."""
    source_file = InputFile(kind, source, stdin, fmt)
    try:
        source_file.check()
        return list(source_file.items())
    finally:
        source_file.close()


def _position(problem: Problem) -> int:
    number = problem.where.rsplit(" ", 1)[-1]
    return int(number) if number.isdigit() else 0
