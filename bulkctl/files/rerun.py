"""A rerun planned from a finished bulk: which operations are sent again, and why the
others are left out; ``--sequence`` ranges; the error codes of failed operations."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bulkctl.api.kinds import DIGITS, Kind, kind_of_operation
from bulkctl.api.kinds import path_params_of as _path_params_of
from bulkctl.api.records import BulkOperation, BulkProcess, is_bulk_id
from bulkctl.errors import UsageError, closest
from bulkctl.files.validation import (
    InvalidInput,
    Item,
    Problem,
    shown,
    validate_records,
)
from bulkctl.lists.paging import listing
from bulkctl.lists.progress import ReadProgress

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient


NOT_RUN_STATUSES = frozenset({"CANCELLED", "SUBMITTED"})
_DIGITS_RE = re.compile(DIGITS)


class RerunRefused(UsageError):
    """A bulk that cannot be rerun as asked, with the reason."""


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
            hint="wait for it first:" if is_bulk_id(bulk.bulk_id) else None,
            suggest=("wait", bulk_id) if is_bulk_id(bulk.bulk_id) else (),
        )
    kind = kind_of_operation(bulk.operation)
    if kind is None:
        raise RerunRefused(f"bulk {bulk_id}: operation {shown(bulk.operation)} is no known kind")
    chosen: dict[int, BulkOperation] = {}
    left_out: Counter[str] = Counter(unread or {})
    codes: Counter[str] = Counter()  # the error codes of the FAILED operations read
    for op in operations:
        if op.status == "FAILED":
            codes[error_code_of(op) or "(none)"] += 1
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
        raise codes_refusal(selection, codes) or RerunRefused(
            f"bulk {bulk_id}: nothing to rerun ({why})"
        )
    return RerunPlan(kind, bulk_id, items, sequences, left_out)


ERROR_WIDTH = 80  # an error's two lines fit a terminal this wide (the hint is indented by 2)


def codes_refusal(selection: RerunSelection, codes: Counter[str]) -> RerunRefused | None:
    """When ``--error-code`` matched nothing: the code nearest what was asked, then the
    codes present with their counts (the commonest first), in two lines that fit
    ``ERROR_WIDTH`` (the list cut with "…and N more")."""
    if not selection.error_codes or not codes or selection.error_codes & set(codes):
        return None
    named = [c for c in codes if c != "(none)"]
    nears = (closest(asked, named) for asked in sorted(selection.error_codes))
    near = next((n for n in nears if n is not None), None)
    asked = " or ".join(sorted(selection.error_codes))
    first = f"did you mean --error-code {near}?" if near else f"no FAILED has errorCode {asked}"
    present = [f"{n:,} {code}" for code, n in codes.most_common()]  # "29 FUNDS_INSUFFICIENT"
    return RerunRefused(
        f"nothing to rerun: {first}", hint=fitted_list("FAILED: ", present, ERROR_WIDTH - 2)
    )


def fitted_list(label: str, parts: list[str], width: int) -> str:
    """``label`` and as many of ``parts`` as fit ``width`` (at least one), the rest said as
    "…and N more"."""
    for shown_count in range(len(parts), 0, -1):
        rest = len(parts) - shown_count
        more = f", …and {rest:,} more" if rest else ""
        line = f"{label}{', '.join(parts[:shown_count])}{more}"
        if len(line) <= width or shown_count == 1:
            return line
    return label.rstrip(": ")


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
        return {}, f"path {shown(op.path)} does not match {kind.operation}"
    if kind.path_param is not None and not _DIGITS_RE.fullmatch(params[kind.path_param]):
        return {}, f"path {shown(op.path)} holds a non-numeric id"
    item: Item = {"pathParams": params}
    if kind.body is None:
        return item, None
    try:
        body = json.loads(op.request_payload or "")
    except (ValueError, RecursionError):
        return item, f"requestPayload is not JSON: {shown(op.request_payload)}"
    if not isinstance(body, dict):
        return item, f"requestPayload is not a JSON object: {shown(body)}"
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
    client: ApiClient,
    bulk_id: str,
    selection: RerunSelection,
    *,
    concurrency: int = 8,
    progress: ReadProgress | None = None,
) -> RerunPlan:
    """The rerun plan of bulk ``bulk_id``: the bulk, then only the operations in the statuses
    the selection can take (FAILED; CANCELLED and SUBMITTED with ``not_run``), paged.

    Raises ``RerunRefused`` before reading any operation when the bulk is not final; see
    ``plan_rerun`` for the rest. Shared by ``rerun`` and the ui; ``progress`` counts the
    pages read.
    """
    bulk = client.get_bulk(bulk_id)
    if not bulk.is_final:
        plan_rerun(bulk, (), selection)  # raises, saying why
    fetches = [
        (lambda o, n, s=s: client.list_operations(bulk_id, offset=o, limit=n, status=s))
        for s in statuses_to_read(selection)
    ]
    if progress is not None:
        fetches = [progress.counted(f, i) for i, f in enumerate(fetches)]  # type: ignore[misc]
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
