"""GitHub Actions output of a wait: annotations for failed and partial bulks, and a Markdown
step summary appended to ``$GITHUB_STEP_SUMMARY``.

Both are written when ``GITHUB_ACTIONS=true``. Annotations are workflow commands on
stderr, one line each, escaped as GitHub documents (``%``, CR and LF in the message; also
``:`` and ``,`` in properties); server text is made safe first (control characters shown
as ``\\xHH``), so no line bulkctl writes can begin with a command the server wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bulkctl.api.records import BulkProcess, group_failures
from bulkctl.context import Context
from bulkctl.output.render import escape_markdown
from bulkctl.safetext import safe_text
from bulkctl.waiting.outcomes import Ending, WaitRecord
from bulkctl.waiting.polling import counts_read, done_of_total

TOP_CODES = 5  # errorCodes named in an annotation


def in_github_actions(ctx: Context) -> bool:
    return ctx.env.get("GITHUB_ACTIONS", "").strip().lower() == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, **properties: str) -> str:
    """``::name key=value,...::message``, every part escaped."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def error_counts(record: WaitRecord, bulk_id: str) -> str:
    """'2 INVALID_STATE, 1 NOT_FOUND' from the failed operations read ('' when none)."""
    failures = record.failures_of(bulk_id)
    if failures is None or not failures.operations:
        return ""
    groups = group_failures(failures.operations.values())
    shown = [f"{g.count:,} {g.error_code or 'no errorCode'}" for g in groups[:TOP_CODES]]
    if len(groups) > TOP_CODES:
        shown.append(f"{sum(g.count for g in groups[TOP_CODES:]):,} other")
    unlisted = failures.unlisted
    if unlisted:
        shown.append(f"{unlisted:,} not listed")
    return ", ".join(shown)


def workflow_annotations(record: WaitRecord) -> list[str]:
    """An ``::error`` per FAILED bulk, a ``::warning`` per PARTIALLY_COMPLETED (or CANCELLED)
    one that --accept does not pass; server text made safe first."""
    lines: list[str] = []
    for bulk_id in record.bulk_ids:
        bulk = record.latest.get(bulk_id)
        if bulk is None or bulk.status not in ("FAILED", "PARTIALLY_COMPLETED", "CANCELLED"):
            continue
        status = bulk.status
        title = safe_text(f"bulk {bulk_id} {status}")
        total = bulk.submitted_items_count
        of = f" of {total:,}" if total is not None and total > 0 else ""
        operation = safe_text(bulk.operation or "bulk")
        message = f"{operation} {bulk_id}: {status}, {bulk.count_of('COMPLETED'):,}{of} operations COMPLETED"
        failed = bulk.count_of("FAILED")
        if failed:
            message += f", {failed:,} FAILED"
        codes = error_counts(record, bulk_id)
        if codes:
            message += f" ({safe_text(codes)})"
        if status in record.accepted:
            message += f"; accepted by --accept {status.lower()}"
        level = "error" if status == "FAILED" else "warning"
        lines.append(workflow_command(level, message, title=title))
    return lines


def _cell(text: object) -> str:
    return escape_markdown(str(text))


def step_summary(record: WaitRecord, ending: Ending) -> str:
    """The Markdown appended to the step summary: a heading that says how the wait ended,
    and a row per bulk."""
    statuses: dict[str, int] = {}
    for bulk_id in record.bulk_ids:
        bulk = record.latest.get(bulk_id)
        status = (bulk.status or "?") if bulk is not None else "not read"
        statuses[status] = statuses.get(status, 0) + 1
    counts = ", ".join(f"{n} {_cell(s)}" for s, n in statuses.items())
    lines = [
        f"### bulkctl {record.command}: {plural(len(record.bulk_ids), 'bulk')}"
        + (f", {counts}" if counts else ""),
        "",
    ]
    if ending.how != "final":
        lines += [f"Ended early ({ending.how}): {_cell(safe_text(ending.cause))}", ""]
    if record.bulk_ids:
        lines += summary_table([record.latest.get(i) for i in record.bulk_ids], record)
    return "\n".join(lines) + "\n"


def summary_table(
    bulks: Sequence[BulkProcess | None], record: WaitRecord | None = None
) -> list[str]:
    """A Markdown table of bulks: id, operation, status, operations done, failed, and the
    errorCodes of the failed operations a wait read (no such column without a wait)."""
    rows = [
        "| Bulk | Operation | Status | Done | Failed |" + (" Errors |" if record else ""),
        "| --- | --- | --- | --- | ---: |" + (" --- |" if record else ""),
    ]
    for bulk in bulks:
        if bulk is None:
            continue
        bulk_id = bulk.bulk_id or "?"
        cells = [
            bulk_id,
            bulk.operation or "",
            bulk.status or "?",
            done_of_total(bulk) if counts_read(bulk) else "?",
            f"{bulk.count_of('FAILED'):,}" if bulk.operation_status_counts else "?",
        ]
        if record is not None:
            cells.append(error_counts(record, bulk_id))
        rows.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return rows


def plural(count: int, noun: str) -> str:
    """'1 bulk', '2 bulks'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def append_step_summary(ctx: Context, markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` (a note, never an error, when it cannot)."""
    target = ctx.env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(markdown)
    except OSError as exc:
        ctx.warn(f"cannot append to GITHUB_STEP_SUMMARY: {exc.strerror or exc}")


def report_to_github(ctx: Context, record: WaitRecord, ending: Ending, *, summary: bool) -> None:
    """The annotations on stderr, then the step summary (unless ``summary`` is off)."""
    if not in_github_actions(ctx):
        return
    for line in workflow_annotations(record):
        ctx.say(line)
    if summary:
        append_step_summary(ctx, step_summary(record, ending))
