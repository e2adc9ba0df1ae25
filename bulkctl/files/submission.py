"""From items to chunks ready to submit, and the loop that submits them.

``submit`` and ``rerun`` call this module: items read and validated by ``bulkctl.files.reading``
(its public names are importable from here too) are split into chunks of at most 10,000
with a deterministic idempotency-ref each; the journal remembers which ref became which
bulk. Requests go through the submitter the caller hands in, so no HTTP client is imported
here. A rerun is planned in ``bulkctl.files.rerun`` (its names are importable from here too).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bulkctl.api.kinds import BACKOFFICE, KINDS, MAX_ITEMS, Kind
from bulkctl.api.records import BulkSubmitted
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
from bulkctl.files.rerun import (
    NOT_RUN_STATUSES,
    RerunPlan,
    RerunRefused,
    RerunSelection,
    describe_left_out,
    error_code_of,
    items_to_jsonl,
    parse_sequences,
    plan_rerun,
    read_rerun_plan,
    statuses_to_read,
    unread_operations,
)
from bulkctl.files.validation import (
    InvalidInput,
    Item,
    Problem,
    kind_named,
    normalize_item,
    validate_records,
)

__all__ = [  # names of reading, validation, the journal and reruns: callers import them here
    "FORMATS",
    "JOURNAL_FILE",
    "JOURNAL_KEEP_SECONDS",
    "JOURNAL_LIMIT",
    "JOURNAL_TRIMMED",
    "MAX_BULK_ID",
    "NOT_RUN_STATUSES",
    "InputFile",
    "InvalidInput",
    "Item",
    "Journal",
    "JournalEntry",
    "Problem",
    "RerunPlan",
    "RerunRefused",
    "RerunSelection",
    "describe_left_out",
    "detect_format",
    "error_code_of",
    "items_to_jsonl",
    "kind_named",
    "load_items",
    "normalize_item",
    "parse_records",
    "parse_sequences",
    "plan_rerun",
    "read_rerun_plan",
    "read_source",
    "statuses_to_read",
    "unread_operations",
    "validate_records",
]

REF_PREFIX = "bulkctl-"

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


def require_offered(kind: Kind, api: str, base_url_set: bool = False) -> None:
    """UsageError (exit 2) when the API in force (``multi``/``backoffice``) lacks the kind.
    With a ``base_url`` of its own, the profile's URL names its API, so the fix is the URL
    (``api`` would change nothing)."""
    if kind.offered_by(api):
        return
    offered = [k.name for k in KINDS.values() if k.offered_by(api)]
    label = "Back Office" if api == BACKOFFICE else api
    if base_url_set:
        raise UsageError(
            f"the {label} API has no bulk {kind.name}; it offers only {', '.join(offered)}",
            hint="use a profile of the Multi API: its base_url ends in /multi, not /multi/backoffice",
        )
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
