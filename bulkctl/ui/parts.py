"""What the ui's screens share: limits, a status in colour, the status bar, and the app
they see.

Requests run in daemon threads awaited by workers (``exit_on_error=False``), so ``q`` and
Ctrl-C leave at once even while a request or a quota wait is in flight: Textual's own thread
workers would be joined at exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from rich.text import Text
from textual.widgets import Static

from bulkctl.errors import BulkctlError
from bulkctl.output.render import STATUS_STYLES
from bulkctl.ui.backend import Backend
from bulkctl.ui.board import (
    Board,
    in_background,
)
from bulkctl.ui.safe import safe, safe_str

T = TypeVar("T")
MIN_WIDTH, MIN_HEIGHT = 60, 15
OPS_PAGE = 50
FAILED_READ = 100
SIGTERM_EXIT = 143
FIRST_FRAME_WAIT = 1.0  # seconds the first refresh waits for its rows to be drawn
ACTION_KEYS = {"x": "execute", "p": "pause", "r": "resume", "c": "cancel", "R": "rerun"}


async def in_thread(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking call in a daemon thread and await it; quitting never waits for it."""
    return await asyncio.wrap_future(in_background(lambda: call(*args)))


def error_text(exc: BaseException, command: Callable[..., str] | None = None) -> str:
    """An error for a notification; ``command`` builds a command it suggests (the profile
    in force, as the commands print it)."""
    if isinstance(exc, BulkctlError):
        return safe_str(" ".join(exc.lines(command)))
    return safe_str(f"internal error: {type(exc).__name__}: {exc}")


def status_text(status: str | None) -> Text:
    return safe(status or "?", STATUS_STYLES.get(status or "", ""))


class KeyBar(Static):
    """The line under the keys: the next refresh and the quota state."""

    def on_mount(self) -> None:
        app = self.app
        if isinstance(app, BoardApp):
            self.update(app.status_line())


@runtime_checkable
class BoardApp(Protocol):
    """What the screens read of the app: its board, its backend, its refresh and status line."""

    board: Board
    backend: Backend

    def refresh_now(self) -> None: ...

    def go_to(self, bulk_id: str) -> None: ...

    def load_more(self, *, quiet: bool = False) -> None: ...

    def status_line(self) -> Text: ...
