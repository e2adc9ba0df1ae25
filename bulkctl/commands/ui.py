"""``bulkctl ui``: the live, keyboard-driven view of the bulks (the optional 'ui' extra).

Parsing checks, without importing Textual, that the ui can run here (the extra is
installed, a terminal on stdin and stdout, TERM not dumb, no --no-input); ``run`` hands over
to ``bulkctl.ui.command.run_ui``, which imports Textual only then.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.context import Context


@dataclass
class UiOptions:
    """The ui takes no options of its own: profile, base URL and --debug are global."""


def parse(ctx: Context) -> UiOptions:
    """Refuse (exit 2, one line) where the ui cannot run; sends no request."""
    from bulkctl.ui.command import check_can_run

    check_can_run(ctx)
    return UiOptions()


def run(ctx: Context, options: UiOptions) -> int:
    """Run the ui until q or Ctrl-C (exit 0) or SIGTERM (exit 143)."""
    from bulkctl.ui.command import run_ui

    return run_ui(ctx)


def command(ctx: typer.Context) -> None:
    """A live, keyboard-driven view of the bulks (needs the 'ui' extra).

    Keys: Enter details, Esc back, 1-7 toggle a status, 0 all, / filter by operation,
    y copy the id, x p r c execute, pause, resume, cancel, R rerun the failed operations
    (each asks as the commands do), F5 refresh, q quit. q and Ctrl-C exit 0; SIGTERM
    exits 143.
    """
    invoke(ctx, parse, run)
