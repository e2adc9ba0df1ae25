"""Typed records decoded from API answers: numbers strict, text tolerant.

Every integer field is parsed once, here, and must be a JSON integer within the spec's
format (int32 or int64); counts are never negative, and a timestamp (epoch milliseconds)
must be a date that ``datetime`` can represent. Anything else (a string such as ``"--5"``,
a boolean, a float, 400 digits) makes the whole answer malformed (``ShapeError``, naming the
field), so no code past this module meets a number it cannot use. Text is tolerant:
unknown fields are ignored (but kept in ``raw`` for ``--json``), unknown status strings are
kept as they are, a missing or ill-typed text field becomes ``None``, and ``bulkId`` is an
opaque string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec

from bulkctl.api.wire import credential_problem

BULK_STATUSES: tuple[str, ...] = (
    "SUBMITTED",
    "RUNNING",
    "PARTIALLY_COMPLETED",
    "COMPLETED",
    "FAILED",
    "PAUSED",
    "CANCELLED",
)
FINAL_STATUSES: frozenset[str] = frozenset(
    {"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"}
)
OPERATION_STATUSES: tuple[str, ...] = ("SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
MODES: tuple[str, ...] = ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE")

INT32_MAX = 2_147_483_647
INT32 = (-(2**31), INT32_MAX)
INT64 = (-(2**63), 2**63 - 1)
COUNT = (0, INT64[1])  # a count: never negative
PAGE_COUNT = (0, INT32_MAX)  # the paged answers' count and responseCount are int32
# epoch milliseconds of 0001-01-02 and 9999-12-30 UTC: a day inside what datetime can
# represent, so any time zone can show it
TIMESTAMP = (-62_135_510_400_000, 253_402_128_000_000)
_COUNT_MAX, (_TS_MIN, _TS_MAX) = COUNT[1], TIMESTAMP


class ShapeError(ValueError):
    """The answer's overall shape is not what the spec describes."""


def _shown(value: Any) -> str:
    """A short picture of a refused value for the message (it is server text)."""
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


MAX_BULK_ID = 64


def is_bulk_id(value: str | None) -> bool:
    """Whether an id from an answer may be used: 1 to 64 ASCII digits (the spec's path id
    ``^[0-9]+$``). Anything else is shown made safe, never put in a hint, a URL, the
    clipboard or the journal."""
    return (
        value is not None and 0 < len(value) <= MAX_BULK_ID and value.isascii() and value.isdigit()
    )


def as_int(value: Any) -> int | None:
    """An integer of bulkctl's own files (the journal), or None when it is anything else."""
    return value if type(value) is int else None


def api_int(value: Any, name: str, bounds: tuple[int, int] = INT64) -> int | None:
    """The integer field ``name``: None when absent or null, else a JSON integer within
    ``bounds`` (inclusive); anything else raises ``ShapeError`` naming the field."""
    if value is None:
        return None
    # type() is int: a bool is an int to isinstance, and a float is never an integer here
    if type(value) is int and bounds[0] <= value <= bounds[1]:
        return value
    if type(value) is int:
        raise ShapeError(f"'{name}' is {_shown(value)}, outside {bounds[0]}..{bounds[1]}")
    raise ShapeError(f"'{name}' is {_shown(value)}, not an integer")


def as_text(value: Any) -> str | None:
    """A string field as sent; numbers become their text; anything else None."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


class OperationStatusCount(msgspec.Struct, frozen=True):
    status: str | None
    count: int | None


class BulkProcess(msgspec.Struct):
    """One bulk process. ``raw`` is the object exactly as the API sent it."""

    raw: dict[str, Any]
    bulk_id: str | None
    status: str | None
    submitted_items_count: int | None
    execution_start: int | None
    execution_finish: int | None
    operation: str | None
    mode: str | None
    operation_status_counts: tuple[OperationStatusCount, ...] = ()

    @property
    def key(self) -> str:
        """What identifies it in a listing: its bulkId, or its whole content when it has none."""
        return f"id:{self.bulk_id}" if self.bulk_id is not None else content_key(self.raw)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def count_of(self, status: str) -> int:
        """Operations in ``status`` per operationStatusCounts (0 when absent or negative)."""
        total = 0
        for entry in self.operation_status_counts:
            if entry.status == status and entry.count is not None and entry.count > 0:
                total += entry.count
        return total

    @property
    def latest_timestamp(self) -> int | None:
        """executionFinish when present, else executionStart."""
        return self.execution_finish if self.execution_finish is not None else self.execution_start


class BulkOperation(msgspec.Struct):
    raw: dict[str, Any]
    operation_id: str | None
    sequence: int | None
    method: str | None
    path: str | None
    status: str | None
    request_payload: str | None
    response_payload: str | None

    @property
    def key(self) -> str:
        """Its operationId, else its sequence, else its whole content."""
        if self.operation_id is not None:
            return f"id:{self.operation_id}"
        return f"seq:{self.sequence}" if self.sequence is not None else content_key(self.raw)


class FailureGroup(msgspec.Struct, frozen=True):
    """Failed operations that share an ``errorCode``: how many, and one message as an example.
    ``error_code`` is the whole payload when it is not JSON naming one, None when empty."""

    error_code: str | None
    count: int
    example: str

    def as_record(self) -> dict[str, Any]:
        """The group as output fields: ``{errorCode, count, example}``."""
        return {"errorCode": self.error_code, "count": self.count, "example": self.example}


def failure_reason(payload: str | None) -> tuple[str | None, str]:
    """(errorCode, message) read from a response payload (JSON ``{"errorCode", "message"}``);
    a payload that is not such JSON is its own code and message."""
    if not payload:
        return None, ""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return payload, payload
    if not isinstance(data, dict):
        return payload, payload
    code = as_text(data.get("errorCode"))
    if code is None:
        code = as_text(data.get("code"))
    message = as_text(data.get("message"))
    if code is None:
        return payload, message or payload
    return code, message or ""


def group_failures(operations: Iterable[BulkOperation]) -> list[FailureGroup]:
    """The FAILED operations grouped by errorCode, most frequent first (ties: first seen)."""
    counts: dict[str | None, int] = {}
    examples: dict[str | None, str] = {}
    for operation in operations:
        if operation.status != "FAILED":
            continue
        code, message = failure_reason(operation.response_payload)
        counts[code] = counts.get(code, 0) + 1
        if not examples.get(code):
            examples[code] = message
    ordered = sorted(counts, key=lambda c: -counts[c])  # sorted is stable: ties keep first seen
    return [FailureGroup(c, counts[c], examples[c]) for c in ordered]


class Page(msgspec.Struct, frozen=True):
    """One page of a listing: records plus the server's total ``count`` (None when unusable)."""

    records: list[Any]
    count: int | None
    response_count: int | None
    reported_count: int | None = None  # the same as ``count``, which is never negative


def content_key(raw: dict[str, Any]) -> str:
    return "raw:" + json.dumps(raw, sort_keys=True, default=str)


def _status_counts(entries: list[Any]) -> tuple[OperationStatusCount, ...]:
    counts: list[OperationStatusCount] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            count = api_int(entry.get("count"), f"operationStatusCounts[{index}].count", COUNT)
            counts.append(OperationStatusCount(as_text(entry.get("status")), count))
    return tuple(counts)


def parse_bulk(obj: Any, bulk_id: str | None = None) -> BulkProcess:
    """A bulk process object; with ``bulk_id`` (the id asked for), an answer that names
    another id is a ``ShapeError``."""
    if not isinstance(obj, dict):
        raise ShapeError(f"expected a bulk process object, got {type(obj).__name__}")
    get = obj.get
    counts: tuple[OperationStatusCount, ...] = ()
    raw_counts = get("operationStatusCounts")
    if raw_counts is not None and isinstance(raw_counts, list):
        counts = _status_counts(raw_counts)
    # a page holds a hundred of these: the usual types are taken as they are, and anything
    # else goes through api_int and as_text, which hold the rules (and raise, naming it)
    items, start, finish = get("submittedItemsCount"), get("executionStart"), get("executionFinish")
    if items is not None and not (type(items) is int and 0 <= items <= _COUNT_MAX):
        items = api_int(items, "submittedItemsCount", COUNT)
    if start is not None and not (type(start) is int and _TS_MIN <= start <= _TS_MAX):
        start = api_int(start, "executionStart", TIMESTAMP)
    if finish is not None and not (type(finish) is int and _TS_MIN <= finish <= _TS_MAX):
        finish = api_int(finish, "executionFinish", TIMESTAMP)
    ident, status, operation, mode = get("bulkId"), get("status"), get("operation"), get("mode")
    record = BulkProcess(
        obj,
        ident if type(ident) is str else as_text(ident),
        status if type(status) is str else as_text(status),
        items,
        start,
        finish,
        operation if type(operation) is str else as_text(operation),
        mode if type(mode) is str else as_text(mode),
        counts,
    )
    if bulk_id is not None:
        for name in ("bulkId", "id"):
            named = as_text(get(name))
            if named is not None and named != bulk_id:
                raise ShapeError(f"'{name}' is {_shown(named)}: an answer for another bulk")
    return record


def parse_operation(obj: Any) -> BulkOperation:
    if not isinstance(obj, dict):
        raise ShapeError(f"expected an operation object, got {type(obj).__name__}")
    return BulkOperation(
        raw=obj,
        operation_id=as_text(obj.get("operationId")),
        sequence=api_int(obj.get("sequence"), "sequence", INT32),
        method=as_text(obj.get("method")),
        path=as_text(obj.get("path")),
        status=as_text(obj.get("status")),
        request_payload=as_text(obj.get("requestPayload")),
        response_payload=as_text(obj.get("responsePayload")),
    )


def _parse_page(obj: Any, key: str, parse_item: Any) -> Page:
    if not isinstance(obj, dict):
        raise ShapeError(f"expected a JSON object, got {type(obj).__name__}")
    items = obj.get(key)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ShapeError(f"'{key}' is not a list")
    try:
        records = [parse_item(item) for item in items]
    except ShapeError:
        for index, item in enumerate(items):  # which record: the field could be any one's
            try:
                parse_item(item)
            except ShapeError as exc:
                raise ShapeError(f"{key}[{index}]: {exc}") from None
        raise
    count = api_int(obj.get("count"), "count", PAGE_COUNT)
    return Page(
        records=records,
        count=count,
        response_count=api_int(obj.get("responseCount"), "responseCount", PAGE_COUNT),
        reported_count=count,
    )


def parse_bulk_page(obj: Any) -> Page:
    """A GET /bulks answer (BulkProcessesPaged)."""
    return _parse_page(obj, "bulkProcesses", parse_bulk)


def parse_operation_page(obj: Any) -> Page:
    """A GET /bulks/{id}/operations answer (BulkProcessOperationsPaged)."""
    return _parse_page(obj, "operations", parse_operation)


def parse_token(obj: Any) -> str:
    """The token of a login answer: a string, or (Back Office) an object holding ``token``."""
    if not isinstance(obj, dict):
        raise ShapeError("expected a JSON object with a token")
    token = obj.get("token")
    if isinstance(token, dict):
        token = token.get("token")
    if not isinstance(token, str) or not token:
        raise ShapeError("the answer holds no token")
    problem = credential_problem(token)
    if problem is not None:  # it could never go in a header; the token itself is not shown
        raise ShapeError(f"the token is not plausible: it holds {problem}")
    return token


class BulkSubmitted(msgspec.Struct, frozen=True):
    """The 201 answer of a submission endpoint: the new (or, for a repeated
    idempotency-ref, the existing) SUBMITTED bulk. ``raw`` is the object as sent."""

    raw: dict[str, Any]
    bulk_id: str
    operation_count: int | None
    path: str | None


def parse_bulk_submitted(obj: Any) -> BulkSubmitted:
    """A submission's 201 answer; without a usable bulkId nothing can follow, so that is a
    shape error."""
    if not isinstance(obj, dict):
        raise ShapeError(f"expected a JSON object, got {type(obj).__name__}")
    bulk_id = as_text(obj.get("bulkId"))
    if not bulk_id:
        raise ShapeError("the answer holds no bulkId")
    if not is_bulk_id(bulk_id):
        # it would go into hints, the journal and the next request's path
        raise ShapeError("its field bulkId is not 1 to 64 digits (the spec's ^[0-9]+$)")
    return BulkSubmitted(
        raw=obj,
        bulk_id=bulk_id,
        operation_count=api_int(obj.get("operationCount"), "operationCount", COUNT),
        path=as_text(obj.get("path")),
    )
