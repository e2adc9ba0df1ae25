"""``bulkctl wait``: poll bulks until every one is final; the exit code says how they ended.

0 all COMPLETED; otherwise the worst: 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED;
124 when the timeout passes first (a hard deadline: a request in flight is abandoned).
Network errors, 5xx and throttling while waiting are ridden out until the timeout, once a
first request has succeeded; a refused connection or an unknown host before that exits 6.
A bulk in a status bulkctl does not know is waited on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bulkctl.context import Context
from bulkctl.invoke import invoke
from bulkctl.options import (
    FILE_VALUES,
    AutoIntervalOption,
    BulkIdsArgument,
    check_interval,
    option,
    parse_wait,
)
from bulkctl.waiting import WaitOptions, wait_for


def parse(
    ctx: Context,
    *,
    bulk_ids: list[str],
    timeout: str = "30m",
    interval: str | None = None,
    json_flag: bool = False,
    junit: str | None = None,
) -> WaitOptions:
    """The arguments of ``wait``, checked."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    for bulk_id in bulk_ids:
        check_bulk_id(bulk_id)
    return WaitOptions(
        bulk_ids=list(dict.fromkeys(bulk_ids)),
        timeout=parse_wait(timeout, "--timeout"),
        interval=check_interval(interval) if interval is not None else 0.0,
        as_json=json_flag,
        junit=Path(junit) if junit is not None else None,
        adaptive=interval is None,
    )


def run(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code."""
    return wait_for(ctx, options)


def command(
    ctx: typer.Context,
    bulk_ids: BulkIdsArgument,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            help="Give up after this long from the start: 90s, 5m, 2h (exit 124).",
            metavar="DURATION",
        ),
    ] = "30m",
    interval: AutoIntervalOption = None,
    json_flag: Annotated[
        bool, typer.Option("--json", help="Print the final bulk objects as a JSON array.")
    ] = False,
    junit: Annotated[
        str | None,
        option(
            "--junit",
            help="Write a JUnit XML report: one test case per bulk (its outcome) and one per failed operation; written at the timeout and on Ctrl-C or SIGTERM too.",
            metavar="FILE",
            values=FILE_VALUES,
        ),
    ] = None,
) -> None:
    """Wait until every bulk is final (COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED).

    Exit 0 when all COMPLETED, else the worst: 10 CANCELLED, 11 PARTIALLY_COMPLETED,
    12 FAILED; 124 when the timeout (counted from the start, a hard deadline) passes first.
    Piped, it prints each status change and a heartbeat at least once a minute.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_ids=bulk_ids,
            timeout=timeout,
            interval=interval,
            json_flag=json_flag,
            junit=junit,
        ),
        run,
    )
