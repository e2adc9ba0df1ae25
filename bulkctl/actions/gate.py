"""The one gate every change of state passes, from the command line and from the ui alike:
read the bulk, refuse what its status rules out (with the reason), ask the question the
table in ``rules`` names for this change and environment, and send.

Only this package imports ``bulkctl.api.changes``, the requests that change state (an
import-linter contract), so no command or screen can send a change past it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bulkctl.actions.rules import (
    ACTIONS,
    CREATE,
    CREATE_EXECUTE,
    DEFAULT_MODE,
    REQUIRED_STATUS,
    Question,
    confirmation_text,
    invalid_state_text,
    known_status,
    prompt_suffix,
    question_for,
    refusal,
    said_yes,
    typed_production,
    unknown_status_note,
    where_text,
)
from bulkctl.api.records import BulkProcess, BulkSubmitted
from bulkctl.context import Context
from bulkctl.errors import BulkctlError, Conflict, ExitCode, ServerError, UsageError
from bulkctl.output.render import RenderOptions, render

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient
    from bulkctl.api.kinds import Kind

Submit = Callable[["Kind", list[dict[str, Any]], "str | None"], BulkSubmitted]


# -- deciding: the same for the command line and the ui ---------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the gate makes of one change on one bulk before anything is sent."""

    refused: str | None  # why the bulk's known status rules the change out
    note: str | None  # a status bulkctl does not know: the server decides
    question: Question
    text: str  # the question's words, without how to answer


def decide(
    action: str, bulk_id: str, bulk: BulkProcess, where: str, production: bool, mode: str | None
) -> Decision:
    """The gate's verdict on ``action`` for ``bulk`` (read just now), landing on ``where``."""
    return Decision(
        refused=refusal(action, bulk, bulk_id),
        note=unknown_status_note(bulk_id, bulk, action),
        question=question_for(action, production),
        text=confirmation_text(action, bulk_id, bulk, where, mode),
    )


def action_body(action: str, mode: str | None, webhook_interval: int | None = None) -> Any:
    """The request body: execute's mode and webhook interval; nothing for the others."""
    if action != "execute":
        return None
    body: dict[str, Any] = {"mode": mode or DEFAULT_MODE}
    if webhook_interval is not None:
        body["webhookInterval"] = webhook_interval
    return body


def send_action(client: ApiClient, bulk_id: str, action: str, body: Any = None) -> None:
    """Send one decided state change (the ui after its screen, the commands after asking)."""
    from bulkctl.api import changes  # httpx: only once a change is sent

    try:
        changes.act(client, bulk_id, action, body)
    except ServerError as exc:  # a 5xx says nothing of whether it was applied
        exc.message = f"{exc.message}: the {action} may or may not have happened"
        exc.hint = "check before trying again:"
        exc.suggest = ("show", bulk_id)
        raise


def submitter(client: ApiClient) -> Submit:
    """The function that sends one chunk of a submission, for ``submit_chunks``; only
    handed out once the submission's question was answered (``ask_submission``)."""
    from bulkctl.api import changes  # httpx: only once a change is sent

    def submit(kind: Kind, items: list[dict[str, Any]], ref: str | None) -> BulkSubmitted:
        return changes.submit_bulk(client, kind, items, ref)

    return submit


# -- asking on the command line -------------------------------------------------------------


def flush_typed_ahead(ctx: Context) -> None:
    """Drop keys typed before the question was shown, as OpenSSH does: an answer typed while
    the bulk was being read must not answer a question its typist never saw."""
    if not ctx.stdin_tty:
        return
    try:
        import termios

        termios.tcflush(ctx.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError, AttributeError):
        pass  # not a real terminal (a test's stream): nothing can be pending


def unconfirmable(ctx: Context, change: str) -> UsageError:
    what = "submit" if change == CREATE else "execute" if change == CREATE_EXECUTE else change
    why = "CI is set: no question is asked" if ctx.in_ci else "no terminal to ask on, or --no-input"
    return UsageError(
        f"refusing to {what} without confirmation ({why})",
        hint=f"pass --yes to {what} on {ctx.settings().where()}",
    )


def needs_asking(ctx: Context, change: str, *, yes: bool) -> bool:
    """Whether ``change`` asks here; raises (exit 2) when it would ask but cannot (no
    terminal, or --no-input) and ``--yes`` was not given. Checked before anything is sent."""
    if yes or question_for(change, ctx.settings().is_production) is Question.NONE:
        return False
    if not ctx.can_prompt:
        raise unconfirmable(ctx, change)
    return True


def ask(ctx: Context, change: str, text: str) -> bool:
    """Ask ``text`` on the terminal the way the table says for ``change`` here; True to go
    ahead. Keys typed before the question count for nothing."""
    question = question_for(change, ctx.settings().is_production)
    if question is Question.NONE:
        return True
    flush_typed_ahead(ctx)
    answer = ctx.ask(text + prompt_suffix(question))
    return typed_production(answer) if question is Question.WORD else said_yes(answer)


# -- the action commands: execute, pause, resume, cancel ------------------------------------


@dataclass
class ActionOptions:
    action: str
    bulk_ids: list[str]
    mode: str | None = None
    webhook_interval: int | None = None
    yes: bool = False
    dry_run: bool = False
    as_json: bool = False

    def body(self) -> Any:
        return action_body(self.action, self.mode, self.webhook_interval)


def action_options(action: str, bulk_ids: list[str], **settings: Any) -> ActionOptions:
    """Checked options for ``action`` on ``bulk_ids``: every id digits only, or a usage error."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    if action not in ACTIONS:
        raise UsageError(f"no such action: {action}")
    for bulk_id in bulk_ids:
        check_bulk_id(bulk_id)
    return ActionOptions(action, bulk_ids, **settings)


def run_action(ctx: Context, options: ActionOptions) -> int:
    """Pass each id through the gate; returns the worst exit code.

    Each bulk is read first: a known status that rules the action out is refused with the
    reason (exit 5) before any question or change; ``--dry-run`` stops there."""
    results: list[dict[str, Any]] = []
    worst = 0
    for bulk_id in options.bulk_ids:
        result: dict[str, Any] = {"bulkId": bulk_id, "action": options.action}
        try:
            result.update(_one_action(ctx, options, bulk_id))
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":  # the status changed since it was read
                exc.message = invalid_state_message(ctx, bulk_id, options.action)
            ctx.error(exc.lines(ctx.suggest)[:1])
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        except BulkctlError as exc:
            if len(options.bulk_ids) == 1 and not options.as_json:
                raise
            lines = exc.lines(ctx.suggest)
            first = lines[0] if bulk_id in lines[0] else f"bulk {bulk_id}: {lines[0]}"
            ctx.error([first, *lines[1:]])
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        worst = max(worst, int(result["exitCode"]))
        results.append(result)
    if options.dry_run:
        ctx.note(f"dry run: nothing sent ({ctx.settings().where()})")
    started = [r["bulkId"] for r in results if r.get("ok") and not r.get("dryRun")]
    if options.action in ("execute", "resume") and started:  # what it does now: watch it
        watch = ("watch", started[0]) if len(started) == 1 else ("watch", "-s", "running")
        ctx.note(f"next: {ctx.suggest(*watch)}")
    if options.as_json:
        render(results, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout)
    return worst


def _one_action(ctx: Context, options: ActionOptions, bulk_id: str) -> dict[str, Any]:
    settings = ctx.settings()
    action = options.action
    client = ctx.client()
    bulk = client.get_bulk(bulk_id)
    decision = decide(
        action, bulk_id, bulk, where_text(settings), settings.is_production, options.mode
    )
    if decision.refused is not None:
        raise Conflict(decision.refused)  # known before asking: nothing is sent
    if decision.note is not None:
        ctx.note(decision.note)
    if options.dry_run:
        request = f"POST {settings.base_url}/bulks/{bulk_id}/{action}"
        if options.as_json:
            return {
                "ok": True,
                "dryRun": True,
                "exitCode": 0,
                "request": request,
                "body": options.body(),
            }
        print(request, file=ctx.stdout)
        if options.body() is not None:
            print(json.dumps(options.body()), file=ctx.stdout)
        return {"ok": True, "dryRun": True, "exitCode": 0}
    # after the status: a bulk that cannot be acted on says why (4, 5), not "pass --yes"
    if needs_asking(ctx, action, yes=options.yes) and not ask(ctx, action, decision.text):
        ctx.note(f"bulk {bulk_id}: {action} skipped")
        return {"ok": False, "skipped": True, "exitCode": int(ExitCode.DECLINED)}
    send_action(client, bulk_id, action, options.body())
    ctx.note(f"bulk {bulk_id}: {action} accepted ({settings.where()})")
    return {"ok": True, "exitCode": 0}


def invalid_state_message(ctx: Context, bulk_id: str, action: str) -> str:
    """Why the API refused ``action``: the status it needs, and the one the bulk is in now."""
    try:
        current = ctx.client().get_bulk(bulk_id).status or "in an unknown status"
    except BulkctlError:
        current = "not in the right status"
    return invalid_state_text(bulk_id, action, current)


# -- submissions: submit, rerun, and what they execute ----------------------------------------


def ask_submission(ctx: Context, text: str, *, execute: bool, yes: bool) -> bool:
    """The one question before a submission (with ``execute``, before its execution too):
    True to go ahead. Raises (exit 2) when it asks but cannot."""
    change = CREATE_EXECUTE if execute else CREATE
    if not needs_asking(ctx, change, yes=yes):
        return True
    return ask(ctx, change, text)


def refuse_unconfirmable(ctx: Context, *, execute: bool, yes: bool) -> None:
    """Before the input is read: a submission that asks here, with no way to ask, exit 2."""
    needs_asking(ctx, CREATE_EXECUTE if execute else CREATE, yes=yes)


def execute_submitted(ctx: Context, bulk_ids: Sequence[str], mode: str) -> int:
    """Execute the bulks a submission made, once its question was answered: each is read
    first, and one the server handed back already past SUBMITTED (idempotency: a re-run,
    maybe on a fresh runner) is reported in one line, not executed again nor refused.
    Returns the worst exit code."""
    client = ctx.client()
    to_execute: list[str] = []
    for bulk_id in bulk_ids:
        bulk = client.get_bulk(bulk_id)
        if known_status(bulk) and bulk.status not in REQUIRED_STATUS["execute"]:
            ctx.note(f"bulk {bulk_id} is already {bulk.status}; not executed again")
            continue
        note = unknown_status_note(bulk_id, bulk, "execute")
        if note is not None:
            ctx.note(note)
        to_execute.append(bulk_id)
    worst = 0
    for bulk_id in to_execute:
        try:
            send_action(client, bulk_id, "execute", action_body("execute", mode))
            ctx.note(f"bulk {bulk_id}: execute accepted ({ctx.settings().where()})")
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":
                exc.message = invalid_state_message(ctx, bulk_id, "execute")
            if len(to_execute) == 1:
                raise
            ctx.error(exc.lines(ctx.suggest)[:1])
            worst = max(worst, int(exc.exit_code))
    return worst
