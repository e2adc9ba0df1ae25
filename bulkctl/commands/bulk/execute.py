"""``bulkctl execute``: start SUBMITTED bulks; it moves money, so it asks first. The checks
and the confirmation are in ``bulkctl.actions``."""

from __future__ import annotations

from typing import Annotated

import typer

from bulkctl.actions.command import ActionOptions, checked, run
from bulkctl.api.records import INT32_MAX
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    MODE_VALUES,
    NO_ACTION_FLAGS,
    ActionFlags,
    BulkIdsArgument,
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
    flags: ActionFlags = NO_ACTION_FLAGS,
) -> ActionOptions:
    """The arguments of ``execute``, checked."""
    if webhook_interval is not None and not 1 <= webhook_interval <= INT32_MAX:
        raise UsageError(f"--webhook-interval must be from 1 to {INT32_MAX}")
    return checked(
        "execute", bulk_ids, flags, mode=parse_mode(mode), webhook_interval=webhook_interval
    )


@bound
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
    flags: ActionFlags = NO_ACTION_FLAGS,
) -> None:
    """Start one or more SUBMITTED bulks (asks first; moves money)."""
    invoke(
        ctx,
        lambda c: parse(
            c, bulk_ids=bulk_ids, mode=mode, webhook_interval=webhook_interval, flags=flags
        ),
        run,
    )
