"""The rules of the gate, as data and pure functions: which change asks which question on
which environment (``QUESTIONS``, the README's table is written from it), what each change
needs of a bulk's status, and the words of every question and refusal.

The command line and the ui both read these, so they cannot disagree. No Context and no
request here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.config import Resolved
from bulkctl.safetext import safe_text

ACTIONS = ("execute", "pause", "resume", "cancel")
# the status each action needs, for refusing locally and for saying why the API refused
REQUIRED_STATUS: dict[str, tuple[str, ...]] = {
    "execute": ("SUBMITTED",),
    "pause": ("RUNNING",),
    "resume": ("PAUSED",),
    "cancel": ("RUNNING", "PAUSED"),
}
PAST_TENSE = {"execute": "executed", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}
DEFAULT_MODE = "ON_FAILURE_STOP"
PRODUCTION_ANSWER = "production"  # what goes ahead on production, where "y" is not enough
CREATE = "create"  # submit or rerun without --execute: a SUBMITTED bulk, nothing started
CREATE_EXECUTE = "create+execute"  # submit --execute, rerun --execute


class Question(StrEnum):
    """What a change asks before it is sent."""

    WORD = "type production"
    YES_NO = "y/N"
    NONE = "nothing"


@dataclass(frozen=True)
class Row:
    change: str
    asked_by: str  # the commands and ui keys that make this change, for the README
    production: Question
    elsewhere: Question  # sandbox, loopback, the demo


# The one table: every change of state, on production and elsewhere. Pause stops money from
# moving and is asked alike everywhere; creating a bulk starts nothing, so only production
# asks (its execute is asked again, on its own row).
QUESTIONS: tuple[Row, ...] = (
    Row("execute", "`execute`, ui `x`", Question.WORD, Question.YES_NO),
    Row("resume", "`resume`, ui `r`", Question.WORD, Question.YES_NO),
    Row("cancel", "`cancel`, ui `c`", Question.WORD, Question.YES_NO),
    Row("pause", "`pause`, ui `p`", Question.YES_NO, Question.YES_NO),
    Row(
        CREATE,
        "`submit`, `rerun` (without `--execute`), ui `R`",
        Question.WORD,
        Question.NONE,
    ),
    Row(CREATE_EXECUTE, "`submit --execute`, `rerun --execute`", Question.WORD, Question.YES_NO),
)
_BY_CHANGE = {row.change: row for row in QUESTIONS}
TABLE_START = "<!-- questions: generated from bulkctl.actions.rules.QUESTIONS -->"
TABLE_END = "<!-- end of questions -->"


def question_for(change: str, production: bool) -> Question:
    """What ``change`` (an action, ``create`` or ``create+execute``) asks on production or
    elsewhere."""
    row = _BY_CHANGE[change]
    return row.production if production else row.elsewhere


def questions_markdown() -> str:
    """The README's table of questions, written from ``QUESTIONS``."""
    words = {
        Question.WORD: "type `production`",
        Question.YES_NO: "y/N",
        Question.NONE: "none",
    }
    lines = [
        TABLE_START,
        "| change | asked by | production | sandbox, loopback, demo |",
        "|---|---|---|---|",
        *(
            f"| {row.change} | {row.asked_by} | {words[row.production]} | {words[row.elsewhere]} |"
            for row in QUESTIONS
        ),
        TABLE_END,
    ]
    return "\n".join(lines)


# -- words --------------------------------------------------------------------------------------


def where_text(settings: Resolved) -> str:
    """Where a change lands, for questions: 'PRODUCTION (api.weavr.io, profile live)'."""
    where = settings.where()
    if settings.is_production:
        where = "PRODUCTION " + where.removeprefix("production ")
    return where


def typed_production(answer: str) -> bool:
    """Whether a question on production was answered with the word itself, as written
    (surrounding spaces aside): ``PRODUCTION`` or ``Production`` is not it."""
    return answer.strip() == PRODUCTION_ANSWER


def said_yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")


def prompt_suffix(question: Question) -> str:
    """What follows a question on the command line: how to answer it."""
    if question is Question.WORD:
        return f" Type '{PRODUCTION_ANSWER}' to go ahead"
    return " [y/N]"


def invalid_state_text(bulk_id: str, action: str, current: str) -> str:
    """The words for ``action`` on a bulk in status ``current``, which does not allow it
    (``current`` comes from the server: it is made safe here)."""
    needed = " or ".join(REQUIRED_STATUS[action])
    article = "an" if needed[0] in "AEIOU" else "a"
    return (
        f"bulk {safe_text(bulk_id)} is {safe_text(current)}; "
        f"only {article} {needed} bulk can be {PAST_TENSE[action]}"
    )


def known_status(bulk: BulkProcess) -> bool:
    """Whether the bulk's status is one of the spec's seven: only those are refused locally."""
    return bulk.status in BULK_STATUSES


def unknown_status_note(bulk_id: str, bulk: BulkProcess, action: str) -> str | None:
    """The one note for a status bulkctl does not know (a newer API, a mock): the server
    decides. None for a known status."""
    if known_status(bulk):
        return None
    status = safe_text(bulk.status) if bulk.status is not None else "no status"
    return (
        f"bulk {safe_text(bulk_id)} has {status}, which bulkctl does not know; "
        f"the {action} is left to the server to decide"
    )


def refusal(action: str, bulk: BulkProcess, bulk_id: str | None = None) -> str | None:
    """Why ``bulk``'s status forbids ``action`` (one of ACTIONS, or ``rerun``), or None: the
    status is one the action needs, or one bulkctl does not know (then the API decides).
    ``bulk_id`` is the id asked for, when the caller has one."""
    bulk_id = bulk_id or bulk.bulk_id or "?"
    current = safe_text(bulk.status or "in an unknown status")
    if action == "rerun":
        if not bulk.is_final:
            return f"bulk {bulk_id} is {current}; only a final bulk can be rerun"
        if bulk.count_of("FAILED") <= 0:
            return f"bulk {bulk_id} has no FAILED operations to rerun"
        return None
    if not known_status(bulk) or bulk.status in REQUIRED_STATUS[action]:
        return None
    return invalid_state_text(bulk_id, action, current)


def confirmation_text(
    action: str, bulk_id: str, bulk: BulkProcess, where: str, mode: str | None = None
) -> str:
    """The question before ``action`` (without its answer hint): where, how many of which
    operation, and the mode (execute) or the status now (the others). Cancel is final: it
    says so after the question, which ends with its question mark."""
    items = f"{bulk.submitted_items_count:,}" if bulk.submitted_items_count is not None else "?"
    what = f"{items} × {safe_text(bulk.operation or '?')}"
    if action == "execute":
        what += f", {mode or DEFAULT_MODE}"
    else:
        what += f", now {safe_text(bulk.status or '?')}"
    question = f"{action} bulk {safe_text(bulk_id)} on {safe_text(where)}: {what}?"
    return question + (" This cannot be undone." if action == "cancel" else "")


def rerun_confirmation_text(bulk_id: str, kind: str, items: int, where: str) -> str:
    """The question before rerunning a bulk's FAILED operations as a new bulk."""
    return (
        f"rerun bulk {safe_text(bulk_id)} on {safe_text(where)}: submit its {items:,} FAILED "
        f"operations as a new {kind} bulk (submitted, not executed)?"
    )


def submission_text(kind: str, items: int, bulks: int, where: str, mode: str | None) -> str:
    """The question before a submission: how many of which kind, in how many bulks, where,
    and whether they are executed at once (``mode``) or only submitted."""
    noun = "bulk" if bulks == 1 else "bulks"
    if mode is None:
        return f"submit {items:,} × {kind} as {bulks} new {noun} on {where} (not executed)?"
    return f"submit and execute {items:,} × {kind} in {bulks} {noun} on {where}, {mode}?"
