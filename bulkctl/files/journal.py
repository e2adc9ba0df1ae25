"""The submission journal: which chunk key (idempotency-ref) became which bulk, in the state
folder, so a repeat of the same command names the bulk that already exists. Never refused
for its size: it stays within its limit by dropping its oldest entries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkctl.api.kinds import Kind
from bulkctl.api.records import as_int, as_text
from bulkctl.errors import StorageError
from bulkctl.safefile import (
    MAX_PRIVATE_FILE,
    TooLarge,
    atomic_write,
    check_private_dir,
    make_private_dir,
    read_private,
    refuse_symlink,
)

JOURNAL_FILE = "submissions.json"
JOURNAL_KEEP_SECONDS = 30 * 24 * 3600  # the API keeps refs at least 24 h; the journal longer
JOURNAL_LIMIT = MAX_PRIVATE_FILE - 4096  # bytes written, below what a reader accepts
JOURNAL_TRIMMED = JOURNAL_LIMIT * 3 // 4  # a full journal drops to this, so trims are rare
MAX_BULK_ID = 64  # characters of a bulk id the journal stores; a longer one is no id


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
