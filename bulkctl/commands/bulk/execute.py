"""``bulkctl execute``: start SUBMITTED bulks; it moves money, so it asks first. The checks
and the confirmation are in ``bulkctl.actions``."""

from __future__ import annotations

from typing import Annotated

import typer

from bulkctl.actions import ActionOptions, action_options, run_action
from bulkctl.api.records import INT32_MAX
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import (
    MODE_VALUES,
    ActionJsonOption,
    BulkIdsArgument,
    DryRunOption,
    YesOption,
    option,
    parse_mode,
)
from bulkctl.context import Context
from bulkctl.errors import UsageError

__all__ = ["ActionOptions", "command", "parse", "run"]


def parse(
    ctx: Context,
    *,
    bulk_ids: list[str],
    mode: str = "on-failure-stop",
    webhook_interval: int | None = None,
    yes: bool = False,
    dry_run: bool = False,
    json_flag: bool = False,
) -> ActionOptions:
    """The arguments of ``execute``, checked."""
    if webhook_interval is not None and not 1 <= webhook_interval <= INT32_MAX:
        raise UsageError(f"--webhook-interval must be from 1 to {INT32_MAX}")
    return action_options(
        "execute",
        bulk_ids,
        mode=parse_mode(mode),
        webhook_interval=webhook_interval,
        yes=yes,
        dry_run=dry_run,
        as_json=json_flag,
    )


def run(ctx: Context, options: ActionOptions) -> int:
    """Execute each bulk; returns the worst exit code."""
    return run_action(ctx, options)


def command(
    ctx: typer.Context,
    bulk_ids: BulkIdsArgument,
    mode: Annotated[
        str,
        option(
            "--mode",
            help="on-failure-stop (default: stop at the first failed operation) or on-failure-continue; any case, - or _.",
            metavar="MODE",
            values=MODE_VALUES,
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
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_flag: ActionJsonOption = False,
) -> None:
    """Start one or more SUBMITTED bulks (asks first; moves money)."""
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_ids=bulk_ids,
            mode=mode,
            webhook_interval=webhook_interval,
            yes=yes,
            dry_run=dry_run,
            json_flag=json_flag,
        ),
        run,
    )
