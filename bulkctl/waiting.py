"""Waiting for bulks to end: the polling loop, its live table, its heartbeat and its JUnit
report.

Shared by ``bulkctl wait`` and the commands that wait after acting (``submit --wait``,
``rerun --wait``). The exit code says how the bulks ended: 0 all COMPLETED; otherwise the
worst, 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED; 124 when the timeout passes first.

``timeout`` is a hard deadline counted from when the wait starts: the client abandons a
request in flight at it. The JUnit report is built as bulks end (each bulk's FAILED
operations are read as soon as it ends) and written from memory, with no new request, at
the end, at the deadline, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkctl.api.records import BulkOperation, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import (
    TRANSIENT_ERRORS,
    DeadlineReached,
    ExitCode,
    Terminated,
    UsageError,
)
from bulkctl.polling import (
    FINAL_CODES,
    PAGE,
    Poller,
    describe_wait,
    done_of_total,
    outcome_code,
    poll_interval,
)
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

HEARTBEAT_SECONDS = 60.0  # piped: a line at least this often, so CI never sees a silent job


@dataclass
class WaitOptions:
    bulk_ids: list[str]
    timeout: float
    interval: float  # seconds between polls (ignored when ``adaptive``)
    as_json: bool = False
    junit: Path | None = None
    adaptive: bool = False  # the default schedule: quick at first, growing towards 30 s


def wait_for(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code."""
    if options.junit is not None:
        check_junit_path(options.junit)  # before any request
    clock = ctx.clock
    started = clock.monotonic()
    deadline = started + options.timeout
    # the deadline holds from here: a login (first or again) waits within it too
    outer = ctx.deadline
    ctx.deadline = deadline if outer is None else min(outer, deadline)
    try:
        client = ctx.client()
    finally:
        ctx.deadline = outer
    earlier = client.deadline
    client.deadline = deadline if earlier is None else min(earlier, deadline)
    report = JUnitReport(ctx, client, deadline) if options.junit is not None else None
    live = LiveTable(ctx, started) if ctx.stderr_tty and not ctx.options.quiet else None
    poller = Poller(
        ctx,
        client,
        options.bulk_ids,
        details=live is not None,
        deadline=deadline,
        on_end=report.bulk_ended if report is not None else None,
    )
    heartbeat = Heartbeat(ctx, poller, started) if live is None else None
    timed_out = False
    why_early: str | None = None  # what ended the wait before the deadline (a named time)
    try:
        while True:
            try:
                ctx.deadline = client.deadline  # a re-login within the poll keeps it
                changes = poller.poll()
                if report is not None:
                    report.catch_up()
            except DeadlineReached as exc:
                timed_out = True
                why_early = exc.message
                break
            finally:
                ctx.deadline = outer
            for bulk_id, previous, bulk in changes:
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
            now = clock.monotonic()
            if deadline - now <= 0:
                timed_out = True
                break
            pause = poll_interval(now - started) if options.adaptive else options.interval
            next_poll = min(now + pause, deadline)
            while (left := next_poll - clock.monotonic()) > 0:
                if heartbeat is not None:
                    heartbeat.beat()
                    left = min(left, heartbeat.due - clock.monotonic())
                clock.sleep(max(left, 0.0))
            if heartbeat is not None:
                heartbeat.beat()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the report holds what is known
        if report is not None and options.junit is not None:
            how = "terminated" if isinstance(exc, Terminated) else "interrupted"
            report.write(options.junit, options.bulk_ids, poller.latest, pending_as=how)
        raise
    finally:
        if live is not None:
            live.stop()
        client.deadline = earlier
    pending = poller.pending()
    finals = [poller.latest[i] for i in options.bulk_ids if i in poller.latest]
    if options.as_json:
        render(
            [b.raw for b in finals],
            RenderOptions(fmt="json", fields=(), whole_objects=True),
            ctx.stdout,
        )
    if report is not None and options.junit is not None:
        report.write(
            options.junit,
            options.bulk_ids,
            poller.latest,
            pending_as=f"timeout ({options.timeout:g}s)" if timed_out or pending else None,
        )
    if pending:
        states = ", ".join(
            f"{i} {poller.latest[i].status if i in poller.latest else 'never answered'}"
            for i in pending
        )
        waited = clock.monotonic() - started
        if why_early is not None and waited < options.timeout - 0.05:
            # ended early, by a time the API named or the rate limit: say so, and when
            ctx.error([f"{why_early}; ended after {measured(waited)}", f"still pending: {states}"])
        else:  # the time measured, never the one asked for
            ctx.error([f"timed out after {measured(waited)}; still pending: {states}"])
        return ExitCode.TIMEOUT
    code = outcome_code(finals)
    if code:
        worst = [f"{b.bulk_id} {b.status}" for b in finals if FINAL_CODES.get(b.status or "")]
        ctx.note(f"finished, not all completed: {', '.join(worst)}")
    return code


def measured(seconds: float) -> str:
    """A time measured, as said: '0.2s', '10s', '8m 18s'."""
    whole = round(seconds)
    if whole >= 60:
        return human_duration(whole)
    return f"{whole}s" if abs(seconds - whole) < 0.05 else f"{seconds:.1f}s"


class Heartbeat:
    """Piped output's sign of life: counts per status and progress, at least once a minute."""

    def __init__(self, ctx: Context, poller: Poller, started: float) -> None:
        self.ctx = ctx
        self.poller = poller
        self.started = started
        self.due = started + HEARTBEAT_SECONDS

    def beat(self) -> None:
        now = self.ctx.clock.monotonic()
        if now < self.due:
            return
        self.due = now + HEARTBEAT_SECONDS
        self.ctx.note(heartbeat_line(self.poller, int(now - self.started)))


def heartbeat_line(poller: Poller, waited: int) -> str:
    """'still waiting after 5m 00s: 2 RUNNING, 1 COMPLETED; 1,200/4,000 operations done'."""
    statuses: Counter[str] = Counter()
    done = total = 0
    unknown = False
    now = poller.ctx.clock.monotonic()
    for bulk_id in poller.bulk_ids:
        bulk = poller.latest.get(bulk_id)
        statuses[(bulk.status or "?") if bulk else "not yet read"] += 1
        count, of, _ = poller.estimate(bulk_id, now)
        if bulk is None or of is None or not bulk.operation_status_counts:
            unknown = True  # piped polls read statuses only: progress of bulks read whole
            continue
        done += count
        total += of
    counts = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
    progress = f"{done:,}/{total:,} operations done" + (
        " (of the bulks read whole)" if unknown else ""
    )
    return f"still waiting after {human_duration(waited)}: {counts}; {progress}"


WAIT_FIELDS = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("done", "DONE"),
    Field("elapsed", "ELAPSED", cut=True),
)


def bulk_elapsed(bulk: BulkProcess | None, now: float) -> str:
    """How long a bulk has run: from its executionStart to its executionFinish, or to now
    (wall seconds); '' when it has not started."""
    if bulk is None or bulk.execution_start is None:
        return ""
    end = bulk.execution_finish / 1000 if bulk.execution_finish is not None else now
    return human_duration(max(0, int(end - bulk.execution_start / 1000)))


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

        now = self.ctx.clock.monotonic()
        wall = self.ctx.clock.now()
        rows: list[dict[str, Any]] = []
        for bulk_id in poller.bulk_ids:
            bulk = poller.latest.get(bulk_id)
            note = poller.problems.get(bulk_id)
            done = ""
            if bulk is not None:
                count, total, guessed = poller.estimate(bulk_id, now)
                done = ("~" if guessed else "") + (
                    f"{count:,}/{total:,}" if total is not None else f"{count:,}/?"
                )
            rows.append(
                {
                    "bulkId": bulk_id,
                    "status": (bulk.status or "?") if bulk else "…",
                    "done": done,
                    "elapsed": bulk_elapsed(bulk, wall) + (f"  ({note})" if note else ""),
                }
            )
        options = RenderOptions(
            fmt="table",
            fields=WAIT_FIELDS,
            color=not self.ctx.env.get("NO_COLOR"),
            terminal=True,
            width=terminal_width(self.ctx.stderr, self.ctx.env),
        )
        lines = table_lines(rows, options)
        lines.append(f"waiting {human_duration(int(now - self.started))}; Ctrl-C to stop")
        # laid out and made safe by the render layer, shown as text (never markup)
        self.live.update(Text.from_ansi("\n".join(lines), no_wrap=True))

    def stop(self) -> None:
        self.live.stop()


# -- the JUnit report ---------------------------------------------------------------------------


def check_junit_path(path: Path) -> None:
    """Before any request: the report's folder exists (created if need be) and is writable."""
    if path.is_dir():
        raise UsageError(f"cannot write the JUnit report {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".bulkctl-", delete=True):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot write the JUnit report {path}: {exc.strerror or exc}",
            hint="choose a writable path for --junit",
        ) from exc


def xml_safe(text: str) -> str:
    """Text that XML 1.0 accepts: characters it forbids (most C0 controls, lone surrogates,
    U+FFFE, U+FFFF) written as \\xHH or \\uHHHH."""
    out = []
    for char in text:
        code = ord(char)
        if (
            char in "\t\n\r"
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF
        ):
            out.append(char)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


class JUnitReport:
    """What the report will say, gathered as bulks end: each one's FAILED operations (one
    request a page, status filter), read as soon as it ends; written with no new request."""

    def __init__(self, ctx: Context, client: ApiClient, deadline: float | None) -> None:
        self.ctx = ctx
        self.client = client
        self.deadline = deadline
        self.failed: dict[str, list[BulkOperation]] = {}
        self.unread: dict[str, str] = {}  # bulk id -> why its failed operations are not read
        self.queue: list[BulkProcess] = []

    def bulk_ended(self, bulk: BulkProcess) -> None:
        if bulk.bulk_id is None:
            return
        if bulk.operation_status_counts and bulk.count_of("FAILED") == 0:
            self.failed[bulk.bulk_id] = []  # nothing failed: no request
            return
        self.queue.append(bulk)
        self.catch_up()

    def catch_up(self) -> None:
        """Read the failed operations of the bulks that ended; a transient error waits for
        the next round, the deadline ends the wait."""
        while self.queue:
            bulk = self.queue[0]
            bulk_id = bulk.bulk_id or ""
            try:
                self.failed[bulk_id] = self._read_failed(bulk_id)
            except DeadlineReached:
                self.unread[bulk_id] = "its failed operations were not read before the timeout"
                raise
            except TRANSIENT_ERRORS as exc:
                if self.unread.get(bulk_id) != exc.message:
                    self.ctx.note(f"bulk {bulk_id}: failed operations not read yet: {exc.message}")
                self.unread[bulk_id] = f"its failed operations could not be read: {exc.message}"
                return
            self.unread.pop(bulk_id, None)
            self.queue.pop(0)

    def _read_failed(self, bulk_id: str) -> list[BulkOperation]:
        seen: dict[str, BulkOperation] = {}
        offset = 0
        while True:
            page = self.client.list_operations(
                bulk_id, offset=offset, limit=PAGE, status="FAILED", deadline=self.deadline
            )
            for op in page.records:
                if isinstance(op, BulkOperation):
                    seen.setdefault(op.key, op)
            offset += PAGE
            count = page.count if page.count is not None else offset
            if not page.records or offset >= count or offset >= 10_000:
                return list(seen.values())

    def write(
        self,
        path: Path,
        bulk_ids: list[str],
        latest: dict[str, BulkProcess],
        *,
        pending_as: str | None,
    ) -> None:
        """The report from memory; ``pending_as`` names why pending bulks are errors
        ('timeout (30s)', 'interrupted', 'terminated')."""
        root = build_junit(bulk_ids, latest, self.failed, self.unread, pending_as)
        tree = ET.ElementTree(root)
        ET.indent(tree)
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bulkctl-junit-")
            with os.fdopen(fd, "wb") as out:
                tree.write(out, encoding="utf-8", xml_declaration=True)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror}") from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.ctx.note(f"JUnit report written to {path}")


def build_junit(
    bulk_ids: list[str],
    latest: dict[str, BulkProcess],
    failed: dict[str, list[BulkOperation]],
    unread: dict[str, str],
    pending_as: str | None,
) -> ET.Element:
    """One test suite per bulk: a test case for the bulk's outcome (failure for FAILED and
    PARTIALLY_COMPLETED; error for CANCELLED and for a bulk still pending), then one test
    case per failed operation."""
    root = ET.Element("testsuites", name="bulkctl wait")
    for bulk_id in bulk_ids:
        bulk = latest.get(bulk_id)
        status = (bulk.status or "?") if bulk is not None else "never answered"
        operation = (bulk.operation or "") if bulk is not None else ""
        suite = ET.SubElement(
            root, "testsuite", name=xml_safe(f"bulk {bulk_id} {operation}".strip())
        )
        case = ET.SubElement(
            suite, "testcase", classname=f"bulk.{bulk_id}", name=xml_safe(f"bulk {bulk_id}")
        )
        failures = errors = 0
        done = done_of_total(bulk) if bulk is not None else "?"
        if status in ("FAILED", "PARTIALLY_COMPLETED"):
            failures += 1
            ET.SubElement(
                case, "failure", type=status, message=f"bulk {status} ({done} operations done)"
            )
        elif status == "CANCELLED":
            errors += 1
            ET.SubElement(
                case, "error", type=status, message=f"bulk CANCELLED ({done} operations done)"
            )
        elif bulk is None or not bulk.is_final:
            errors += 1
            reason = pending_as or "not final"
            ET.SubElement(
                case,
                "error",
                type="interrupted" if pending_as in ("interrupted", "terminated") else "timeout",
                message=xml_safe(f"still {status} at the end of the wait: {reason}"),
            )
        if bulk_id in unread:
            ET.SubElement(case, "system-err").text = xml_safe(unread[bulk_id])
        ops = failed.get(bulk_id, [])
        for op in ops:
            name = f"#{op.sequence} {op.method or ''} {op.path or ''}".strip()
            op_case = ET.SubElement(
                suite, "testcase", classname=f"bulk.{bulk_id}", name=xml_safe(name)
            )
            failures += 1
            element = ET.SubElement(
                op_case, "failure", message=xml_safe(_failure_message(op.response_payload))
            )
            element.text = xml_safe(op.response_payload or "")
        suite.set("tests", str(1 + len(ops)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", "0")
    return root


def _failure_message(payload: Any) -> str:
    return short_payload(payload, width=200) or "operation failed"
