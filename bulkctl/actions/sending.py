"""What ``submit`` and ``rerun`` do once they hold validated items: split them into chunks,
show the plan (``--dry-run``) or submit every chunk, print the new bulks, execute them after
one confirmation (``--execute``), and wait for them (``--wait``).

The planning (chunks, refs, the journal) is ``bulkctl.files.submission``; the question, the
submission's requests and the execution pass the gate, ``bulkctl.actions``; waiting is
``bulkctl.waiting.wait``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkctl.actions import (
    DEFAULT_MODE,
    ask_submission,
    execute_submitted,
    refuse_unconfirmable,
    submission_text,
    submitter,
    where_text,
)
from bulkctl.api.kinds import MAX_ITEMS, Kind
from bulkctl.cli.options import SendFlags, check_interval, parse_mode, parse_wait
from bulkctl.context import Context
from bulkctl.errors import ExitCode, UsageError
from bulkctl.files.submission import (
    Chunk,
    ChunkOutcome,
    ChunkStream,
    InputFile,
    Item,
    Journal,
    describe_plan,
    plan_chunks,
    require_offered,
    submit_chunks,
)
from bulkctl.output.render import Field, RenderOptions, render, render_record
from bulkctl.waiting.junit import check_junit_path
from bulkctl.waiting.outcomes import WaitRecord
from bulkctl.waiting.wait import WaitOptions, reports_on_exit, wait_for

SUBMITTED_FIELDS = (
    Field("bulkId", "BULK ID"),
    Field("chunk", "CHUNK", "int"),
    Field("items", "ITEMS", "int"),
    Field("operationCount", "OPERATIONS", "int"),
    Field("note", "NOTE", derive=lambda r, _now: "already submitted" if r["already"] else ""),
)


@dataclass
class SendOptions:
    """How to send: chunking, refs, output, and what follows (execute, wait)."""

    chunk_size: int = MAX_ITEMS
    new: bool = False
    dry_run: bool = False
    as_json: bool = False
    execute: bool = False
    mode: str = DEFAULT_MODE
    yes: bool = False
    wait: bool = False
    timeout: float = 1800.0
    interval: float = 5.0
    adaptive: bool = True  # no --interval: quick at first, growing towards 30 s
    junit: Path | None = None
    progress: str | None = None  # how --wait shows the wait (rerun's --progress); None: chosen
    flags: SendFlags = field(
        default_factory=SendFlags
    )  # as typed: a flag that needs no checking is read here

    def check(self) -> None:
        """The combinations that make no sense, refused before anything is read or sent."""
        if not 1 <= self.chunk_size <= MAX_ITEMS:
            raise UsageError(
                f"--chunk-size must be from 1 to {MAX_ITEMS:,} (got {self.chunk_size})"
            )
        if self.wait and not self.execute:
            raise UsageError(
                "--wait needs --execute: a SUBMITTED bulk waits until someone executes it",
                hint="add --execute, or execute the bulks and wait for them later",
            )
        if self.dry_run and (self.execute or self.wait):
            raise UsageError("--dry-run sends nothing, so it cannot --execute or --wait")


def send_options(flags: SendFlags) -> SendOptions:
    """The sending options ``submit`` and ``rerun`` share, from their flags as typed, checked."""
    options = SendOptions(
        chunk_size=flags.chunk_size,
        new=flags.new,
        dry_run=flags.dry_run,
        as_json=flags.json_flag,
        execute=flags.execute,
        mode=parse_mode(flags.mode),
        yes=flags.yes,
        wait=flags.wait,
        timeout=parse_wait(flags.timeout, "--timeout"),
        interval=check_interval(flags.interval) if flags.interval is not None else 5.0,
        adaptive=flags.interval is None,
        junit=Path(flags.junit) if flags.junit is not None else None,
        flags=flags,
    )
    options.check()
    return options


def journal_for(ctx: Context) -> Journal:
    """The submission journal of the API in force: one per base URL and login identity, so
    a bulk of the sandbox is never named as the answer on another host."""
    settings = ctx.settings()
    who = settings.get("identity") or settings.get("email") or ""
    scope = hashlib.sha256(f"{settings.base_url}\n{who}".encode()).hexdigest()[:16]
    return Journal(ctx.state_dir / "submissions" / scope)


def check_before_sending(ctx: Context, kind: Kind, options: SendOptions) -> None:
    """What can be refused before the input is read: the kind on this API (exit 2), and
    ``--execute`` with no way to confirm it."""
    settings = ctx.settings()
    require_offered(kind, settings.api, bool(settings.values.get("base_url")))
    if not options.dry_run:
        refuse_unconfirmable(ctx, execute=options.execute, yes=options.yes)
    if options.wait and options.junit is not None:
        check_junit_path(options.junit)  # an unwritable report is refused before any bulk exists


def send(
    ctx: Context,
    kind: Kind,
    items: list[Item] | InputFile,
    options: SendOptions,
    *,
    source_bulk: str | None = None,
) -> int:
    """Submit ``items`` (a list, or a checked file read again chunk by chunk) as bulks of
    ``kind`` (or describe them with ``dry_run``), print the new bulks, then execute and wait
    as asked; returns the exit code. With ``--wait``, the wait's reports (``--junit``,
    GitHub's) are written on every exit from here on."""
    check_before_sending(ctx, kind, options)
    if not options.wait:
        return _send(ctx, kind, items, options, source_bulk=source_bulk, record=None)
    command = "rerun --wait" if source_bulk is not None else "submit --wait"
    reports = WaitOptions(
        [], timeout=options.timeout, interval=0.0, junit=options.junit, command=command
    )
    with reports_on_exit(ctx, reports) as record:
        return _send(ctx, kind, items, options, source_bulk=source_bulk, record=record)


def _send(
    ctx: Context,
    kind: Kind,
    items: list[Item] | InputFile,
    options: SendOptions,
    *,
    source_bulk: str | None,
    record: WaitRecord | None,
) -> int:
    chunks = _chunks(kind, items, options, source_bulk)
    if options.dry_run:
        return _describe_dry_run(ctx, kind, chunks, source_bulk)
    question = submission_text(
        kind.name,
        items.count if isinstance(items, InputFile) else len(items),
        len(chunks),
        where_text(ctx.settings()),
        options.mode if options.execute else None,
    )
    if not ask_submission(ctx, question, execute=options.execute, yes=options.yes):
        ctx.note("not submitted; nothing sent")
        return ExitCode.DECLINED
    outcomes = submit_chunks(
        submitter(ctx.client()),
        kind,
        chunks,
        journal_for(ctx),
        source_bulk=source_bulk,
        on_outcome=lambda outcome: _note_outcome(ctx, outcome, len(chunks)),
        warn=ctx.warn,
    )
    _print(ctx, outcomes, as_json=options.as_json)
    bulk_ids = list(dict.fromkeys(o.bulk_id for o in outcomes))
    if record is not None:
        record.bulk_ids = bulk_ids  # a report written from here on names them
    return _execute_and_wait(ctx, bulk_ids, options, record)


def _chunks(
    kind: Kind, items: list[Item] | InputFile, options: SendOptions, source_bulk: str | None
) -> Collection[Chunk]:
    """The bulks to send: a file read again chunk by chunk, or a list cut into chunks."""
    if isinstance(items, InputFile):
        return ChunkStream(kind, items, chunk_size=options.chunk_size, new=options.new)
    return plan_chunks(
        kind, items, chunk_size=options.chunk_size, source_bulk=source_bulk, new=options.new
    )


def _describe_dry_run(
    ctx: Context, kind: Kind, chunks: Collection[Chunk], source_bulk: str | None
) -> int:
    """What would be sent, as JSON on stdout and one line on stderr; nothing is sent."""
    bulks = "bulk" if len(chunks) == 1 else "bulks"
    plan = describe_plan(kind, chunks)
    plan["sourceBulk"] = source_bulk
    render_record(plan, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout)
    ctx.note(
        f"dry run: {plan['items']:,} {kind.name} in {len(chunks)} {bulks} would be sent "
        f"to {ctx.settings().where()}; nothing sent"
    )
    return ExitCode.OK


def _note_outcome(ctx: Context, outcome: ChunkOutcome, chunk_count: int) -> None:
    """One line on stderr for each chunk: the bulk it became, or that it was sent before."""
    where = f"chunk {outcome.chunk.index + 1} of {chunk_count}"
    count = outcome.operation_count
    ops = "? operations" if count is None else f"{count:,} operation{'s' if count != 1 else ''}"
    if outcome.already:
        ctx.note(f"{where}: already submitted as bulk {outcome.bulk_id}; not sent again")
    else:
        ctx.note(f"{where}: submitted as bulk {outcome.bulk_id} ({ops})")


def _execute_and_wait(
    ctx: Context, bulk_ids: list[str], options: SendOptions, record: WaitRecord | None
) -> int:
    """Execute the new bulks and wait for them, as asked; else say how to start them."""
    if not options.execute:
        ctx.note(f"to start them: {ctx.suggest('execute', *bulk_ids)}")
        return ExitCode.OK
    code = execute_submitted(ctx, bulk_ids, options.mode)
    if code != ExitCode.OK or not options.wait:
        return code
    return wait_for(
        ctx,
        WaitOptions(
            bulk_ids=bulk_ids,
            timeout=options.timeout,
            interval=options.interval,
            adaptive=options.adaptive,
            junit=options.junit,
            record=record,
            progress=options.progress,
        ),
    )


def _print(ctx: Context, outcomes: list[ChunkOutcome], *, as_json: bool) -> None:
    """The new bulks: ``--json`` objects, a table on a terminal, else one bulk id a line."""
    records: list[dict[str, Any]] = [o.record() for o in outcomes]
    if as_json:
        render(records, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout)
    elif ctx.stdout_tty:
        rows = [{**r, "already": r["alreadySubmitted"]} for r in records]
        render(rows, RenderOptions(fmt="table", fields=SUBMITTED_FIELDS, terminal=True), ctx.stdout)
    else:
        render(
            records,
            RenderOptions(fmt="plain", fields=SUBMITTED_FIELDS[:1], header=False),
            ctx.stdout,
        )
