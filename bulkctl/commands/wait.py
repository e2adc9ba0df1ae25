"""``bulkctl wait``: poll bulks until every one is final; the exit code says how they ended.

0 all COMPLETED; otherwise the worst: 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED
(``--accept`` turns PARTIALLY_COMPLETED or CANCELLED into 0); 124 when the timeout passes
first (a hard deadline: a request in flight is abandoned). Network errors, 5xx and
throttling while waiting are ridden out until the timeout, once a first request has
succeeded; a refused connection or an unknown host before that exits 6. A bulk in a status
bulkctl does not know is waited on.

The bulks: ids as arguments, ``-`` (ids on stdin, one a line, as ``submit`` prints them),
``--from-file F``, and ``--status S`` (every bulk in those statuses when the wait starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from bulkctl.api.records import BULK_STATUSES
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    BULK_STATUS_VALUES,
    FILE_VALUES,
    PROGRESS_VALUES,
    AutoIntervalOption,
    JunitOption,
    Values,
    check_interval,
    option,
    parse_statuses,
    parse_wait,
)
from bulkctl.context import Context
from bulkctl.errors import UsageError
from bulkctl.lists.matching import Selection, matching_bulks
from bulkctl.lists.progress import parse_progress
from bulkctl.waiting.outcomes import MAX_FAILURES
from bulkctl.waiting.wait import WaitOptions, reports_on_exit, wait_for

STDIN = "-"
ACCEPTABLE_OUTCOMES = ("PARTIALLY_COMPLETED", "CANCELLED")
ACCEPT_VALUES = Values("accept", tuple(o.lower() for o in ACCEPTABLE_OUTCOMES), csv=True)


@dataclass
class WaitCommandOptions(WaitOptions):
    """``wait``'s options: where the ids come from, besides the arguments."""

    from_stdin: bool = False
    from_file: Path | None = None
    statuses: list[str] = field(default_factory=list)


class WaitFlags(msgspec.Struct, frozen=True):
    """``wait``'s options, as typed (``bound`` makes each a typer option)."""

    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            help="Give up after this long from the start: 90s, 5m, 2h (exit 124).",
            metavar="DURATION",
        ),
    ] = "30m"
    interval: AutoIntervalOption = None
    json_flag: Annotated[
        bool, typer.Option("--json", help="Print the final bulk objects as a JSON array.")
    ] = False
    junit: JunitOption = None
    junit_max_failures: Annotated[
        int,
        typer.Option(
            "--junit-max-failures",
            help="Failed operations listed in the JUnit report per bulk (default 1000); the rest are counted.",
            metavar="N",
        ),
    ] = MAX_FAILURES
    progress: Annotated[
        str | None,
        option(
            "--progress",
            help="How a wait shows progress: live (a table redrawn on a terminal), plain (a line per status change and a heartbeat at least once a minute), or none. Default: live on a terminal, plain when CI is set, stderr is not a terminal or TERM is dumb.",
            metavar="MODE",
            values=PROGRESS_VALUES,
        ),
    ] = None
    accept: Annotated[
        list[str] | None,
        option(
            "--accept",
            help="Final outcomes that exit 0, named in the output: partially_completed, cancelled (comma-separated or repeated).",
            metavar="OUTCOME",
            values=ACCEPT_VALUES,
        ),
    ] = None
    no_step_summary: Annotated[
        bool,
        typer.Option(
            "--no-step-summary",
            help="On GitHub Actions, do not append a Markdown summary to $GITHUB_STEP_SUMMARY.",
        ),
    ] = False
    from_file: Annotated[
        str | None,
        option(
            "--from-file",
            help="Also wait for the bulk ids in FILE, one a line (as submit prints them).",
            metavar="FILE",
            values=FILE_VALUES,
        ),
    ] = None
    status: Annotated[
        list[str] | None,
        option(
            "--status",
            "-s",
            help="Also wait for every bulk in these statuses when the wait starts (e.g. running; comma-separated or repeated).",
            metavar="STATUS",
            values=BULK_STATUS_VALUES,
        ),
    ] = None


NO_WAIT_FLAGS = WaitFlags()


def parse(
    ctx: Context, *, bulk_ids: list[str], flags: WaitFlags = NO_WAIT_FLAGS
) -> WaitCommandOptions:
    """The arguments of ``wait``, checked (the ids of stdin or a file are read by ``run``,
    after the report's path is checked)."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    from_stdin = STDIN in bulk_ids
    ids = [i for i in bulk_ids if i != STDIN]
    for bulk_id in ids:
        check_bulk_id(bulk_id)
    statuses = parse_statuses(flags.status, BULK_STATUSES)
    if not (ids or from_stdin or flags.from_file or statuses):
        raise UsageError(
            "name the bulks to wait for",
            hint="give BULK_ID..., - (ids on stdin), --from-file FILE or --status STATUS",
        )
    return WaitCommandOptions(
        bulk_ids=list(dict.fromkeys(ids)),
        timeout=parse_wait(flags.timeout, "--timeout"),
        interval=check_interval(flags.interval) if flags.interval is not None else 0.0,
        as_json=flags.json_flag,
        junit=Path(flags.junit) if flags.junit is not None else None,
        adaptive=flags.interval is None,
        progress=parse_progress(flags.progress),
        accept=parse_accept(flags.accept),
        junit_max_failures=parse_max_failures(flags.junit_max_failures),
        step_summary=not flags.no_step_summary,
        from_stdin=from_stdin,
        from_file=Path(flags.from_file) if flags.from_file is not None else None,
        statuses=statuses,
    )


def parse_accept(values: Sequence[str] | None) -> frozenset[str]:
    """--accept: the final statuses that exit 0 (PARTIALLY_COMPLETED, CANCELLED)."""
    return frozenset(parse_statuses(values, ACCEPTABLE_OUTCOMES, "--accept outcome"))


def parse_max_failures(value: int) -> int:
    if value < 0:
        raise UsageError(f"--junit-max-failures must be 0 or more (got {value})")
    return value


def read_ids(text: str, source: str) -> list[str]:
    """Bulk ids one a line (blank lines and '#' comments skipped), each checked."""
    from bulkctl.api.client import check_bulk_id

    ids: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        try:
            ids.append(check_bulk_id(word))
        except UsageError as exc:
            raise UsageError(f"{source}, line {number}: {exc.message}") from exc
    return ids


def gather_ids(ctx: Context, options: WaitCommandOptions) -> list[str]:
    """Every bulk to wait for: the arguments, stdin, the file, then the bulks in
    ``--status`` now; each once, in that order."""
    ids = list(options.bulk_ids)
    if options.from_stdin:
        ids += read_ids(ctx.stdin.read(), "stdin")
    if options.from_file is not None:
        try:
            text = options.from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read --from-file {options.from_file}: {why}") from exc
        ids += read_ids(text, str(options.from_file))
    if options.statuses:
        with matching_bulks(ctx, Selection(options.statuses)) as (bulks, _pager):
            for bulk in bulks:
                if bulk.bulk_id is not None:
                    ids.append(bulk.bulk_id)
                    if bulk.is_final:  # final is final: no request to learn it again
                        options.listed.append(bulk)
        if not ids:
            ctx.note(f"no bulk is {' or '.join(options.statuses)}: nothing to wait for")
    return list(dict.fromkeys(ids))


def run(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code."""
    if not isinstance(options, WaitCommandOptions):
        return wait_for(ctx, options)
    with reports_on_exit(ctx, options) as record:  # the ids read below are in the report
        options.bulk_ids = gather_ids(ctx, options)
        record.bulk_ids = options.bulk_ids
        if not options.bulk_ids and not options.statuses:
            raise UsageError("no bulk id was given: nothing to wait for")
        options.record = record
        return wait_for(ctx, options)


@bound
def command(
    ctx: typer.Context,
    bulk_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Bulk ids (digits); - reads more, one a line, from stdin.",
            metavar="[BULK_ID|-]...",
            show_default=False,
        ),
    ] = None,
    flags: WaitFlags = NO_WAIT_FLAGS,
) -> None:
    """Wait until every bulk is final (COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED).

    Exit 0 when all COMPLETED (or an outcome --accept names), else the worst: 10 CANCELLED,
    11 PARTIALLY_COMPLETED, 12 FAILED; 124 when the timeout (counted from the start, a hard
    deadline) passes first. Outside a terminal or in CI it prints each status change and a
    heartbeat at least once a minute; on GitHub Actions, annotations and a step summary.
    """
    invoke(ctx, lambda c: parse(c, bulk_ids=bulk_ids or [], flags=flags), run, reports=True)
