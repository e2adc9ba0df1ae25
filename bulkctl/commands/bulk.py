"""One bulk: ``show``, ``operations``, and the state changes ``execute``, ``pause``,
``resume`` and ``cancel``.

Executing moves money and cancelling is final, so both ask first on a terminal (saying
where: environment, host, profile) and refuse without ``--yes`` anywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bulkctl.api.records import OPERATION_STATUSES
from bulkctl.options import (
    AllOption,
    ConcurrencyOption,
    FieldsOption,
    JsonlOption,
    JsonOption,
    LimitOption,
    NoHeaderOption,
    OffsetOption,
    OutputChoice,
    OutputOption,
    check_concurrency,
    check_paging,
    choose_output,
    parse_mode,
    parse_statuses,
)
from bulkctl.render import (
    BULK_ALL_FIELDS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
)

if TYPE_CHECKING:
    from bulkctl.api.records import BulkProcess
    from bulkctl.context import Context

BulkIdArgument = Annotated[str, typer.Argument(help="The bulk id (digits).", metavar="BULK_ID")]
BulkIdsArgument = Annotated[
    list[str], typer.Argument(help="One or more bulk ids (digits).", metavar="BULK_ID...")
]

# the status each action needs, for saying in words why the API answered INVALID_STATE
REQUIRED_STATUS: dict[str, tuple[str, ...]] = {
    "execute": ("SUBMITTED",),
    "pause": ("RUNNING",),
    "resume": ("PAUSED",),
    "cancel": ("RUNNING", "PAUSED"),
}
CONFIRMED_ACTIONS = ("execute", "cancel")
DEFAULT_MODE = "ON_FAILURE_STOP"


def _context(ctx: typer.Context) -> Context:
    from bulkctl.context import Context

    return Context.from_process(ctx.obj)


# -- show -------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
    app.command("operations")(operations_command)
    for action in ("execute", "pause", "resume", "cancel"):
        app.command(action, help=ACTION_HELP[action])(_action_command(action))


def show_command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    output: OutputOption = None,
    json_flag: Annotated[bool, typer.Option("--json", help="The API's object as it is.")] = False,
    fields: FieldsOption = None,
) -> None:
    """Show one bulk: its fields, a progress bar, and counts per operation status.

    Piped, it prints field<TAB>value lines.
    """
    from bulkctl.api.client import check_bulk_id

    check_bulk_id(bulk_id)
    command_ctx = _context(ctx)
    choice = choose_output(
        output=output,
        json_flag=json_flag,
        jsonl_flag=False,
        fields_spec=fields,
        header=True,
        stdout_tty=command_ctx.stdout_tty,
        available=BULK_ALL_FIELDS,
        default_fields=BULK_ALL_FIELDS,
    )
    try:
        run_show(command_ctx, bulk_id, choice)
    finally:
        command_ctx.close()


def run_show(ctx: Context, bulk_id: str, choice: OutputChoice) -> None:
    from bulkctl.render import RenderOptions, escape_plain, json_text, render, text_value

    bulk = ctx.client().get_bulk(bulk_id)
    now = ctx.clock.now()
    if choice.fmt == "json" and choice.whole_objects:
        print(json_text(bulk.raw, indent=2), file=ctx.stdout)
    elif choice.fmt == "table":
        _show_table(ctx, bulk, choice)
    elif choice.fmt == "plain":
        for f in choice.fields:
            print(
                f"{f.name}\t{escape_plain(text_value(f, f.value(bulk.raw, now)))}", file=ctx.stdout
            )
    else:
        render(
            [bulk.raw],
            RenderOptions(
                fmt=choice.fmt,
                fields=choice.fields,
                header=choice.header,
                whole_objects=choice.whole_objects,
                now=now,
            ),
            ctx.stdout,
        )


def progress_numbers(bulk: BulkProcess) -> tuple[int, int | None]:
    """(operations done, total): done is completed + failed; total None when unusable."""
    done = bulk.count_of("COMPLETED") + bulk.count_of("FAILED")
    total = bulk.submitted_items_count
    if total is None or total <= 0:
        return done, None
    return done, total


def _show_table(ctx: Context, bulk: BulkProcess, choice: OutputChoice) -> None:
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    from bulkctl.render import RenderOptions, table_cell, table_console
    from bulkctl.safetext import safe_text

    options = RenderOptions(fmt="table", fields=choice.fields, color=ctx.color, now=ctx.clock.now())
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold" if ctx.color else "")
    grid.add_column()
    for f in choice.fields:
        if f.name == "operationStatusCounts":
            continue
        grid.add_row(f.header.lower(), table_cell(f, f.value(bulk.raw, options.now), options))
    done, total = progress_numbers(bulk)
    parts: list[Any] = [grid, Text("")]
    if total is None:
        parts.append(Text(f"progress: {done:,} done (total unknown)"))
    else:
        bar = ProgressBar(total=total, completed=min(done, total), width=40)
        row = Table.grid(padding=(0, 1))
        row.add_row(
            Text("progress"),
            bar,
            Text(f"{done:,} / {total:,} ({100 * min(done, total) / total:.0f}%)"),
        )
        parts.append(row)
    if bulk.operation_status_counts:
        counts = Table.grid(padding=(0, 2))
        counts.add_column()
        counts.add_column(justify="right")
        for entry in bulk.operation_status_counts:
            counts.add_row(
                safe_text(entry.status or "?"), "" if entry.count is None else f"{entry.count:,}"
            )
        parts += [Text(""), Text("operations by status"), counts]
    console = table_console(ctx.stdout, color=ctx.color, terminal=ctx.stdout_tty)
    console.print(Group(*parts))


# -- operations -------------------------------------------------------------------------------


@dataclass
class OperationsOptions:
    bulk_id: str
    statuses: list[str]
    sequence: int | None
    wanted: int | None
    offset: int
    output: OutputChoice
    payloads: bool = False
    concurrency: int | None = None


def operations_command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help=f"Only operations in this status; repeat or comma-separate ({', '.join(OPERATION_STATUSES)}; any case).",
            metavar="STATUS",
        ),
    ] = None,
    sequence: Annotated[
        int | None,
        typer.Option("--sequence", help="Only the operation at this position.", metavar="N"),
    ] = None,
    limit: LimitOption = None,
    offset: OffsetOption = 0,
    all_records: AllOption = False,
    output: OutputOption = None,
    json_flag: JsonOption = False,
    jsonl_flag: JsonlOption = False,
    fields: FieldsOption = None,
    no_header: NoHeaderOption = False,
    payloads: Annotated[
        bool, typer.Option("--payloads", help="Show request and response payloads in full.")
    ] = False,
    concurrency: ConcurrencyOption = None,
) -> None:
    """List the operations of one bulk, in sequence.

    What failed in bulk 123?  bulkctl operations 123 --status failed
    """
    from bulkctl.api.client import check_bulk_id
    from bulkctl.api.records import INT32_MAX
    from bulkctl.errors import UsageError

    check_bulk_id(bulk_id)
    if sequence is not None and abs(sequence) > 2**63 - 1:
        raise UsageError("--sequence is out of range")
    command_ctx = _context(ctx)
    default = OPERATION_ALL_FIELDS if payloads else OPERATION_FIELDS
    options = OperationsOptions(
        bulk_id=bulk_id,
        statuses=parse_statuses(status, OPERATION_STATUSES, "operation status"),
        sequence=sequence,
        wanted=check_paging(limit, offset, all_records),
        offset=min(offset, INT32_MAX),
        output=choose_output(
            output=output,
            json_flag=json_flag,
            jsonl_flag=jsonl_flag,
            fields_spec=fields,
            header=not no_header,
            stdout_tty=command_ctx.stdout_tty,
            available=OPERATION_ALL_FIELDS,
            default_fields=default,
        ),
        payloads=payloads,
        concurrency=check_concurrency(concurrency),
    )
    try:
        run_operations(command_ctx, options)
    finally:
        command_ctx.close()


def run_operations(ctx: Context, options: OperationsOptions) -> int:
    from bulkctl.paging import listing
    from bulkctl.render import render

    concurrency = ctx.concurrency(options.concurrency)
    client = ctx.client()
    streams: list[str | None] = [*options.statuses] or [None]
    fetches = [
        (
            lambda o, n, s=s: client.list_operations(
                options.bulk_id, offset=o, limit=n, status=s, sequence=options.sequence
            )
        )
        for s in streams
    ]
    full = options.payloads or options.output.fmt != "table"
    with listing(
        fetches,
        concurrency=concurrency,
        key=lambda op: op.key,
        offset=options.offset,
        wanted=options.wanted,
        on_page=ctx.stdout.flush,
    ) as (records, pager):
        rows = (op.raw for op in records)
        written = render(rows, options.output.render_options(ctx, full_payloads=full), ctx.stdout)
    note = pager.report.more_note(written, options.offset) if options.wanted else None
    if note:
        ctx.note(note)
    return written


# -- state changes ----------------------------------------------------------------------------

ACTION_HELP = {
    "execute": "Start one or more SUBMITTED bulks (asks first; moves money).",
    "pause": "Pause one or more RUNNING bulks.",
    "resume": "Resume one or more PAUSED bulks.",
    "cancel": "Cancel one or more RUNNING or PAUSED bulks (asks first; final).",
}


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
        if self.action != "execute":
            return None
        body: dict[str, Any] = {"mode": self.mode or DEFAULT_MODE}
        if self.webhook_interval is not None:
            body["webhookInterval"] = self.webhook_interval
        return body


def _action_command(action: str) -> Any:
    def command(
        ctx: typer.Context,
        bulk_ids: BulkIdsArgument,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Print the request that would be sent; send nothing."),
        ] = False,
        json_flag: Annotated[
            bool, typer.Option("--json", help="Results as a JSON array on stdout.")
        ] = False,
    ) -> None:
        _run_action_command(
            ctx, ActionOptions(action, bulk_ids, yes=yes, dry_run=dry_run, as_json=json_flag)
        )

    def execute(
        ctx: typer.Context,
        bulk_ids: BulkIdsArgument,
        mode: Annotated[
            str,
            typer.Option(
                "--mode",
                help="on-failure-stop (default: stop at the first failed operation) or on-failure-continue; any case, - or _.",
                metavar="MODE",
            ),
        ] = "on-failure-stop",
        webhook_interval: Annotated[
            int | None,
            typer.Option(
                "--webhook-interval",
                help="Send a progress webhook every N operations.",
                metavar="N",
            ),
        ] = None,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Print the request that would be sent; send nothing."),
        ] = False,
        json_flag: Annotated[
            bool, typer.Option("--json", help="Results as a JSON array on stdout.")
        ] = False,
    ) -> None:
        from bulkctl.errors import UsageError

        if webhook_interval is not None and not 1 <= webhook_interval <= 2**31 - 1:
            raise UsageError("--webhook-interval must be from 1 to 2147483647")
        _run_action_command(
            ctx,
            ActionOptions(
                "execute",
                bulk_ids,
                mode=parse_mode(mode),
                webhook_interval=webhook_interval,
                yes=yes,
                dry_run=dry_run,
                as_json=json_flag,
            ),
        )

    return execute if action == "execute" else command


def _run_action_command(ctx: typer.Context, options: ActionOptions) -> None:
    from bulkctl.api.client import check_bulk_id

    for bulk_id in options.bulk_ids:
        check_bulk_id(bulk_id)
    command_ctx = _context(ctx)
    try:
        code = run_action(command_ctx, options)
    finally:
        command_ctx.close()
    raise typer.Exit(code)


def run_action(ctx: Context, options: ActionOptions) -> int:
    """Apply the action to each id; returns the worst exit code."""
    from bulkctl.errors import BulkctlError, Conflict, ExitCode, UsageError

    settings = ctx.settings()
    action = options.action
    if options.dry_run:
        for bulk_id in options.bulk_ids:
            print(f"POST {settings.base_url}/bulks/{bulk_id}/{action}", file=ctx.stdout)
            body = options.body()
            if body is not None:
                print(json.dumps(body), file=ctx.stdout)
        ctx.note(f"dry run: nothing sent ({settings.where()})")
        return ExitCode.OK
    needs_yes = action in CONFIRMED_ACTIONS and not options.yes
    if needs_yes and not ctx.can_prompt:
        raise UsageError(
            f"refusing to {action} without confirmation (no terminal to ask on, or --no-input)",
            hint=f"pass --yes to {action} on {settings.where()}",
        )
    client = ctx.client()
    results: list[dict[str, Any]] = []
    worst = 0
    for bulk_id in options.bulk_ids:
        result: dict[str, Any] = {"bulkId": bulk_id, "action": action}
        try:
            if needs_yes:
                bulk = client.get_bulk(bulk_id)
                if not _confirm(ctx, options, bulk, bulk_id):
                    ctx.note(f"bulk {bulk_id}: {action} skipped")
                    result.update(ok=False, skipped=True, exitCode=0)
                    results.append(result)
                    continue
            client.act(bulk_id, action, options.body())
            ctx.note(f"bulk {bulk_id}: {action} accepted ({settings.where()})")
            result.update(ok=True, exitCode=0)
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":
                exc.message = _invalid_state_message(client, bulk_id, action)
            print(f"bulkctl: error: {exc.lines()[0]}", file=ctx.stderr)
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        except BulkctlError as exc:
            if len(options.bulk_ids) == 1 and not options.as_json:
                raise
            lines = exc.lines()
            first = lines[0] if bulk_id in lines[0] else f"bulk {bulk_id}: {lines[0]}"
            print(f"bulkctl: error: {first}", file=ctx.stderr)
            for line in lines[1:]:
                print(f"  {line}", file=ctx.stderr)
            result.update(ok=False, error=exc.message, exitCode=int(exc.exit_code))
        worst = max(worst, int(result["exitCode"]))
        results.append(result)
    if options.as_json:
        print(json.dumps(results, indent=2), file=ctx.stdout)
    return worst


def _invalid_state_message(client: Any, bulk_id: str, action: str) -> str:
    from bulkctl.errors import BulkctlError

    needed = " or ".join(REQUIRED_STATUS[action])
    article = "an" if needed[0] in "AEIOU" else "a"
    try:
        current = client.get_bulk(bulk_id).status or "in an unknown status"
    except BulkctlError:
        current = "not in the right status"
    return f"bulk {bulk_id} is {current}; only {article} {needed} bulk can be {_past(action)}"


def _past(action: str) -> str:
    return {"execute": "executed", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}[
        action
    ]


def _confirm(ctx: Context, options: ActionOptions, bulk: BulkProcess, bulk_id: str) -> bool:
    settings = ctx.settings()
    items = f"{bulk.submitted_items_count:,}" if bulk.submitted_items_count is not None else "?"
    what = f"{items} × {bulk.operation or '?'}"
    if options.action == "execute":
        what += f", {options.mode or DEFAULT_MODE}"
    else:
        what += f", now {bulk.status or '?'}; this cannot be undone"
    where = settings.where()
    if settings.is_production:
        where = "PRODUCTION " + where.removeprefix("production ")
    answer = ctx.ask(f"{options.action} bulk {bulk_id} on {where}: {what}? [y/N]")
    return answer.strip().lower() in ("y", "yes")
