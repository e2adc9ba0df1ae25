"""``bulkctl ui [BULK_ID] [--status S]``: the live, keyboard-driven view of the bulks (the
optional 'ui' extra).

Parsing checks, without importing Textual, that the ui can run here (the extra is
installed, a terminal on stdin and stdout, TERM not dumb, no --no-input) and that the id and
statuses are valid; ``run`` hands over to ``bulkctl.ui.command.run_ui``, which imports
Textual only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import typer

from bulkctl.api.records import BULK_STATUSES
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import StatusOption, parse_statuses
from bulkctl.context import Context


@dataclass
class UiOptions:
    """Where the ui opens: on one bulk's details, or on the bulks of some statuses."""

    bulk_id: str | None = None
    statuses: list[str] = field(default_factory=list)


def parse(ctx: Context, bulk_id: str | None = None, status: list[str] | None = None) -> UiOptions:
    """Refuse (exit 2, one line) where the ui cannot run; sends no request."""
    from bulkctl.api.client import check_bulk_id
    from bulkctl.ui.command import check_can_run

    statuses = parse_statuses(status, BULK_STATUSES)
    if bulk_id is not None:
        check_bulk_id(bulk_id)
    check_can_run(ctx)
    return UiOptions(bulk_id=bulk_id, statuses=statuses)


def run(ctx: Context, options: UiOptions) -> int:
    """Run the ui until q or Ctrl-C (exit 0) or SIGTERM (exit 143)."""
    from bulkctl.ui.command import run_ui

    return run_ui(ctx, bulk_id=options.bulk_id, statuses=options.statuses)


def command(
    ctx: typer.Context,
    bulk_id: Annotated[
        str | None,
        typer.Argument(
            help="Open on this bulk's details (Esc goes to the list).", metavar="[BULK_ID]"
        ),
    ] = None,
    status: StatusOption = None,
) -> None:
    """A live, keyboard-driven view of the bulks (needs the 'ui' extra).

    Opens on the newest bulks, on those of --status, or on one bulk's details. Keys: Enter
    details, Esc back, : or / then an id goes to that bulk, 1-7 toggle a status, 0 all,
    / filter by operation, n more, o sort, y copy the id, x p r c execute, pause, resume,
    cancel (m switches execute's mode), R rerun the failed operations (each asks as the
    commands do), F5 refresh, ? every key, q quit. q and Ctrl-C exit 0; SIGTERM exits 143.
    """
    invoke(ctx, lambda c: parse(c, bulk_id=bulk_id, status=status), run)
