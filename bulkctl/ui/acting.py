"""The changes the ui asks for: the gate's verdict on a key (``x`` ``p`` ``r`` ``c`` ``R``),
the question it asks, and sending what was answered Yes, with what happened as a
notification. Nothing is sent before the answer; the checks and the questions are the
commands' own (``bulkctl.actions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bulkctl.actions import (
    CREATE,
    DEFAULT_MODE,
    Question,
    invalid_state_text,
    question_for,
    refusal,
    rerun_confirmation_text,
)
from bulkctl.api.records import BulkProcess, is_bulk_id
from bulkctl.errors import Conflict
from bulkctl.ui.confirm_screen import ConfirmScreen, ProductionConfirmScreen
from bulkctl.ui.detail_screen import DetailScreen
from bulkctl.ui.main_screen import MainScreen
from bulkctl.ui.parts import error_text, in_thread
from bulkctl.ui.safe import safe_str

if TYPE_CHECKING:
    from bulkctl.files.submission import RerunPlan
    from bulkctl.ui.app import BulkApp


class Acting:
    """The app's changes of state, from the key to the notification of what happened."""

    def __init__(self, app: BulkApp) -> None:
        self.app = app

    def current_bulk(self) -> BulkProcess | None:
        screen = self.app.screen
        if isinstance(screen, DetailScreen):
            return self.app.board.details.get(screen.bulk_id, screen.bulk)
        if isinstance(screen, MainScreen):
            return screen.selected_bulk()
        return None

    def act(self, action: str) -> None:
        bulk = self.current_bulk()
        if bulk is None or not bulk.bulk_id:
            return
        if not is_bulk_id(bulk.bulk_id):
            self.app.notify(
                "this bulk's id is not digits only: no action can name it", markup=False
            )
            return
        if action == "rerun" and bulk.is_final and bulk.bulk_id not in self.app.board.details:
            # a listing carries no counts per operation status: read them before deciding
            self.app.run_worker(self.read_then_act(bulk.bulk_id, action), exit_on_error=False)
            return
        self.decide(action, self.app.board.details.get(bulk.bulk_id, bulk))

    async def read_then_act(self, bulk_id: str, action: str) -> None:
        try:
            bulk = await in_thread(self.app.backend.get_bulk, bulk_id)
        except Exception as exc:
            self.app.notify(
                error_text(exc, self.app.backend.suggest),
                title=f"cannot {action}",
                severity="error",
                markup=False,
            )
            return
        self.app.board.details[bulk_id] = bulk
        self.decide(action, bulk)

    def decide(self, action: str, bulk: BulkProcess) -> None:
        """The gate's verdict: refuse with the reason, or ask as the table says (the
        commands' question); nothing is sent before the answer."""
        bulk_id = bulk.bulk_id or ""
        if action == "rerun":
            reason = refusal("rerun", bulk)
            if reason is not None:
                self.app.notify(
                    safe_str(reason), title="cannot rerun", severity="warning", markup=False
                )
                return
            self.app.run_worker(self.plan_then_ask(bulk), exit_on_error=False)
            return
        decision = self.app.backend.decide(action, bulk)
        if decision.refused is not None:
            self.app.notify(
                safe_str(decision.refused),
                title=f"cannot {action}",
                severity="warning",
                markup=False,
            )
            return
        if decision.note is not None:
            self.app.notify(safe_str(decision.note), markup=False)

        def answered(mode: str | None) -> None:
            if mode is None:
                self.app.notify(safe_str(f"bulk {bulk_id}: {action} skipped"), markup=False)
                return
            self.app.run_worker(self.send_action(bulk_id, action, mode), exit_on_error=False)

        if decision.question is Question.NONE:
            answered(DEFAULT_MODE)
            return
        self.app.show(
            self.confirmation(action, bulk, production=decision.question is Question.WORD), answered
        )

    async def plan_then_ask(self, bulk: BulkProcess) -> None:
        """Read the FAILED operations and plan the rerun, then ask (nothing is sent before Yes)."""
        bulk_id = bulk.bulk_id or ""
        self.app.notify(safe_str(f"bulk {bulk_id}: reading its FAILED operations …"), markup=False)
        try:
            plan = await in_thread(self.app.backend.plan_rerun, bulk_id)
        except Exception as exc:
            self.app.notify(
                error_text(exc, self.app.backend.suggest),
                title="cannot rerun",
                severity="error",
                markup=False,
            )
            return
        where = self.app.backend.where.text
        question = rerun_confirmation_text(bulk_id, plan.kind.name, len(plan.items), where)

        def answered(mode: str | None) -> None:
            if mode is None:
                self.app.notify(safe_str(f"bulk {bulk_id}: rerun skipped"), markup=False)
                return
            self.app.run_worker(self.send_rerun(plan), exit_on_error=False)

        asked = question_for(CREATE, self.app.backend.where.production)  # as submit and rerun ask
        if asked is Question.NONE:
            answered(DEFAULT_MODE)
            return
        screen = self.confirmation("rerun", bulk, question, production=asked is Question.WORD)
        self.app.show(screen, answered)

    def confirmation(
        self, action: str, bulk: BulkProcess, question: str | None = None, *, production: bool
    ) -> ConfirmScreen:
        """The question before an action: Yes or No, or the word typed (as the gate says)."""
        screen = ProductionConfirmScreen if production else ConfirmScreen
        return screen(action, bulk, self.app.backend, question)

    async def send_rerun(self, plan: RerunPlan) -> None:
        try:
            outcomes = await in_thread(self.app.backend.submit_rerun, plan)
            for outcome in outcomes:
                said = "already submitted as" if outcome.already else "submitted as"
                count = outcome.operation_count
                self.app.notify(
                    safe_str(
                        f"bulk {plan.source_bulk}: rerun {said} bulk {outcome.bulk_id} "
                        f"({len(outcome.chunk.items) if count is None else count:,} operations, "
                        "SUBMITTED, not executed: x executes it)"
                    ),
                    markup=False,
                    timeout=15,
                )
            self.app.board.recount()
        except Exception as exc:
            self.app.notify(
                error_text(exc, self.app.backend.suggest),
                title="rerun failed",
                severity="error",
                markup=False,
                timeout=15,
            )
        self.app.board.reset()
        self.app.refresh_now()

    async def send_action(self, bulk_id: str, action: str, mode: str) -> None:
        try:
            message = await in_thread(self.app.backend.act, bulk_id, action, mode)
            self.app.notify(safe_str(message), markup=False)
            self.app.board.recount()  # a status moved: the header counts it at once
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":
                current = await in_thread(self.app.backend.current_status, bulk_id)
                message = invalid_state_text(bulk_id, action, current)
            else:
                message = " ".join(exc.lines())
            self.app.notify(
                safe_str(message), title=f"{action} refused", severity="error", markup=False
            )
        except Exception as exc:
            # OutcomeUnknown says it may or may not have happened, as the commands do
            self.app.notify(
                error_text(exc, self.app.backend.suggest),
                title=f"{action} failed",
                severity="error",
                markup=False,
                timeout=15,
            )
        self.app.board.reset()
        self.app.refresh_now()
        screen = self.app.screen
        if isinstance(screen, DetailScreen):
            screen.action_reload()
