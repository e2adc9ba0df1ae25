"""The state changes of a bulk (execute, pause, resume, cancel): what each needs, how it is
confirmed, and how each id's outcome is reported. The action commands call ``run_action``;
anything else that changes a bulk's state (a future ``ui`` or ``rerun``) must use it too.

Executing moves money and cancelling is final, so both ask first on a terminal (saying
where: environment, host, profile) and refuse without ``--yes`` anywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bulkctl.api.records import BulkProcess
from bulkctl.config import Resolved
from bulkctl.context import Context
from bulkctl.errors import BulkctlError, Conflict, ServerError, UsageError
from bulkctl.render import RenderOptions, render
from bulkctl.safetext import safe_text

ACTIONS = ("execute", "pause", "resume", "cancel")
# the status each action needs, for saying in words why the API answered INVALID_STATE
REQUIRED_STATUS: dict[str, tuple[str, ...]] = {
    "execute": ("SUBMITTED",),
    "pause": ("RUNNING",),
    "resume": ("PAUSED",),
    "cancel": ("RUNNING", "PAUSED"),
}
PAST_TENSE = {"execute": "executed", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}
CONFIRMED_ACTIONS = ("execute", "cancel")
DEFAULT_MODE = "ON_FAILURE_STOP"
PRODUCTION_ANSWER = "production"  # what goes ahead on production, where "y" is not enough


# -- the rules as pure functions: the ui uses them as the commands do (no Context, no request)


def where_text(settings: Resolved) -> str:
    """Where an action lands, for questions: 'PRODUCTION (api.weavr.io, profile live)'."""
    where = settings.where()
    if settings.is_production:
        where = "PRODUCTION " + where.removeprefix("production ")
    return where


def typed_production(answer: str) -> bool:
    """Whether a question on production was answered with the word itself."""
    return answer.strip().lower() == PRODUCTION_ANSWER


def invalid_state_text(bulk_id: str, action: str, current: str) -> str:
    """The words for ``action`` on a bulk in status ``current``, which does not allow it
    (``current`` comes from the server: it is made safe here)."""
    needed = " or ".join(REQUIRED_STATUS[action])
    article = "an" if needed[0] in "AEIOU" else "a"
    return (
        f"bulk {safe_text(bulk_id)} is {safe_text(current)}; "
        f"only {article} {needed} bulk can be {PAST_TENSE[action]}"
    )


def refusal(action: str, bulk: BulkProcess, bulk_id: str | None = None) -> str | None:
    """Why ``bulk``'s status forbids ``action`` (one of ACTIONS, or ``rerun``), or None: the
    status is one the action needs, or the server sent none (then the API decides).
    ``bulk_id`` is the id asked for, when the caller has one."""
    bulk_id = bulk_id or bulk.bulk_id or "?"
    current = safe_text(bulk.status or "in an unknown status")
    if action == "rerun":
        if not bulk.is_final:
            return f"bulk {bulk_id} is {current}; only a final bulk can be rerun"
        if bulk.count_of("FAILED") <= 0:
            return f"bulk {bulk_id} has no FAILED operations to rerun"
        return None
    if bulk.status is None or bulk.status in REQUIRED_STATUS[action]:
        return None
    return invalid_state_text(bulk_id, action, current)


def confirmation_text(
    action: str, bulk_id: str, bulk: BulkProcess, where: str, mode: str | None = None
) -> str:
    """The question before ``action`` (without its answer hint): where, how many of which
    operation, and the mode (execute) or the status now (the others; cancel is final)."""
    items = f"{bulk.submitted_items_count:,}" if bulk.submitted_items_count is not None else "?"
    what = f"{items} × {safe_text(bulk.operation or '?')}"
    if action == "execute":
        what += f", {mode or DEFAULT_MODE}"
    else:
        what += f", now {safe_text(bulk.status or '?')}"
        if action == "cancel":
            what += "; this cannot be undone"
    return f"{action} bulk {safe_text(bulk_id)} on {safe_text(where)}: {what}?"


def rerun_confirmation_text(bulk_id: str, kind: str, items: int, where: str) -> str:
    """The question before rerunning a bulk's FAILED operations as a new bulk."""
    return (
        f"rerun bulk {safe_text(bulk_id)} on {safe_text(where)}: submit its {items:,} FAILED "
        f"operations as a new {kind} bulk (submitted, not executed)?"
    )


@dataclass
class ActionOptions:
    action: str
    bulk_ids: list[str]
    mode: str | None = None
    webhook_interval: int | None = None
    yes: bool = False
    dry_run: bool = False
    as_json: bool = False

    def body(self) -> dict[str, Any] | None:
        """The request body: execute's mode and webhook interval; nothing for the others."""
        if self.action != "execute":
            return None
        body: dict[str, Any] = {"mode": self.mode or DEFAULT_MODE}
        if self.webhook_interval is not None:
            body["webhookInterval"] = self.webhook_interval
        return body


def action_options(action: str, bulk_ids: list[str], **settings: Any) -> ActionOptions:
    """Checked options for ``action`` on ``bulk_ids``: every id digits only, or a usage error."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    for bulk_id in bulk_ids:
        check_bulk_id(bulk_id)
    return ActionOptions(action, bulk_ids, **settings)


def run_action(ctx: Context, options: ActionOptions) -> int:
    """Apply the action to each id; returns the worst exit code.

    Each bulk is read first: an action its status rules out is refused with the reason
    (exit 5) before any prompt or change; ``--dry-run`` stops there and sends nothing."""
    settings = ctx.settings()
    action = options.action
    needs_yes = action in CONFIRMED_ACTIONS and not options.yes and not options.dry_run
    unconfirmable = UsageError(
        f"refusing to {action} without confirmation (no terminal to ask on, or --no-input)",
        hint=f"pass --yes to {action} on {settings.where()}",
    )
    client = ctx.client()
    results: list[dict[str, Any]] = []
    worst = 0
    for bulk_id in options.bulk_ids:
        result: dict[str, Any] = {"bulkId": bulk_id, "action": action}
        try:
            bulk = client.get_bulk(bulk_id)
            reason = refusal(action, bulk, bulk_id)
            if reason is not None:
                raise Conflict(reason)  # known before asking: nothing is sent
            if options.dry_run:
                request = f"POST {settings.base_url}/bulks/{bulk_id}/{action}"
                if options.as_json:
                    result.update(request=request, body=options.body())
                else:
                    _print_request(ctx, request, options.body())
                result.update(ok=True, dryRun=True, exitCode=0)
                results.append(result)
                continue
            if needs_yes and not ctx.can_prompt:  # after the status: a bulk that cannot be
                raise unconfirmable  # acted on says why (4, 5), not "pass --yes"
            if needs_yes and not confirm(ctx, options, bulk, bulk_id):
                ctx.note(f"bulk {bulk_id}: {action} skipped")
                result.update(ok=False, skipped=True, exitCode=0)
                results.append(result)
                continue
            try:
                client.act(bulk_id, action, options.body())
            except ServerError as exc:  # a 5xx says nothing of whether it was applied
                exc.message = f"{exc.message}: the {action} may or may not have happened"
                exc.hint = f"check before trying again: bulkctl show {bulk_id}"
                raise
            ctx.note(f"bulk {bulk_id}: {action} accepted ({settings.where()})")
            result.update(ok=True, exitCode=0)
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":  # the status changed since it was read
                exc.message = invalid_state_message(ctx, bulk_id, action)
            ctx.error(exc.lines()[:1])
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        except BulkctlError as exc:
            if len(options.bulk_ids) == 1 and not options.as_json:
                raise
            lines = exc.lines()
            first = lines[0] if bulk_id in lines[0] else f"bulk {bulk_id}: {lines[0]}"
            ctx.error([first, *lines[1:]])
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        worst = max(worst, int(result["exitCode"]))
        results.append(result)
    if options.dry_run:
        ctx.note(f"dry run: nothing sent ({settings.where()})")
    if options.as_json:
        render(results, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout)
    return worst


def _print_request(ctx: Context, request: str, body: dict[str, Any] | None) -> None:
    """The request a dry run would have sent: its line, and its body when it has one."""
    print(request, file=ctx.stdout)
    if body is not None:
        print(json.dumps(body), file=ctx.stdout)


def invalid_state_message(ctx: Context, bulk_id: str, action: str) -> str:
    """Why the API refused ``action``: the status it needs, and the one the bulk is in now."""
    try:
        current = ctx.client().get_bulk(bulk_id).status or "in an unknown status"
    except BulkctlError:
        current = "not in the right status"
    return invalid_state_text(bulk_id, action, current)


def confirm(ctx: Context, options: ActionOptions, bulk: BulkProcess, bulk_id: str) -> bool:
    """Ask on the terminal whether to apply the action, saying what and where; True for yes.
    On production the answer must be the word ``production``, as for ``submit --execute``
    and in the ui."""
    settings = ctx.settings()
    question = confirmation_text(options.action, bulk_id, bulk, where_text(settings), options.mode)
    if settings.is_production:
        return typed_production(ctx.ask(f"{question} Type '{PRODUCTION_ANSWER}' to go ahead"))
    answer = ctx.ask(f"{question} [y/N]")
    return answer.strip().lower() in ("y", "yes")


def refuse_unconfirmable(ctx: Context, action: str, yes: bool) -> None:
    """UsageError when ``action`` would need a confirmation that cannot be asked (no terminal,
    or --no-input) and ``--yes`` was not given: checked before anything is sent."""
    if action in CONFIRMED_ACTIONS and not yes and not ctx.can_prompt:
        raise UsageError(
            f"refusing to {action} without confirmation (no terminal to ask on, or --no-input)",
            hint=f"pass --yes to {action} on {ctx.settings().where()}",
        )


def confirm_bulks(ctx: Context, action: str, bulk_ids: list[str], what: str, *, yes: bool) -> bool:
    """One confirmation for ``action`` on several bulks at once, naming environment, host,
    profile, the ids and ``what`` (their totals); True to go ahead.

    ``yes`` goes ahead without asking. On production a bare "y" is not enough: the answer
    must be the word ``production``, so moving money there is never one keystroke away.
    """
    if yes or action not in CONFIRMED_ACTIONS:
        return True
    refuse_unconfirmable(ctx, action, yes)
    settings = ctx.settings()
    where = settings.where()
    noun = "bulk" if len(bulk_ids) == 1 else f"{len(bulk_ids)} bulks"
    label = f"{action} {noun} {', '.join(bulk_ids)}"
    if settings.is_production:
        where = "PRODUCTION " + where.removeprefix("production ")
        answer = ctx.ask(f"{label} on {where}: {what}? Type '{PRODUCTION_ANSWER}' to go ahead")
        return typed_production(answer)
    answer = ctx.ask(f"{label} on {where}: {what}? [y/N]")
    return answer.strip().lower() in ("y", "yes")
