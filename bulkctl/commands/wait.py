"""``bulkctl wait``: poll bulks until every one is final; the exit code says how they ended.

0 all COMPLETED; otherwise the worst: 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED;
124 when the timeout passes first. Network errors, 5xx and throttling while waiting are
retried until the timeout; a bulk in a status bulkctl does not know is waited on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bulkctl.commands.bulk import BulkIdsArgument
from bulkctl.errors import ExitCode
from bulkctl.options import parse_duration

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient
    from bulkctl.api.records import BulkProcess
    from bulkctl.context import Context

FINAL_CODES: dict[str, int] = {
    "COMPLETED": ExitCode.OK,
    "CANCELLED": ExitCode.CANCELLED,
    "PARTIALLY_COMPLETED": ExitCode.PARTIALLY_COMPLETED,
    "FAILED": ExitCode.FAILED,
}
MIN_INTERVAL = 1.0


@dataclass
class WaitOptions:
    bulk_ids: list[str]
    timeout: float
    interval: float
    as_json: bool = False
    junit: Path | None = None


def check_interval(text: str) -> float:
    from bulkctl.errors import UsageError

    seconds = parse_duration(text, "--interval")
    if seconds < MIN_INTERVAL:
        raise UsageError(f"--interval must be at least 1s (got {text}), so nobody hammers the API")
    return seconds


def register(app: typer.Typer) -> None:
    app.command("wait")(wait_command)


def wait_command(
    ctx: typer.Context,
    bulk_ids: BulkIdsArgument,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout", help="Give up after this long: 90s, 5m, 2h (exit 124).", metavar="DURATION"
        ),
    ] = "30m",
    interval: Annotated[
        str, typer.Option("--interval", help="Time between polls, at least 1s.", metavar="DURATION")
    ] = "5s",
    json_flag: Annotated[
        bool, typer.Option("--json", help="Print the final bulk objects as a JSON array.")
    ] = False,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Write a JUnit XML report: one test case per operation.", metavar="FILE"
        ),
    ] = None,
) -> None:
    """Wait until every bulk is final (COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED).

    Exit 0 when all COMPLETED, else the worst: 10 CANCELLED, 11 PARTIALLY_COMPLETED,
    12 FAILED; 124 when the timeout passes first.
    """
    from bulkctl.api.client import check_bulk_id
    from bulkctl.context import Context

    for bulk_id in bulk_ids:
        check_bulk_id(bulk_id)
    options = WaitOptions(
        bulk_ids=list(dict.fromkeys(bulk_ids)),
        timeout=parse_duration(timeout, "--timeout"),
        interval=check_interval(interval),
        as_json=json_flag,
        junit=junit,
    )
    command_ctx = Context.from_process(ctx.obj)
    try:
        code = run_wait(command_ctx, options)
    finally:
        command_ctx.close()
    raise typer.Exit(code)


def outcome_code(bulks: list[BulkProcess]) -> int:
    return max((FINAL_CODES.get(b.status or "", ExitCode.OK) for b in bulks), default=ExitCode.OK)


def done_of_total(bulk: BulkProcess) -> str:
    from bulkctl.commands.bulk import progress_numbers

    done, total = progress_numbers(bulk)
    return f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"


@dataclass
class Poller:
    """Fetches bulks until final, riding out transient errors; reports each change once."""

    ctx: Context
    client: ApiClient
    bulk_ids: list[str]
    latest: dict[str, BulkProcess] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def poll(self) -> list[tuple[str, str | None, BulkProcess]]:
        """One round over the pending bulks; returns (id, previous status, bulk) for each change."""
        from bulkctl.errors import MalformedResponse, NetworkError, ServerError, Throttled

        changes = []
        for bulk_id in self.pending():
            try:
                bulk = self.client.get_bulk(bulk_id)
            except (NetworkError, ServerError, Throttled, MalformedResponse) as exc:
                if self.problems.get(bulk_id) != exc.message:
                    self.ctx.note(f"bulk {bulk_id}: {exc.message}; still waiting")
                self.problems[bulk_id] = exc.message
                continue
            self.problems.pop(bulk_id, None)
            before = self.latest.get(bulk_id)
            self.latest[bulk_id] = bulk
            if before is None or before.raw != bulk.raw:
                changes.append((bulk_id, before.status if before else None, bulk))
        return changes

    def pending(self) -> list[str]:
        return [i for i in self.bulk_ids if i not in self.latest or not self.latest[i].is_final]


def describe_wait(bulk_id: str, bulk: BulkProcess) -> str | None:
    """The note for a status that will not end on its own."""
    from bulkctl.api.records import BULK_STATUSES

    status = bulk.status
    if status == "SUBMITTED":
        return f"bulk {bulk_id} is SUBMITTED (not started); waiting for it to be executed"
    if status == "PAUSED":
        return f"bulk {bulk_id} is PAUSED; waiting for it to be resumed or cancelled"
    if status not in BULK_STATUSES:
        return f"bulk {bulk_id} is in a status bulkctl does not know ({status!r}); waiting"
    return None


def run_wait(ctx: Context, options: WaitOptions) -> int:
    client = ctx.client()
    poller = Poller(ctx, client, options.bulk_ids)
    clock = ctx.clock
    started = clock.monotonic()
    deadline = started + options.timeout
    live = LiveTable(ctx, started) if ctx.stderr_tty and not ctx.options.quiet else None
    try:
        while True:
            for bulk_id, previous, bulk in poller.poll():
                if previous != bulk.status:
                    waiting = describe_wait(bulk_id, bulk)
                    if waiting:
                        ctx.note(waiting)
                    if live is None:
                        ctx.note(
                            f"bulk {bulk_id}: {bulk.status} ({done_of_total(bulk)} operations done)"
                        )
            if live is not None:
                live.update(poller)
            if not poller.pending():
                break
            left = deadline - clock.monotonic()
            if left <= 0:
                break
            clock.sleep(min(options.interval, left))
    finally:
        if live is not None:
            live.stop()
    pending = poller.pending()
    finals = [poller.latest[i] for i in options.bulk_ids if i in poller.latest]
    if options.as_json:
        print(json.dumps([b.raw for b in finals], indent=2, ensure_ascii=False), file=ctx.stdout)
    if options.junit is not None:
        write_junit(ctx, client, options.junit, [b for b in finals if b.is_final])
    if pending:
        states = ", ".join(
            f"{i} {poller.latest[i].status if i in poller.latest else 'never answered'}"
            for i in pending
        )
        print(
            f"bulkctl: error: timed out after {options.timeout:g}s; still pending: {states}",
            file=ctx.stderr,
        )
        return ExitCode.TIMEOUT
    code = outcome_code(finals)
    if code:
        worst = [f"{b.bulk_id} {b.status}" for b in finals if FINAL_CODES.get(b.status or "")]
        ctx.note(f"finished, not all completed: {', '.join(worst)}")
    return code


class LiveTable:
    """The live per-bulk progress display on a terminal's stderr."""

    def __init__(self, ctx: Context, started: float) -> None:
        from rich.console import Console
        from rich.live import Live

        self.ctx = ctx
        self.started = started
        console = Console(file=ctx.stderr, no_color=bool(ctx.env.get("NO_COLOR")))
        self.live = Live(console=console, refresh_per_second=4, transient=False)
        self.live.start()

    def update(self, poller: Poller) -> None:
        from rich.table import Table
        from rich.text import Text

        from bulkctl.render import STATUS_STYLES, human_duration

        table = Table(box=None, pad_edge=False)
        for header in ("BULK ID", "STATUS", "DONE", "ELAPSED"):
            table.add_column(header)
        elapsed = human_duration(int(self.ctx.clock.monotonic() - self.started))
        for bulk_id in poller.bulk_ids:
            bulk = poller.latest.get(bulk_id)
            status = bulk.status or "?" if bulk else "…"
            note = poller.problems.get(bulk_id)
            # Text, never markup: statuses and error messages come from outside
            table.add_row(
                Text(bulk_id),
                Text(status, style=STATUS_STYLES.get(status, "")),
                Text(done_of_total(bulk) if bulk else ""),
                Text(elapsed + (f"  ({note})" if note else "")),
            )
        self.live.update(table)

    def stop(self) -> None:
        self.live.stop()


def write_junit(ctx: Context, client: ApiClient, path: Path, bulks: list[BulkProcess]) -> None:
    """One test suite per bulk, one test case per operation; failed operations are failures."""
    import xml.etree.ElementTree as ET

    from bulkctl.paging import listing

    root = ET.Element("testsuites", name="bulkctl wait")
    for bulk in bulks:
        bulk_id = bulk.bulk_id or "?"
        suite = ET.SubElement(
            root, "testsuite", name=f"bulk {bulk_id} {bulk.operation or ''}".strip()
        )
        tests = failures = skipped = 0
        fetch = [lambda o, n, b=bulk_id: client.list_operations(b, offset=o, limit=n)]
        with listing(
            fetch, concurrency=ctx.concurrency(), key=lambda op: op.key, offset=0, wanted=None
        ) as (ops, _):
            for op in ops:
                tests += 1
                name = f"#{op.sequence} {op.method or ''} {op.path or ''}".strip()
                case = ET.SubElement(suite, "testcase", classname=f"bulk.{bulk_id}", name=name)
                if op.status == "FAILED":
                    failures += 1
                    failure = ET.SubElement(
                        case, "failure", message=_failure_message(op.response_payload)
                    )
                    failure.text = op.response_payload or ""
                elif op.status != "COMPLETED":
                    skipped += 1
                    ET.SubElement(case, "skipped", message=f"operation {op.status}")
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
    tree = ET.ElementTree(root)
    ET.indent(tree)
    try:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        from bulkctl.errors import UsageError

        raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror}") from exc
    ctx.note(f"JUnit report written to {path}")


def _failure_message(payload: Any) -> str:
    from bulkctl.render import short_payload

    return short_payload(payload, width=200) or "operation failed"


run = run_wait  # the name commands share after the one-shape change (tests call it)
