"""From a file, or a finished bulk, to chunks ready to submit; no HTTP here.

``submit`` and ``rerun`` call this module: items read and validated by ``bulkctl.files.reading``
(its public names are importable from here too) are split into chunks of at most 10,000
with a deterministic idempotency-ref each; the journal remembers which ref became which
bulk; and a rerun is planned from a bulk's operations.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bulkctl.api.kinds import BACKOFFICE, DIGITS, KINDS, MAX_ITEMS, Kind, kind_of_operation
from bulkctl.api.kinds import path_params_of as _path_params_of
from bulkctl.api.records import BulkOperation, BulkProcess, BulkSubmitted, is_bulk_id
from bulkctl.errors import BulkctlError, UsageError
from bulkctl.files.journal import (
    JOURNAL_FILE,
    JOURNAL_KEEP_SECONDS,
    JOURNAL_LIMIT,
    JOURNAL_TRIMMED,
    MAX_BULK_ID,
    Journal,
    JournalEntry,
)
from bulkctl.files.reading import (
    FORMATS,
    InputFile,
    detect_format,
    load_items,
    parse_records,
    read_source,
)
from bulkctl.files.validation import (
    InvalidInput,
    Item,
    Problem,
    kind_named,
    normalize_item,
    shown,
    validate_records,
)
from bulkctl.lists.paging import listing

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

__all__ = [  # names of reading, validation and the journal: callers import them from here
    "FORMATS",
    "JOURNAL_FILE",
    "JOURNAL_KEEP_SECONDS",
    "JOURNAL_LIMIT",
    "JOURNAL_TRIMMED",
    "MAX_BULK_ID",
    "InputFile",
    "InvalidInput",
    "Item",
    "Journal",
    "JournalEntry",
    "Problem",
    "detect_format",
    "kind_named",
    "load_items",
    "normalize_item",
    "parse_records",
    "read_source",
    "validate_records",
]

REF_PREFIX = "bulkctl-"
NOT_RUN_STATUSES = frozenset({"CANCELLED", "SUBMITTED"})
_DIGITS_RE = re.compile(DIGITS)


class RerunRefused(UsageError):
    """A bulk that cannot be rerun as asked, with the reason."""


# -- chunks and refs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One bulk to submit: its 0-based index, items, journal key and idempotency-ref (the key
    itself, or None for a kind whose endpoint documents no ref), and how many items it has
    (which stays when a ``ChunkStream`` lets go of the items once they are sent)."""

    index: int
    items: list[Item]
    key: str
    idempotency_ref: str | None
    size: int = -1  # len(items), filled in

    def __post_init__(self) -> None:
        if self.size < 0:
            object.__setattr__(self, "size", len(self.items))


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


class ChunkStream(Collection[Chunk]):
    """The chunks of a checked ``InputFile``, made as they are iterated, each read from the
    file again, so no more than one chunk of items is held: a chunk's items are let go (its
    ``size`` stays) when the next one is asked for. Refs as ``plan_chunks`` gives."""

    def __init__(
        self,
        kind: Kind,
        source: InputFile,
        *,
        chunk_size: int = MAX_ITEMS,
        new: bool = False,
        nonce: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        if not 1 <= chunk_size <= MAX_ITEMS:
            raise UsageError(f"chunk size must be 1 to {MAX_ITEMS}, not {chunk_size}")
        self.kind = kind
        self.source = source
        self.chunk_size = chunk_size
        self.salt = nonce() if new else None

    def __len__(self) -> int:
        return -(-self.source.count // self.chunk_size)

    def __contains__(self, chunk: object) -> bool:
        return any(c == chunk for c in self)

    def __iter__(self) -> Iterator[Chunk]:
        items = self.source.items()
        for index in itertools.count():
            part = list(itertools.islice(items, self.chunk_size))
            if not part:
                return
            key = derive_ref(self.kind, part, index, nonce=self.salt)
            yield Chunk(index, part, key, key if self.kind.idempotent else None)
            part.clear()  # sent (or described): an outcome keeps the chunk, not its items


# -- submitting -------------------------------------------------------------------------------


def require_offered(kind: Kind, api: str) -> None:
    """UsageError (exit 2) when the API in force (``multi``/``backoffice``) lacks the kind."""
    if kind.offered_by(api):
        return
    offered = [k.name for k in KINDS.values() if k.offered_by(api)]
    label = "Back Office" if api == BACKOFFICE else api
    raise UsageError(
        f"the {label} API has no bulk {kind.name}; it offers only {', '.join(offered)}",
        hint="use a profile of the Multi API:",
        suggest=("config", "set", "api", "multi"),
    )


def describe_plan(kind: Kind, chunks: Iterable[Chunk]) -> dict[str, Any]:
    """What ``--dry-run`` shows: the request, the counts, each chunk's ref, the first item
    (the chunks are gone through once, so a ``ChunkStream`` reads its file once)."""
    described: list[dict[str, Any]] = []
    first: Item | None = None
    for chunk in chunks:
        if first is None and chunk.items:
            first = chunk.items[0]
        described.append(
            {
                "chunk": chunk.index + 1,
                "items": chunk.size,
                "idempotencyRef": chunk.idempotency_ref,
            }
        )
    return {
        "kind": kind.name,
        "method": kind.method,
        "path": kind.path,
        "items": sum(c["items"] for c in described),
        "chunks": described,
        "firstItem": first,
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
            "items": self.chunk.size,
            "idempotencyRef": self.chunk.idempotency_ref,
            "alreadySubmitted": self.already,
        }


def submit_chunks(
    submit: Callable[[Kind, list[dict[str, Any]], str | None], BulkSubmitted],
    kind: Kind,
    chunks: Collection[Chunk],
    journal: Journal,
    *,
    source_bulk: str | None = None,
    on_outcome: Callable[[ChunkOutcome], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[ChunkOutcome]:
    """Submit the chunks in order, one request each, and journal every answer. ``submit``
    sends one chunk: the gate's (``bulkctl.actions.submitter``), handed out once asked.

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
                result = submit(kind, chunk.items, chunk.idempotency_ref)
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
            hint="wait for it first:" if is_bulk_id(bulk.bulk_id) else None,
            suggest=("wait", bulk_id) if is_bulk_id(bulk.bulk_id) else (),
        )
    kind = kind_of_operation(bulk.operation)
    if kind is None:
        raise RerunRefused(f"bulk {bulk_id}: operation {shown(bulk.operation)} is no known kind")
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
