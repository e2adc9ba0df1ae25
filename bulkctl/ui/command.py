"""``bulkctl ui``: the checks that need no Textual, then the app.

``run_ui`` refuses (exit 2, one line) when the extra is missing, when stdin or stdout is not
a terminal, when TERM=dumb, or with --no-input: without a terminal Textual would write
escape codes into a pipe and wait for keys that never come.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bulkctl.errors import UsageError

if TYPE_CHECKING:
    from bulkctl.context import Context

INSTALL_HINT = "install it with: pip install 'bulkctl[ui]'   (from a clone: pip install '.[ui]')"


def textual_available() -> bool:
    """Whether the ui extra is installed, without importing it."""
    try:
        return importlib.util.find_spec("textual") is not None
    except (ImportError, ValueError):  # a blocked or half-removed package
        return False


def check_can_run(ctx: Context) -> None:
    """Raise ``UsageError`` (exit 2) when the ui cannot run here; sends no request."""
    if not textual_available():
        raise UsageError("bulkctl ui needs the optional 'ui' extra (Textual)", hint=INSTALL_HINT)
    if ctx.options.no_input:
        raise UsageError("bulkctl ui reads keys, and --no-input (or BULKCTL_NO_INPUT) forbids it")
    if not (ctx.stdin_tty and ctx.stdout_tty):
        raise UsageError("bulkctl ui needs a terminal on stdin and stdout (try: bulkctl list)")
    if ctx.env.get("TERM", "") == "dumb":
        raise UsageError("bulkctl ui cannot draw on TERM=dumb (try: bulkctl list)")


def run_ui(
    ctx: Context,
    *,
    quota: Callable[[], str | None] | None = None,
    bulk_id: str | None = None,
    statuses: Sequence[str] = (),
) -> int:
    """Run the ui until q, Ctrl-C (exit 0) or SIGTERM (exit 143); returns the exit code.
    It opens on ``bulk_id``'s details when given, over the bulks of ``statuses``."""
    check_can_run(ctx)
    from bulkctl.ui.backend import Backend
    from bulkctl.ui.board import Board, in_background

    backend = Backend.from_context(ctx, quota=quota)  # login errors print as for any command
    board = Board(backend, selected=list(statuses))
    first_rows = in_background(board.read_rows)  # the first page travels while Textual loads
    from bulkctl.ui.app import BulkApp

    app = BulkApp(backend, board=board, first_rows=first_rows, open_id=bulk_id)
    try:
        app.run()
    finally:
        backend.close()
    return app.return_code or 0
