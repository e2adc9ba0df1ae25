"""Reading a file of items for ``submit``: JSON Lines, a JSON array or CSV, streamed, each
record named by its line or row, and checked (``bulkctl.files.validation``) before anything is
sent. No HTTP here; ``bulkctl.files.submission`` chunks and sends what this module reads.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import tempfile
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from bulkctl.api.kinds import Kind
from bulkctl.errors import UsageError
from bulkctl.files.validation import (
    InvalidInput,
    Item,
    Problem,
    checked_item,
    parse_constant,
    parse_float,
    parse_int,
)

FORMATS: tuple[str, ...] = ("jsonl", "json", "csv")


# -- reading ----------------------------------------------------------------------------------

MAX_LINE = 1 << 20  # a line (a JSON array's item) longer than this is refused, never held whole
MAX_PROBLEMS = 1000  # problems listed; the rest are counted
MAX_COLUMN_NAME = 1000  # characters of a CSV column name
MAX_COLUMN_DEPTH = 32  # dotted levels of a CSV column name (a.b.c is 3)
_BLOCK = 1 << 16
_BOM = b"\xef\xbb\xbf"


_DECODER = json.JSONDecoder(
    parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant
)


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
        self.line = 1  # the line number at ``counted``
        self.counted = 0  # newlines are counted up to here, once each: linear in the file
        self.eof = False

    def fill(self) -> None:
        """More text; raises _Stop on bytes that are not UTF-8."""
        if self.pos:
            self.line = self.where_line()
            self.text = self.text[self.pos :]
            self.pos = self.counted = 0
        block = self.handle.read(_BLOCK)
        try:
            self.text += self.decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            raise _Stop(Problem(f"line {self.where_line()}", "not UTF-8 text")) from exc
        self.eof = not block

    def where_line(self) -> int:
        """The line number at ``pos`` (which only moves forward)."""
        self.line += self.text.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line

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
        # a fingerprint of each record with a body, as check() saw it: items() checks the
        # schema again only for a record that changed (jsonschema is the costly part)
        self._seen = array("Q")

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
                messages = checked_item(self.kind, record, self.fmt == "csv")[1]
                if self.kind.body is not None and not messages:
                    self._seen.append(_fingerprint(record))
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
        for index, (where, record, problem) in enumerate(self._read()):
            seen = index < len(self._seen) and self._seen[index] == _fingerprint(record)
            item, messages = (
                ({}, [problem])
                if problem is not None
                else checked_item(self.kind, record, self.fmt == "csv", checked_before=seen)
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


def _fingerprint(record: Any) -> int:
    """64 bits of the record's text as Python shows it (an out-of-range number never matches)."""
    text = repr(record).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _position(problem: Problem) -> int:
    number = problem.where.rsplit(" ", 1)[-1]
    return int(number) if number.isdigit() else 0
