"""From a file, or a finished bulk, to chunks ready to submit; no HTTP here.

``submit`` and ``rerun`` call this module: read items (JSON Lines, a JSON array or CSV),
validate every one against what the spec states before anything is sent, split them into
chunks of at most 10,000 with a deterministic idempotency-ref each, remember which ref
became which bulk (the journal), and plan a rerun from a bulk's operations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bulkctl.api.kinds import BACKOFFICE, DIGITS, KINDS, MAX_ITEMS, Kind, Schema, kind_of_operation
from bulkctl.api.kinds import path_params_of as _path_params_of
from bulkctl.api.records import BulkOperation, BulkProcess, as_int, as_text
from bulkctl.errors import BulkctlError, StorageError, UsageError
from bulkctl.paging import listing
from bulkctl.safefile import (
    MAX_PRIVATE_FILE,
    TooLarge,
    atomic_write,
    check_private_dir,
    make_private_dir,
    read_private,
    refuse_symlink,
)

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

FORMATS: tuple[str, ...] = ("jsonl", "json", "csv")
Item = dict[str, Any]  # {"pathParams": {...}, "requestBody": {...}} as sent; no body for some kinds
REF_PREFIX = "bulkctl-"
JOURNAL_FILE = "submissions.json"
JOURNAL_KEEP_SECONDS = 30 * 24 * 3600  # the API keeps refs at least 24 h; the journal longer
JOURNAL_LIMIT = MAX_PRIVATE_FILE - 4096  # bytes written, below what a reader accepts
JOURNAL_TRIMMED = JOURNAL_LIMIT * 3 // 4  # a full journal drops to this, so trims are rare
MAX_BULK_ID = 64  # characters of a bulk id the journal stores; a longer one is no id
NOT_RUN_STATUSES = frozenset({"CANCELLED", "SUBMITTED"})
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


class RerunRefused(UsageError):
    """A bulk that cannot be rerun as asked, with the reason."""


def kind_named(name: str) -> Kind:
    """The kind for a command-line name such as ``card-blocks``; UsageError otherwise."""
    kind = KINDS.get(name.strip().lower())
    if kind is None:
        raise UsageError(f"unknown kind {name!r}", hint=f"one of: {', '.join(KINDS)}")
    return kind


# -- reading ----------------------------------------------------------------------------------


def _show(value: Any) -> str:
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
            return [f"{label}: must be {schema.title}, got {_show(value)}"]
        if any(not check_value(value, alt, name) for alt in schema.one_of):
            return []
        return [f"{label}: must be {schema.title}, got {_show(value)}"]
    kind = schema.type
    if kind == "object":
        if not isinstance(value, dict):
            what = schema.title or "an object"
            return [f"{label}: must be {what}, got {_show(value)}"]
        problems = [
            f"{_join(name, key)}: required" for key in schema.required if value.get(key) is None
        ]
        for key, sub in schema.properties.items():
            if value.get(key) is not None:
                problems += check_value(value[key], sub, _join(name, key))
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{label}: must be an array, got {_show(value)}"]
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
            return [f"{label}: must be a whole number{hint}, got {_show(value)}"]
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
        return [f"{label}: must be a string{quoted}, got {_show(value)}"]
    length = len(value)
    short = schema.min_length is not None and length < schema.min_length
    long = schema.max_length is not None and length > schema.max_length
    unlike = schema.pattern is not None and not _matches(schema.pattern, value)
    if not (short or long or unlike) and (not schema.enum or value in schema.enum):
        return []
    if schema.title:
        return [f"{label}: must be {schema.title}, got {_show(value)}"]
    if schema.enum and value not in schema.enum:
        return [f"{label}: must be one of {', '.join(schema.enum)}, got {_show(value)}"]
    if (short or long) and schema.min_length == schema.max_length:
        return [f"{label}: must be {schema.min_length} characters, got {_show(value)}"]
    if short:
        if schema.min_length == 1:
            return [f"{label}: must not be empty"]
        return [f"{label}: at least {schema.min_length} characters, got {length}"]
    if long:
        return [f"{label}: at most {schema.max_length} characters, got {length}"]
    if schema.pattern == DIGITS:
        return [f"{label}: must be digits only (0-9), got {_show(value)}"]
    return [f"{label}: does not match {schema.pattern}, got {_show(value)}"]


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def _check_path_id(value: Any, label: str) -> list[str]:
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [f"{label}: must be a string of digits (in quotes), got {value}"]
    return [f"{label}: must be digits only (0-9), got {_show(value)}"]


def normalize_item(kind: Kind, record: Any, *, from_text: bool = False) -> tuple[Item, list[str]]:
    """The item as sent for one record, and every problem of it.

    A record is ``{pathParams, requestBody}``, or a bare request body whose ``id`` field is
    the path id. ``from_text`` (CSV) turns text into the integers and booleans the kind's
    schema asks for.
    """
    if not isinstance(record, dict):
        return {}, [f"must be a JSON object, got {_show(record)}"]
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
        problems.append(f"pathParams: must be an object, got {_show(params)}")
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


# -- chunks and refs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One bulk to submit: its 0-based index, items, journal key and idempotency-ref (the key
    itself, or None for a kind whose endpoint documents no ref)."""

    index: int
    items: list[Item]
    key: str
    idempotency_ref: str | None


def derive_ref(
    kind: Kind,
    items: Sequence[Item],
    index: int,
    *,
    source_bulk: str | None = None,
    nonce: str | None = None,
) -> str:
    """A ref that depends only on the kind, the source bulk (for a rerun), the chunk's index,
    its content (key order aside) and an optional nonce: the same chunk gives the same ref."""
    canonical = json.dumps(
        ["bulkctl/1", kind.name, source_bulk, index, nonce, list(items)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return REF_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def plan_chunks(
    kind: Kind,
    items: Sequence[Item],
    *,
    chunk_size: int = MAX_ITEMS,
    source_bulk: str | None = None,
    new: bool = False,
    nonce: Callable[[], str] = lambda: secrets.token_hex(8),
) -> list[Chunk]:
    """``items`` split in order into chunks of at most ``chunk_size`` (1..10,000).

    ``new`` draws one nonce for this plan, so every chunk gets a fresh ref (a deliberate
    second bulk of the same items).
    """
    if not 1 <= chunk_size <= MAX_ITEMS:
        raise UsageError(f"chunk size must be 1 to {MAX_ITEMS}, not {chunk_size}")
    salt = nonce() if new else None
    chunks: list[Chunk] = []
    for index, start in enumerate(range(0, len(items), chunk_size)):
        part = list(items[start : start + chunk_size])
        key = derive_ref(kind, part, index, source_bulk=source_bulk, nonce=salt)
        chunks.append(Chunk(index, part, key, key if kind.idempotent else None))
    return chunks


# -- journal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalEntry:
    key: str
    bulk_id: str
    kind: str
    chunk: int
    operation_count: int | None
    source_bulk: str | None
    submitted_at: float  # epoch seconds


class Journal:
    """Which chunk key (idempotency-ref) became which bulk, in the state folder.

    Written atomically under a lock after every answered submission, so a repeat of the
    same command can name the bulk that already exists. Entries older than 30 days go, and
    the oldest go first when the file would grow past JOURNAL_LIMIT: it is never refused
    for its size. A bulk id over 64 characters is never stored.
    """

    def __init__(self, state_dir: Path, now: Callable[[], float] = time.time) -> None:
        self.path = state_dir / JOURNAL_FILE
        self.now = now

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            check_private_dir(self.path.parent, "state folder")  # another user's: refused
            raw = read_private(self.path, "submission journal", lambda _note: None)
        except (StorageError, TooLarge):
            return {}  # unreadable: no memory of past submissions (the refs still protect)
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return {}  # garbled: no memory of past submissions (the refs still protect)
        entries = data.get("submissions") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            return {}
        return {
            k: v
            for k, v in entries.items()
            if isinstance(v, dict)
            and isinstance(v.get("submittedAt"), int | float)
            and isinstance(v.get("bulkId"), str)
            and len(v["bulkId"]) <= MAX_BULK_ID
        }

    def find(self, key: str) -> JournalEntry | None:
        raw = self._load().get(key)
        if raw is None or not isinstance(raw.get("bulkId"), str):
            return None
        return JournalEntry(
            key=key,
            bulk_id=raw["bulkId"],
            kind=as_text(raw.get("kind")) or "",
            chunk=as_int(raw.get("chunk")) or 0,
            operation_count=as_int(raw.get("operationCount")),
            source_bulk=as_text(raw.get("sourceBulk")),
            submitted_at=float(raw["submittedAt"]),
        )

    def record(
        self,
        key: str,
        *,
        bulk_id: str,
        kind: Kind,
        chunk: int,
        operation_count: int | None,
        source_bulk: str | None = None,
    ) -> None:
        from filelock import FileLock

        if len(bulk_id) > MAX_BULK_ID:
            raise StorageError(
                f"a bulk id of {len(bulk_id):,} characters (at most {MAX_BULK_ID}) is not journalled"
            )
        what = f"the journal entry of bulk {bulk_id}"
        make_private_dir(self.path.parent, "state folder", what)
        lock = self.path.with_name(self.path.name + ".lock")
        refuse_symlink(lock, "submission journal lock")
        with FileLock(str(lock)):
            now = self.now()
            entries = {
                k: v
                for k, v in self._load().items()
                if now - float(v["submittedAt"]) < JOURNAL_KEEP_SECONDS
            }
            entries[key] = {
                "bulkId": bulk_id,
                "kind": kind.name,
                "chunk": chunk,
                "operationCount": operation_count,
                "sourceBulk": source_bulk,
                "submittedAt": now,
            }
            atomic_write(self.path, _journal_payload(entries), what)


def _journal_payload(entries: dict[str, dict[str, Any]]) -> bytes:
    """The journal's bytes: every entry when they fit in JOURNAL_LIMIT, else the newest that
    fit in JOURNAL_TRIMMED (each entry measured once: linear in the entries)."""
    payload = json.dumps({"submissions": entries}, sort_keys=True)  # ASCII: a byte a character
    if len(payload) <= JOURNAL_LIMIT:
        return payload.encode()
    newest_first = sorted(entries, key=lambda k: float(entries[k]["submittedAt"]), reverse=True)
    kept: dict[str, dict[str, Any]] = {}
    size = len('{"submissions": {}}')
    for key in newest_first:
        size += len(json.dumps({key: entries[key]})) - 2 + len(", ")
        if size > JOURNAL_TRIMMED:
            break
        kept[key] = entries[key]
    return json.dumps({"submissions": kept}, sort_keys=True).encode()


# -- submitting -------------------------------------------------------------------------------


def require_offered(kind: Kind, api: str) -> None:
    """UsageError (exit 2) when the API in force (``multi``/``backoffice``) lacks the kind."""
    if kind.offered_by(api):
        return
    offered = [k.name for k in KINDS.values() if k.offered_by(api)]
    label = "Back Office" if api == BACKOFFICE else api
    raise UsageError(
        f"the {label} API has no bulk {kind.name}; it offers only {', '.join(offered)}",
        hint="use a profile of the Multi API (bulkctl config set api multi)",
    )


def describe_plan(kind: Kind, chunks: Sequence[Chunk]) -> dict[str, Any]:
    """What ``--dry-run`` shows: the request, the counts, each chunk's ref, the first item."""
    return {
        "kind": kind.name,
        "method": kind.method,
        "path": kind.path,
        "items": sum(len(c.items) for c in chunks),
        "chunks": [
            {"chunk": c.index + 1, "items": len(c.items), "idempotencyRef": c.idempotency_ref}
            for c in chunks
        ],
        "firstItem": chunks[0].items[0] if chunks and chunks[0].items else None,
    }


@dataclass(frozen=True)
class ChunkOutcome:
    """The bulk one chunk became; ``already`` when the journal named it and nothing was sent."""

    chunk: Chunk
    bulk_id: str
    operation_count: int | None
    path: str | None
    already: bool

    def record(self) -> dict[str, Any]:
        """The ``--json`` object: bulkId, operationCount, path, chunk (from 1), items."""
        return {
            "bulkId": self.bulk_id,
            "operationCount": self.operation_count,
            "path": self.path,
            "chunk": self.chunk.index + 1,
            "items": len(self.chunk.items),
            "idempotencyRef": self.chunk.idempotency_ref,
            "alreadySubmitted": self.already,
        }


def submit_chunks(
    client: ApiClient,
    kind: Kind,
    chunks: Sequence[Chunk],
    journal: Journal,
    *,
    source_bulk: str | None = None,
    on_outcome: Callable[[ChunkOutcome], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[ChunkOutcome]:
    """Submit the chunks in order, one request each, and journal every answer.

    A chunk the journal already knows is not sent again: its outcome names the existing
    bulk. The first error stops the rest and is raised with its exit code, its message
    saying which chunks were already submitted (running the same command again is safe).
    """
    outcomes: list[ChunkOutcome] = []
    for chunk in chunks:
        known = journal.find(chunk.key)
        if known is not None:
            outcome = ChunkOutcome(chunk, known.bulk_id, known.operation_count, None, True)
        else:
            try:
                result = client.submit_bulk(kind, chunk.items, chunk.idempotency_ref)
            except BulkctlError as exc:
                where = f"chunk {chunk.index + 1} of {len(chunks)}"
                if outcomes:
                    done = ", ".join(o.bulk_id for o in outcomes)
                    where += f"; the chunks before it are bulks {done}"
                exc.message = f"{exc.message} ({where})"
                raise
            try:
                journal.record(
                    chunk.key,
                    bulk_id=result.bulk_id,
                    kind=kind,
                    chunk=chunk.index,
                    operation_count=result.operation_count,
                    source_bulk=source_bulk,
                )
            except (OSError, BulkctlError) as exc:
                if warn is not None:
                    warn(f"bulk {result.bulk_id} was not written to the journal: {exc}")
            outcome = ChunkOutcome(
                chunk, result.bulk_id, result.operation_count, result.path, False
            )
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


# -- rerun ------------------------------------------------------------------------------------


def parse_sequences(values: Iterable[str]) -> list[tuple[int, int]]:
    """Ranges from ``--sequence`` values such as ``1-5,9`` (repeatable), as (first, last)."""
    ranges: list[tuple[int, int]] = []
    for value in values:
        for part in value.split(","):
            text = part.strip()
            match = re.fullmatch(r"([0-9]+)(?:\s*-\s*([0-9]+))?", text, re.ASCII)
            if not match:
                raise UsageError(
                    f"invalid sequence {text!r}", hint="use numbers and ranges, e.g. 1-5,9"
                )
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else first
            if first < 1 or last < first:
                raise UsageError(f"invalid sequence range {text!r}: from 1 up, first <= last")
            ranges.append((first, last))
    return ranges


def error_code_of(operation: BulkOperation) -> str | None:
    """The errorCode of a failed operation's responsePayload (the API's error JSON)."""
    try:
        payload = json.loads(operation.response_payload or "")
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    code = payload.get("errorCode", payload.get("code"))
    return code if isinstance(code, str) else None


@dataclass(frozen=True)
class RerunSelection:
    """Which operations of the source bulk to submit again."""

    failed: bool = True
    not_run: bool = False  # CANCELLED or SUBMITTED: never ran
    error_codes: frozenset[str] = frozenset()  # FAILED ones with these codes only (empty: all)
    sequences: tuple[tuple[int, int], ...] = ()  # only these (empty: all)


@dataclass
class RerunPlan:
    kind: Kind
    source_bulk: str
    items: list[Item]
    sequences: list[int]  # of the chosen operations, in order
    left_out: Counter[str] = field(default_factory=Counter)  # reason -> operations

    def check(self) -> None:
        """Validate the items as ``submit`` would, naming each problem by its sequence;
        ``InvalidInput`` when any (``--output-file`` writes them without this, to be fixed)."""
        entries = [
            (f"sequence {n}", item) for n, item in zip(self.sequences, self.items, strict=True)
        ]
        _, problems = validate_records(self.kind, entries)
        if problems:
            raise InvalidInput(
                f"bulk {self.source_bulk}",
                problems,
                hint="write them with --output-file, fix them, and send them with submit",
            )


def plan_rerun(
    bulk: BulkProcess,
    operations: Iterable[BulkOperation],
    selection: RerunSelection,
    *,
    unread: Counter[str] | None = None,
) -> RerunPlan:
    """The items of a new bulk of the same kind from the chosen operations of ``bulk``.

    The kind comes from the bulk's ``operation``; path params from matching each
    operation's ``path`` against its template; the body is ``requestPayload`` as JSON (left
    out for kinds without one). Raises ``RerunRefused`` when the bulk is not final, its
    kind unknown, nothing is chosen, or a chosen operation's path or payload cannot be read
    (naming every such sequence). ``left_out`` counts the rest by reason, starting from
    ``unread``: the operations not even read, by reason (see ``unread_operations``).
    """
    bulk_id = bulk.bulk_id or "?"
    if not bulk.is_final:
        raise RerunRefused(
            f"bulk {bulk_id} is {bulk.status or 'in no known status'}: only a final bulk "
            "(COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED) can be rerun",
            hint=f"wait for it first: bulkctl wait {bulk_id}",
        )
    kind = kind_of_operation(bulk.operation)
    if kind is None:
        raise RerunRefused(f"bulk {bulk_id}: operation {_show(bulk.operation)} is no known kind")
    chosen: dict[int, BulkOperation] = {}
    left_out: Counter[str] = Counter(unread or {})
    for op in operations:
        reason = _left_out_reason(op, selection)
        if reason is None and op.sequence is not None and op.sequence in chosen:
            reason = "listed twice by the API"
        if reason is not None:
            left_out[reason] += 1
        else:
            chosen[op.sequence] = op  # type: ignore[index]  # _left_out_reason checked it
    items: list[Item] = []
    refused: list[Problem] = []
    sequences = sorted(chosen)
    for sequence in sequences:
        item, problem = _item_of(kind, chosen[sequence])
        if problem is not None:
            refused.append(Problem(f"sequence {sequence}", problem))
        items.append(item)
    if refused:
        raise InvalidInput(
            f"bulk {bulk_id}",
            refused,
            hint="leave them out with --sequence, or rebuild them with --output-file",
        )
    if not items:
        why = ", ".join(f"{n} {r}" for r, n in sorted(left_out.items())) or "no operations"
        raise RerunRefused(f"bulk {bulk_id}: nothing to rerun ({why})")
    return RerunPlan(kind, bulk_id, items, sequences, left_out)


def _left_out_reason(op: BulkOperation, selection: RerunSelection) -> str | None:
    if op.sequence is None:
        return "without a sequence"
    if op.status == "FAILED":
        if not selection.failed:
            return "FAILED (not chosen)"
    elif op.status in NOT_RUN_STATUSES:
        if not selection.not_run:
            return "not run (CANCELLED or SUBMITTED; add --not-run)"
    else:
        return op.status or "without a status"
    if selection.sequences and not any(a <= op.sequence <= b for a, b in selection.sequences):
        return "outside --sequence"
    if (
        op.status == "FAILED"
        and selection.error_codes
        and error_code_of(op) not in selection.error_codes
    ):
        return "FAILED with another error code"
    return None


def _item_of(kind: Kind, op: BulkOperation) -> tuple[Item, str | None]:
    params = _path_params_of(kind, op.path)
    if params is None:
        return {}, f"path {_show(op.path)} does not match {kind.operation}"
    if kind.path_param is not None and not _DIGITS_RE.fullmatch(params[kind.path_param]):
        return {}, f"path {_show(op.path)} holds a non-numeric id"
    item: Item = {"pathParams": params}
    if kind.body is None:
        return item, None
    try:
        body = json.loads(op.request_payload or "")
    except (ValueError, RecursionError):
        return item, f"requestPayload is not JSON: {_show(op.request_payload)}"
    if not isinstance(body, dict):
        return item, f"requestPayload is not a JSON object: {_show(body)}"
    item["requestBody"] = body
    return item, None


def items_to_jsonl(items: Iterable[Item]) -> str:
    """Items as JSON Lines, one ``{pathParams[, requestBody]}`` a line: input for ``submit``."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def statuses_to_read(selection: RerunSelection) -> list[str]:
    """The operation statuses a rerun reads (the API filters by one status a request)."""
    return ["FAILED", *(sorted(NOT_RUN_STATUSES) if selection.not_run else [])]


def unread_operations(bulk: BulkProcess, selection: RerunSelection) -> Counter[str]:
    """The operations a rerun does not read, by reason, from the bulk's own counts."""
    read = set(statuses_to_read(selection))
    unread: Counter[str] = Counter()
    for entry in bulk.operation_status_counts:
        status = entry.status or "without a status"
        if status not in read and entry.count is not None and entry.count > 0:
            if status in NOT_RUN_STATUSES:
                unread["not run (CANCELLED or SUBMITTED; add --not-run)"] += entry.count
            else:
                unread[status] += entry.count
    return unread


def read_rerun_plan(
    client: ApiClient, bulk_id: str, selection: RerunSelection, *, concurrency: int = 8
) -> RerunPlan:
    """The rerun plan of bulk ``bulk_id``: the bulk, then only the operations in the statuses
    the selection can take (FAILED; CANCELLED and SUBMITTED with ``not_run``), paged.

    Raises ``RerunRefused`` before reading any operation when the bulk is not final; see
    ``plan_rerun`` for the rest. Shared by ``rerun`` and the ui.
    """
    bulk = client.get_bulk(bulk_id)
    if not bulk.is_final:
        plan_rerun(bulk, (), selection)  # raises, saying why
    fetches = [
        (lambda o, n, s=s: client.list_operations(bulk_id, offset=o, limit=n, status=s))
        for s in statuses_to_read(selection)
    ]
    with listing(
        fetches, concurrency=concurrency, key=lambda op: op.key, offset=0, wanted=None
    ) as (records, _pager):
        operations: list[BulkOperation] = list(records)
    return plan_rerun(bulk, operations, selection, unread=unread_operations(bulk, selection))


def describe_left_out(left_out: Counter[str]) -> str:
    """'12 COMPLETED, 3 FAILED with another error code', or 'none'."""
    if not left_out:
        return "none"
    return ", ".join(f"{n:,} {reason}" for reason, n in sorted(left_out.items()))
