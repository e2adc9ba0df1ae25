"""The ui's one door to data and actions: typed reads over ``ApiClient``, state changes
through the gate (``bulkctl.actions``: the same decision, question and requests as the
commands), where they land, the clock, and the quota state for the footer.

Every request the ui sends goes through here, so a test can count them and the lead can
rewire them (the shared pacer, the rerun planner) in one place. Methods block: the app calls
them from worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bulkctl.actions import Decision, action_body, decide, send_action, submitter, where_text

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient
    from bulkctl.api.records import BulkProcess, Page
    from bulkctl.context import Context
    from bulkctl.files.submission import ChunkOutcome, Journal, RerunPlan
    from bulkctl.pacing.pacer import PaceUsage


def time_of_day(seconds: float) -> str:
    """A wall time as HH:MM:SS local time, for the "data as of" stamp."""
    import time

    return time.strftime("%H:%M:%S", time.localtime(seconds))


def quota_words(usage: PaceUsage) -> str:
    """The footer's quota state: 'paced: 12 of 100 this minute', or 'unpaced'."""
    if usage.limit is None:
        return "unpaced"
    return f"paced: {usage.started:,} of {usage.limit:,} this minute"


@dataclass(frozen=True)
class Where:
    """Where actions land: for the header, and (``text``, as the commands say it) for every
    confirmation."""

    profile: str
    environment: str
    host: str
    production: bool
    text: str  # for questions: 'PRODUCTION (api.weavr.io, profile live)'
    plain: str  # for results: 'production (api.weavr.io, profile live)'


@dataclass
class Backend:
    """Reads and actions for the ui, built from a ``Context`` (see ``from_context``)."""

    client: ApiClient
    where: Where
    now: Callable[[], float]  # wall time, for AGE
    monotonic: Callable[[], float]  # for intervals and the "changed" marks
    quota: Callable[[], str | None] | None = None  # e.g. "paced: 12 of 100 this minute"
    journal: Callable[[], Journal] | None = None  # rerun's journal: the commands' own
    api: str = "multi"  # which API the profile speaks (a rerun's kind must be offered)
    suggest: Callable[..., str] | None = None  # a command to suggest, with the profile in force
    clock_text: Callable[[float], str] = time_of_day  # the demo's pictures draw UTC
    _closed: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_context(
        cls,
        ctx: Context,
        *,
        quota: Callable[[], str | None] | None = None,
        now: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> Backend:
        """Log in (or fail with the usual error) before any screen is drawn."""
        settings = ctx.settings()
        environment = settings.environment  # the verdict auth status and every question show
        where = Where(
            profile=settings.profile,
            environment=environment,
            host=settings.host,
            production=settings.is_production,
            text=where_text(settings),
            plain=settings.where(),
        )
        client = ctx.client()
        return cls(
            client=client,
            where=where,
            now=now or ctx.clock.now,
            monotonic=monotonic or ctx.clock.monotonic,
            quota=quota or (lambda: quota_words(client.pace_usage())),
            journal=lambda: _journal_for(ctx),
            api=settings.api,
            suggest=ctx.suggest,
        )

    # -- reads --------------------------------------------------------------------------------

    def list_page(self, status: str | None, offset: int, limit: int) -> Page:
        """One page of bulks (newest first) at ``offset``, with the listing's total."""
        return self.client.list_bulks(offset=offset, limit=limit, status=status)

    def count(self, status: str, named: int) -> Page:
        """How many bulks are in ``status`` (the page's ``reported_count``), with the newest
        ``named`` of them: one request, so the count and whom it counts are one reading."""
        return self.client.list_bulks(offset=0, limit=named, status=status)

    def get_bulk(self, bulk_id: str) -> BulkProcess:
        return self.client.get_bulk(bulk_id)

    def operations(self, bulk_id: str, offset: int, limit: int, status: str | None) -> Page:
        return self.client.list_operations(bulk_id, offset=offset, limit=limit, status=status)

    def quota_text(self) -> str | None:
        return self.quota() if self.quota is not None else None

    # -- actions ------------------------------------------------------------------------------

    def decide(self, action: str, bulk: BulkProcess, mode: str | None = None) -> Decision:
        """The gate's verdict on ``action`` for ``bulk``: refused, or which question to ask
        (the table the commands follow) and its words."""
        bulk_id = bulk.bulk_id or "?"
        return decide(action, bulk_id, bulk, self.where.text, self.where.production, mode)

    def act(self, bulk_id: str, action: str, mode: str | None = None) -> str:
        """Send one state change through the gate, once decided and answered; returns the
        message for a notification, or raises."""
        send_action(self.client, bulk_id, action, action_body(action, mode))
        return f"bulk {bulk_id}: {action} accepted ({self.where.plain})"

    def current_status(self, bulk_id: str) -> str:
        """The status now, for explaining an INVALID_STATE answer; never raises."""
        from bulkctl.errors import BulkctlError

        try:
            return self.client.get_bulk(bulk_id).status or "in an unknown status"
        except BulkctlError:
            return "not in the right status"

    def plan_rerun(self, bulk_id: str) -> RerunPlan:
        """The rerun of a final bulk's FAILED operations, read and checked as ``rerun`` does;
        raises (``RerunRefused``, ``InvalidInput``, ``UsageError``) with the commands' words."""
        from bulkctl.files.submission import RerunSelection, read_rerun_plan, require_offered

        plan = read_rerun_plan(self.client, bulk_id, RerunSelection(failed=True))
        require_offered(plan.kind, self.api)
        plan.check()
        return plan

    def submit_rerun(self, plan: RerunPlan) -> list[ChunkOutcome]:
        """Submit the plan's items as new bulks (never executed), in ``rerun``'s journal."""
        from bulkctl.files.submission import plan_chunks, submit_chunks

        if self.journal is None:
            raise RuntimeError("the ui's backend has no submission journal")
        chunks = plan_chunks(plan.kind, plan.items, source_bulk=plan.source_bulk)
        return submit_chunks(
            submitter(self.client), plan.kind, chunks, self.journal(), source_bulk=plan.source_bulk
        )

    # -- end ----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop: requests in flight fail fast and no retry waits (called on quit)."""
        self._closed.set()
        self.client.close()


def _journal_for(ctx: Context) -> Journal:
    from bulkctl.actions.sending import journal_for  # only when R is answered Yes

    return journal_for(ctx)
