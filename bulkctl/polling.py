"""Polling bulks until they are final, shared by ``wait`` and ``watch``: one round of
requests at a time, transient errors ridden out, each change reported once, and the exit
code that says how the bulks ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, ExitCode

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

FINAL_CODES: dict[str, int] = {
    "COMPLETED": ExitCode.OK,
    "CANCELLED": ExitCode.CANCELLED,
    "PARTIALLY_COMPLETED": ExitCode.PARTIALLY_COMPLETED,
    "FAILED": ExitCode.FAILED,
}


def outcome_code(bulks: list[BulkProcess]) -> int:
    """0 when every bulk COMPLETED, else the worst final status's code."""
    return max((FINAL_CODES.get(b.status or "", ExitCode.OK) for b in bulks), default=ExitCode.OK)


def progress_numbers(bulk: BulkProcess) -> tuple[int, int | None]:
    """(operations done, total): done is completed + failed; total None when unusable."""
    done = bulk.count_of("COMPLETED") + bulk.count_of("FAILED")
    total = bulk.submitted_items_count
    if total is None or total <= 0:
        return done, None
    return done, total


def done_of_total(bulk: BulkProcess) -> str:
    """'12/40' operations done, or '12/?' when the total is unknown."""
    done, total = progress_numbers(bulk)
    return f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"


@dataclass
class Poller:
    """Fetches bulks until final, riding out transient errors; reports each change once."""

    ctx: Context
    client: ApiClient
    bulk_ids: list[str]
    latest: dict[str, BulkProcess] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def poll(self) -> list[tuple[str, str | None, BulkProcess]]:
        """One round over the pending bulks; returns (id, previous status, bulk) for each change."""
        changes = []
        for bulk_id in self.pending():
            try:
                bulk = self.client.get_bulk(bulk_id)
            except TRANSIENT_ERRORS as exc:
                if self.problems.get(bulk_id) != exc.message:
                    self.ctx.note(f"bulk {bulk_id}: {exc.message}; still waiting")
                self.problems[bulk_id] = exc.message
                continue
            self.problems.pop(bulk_id, None)
            before = self.latest.get(bulk_id)
            self.latest[bulk_id] = bulk
            if before is None or before.raw != bulk.raw:
                changes.append((bulk_id, before.status if before else None, bulk))
        return changes

    def pending(self) -> list[str]:
        return [i for i in self.bulk_ids if i not in self.latest or not self.latest[i].is_final]


def describe_wait(bulk_id: str, bulk: BulkProcess) -> str | None:
    """The note for a status that will not end on its own."""
    status = bulk.status
    if status == "SUBMITTED":
        return f"bulk {bulk_id} is SUBMITTED (not started); waiting for it to be executed"
    if status == "PAUSED":
        return f"bulk {bulk_id} is PAUSED; waiting for it to be resumed or cancelled"
    if status not in BULK_STATUSES:
        return f"bulk {bulk_id} is in a status bulkctl does not know ({status!r}); waiting"
    return None
