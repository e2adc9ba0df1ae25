"""``bulkctl rerun BULK --failed``: a new bulk of the same kind from the operations of a
finished bulk that failed (or never ran). The planning is ``bulkctl.files.submission``
(``read_rerun_plan``); sending, executing and waiting are ``bulkctl.actions.sending``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from bulkctl.actions import refuse_unconfirmable
from bulkctl.actions.sending import SendOptions, check_before_sending, send, send_options
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    FILE_VALUES,
    NO_FLAGS,
    BulkIdArgument,
    ProgressOption,
    SendFlags,
    option,
)
from bulkctl.context import Context
from bulkctl.errors import ExitCode, UsageError
from bulkctl.files.submission import (
    RerunSelection,
    describe_left_out,
    items_to_jsonl,
    parse_sequences,
    read_rerun_plan,
)
from bulkctl.lists.progress import parse_progress, read_progress
from bulkctl.safefile import atomic_write


@dataclass
class RerunOptions:
    bulk_id: str
    selection: RerunSelection
    output_file: Path | None  # write the items as JSON Lines instead of submitting
    send: SendOptions
    progress: str | None = None  # --progress of the reading: live, plain, none; None: chosen


class RerunFlags(msgspec.Struct, frozen=True):
    """Which operations to rerun, and where the items go, as typed."""

    failed: Annotated[
        bool, typer.Option("--failed", help="Rerun the FAILED operations (required for now).")
    ] = False
    not_run: Annotated[
        bool,
        typer.Option(
            "--not-run",
            help="Also the operations that never ran (CANCELLED or SUBMITTED), as an "
            "ON_FAILURE_STOP bulk leaves them.",
        ),
    ] = False
    error_codes: Annotated[
        list[str] | None,
        typer.Option(
            "--error-code",
            help="Only failed operations with this errorCode; repeat for several.",
            metavar="CODE",
        ),
    ] = None
    sequences: Annotated[
        list[str] | None,
        typer.Option(
            "--sequence",
            help="Only these operations: ranges such as 1-5,9; repeatable.",
            metavar="RANGES",
        ),
    ] = None
    output_file: Annotated[
        str | None,
        option(
            "--output-file",
            help="Write the items as JSON Lines to FILE (- for stdout) instead of submitting them.",
            metavar="FILE",
            values=FILE_VALUES,
        ),
    ] = None
    progress: ProgressOption = None


NO_RERUN_FLAGS = RerunFlags()


def parse(
    ctx: Context,
    *,
    bulk_id: str,
    which: RerunFlags = NO_RERUN_FLAGS,
    send: SendFlags = NO_FLAGS,
) -> RerunOptions:
    """The arguments of ``rerun``, checked (nothing is sent yet)."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    if not which.failed:
        raise UsageError(
            "say which operations to rerun: --failed (for now the only choice; "
            "--not-run adds those that never ran)",
            suggest=("rerun", bulk_id, "--failed"),
        )
    codes = [c.strip() for c in which.error_codes or () if c.strip()]
    if which.error_codes and not codes:
        raise UsageError("--error-code needs a code, e.g. --error-code FUNDS_INSUFFICIENT")
    checked = send_options(send)
    if which.output_file is not None and (checked.execute or checked.dry_run or checked.as_json):
        raise UsageError(
            "--output-file writes the items instead of submitting them",
            hint=("send the file later with: bulkctl submit KIND FILE"),
        )
    return RerunOptions(
        bulk_id=check_bulk_id(bulk_id),
        selection=RerunSelection(
            failed=True,
            not_run=which.not_run,
            error_codes=frozenset(codes),
            sequences=tuple(parse_sequences(which.sequences or ())),
        ),
        output_file=Path(which.output_file) if which.output_file is not None else None,
        send=checked,
        progress=parse_progress(which.progress),
    )


def run(ctx: Context, options: RerunOptions) -> int:
    """Plan the rerun from the bulk's operations, then write it or send it; returns the exit
    code (wait's with ``--wait``)."""
    if options.output_file is None and not options.send.dry_run:
        # a question that cannot be asked is refused before the operations are read
        refuse_unconfirmable(ctx, execute=options.send.execute, yes=options.send.yes)
    with read_progress(ctx, "operations to rerun", mode=options.progress) as progress:
        plan = read_rerun_plan(
            ctx.client(),
            options.bulk_id,
            options.selection,
            concurrency=ctx.concurrency(),
            progress=progress,
        )
    count = len(plan.items)
    chosen = f"{count:,} operation{'s' if count != 1 else ''}"
    ctx.note(
        f"bulk {plan.source_bulk} ({plan.kind.name}): {chosen} to rerun; "
        f"left out: {describe_left_out(plan.left_out)}"
    )
    if options.output_file is not None:
        text = items_to_jsonl(plan.items)
        if str(options.output_file) == "-":
            ctx.stdout.write(text)
            ctx.stdout.flush()
        else:
            atomic_write(options.output_file, text.encode("utf-8"), "the items to rerun")
            again = ctx.suggest("submit", plan.kind.name, str(options.output_file))
            ctx.note(f"wrote {chosen} to {options.output_file}; after fixing them: {again}")
        return ExitCode.OK
    check_before_sending(ctx, plan.kind, options.send)
    plan.check()
    sending = replace(options.send, progress=options.progress)  # --wait shows what it says
    return send(ctx, plan.kind, plan.items, sending, source_bulk=plan.source_bulk)


@bound
def command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    which: RerunFlags = NO_RERUN_FLAGS,
    send: SendFlags = NO_FLAGS,
) -> None:
    """Submit a new bulk of the same kind from a finished bulk's failed operations.

    Unfunded again:  bulkctl rerun 123 --failed --error-code FUNDS_INSUFFICIENT

    Each item is rebuilt from its operation: the path ids from its path, the body from its
    requestPayload. It says how many operations were left out and why, and refuses a bulk
    that is not final or has nothing to rerun. To fix data first: --output-file F, edit F,
    then bulkctl submit KIND F. Otherwise it behaves as submit (checks, idempotency,
    --dry-run, --execute, --wait and their exit codes); --progress also sets how --wait
    shows the wait.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_id=bulk_id,
            which=which,
            send=send,
        ),
        run,
    )
