"""Which status allows which action, and what the confirmation says.

SHARED-RULES: this module stands in for the shared action rules (bulkctl/actions.py, being
moved out of bulkctl/commands/bulk.py). It follows today's ``_confirm`` and
``_invalid_state_message``; at merge the ui should import those instead of these.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulkctl.api.records import FINAL_STATUSES, MODES, BulkProcess

# the statuses each action needs (as REQUIRED_STATUS in bulkctl/commands/bulk.py)
REQUIRED_STATUS: dict[str, tuple[str, ...]] = {
    "execute": ("SUBMITTED",),
    "pause": ("RUNNING",),
    "resume": ("PAUSED",),
    "cancel": ("RUNNING", "PAUSED"),
}
PAST = {
    "execute": "executed",
    "pause": "paused",
    "resume": "resumed",
    "cancel": "cancelled",
    "rerun": "rerun",
}
DEFAULT_MODE = MODES[0]


@dataclass(frozen=True)
class Where:
    """Where actions land: for the header and every confirmation."""

    profile: str
    environment: str
    host: str
    production: bool

    def label(self) -> str:
        env = "PRODUCTION" if self.production else self.environment
        return f"{env} ({self.host}, profile {self.profile})"


def refusal(action: str, bulk: BulkProcess) -> str | None:
    """Why ``bulk``'s status forbids ``action``, or None when it is allowed."""
    bulk_id = bulk.bulk_id or "?"
    current = bulk.status or "in an unknown status"
    if action == "rerun":
        if bulk.status not in FINAL_STATUSES:
            return f"bulk {bulk_id} is {current}; only a final bulk can be rerun"
        if bulk.count_of("FAILED") <= 0:
            return f"bulk {bulk_id} has no FAILED operations to rerun"
        return None
    if bulk.status in REQUIRED_STATUS[action]:
        return None
    return invalid_state_message(bulk_id, action, current)


def invalid_state_message(bulk_id: str, action: str, current: str) -> str:
    """The words for an action the status does not allow (as ``bulkctl execute`` says them)."""
    needed = " or ".join(REQUIRED_STATUS[action])
    article = "an" if needed[0] in "AEIOU" else "a"
    return f"bulk {bulk_id} is {current}; only {article} {needed} bulk can be {PAST[action]}"


def confirmation(action: str, bulk: BulkProcess, where: Where, mode: str | None = None) -> str:
    """The question asked before ``action``: where, what, how many and which mode."""
    items = f"{bulk.submitted_items_count:,}" if bulk.submitted_items_count is not None else "?"
    what = f"{items} × {bulk.operation or '?'}"
    if action == "execute":
        what += f", mode {mode or DEFAULT_MODE}"
    else:
        what += f", mode {bulk.mode or '?'}, now {bulk.status or '?'}"
        if action == "cancel":
            what += "; this cannot be undone"
    if action == "rerun":
        what = f"{bulk.count_of('FAILED'):,} FAILED of {what}; submitted, not executed"
    return f"{action} bulk {bulk.bulk_id or '?'} on {where.label()}: {what}?"
