"""Waiting for bulks to end: the polling loop, its live table and its JUnit report.

Shared by ``bulkctl wait`` and the commands that wait after acting (``submit --wait``,
``rerun --wait``). The exit code says how the bulks ended: 0 all COMPLETED; otherwise the
worst, 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED; 124 when the timeout passes first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.errors import ExitCode, UsageError
from bulkctl.paging import listing
from bulkctl.polling import FINAL_CODES, Poller, describe_wait, done_of_total, outcome_code
from bulkctl.render import (
    Field,
    RenderOptions,
    human_duration,
    render,
    short_payload,
    table_lines,
    terminal_width,
)

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient


@dataclass
class WaitOptions:
    bulk_ids: list[str]
    timeout: float
    interval: float
    as_json: bool = False
    junit: Path | None = None


def wait_for(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code."""
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
        render(
            [b.raw for b in finals],
            RenderOptions(fmt="json", fields=(), whole_objects=True),
            ctx.stdout,
        )
    if options.junit is not None:
        write_junit(ctx, client, options.junit, [b for b in finals if b.is_final])
    if pending:
        states = ", ".join(
            f"{i} {poller.latest[i].status if i in poller.latest else 'never answered'}"
            for i in pending
        )
        ctx.error([f"timed out after {options.timeout:g}s; still pending: {states}"])
        return ExitCode.TIMEOUT
    code = outcome_code(finals)
    if code:
        worst = [f"{b.bulk_id} {b.status}" for b in finals if FINAL_CODES.get(b.status or "")]
        ctx.note(f"finished, not all completed: {', '.join(worst)}")
    return code


WAIT_FIELDS = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("done", "DONE"),
    Field("elapsed", "ELAPSED", cut=True),
)


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
        from rich.text import Text

        elapsed = human_duration(int(self.ctx.clock.monotonic() - self.started))
        rows: list[dict[str, Any]] = []
        for bulk_id in poller.bulk_ids:
            bulk = poller.latest.get(bulk_id)
            note = poller.problems.get(bulk_id)
            rows.append(
                {
                    "bulkId": bulk_id,
                    "status": (bulk.status or "?") if bulk else "…",
                    "done": done_of_total(bulk) if bulk else "",
                    "elapsed": elapsed + (f"  ({note})" if note else ""),
                }
            )
        options = RenderOptions(
            fmt="table",
            fields=WAIT_FIELDS,
            color=not self.ctx.env.get("NO_COLOR"),
            terminal=True,
            width=terminal_width(self.ctx.stderr, self.ctx.env),
        )
        # laid out and made safe by the render layer, shown as text (never markup)
        self.live.update(Text.from_ansi("\n".join(table_lines(rows, options)), no_wrap=True))

    def stop(self) -> None:
        self.live.stop()


def write_junit(ctx: Context, client: ApiClient, path: Path, bulks: list[BulkProcess]) -> None:
    """One test suite per bulk, one test case per operation; failed operations are failures."""
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
        raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror}") from exc
    ctx.note(f"JUnit report written to {path}")


def _failure_message(payload: Any) -> str:
    return short_payload(payload, width=200) or "operation failed"
