"""The Textual app: its screens (a module each), the refresh loop and the size check; the
changes it asks for are ``bulkctl.ui.acting``'s.

Server text reaches widgets only through ``bulkctl.ui.safe`` (as ``Text``, never markup).
Requests run in daemon threads awaited by workers (``exit_on_error=False``), so ``q`` and
Ctrl-C leave at once even while a request or a quota wait is in flight: Textual's own thread
workers would be joined at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.screen import Screen
from textual.worker import Worker

from bulkctl.ui.acting import Acting
from bulkctl.ui.backend import Backend
from bulkctl.ui.board import Board, Listing
from bulkctl.ui.confirm_screen import ConfirmScreen, ProductionConfirmScreen
from bulkctl.ui.detail_screen import DetailScreen
from bulkctl.ui.keys_screen import KeysScreen
from bulkctl.ui.main_screen import MainScreen
from bulkctl.ui.parts import (
    FIRST_FRAME_WAIT,
    MIN_HEIGHT,
    MIN_WIDTH,
    SIGTERM_EXIT,
    KeyBar,
    error_text,
    in_thread,
)
from bulkctl.ui.safe import safe
from bulkctl.ui.too_small_screen import TooSmallScreen

Answered = Callable[[Any], None]  # what a question calls with its answer

__all__ = [
    "BulkApp",
    "ConfirmScreen",
    "DetailScreen",
    "MainScreen",
    "ProductionConfirmScreen",
    "TooSmallScreen",
    "settled",
]


class BulkApp(App[None]):
    """The whole ui over one ``Backend``; ``run()`` returns the exit code."""

    TITLE = "bulkctl ui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", priority=True, show=False),
        Binding("q", "quit", show=False),
        Binding("question_mark", "keys", show=False),
    ]
    CSS = """
    #where, #counts, #note, #keys, #status { height: auto; padding: 0 1; }
    #bulks, #ops { height: 1fr; }
    #ops { border-top: solid $accent; border-title-align: left; border-title-color: $text; }
    #title, #fields, #failures { padding: 0 1; height: auto; }
    #payload { height: auto; max-height: 9; padding: 0 1; overflow: hidden; }
    KeysScreen { align: center middle; }
    #keys-box { width: 76; max-width: 100%; height: auto; max-height: 100%;
                border: round $accent; padding: 0 1; background: $surface; }
    ConfirmScreen { align: center middle; }
    #dialog { width: 70; height: auto; border: thick $error; padding: 1 2; background: $surface; }
    #buttons { height: auto; margin-top: 1; }
    #buttons Button { margin-right: 2; }
    #too-small { width: 1fr; height: 1fr; content-align: center middle; }
    """

    def __init__(
        self,
        backend: Backend,
        *,
        board: Board | None = None,
        first_rows: Future[Listing] | None = None,
        open_id: str | None = None,
    ) -> None:
        super().__init__()
        self.first_rows = first_rows  # the first page, requested while Textual was loading
        self.open_id = open_id  # `bulkctl ui ID`: its details open first
        self._reading_more = False
        self._held: list[tuple[Screen[Any], Answered | None]] = []  # shown once it is large
        self.backend = backend
        self.board = board or Board(backend)
        self.next_at: float | None = None
        self.quota_line: str | None = None  # read after each refresh, off the app's thread
        self.main = MainScreen()
        self._timer: Any = None
        self._tick: Any = None
        self._refresh_worker: Worker[None] | None = None
        self._too_small: TooSmallScreen | None = None
        self.acting = Acting(self)

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_mount(self) -> None:
        if not self.is_headless:  # tests run headless and keep their own signals
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.terminated)
        self._tick = self.set_interval(1.0, self.tick)
        self.check_size(self.size.width, self.size.height)
        self.refresh_now()
        if self.open_id is not None:
            self.go_to(self.open_id)

    def action_keys(self) -> None:
        if not isinstance(self.screen, (KeysScreen, TooSmallScreen, ConfirmScreen)):
            self.push_screen(KeysScreen())

    # -- going to a bulk, more rows -----------------------------------------------------------

    def go_to(self, bulk_id: str) -> None:
        """Open ``bulk_id``'s details, reading the bulk when it is not loaded."""
        self.run_worker(self.open_bulk(bulk_id), group="go", exclusive=True, exit_on_error=False)

    async def open_bulk(self, bulk_id: str) -> None:
        bulk = next((b for b in self.board.rows if b.bulk_id == bulk_id), None)
        if bulk is None:
            try:
                bulk = await in_thread(self.backend.get_bulk, bulk_id)
            except Exception as exc:
                message = error_text(exc, self.backend.suggest)
                title = f"cannot open bulk {bulk_id}"
                self.notify(message, title=title, severity="error", markup=False)
                return
            self.board.details[bulk_id] = bulk
        if self._too_small is not None:
            self.show(DetailScreen(bulk))  # drawn once the terminal is large enough
            return
        while isinstance(self.screen, (DetailScreen, KeysScreen)):
            self.pop_screen()
        self.push_screen(DetailScreen(bulk))

    def load_more(self, *, quiet: bool = False) -> None:
        """Read the next page of the listed statuses (``n``, or the cursor at the end)."""
        board = self.board
        if self._reading_more:
            return
        if not board.has_more():
            if not quiet:
                self.notify(f"all {len(board.rows):,} loaded", markup=False, timeout=3)
            return
        self._reading_more = True
        self.run_worker(self.read_more(), group="more", exit_on_error=False)

    async def read_more(self) -> None:
        try:
            self.board.apply_more(await in_thread(self.board.read_more))
        except Exception as exc:
            message = error_text(exc, self.backend.suggest)
            self.notify(message, title="more", severity="error", markup=False)
            return
        finally:
            self._reading_more = False
        self.main.redraw()
        total = self.board.total()
        of = "" if total is None else f" of {total:,}"
        self.notify(f"loaded {len(self.board.rows):,}{of}", markup=False, timeout=3)
        visible = self.main.visible_ids()
        self.board.apply_extras(await in_thread(self.board.read_extras, visible, None))
        self.main.redraw()

    def terminated(self) -> None:
        self.backend.close()
        self.exit(return_code=SIGTERM_EXIT)

    async def action_quit(self) -> None:
        # in-flight requests fail fast once closed; their daemon threads never hold the exit
        threading.Thread(target=self.backend.close, daemon=True).start()
        self.exit()

    # -- size ---------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size.width, event.size.height)

    def check_size(self, width: int, height: int) -> None:
        """Below MIN_WIDTH x MIN_HEIGHT a screen says so instead of drawing the others."""
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            self._too_small = TooSmallScreen(width, height)
            self.push_screen(self._too_small)
        elif small and self._too_small is not None:
            self._too_small.draw(width, height)
        elif not small and self._too_small is not None:
            if self.screen is self._too_small:
                self.pop_screen()
            self._too_small = None
            held, self._held = self._held, []
            for screen, answered in held:
                self.push_screen(screen, answered)

    def show(self, screen: Screen[Any], answered: Answered | None = None) -> None:
        """Push ``screen`` (a question, a bulk's details), or, while the terminal is too
        small, hold it until it grows: the message stays on top of everything meanwhile."""
        if self._too_small is not None:
            self._held.append((screen, answered))
            return
        self.push_screen(screen, answered)

    # -- refresh ------------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self.board.reset()
        self.refresh_now()

    def refresh_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._refresh_worker = self.run_worker(
            self.refresh_board(), group="refresh", exclusive=True, exit_on_error=False
        )

    async def refresh_board(self) -> None:
        board = self.board
        details = next((s for s in self.screen_stack if isinstance(s, DetailScreen)), None)
        focus = details.bulk_id if details is not None else None
        first_page = not board.loaded
        try:
            if self.first_rows is not None:
                rows_read, self.first_rows = self.first_rows, None
                board.apply_rows(await asyncio.wrap_future(rows_read))
            else:
                board.apply_rows(await in_thread(board.read_rows))
            self.main.redraw()
            if first_page:
                await self.first_frame()
            visible = self.main.visible_ids()
            board.apply_extras(await in_thread(board.read_extras, visible, focus))
            delay = board.finish()
        except Exception as exc:
            delay = board.fail(error_text(exc, self.backend.suggest))
            self.notify(board.error or "", title="refresh failed", severity="error", markup=False)
        try:
            self.quota_line = await in_thread(self.backend.quota_text)
        except Exception:
            self.quota_line = None
        self.main.redraw()
        if details is not None and details.is_attached:
            details.draw_bulk()
        self.next_at = self.backend.monotonic() + delay
        self._timer = self.set_timer(delay, self.refresh_now)
        self.tick()

    async def first_frame(self) -> None:
        """Wait (at most FIRST_FRAME_WAIT) until the first rows are on the terminal. The
        details and counts that follow are read in a thread, which competes with drawing
        for the interpreter: started at once, they held the first frame back until they were
        all read."""
        if self.screen is not self.main:
            return  # a covered screen is not repainted: nothing to wait for
        painted = asyncio.Event()
        if self.main.call_after_refresh(painted.set):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(painted.wait(), FIRST_FRAME_WAIT)

    def tick(self) -> None:
        if self.board.expire_marks() and self.main.is_attached:
            self.main.fill_table()
        line = self.status_line()
        for bar_widget in self.screen.query(KeyBar):
            bar_widget.update(line)

    def status_line(self) -> Text:
        line = Text(style="dim")
        if self.next_at is None:
            line.append("refreshing …")
        else:
            wait = max(0, round(self.next_at - self.backend.monotonic()))
            line.append(f"next refresh in {wait}s (every {self.board.interval:.0f}s while quiet)")
        quota = self.quota_line
        if quota:
            line.append("  ")
            line.append_text(safe(quota))
        return line

    async def on_event(self, event: events.Event) -> None:
        screen = self.screen if self._screen_stack else None
        early = isinstance(screen, ConfirmScreen) and not screen.accepts(event)
        if isinstance(event, events.Key) and early:
            return  # typed before the question was drawn: it answers nothing
        await super().on_event(event)

    # -- actions ------------------------------------------------------------------------------

    def action_act(self, action: str) -> None:
        self.acting.act(action)


async def settled(app: App[Any], pilot: Pilot[Any]) -> None:
    """Wait (in headless runs) until no worker is running and the screen has caught up."""
    for _ in range(100):
        await pilot.pause()
        running = [w for w in app.workers if w.is_running]
        if not running:
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            return
        await asyncio.gather(*(w.wait() for w in running), return_exceptions=True)
