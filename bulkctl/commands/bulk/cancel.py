"""``bulkctl cancel``: cancel RUNNING or PAUSED bulks; asks first, since it is final. The checks and the confirmation are in ``bulkctl.actions``."""

from __future__ import annotations

import typer

from bulkctl.actions import ActionOptions, action_options, run_action
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import ActionJsonOption, BulkIdsArgument, DryRunOption, YesOption
from bulkctl.context import Context

__all__ = ["ActionOptions", "command", "parse", "run"]


def parse(
    ctx: Context,
    *,
    bulk_ids: list[str],
    yes: bool = False,
    dry_run: bool = False,
    json_flag: bool = False,
) -> ActionOptions:
    """The arguments of ``cancel``, checked."""
    return action_options("cancel", bulk_ids, yes=yes, dry_run=dry_run, as_json=json_flag)


def run(ctx: Context, options: ActionOptions) -> int:
    """Cancel each bulk; returns the worst exit code."""
    return run_action(ctx, options)


def command(
    ctx: typer.Context,
    bulk_ids: BulkIdsArgument,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_flag: ActionJsonOption = False,
) -> None:
    """Cancel one or more RUNNING or PAUSED bulks (asks first; final)."""
    invoke(
        ctx,
        lambda c: parse(c, bulk_ids=bulk_ids, yes=yes, dry_run=dry_run, json_flag=json_flag),
        run,
    )
