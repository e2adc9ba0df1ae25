"""What can be rendered: the formats, and the columns (``Field``) of bulks, operations and
failures, each table declared once for the commands and the ui.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from bulkctl.errors import UsageError

FORMATS: tuple[str, ...] = ("table", "wide", "plain", "json", "jsonl", "csv", "markdown")
TABLE_FORMATS = ("table", "wide")

STATUS_STYLES: dict[str, str] = {
    "COMPLETED": "green",
    "PARTIALLY_COMPLETED": "yellow",
    "FAILED": "bold red",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "PAUSED": "yellow",
    "SUBMITTED": "blue",
}


class Field(msgspec.Struct, frozen=True):
    """One column: the API's field name, a header for tables, and how to show the value."""

    name: str
    header: str
    kind: str = "text"  # text, status, int, time, duration, age, payload, json, mode, path
    derive: Callable[[dict[str, Any], float], Any] | None = None
    cut: bool = False  # a table may cut it with "…" to fit; never ids, statuses or numbers
    priority: int = 9  # tables too narrow drop the lowest first; 9 is never dropped, 0 first
    wide_only: bool = False  # a table shows it with -o wide only

    @property
    def right(self) -> bool:
        """Whether a table aligns it to the right (numbers and lengths of time)."""
        return self.kind in ("int", "duration", "age")

    def value(self, record: dict[str, Any], now: float) -> Any:
        if self.derive is not None:
            return self.derive(record, now)
        return record.get(self.name)


def _duration(record: dict[str, Any], now: float) -> Any:
    start = record.get("executionStart")
    if not isinstance(start, int) or isinstance(start, bool):
        return None
    finish = record.get("executionFinish")
    end = finish if isinstance(finish, int) and not isinstance(finish, bool) else None
    if end is None:
        if record.get("status") not in ("RUNNING", "PAUSED"):
            return None
        end = int(now * 1000)
    return max(0, end - start) // 1000


def _age(record: dict[str, Any], now: float) -> Any:
    """Seconds since the bulk finished, or since it started when it has not finished."""
    for name in ("executionFinish", "executionStart"):
        moment = record.get(name)
        if isinstance(moment, int) and not isinstance(moment, bool):
            return max(0, int(now) - moment // 1000)
    return None


def _done(record: dict[str, Any], _now: float) -> Any:
    """'12/40' operations done (completed and failed) of a RUNNING or PAUSED bulk whose
    counts were read, '…' where they were not (a list page carries none: not 0); nothing
    for the other statuses."""
    if record.get("status") not in ("RUNNING", "PAUSED"):
        return None
    counts = record.get("operationStatusCounts")
    if not isinstance(counts, list):
        return "…"
    done = sum(
        c["count"]
        for c in counts
        if isinstance(c, dict)
        and c.get("status") in ("COMPLETED", "FAILED")
        and isinstance(c.get("count"), int)
        and not isinstance(c.get("count"), bool)
        and c["count"] > 0
    )
    total = record.get("submittedItemsCount")
    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
        return f"{done:,}/{total:,}"
    return f"{done:,}/?"


BULK_FIELDS: tuple[Field, ...] = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("operation", "OPERATION", "path", cut=True, priority=5),
    Field("submittedItemsCount", "ITEMS", "int", priority=3),
    Field("mode", "MODE", "mode", priority=1),
    Field("executionStart", "STARTED", "time"),
    Field("executionFinish", "FINISHED", "time"),
)
DURATION_FIELD = Field("duration", "DURATION", "duration", derive=_duration)
AGE_FIELD = Field("age", "AGE", "age", derive=_age, priority=4)
# list's progress of RUNNING and PAUSED bulks, in tables only (the formats programs read keep
# the API's fields)
DONE_FIELD = Field("done", "DONE", derive=_done, priority=2)
# a terminal's table: AGE for the times; -o wide adds the full times and the duration
BULK_TABLE_FIELDS: tuple[Field, ...] = (
    *BULK_FIELDS[:5],
    AGE_FIELD,
    Field("executionStart", "STARTED", "time", wide_only=True),
    Field("executionFinish", "FINISHED", "time", wide_only=True),
    Field("duration", "DURATION", "duration", derive=_duration, wide_only=True),
)
BULK_ALL_FIELDS: tuple[Field, ...] = (
    *BULK_FIELDS,
    DURATION_FIELD,
    AGE_FIELD,
    Field("operationStatusCounts", "OPERATION COUNTS", "json", cut=True, priority=2),
)

# a fleet run's first columns (-A, --profiles, --identities): whose bulk each row is
PROFILE_FIELD = Field("profile", "PROFILE")
IDENTITY_FIELD = Field("identity", "IDENTITY")


def fleet_fields(profiles: bool, identities: bool) -> tuple[Field, ...]:
    """The columns a fleet run puts first: PROFILE, IDENTITY, or both; none without a fleet."""
    return tuple(f for f, on in ((PROFILE_FIELD, profiles), (IDENTITY_FIELD, identities)) if on)


OPERATION_FIELDS: tuple[Field, ...] = (
    Field("sequence", "SEQ", "int"),
    Field("status", "STATUS", "status"),
    Field("method", "METHOD", priority=3),
    Field("path", "PATH", "path", cut=True, priority=5),
    Field("operationId", "OPERATION ID"),
    Field("responsePayload", "RESPONSE", "payload", cut=True, priority=4),
)
OPERATION_ALL_FIELDS: tuple[Field, ...] = (
    *OPERATION_FIELDS[:5],
    Field("requestPayload", "REQUEST", "payload", cut=True, priority=2),
    OPERATION_FIELDS[5],
)


ERROR_CODE_MAX = 40  # longer is no code but text: cut here, so a table keeps its width


def error_code_of(record: dict[str, Any], _now: float = 0.0) -> str | None:
    """The errorCode of an operation whose response payload is JSON with one; else None."""
    payload = record.get("responsePayload")
    if not isinstance(payload, str) or "errorCode" not in payload:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    code = data.get("errorCode") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return code if len(code) <= ERROR_CODE_MAX else code[: ERROR_CODE_MAX - 1] + "…"


# a terminal's tables: ERROR CODE after STATUS (empty columns are dropped: it shows only
# where payloads carry one); the formats programs read keep the API's fields
# an error code is read whole, as an id is: a table drops other columns before it cuts one
ERROR_CODE_FIELD = Field("errorCode", "ERROR CODE", derive=error_code_of, priority=6)
OPERATION_TABLE_FIELDS = (*OPERATION_FIELDS[:2], ERROR_CODE_FIELD, *OPERATION_FIELDS[2:])
OPERATION_ALL_TABLE_FIELDS = (
    *OPERATION_ALL_FIELDS[:2],
    ERROR_CODE_FIELD,
    *OPERATION_ALL_FIELDS[2:],
)

# "why did it fail": FailureGroup.as_record() rows (JSON: a list of {errorCode, count, example})
FAILURE_FIELDS: tuple[Field, ...] = (
    Field("errorCode", "ERROR CODE", cut=True),
    Field("count", "COUNT", "int"),
    Field("example", "EXAMPLE", cut=True, priority=5),
)


def pick_fields(
    spec: str | None, available: Sequence[Field], default: Sequence[Field]
) -> list[Field]:
    """``--fields a,b`` -> those fields in that order; unknown names are a usage error."""
    if not spec:
        return list(default)
    by_name = {f.name.lower(): f for f in available}
    chosen: list[Field] = []
    for part in spec.split(","):
        name = part.strip().lower()
        if not name:
            continue
        found = by_name.get(name)
        if found is None:
            raise UsageError(
                f"unknown field {part.strip()!r}",
                hint=f"valid fields: {', '.join(f.name for f in available)}",
            )
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise UsageError(
            "--fields names no field", hint=f"valid fields: {', '.join(f.name for f in available)}"
        )
    return chosen


def check_format(fmt: str) -> str:
    """A known output format name (any case), or a usage error."""
    value = fmt.strip().lower()
    if value not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}")
    return value


# -- value formatting -------------------------------------------------------------------------


class RenderOptions(msgspec.Struct):
    fmt: str
    fields: Sequence[Field]
    header: bool = True
    color: bool = False
    whole_objects: bool = False  # json/jsonl: the API objects as sent, not just the fields
    now: float = 0.0
    full_payloads: bool = False
    terminal: bool = False  # a table for a terminal fits its width; elsewhere it never wraps
    width: int | None = None  # the terminal's columns; None: lines as long as their cells
