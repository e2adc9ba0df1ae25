"""The command line's shape of a change of state: ``pause``, ``resume`` and ``cancel`` are
one factory's commands, the same but for the action and its help; ``execute`` adds its own
options to the same ``ActionFlags``. What each change checks and asks is the gate's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from bulkctl.actions.gate import ActionOptions, action_options, run_action
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import NO_ACTION_FLAGS, ActionFlags, BulkIdsArgument
from bulkctl.context import Context

__all__ = ["ActionOptions", "change_command", "checked", "run"]


def checked(action: str, bulk_ids: list[str], flags: ActionFlags, **more: Any) -> ActionOptions:
    """The options of ``action`` on ``bulk_ids``, checked (every id digits only)."""
    return action_options(
        action, bulk_ids, yes=flags.yes, dry_run=flags.dry_run, as_json=flags.json_flag, **more
    )


def run(ctx: Context, options: ActionOptions) -> int:
    """Pass each bulk through the gate; returns the worst exit code."""
    return run_action(ctx, options)


def change_command(action: str, help: str) -> tuple[Callable[..., ActionOptions], Any]:
    """``parse`` and the typer ``command`` of ``action`` (``help`` is the command's
    docstring, and so the registry's line); a command file binds them with ``run``."""

    def parse(
        ctx: Context, *, bulk_ids: list[str], flags: ActionFlags = NO_ACTION_FLAGS
    ) -> ActionOptions:
        return checked(action, bulk_ids, flags)

    @bound
    def command(
        ctx: typer.Context, bulk_ids: BulkIdsArgument, flags: ActionFlags = NO_ACTION_FLAGS
    ) -> None:
        invoke(ctx, lambda c: parse(c, bulk_ids=bulk_ids, flags=flags), run)

    parse.__doc__ = f"The arguments of ``{action}``, checked."
    command.__doc__ = help
    return parse, command
