"""The Textual app: the bulk table, a bulk's details, confirmations, and the refresh loop.

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
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.pilot import Pilot
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Static
from textual.worker import Worker

from bulkctl.actions import (
    CREATE,
    DEFAULT_MODE,
    PRODUCTION_ANSWER,
    Question,
    confirmation_text,
    invalid_state_text,
    question_for,
    refusal,
    rerun_confirmation_text,
    typed_production,
)
from bulkctl.api.records import MODES, OPERATION_STATUSES, BulkOperation, BulkProcess, is_bulk_id
from bulkctl.errors import BulkctlError, Conflict
from bulkctl.output.render import (
    AGE_FIELD,
    GAP,
    MIN_CUT_WIDTH,
    STATUS_STYLES,
    cells,
    cut_to,
    short_age,
)
from bulkctl.output.render import column_widths as render_widths
from bulkctl.ui.backend import Backend
from bulkctl.ui.board import (
    STATUS_KEYS,
    Board,
    age,
    group_failures,
    in_background,
    pretty_payload,
)
from bulkctl.ui.safe import safe, safe_str

if TYPE_CHECKING:
    from bulkctl.files.submission import RerunPlan

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


def items_text(bulk: BulkProcess) -> str:
    items = bulk.submitted_items_count
    return "-" if items is None else f"{items:,}"


def age_text(bulk: BulkProcess, now: float) -> str:
    """AGE as ``list`` shows it: since the bulk finished, else since it started."""
    return short_age(AGE_FIELD.value(bulk.raw, now)) or "-"


def bar(done: int, total: int, width: int) -> Text:
    filled = round(width * done / total) if total else 0
    text = Text("▰" * filled, style="green")
    text.append("▱" * (width - filled), style="dim")
    text.append(f" {100 * done // total:>3}%")
    return text


class KeyBar(Static):
    """The line under the keys: the next refresh and the quota state."""

    def on_mount(self) -> None:
        app = self.app
        if isinstance(app, BulkApp):
            self.update(app.status_line())


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(k, f"status_key('{k}')", show=False) for k in STATUS_KEYS),
        Binding("0", "clear_statuses", show=False),
        Binding("slash", "filter_operation", show=False),
        Binding("y", "copy_id", show=False),
        *(Binding(k, f"app.act('{a}')", show=False) for k, a in ACTION_KEYS.items()),
        Binding("f5", "app.refresh_now", show=False),
    ]
    KEYS = "⏎ open  1-7 status  0 all  / operation  y copy  x p r c R act  F5  q quit"

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Any, ...] | None = None  # what the table shows (see fill_table)

    def compose(self) -> ComposeResult:
        yield Static(id="where")
        yield Static(id="counts")
        yield Static(id="note")
        table: DataTable[Text] = DataTable(id="bulks", cursor_type="row", zebra_stripes=False)
        yield table
        yield OperationInput(placeholder="operation contains … (Enter applies, Esc cancels)")
        yield Static(Text(self.KEYS, style="dim"), id="keys")
        yield KeyBar(id="status")

    @property
    def bulk_app(self) -> BulkApp:
        assert isinstance(self.app, BulkApp)
        return self.app

    def on_mount(self) -> None:
        self.query_one(OperationInput).display = False
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.fill_table()  # the OPERATION column takes the width the others leave

    # -- drawing ------------------------------------------------------------------------------

    def redraw(self) -> None:
        app = self.bulk_app
        board = app.board
        where = app.backend.where
        line = Text("bulkctl ui  ", style="bold")
        if where.production:
            line.append(" PRODUCTION ", style="bold white on red")
        else:
            line.append_text(safe(where.environment, "bold"))
        line.append("  host ")
        line.append_text(safe(where.host))
        line.append("  profile ")
        line.append_text(safe(where.profile))
        self.query_one("#where", Static).update(line)
        counts = Text()
        for key, status in STATUS_KEYS.items():
            count = board.counts.get(status)
            shown = "-" if status not in board.counts else ("?" if count is None else f"{count:,}")
            chip = Text(f"{key} ")
            chip.append(status, style=STATUS_STYLES.get(status, ""))
            chip.append(f" {shown}")
            if status in board.selected:
                chip.stylize("reverse")
            counts.append_text(chip)
            counts.append("  ")
        self.query_one("#counts", Static).update(counts)
        self.query_one("#note", Static).update(self.note_text())
        self.fill_table()

    def note_text(self) -> Text:
        board = self.bulk_app.board
        if board.error:
            return safe(f"refresh failed, showing the last good data: {board.error}", "bold red")
        if not board.loaded:
            return Text("loading …", style="dim")
        parts = Text(style="dim")
        statuses = ", ".join(board.selected) if board.selected else "all statuses"
        if board.operation:
            parts.append("operation ")
            parts.append_text(safe(board.operation, "bold"))
            parts.append(f": {len(board.shown())} of the {len(board.rows)} loaded rows ")
            parts.append("(filters loaded rows only)")
        else:
            parts.append(f"newest {len(board.rows)} of {statuses}")
        return parts

    def column_widths(self, rows: list[BulkProcess]) -> dict[str, int]:
        """``list``'s 80-column rule (``render.column_widths``): ids, statuses, ITEMS, AGE and
        PROGRESS whole at their natural width; OPERATION takes what is left, cut with "…"."""
        now = self.bulk_app.backend.now()
        keys = ("id", "status", "operation", "items", "age", "progress")
        natural = [
            max([7] + [cells(safe_str(b.bulk_id or "?")) for b in rows]),
            max([6] + [cells(safe_str(b.status or "?")) for b in rows]),
            max([9] + [cells(safe_str(b.operation or "-")) for b in rows]),
            max([5] + [len(items_text(b)) for b in rows]),
            max([3] + [len(age_text(b, now)) for b in rows]),
            9,
        ]
        minimum = [0, 0, MIN_CUT_WIDTH, 0, 0, 0]
        cut = [False, False, True, False, False, False]
        # DataTable pads each cell by one on each side (GAP) and keeps 2 for the scrollbar
        room = self.size.width - 2 - (2 * len(keys) - GAP * (len(keys) - 1))
        widths = render_widths(natural, minimum, cut, room)
        return dict(zip(keys, widths, strict=True))

    def fill_table(self) -> None:
        """Refill the table, unless it already shows exactly this: a refill makes Textual
        measure and draw every row again, and start-up asks for several (mount, resizes,
        the first page) before the first frame."""
        app = self.bulk_app
        board = app.board
        table = self.query_one("#bulks", DataTable)
        rows = board.shown()
        widths = self.column_widths(rows)
        now = app.backend.now()
        shown = (
            tuple(widths.values()),
            tuple((b.key, b.status, b.operation, items_text(b), age_text(b, now)) for b in rows),
            tuple((board.marked(b.key), board.progress(b)) for b in rows),
        )
        if shown == self._shown:
            return
        self._shown = shown
        selected = self.selected_key()
        scroll_y = table.scroll_y
        table.clear(columns=True)
        for key, label in (
            ("id", "BULK ID"),
            ("status", "STATUS"),
            ("operation", "OPERATION"),
            ("items", "ITEMS"),
            ("age", "AGE"),
            ("progress", "PROGRESS"),
        ):
            table.add_column(
                Text(label, justify="right" if key in ("items", "age") else "left"),
                width=widths[key],
                key=key,
            )
        for bulk in rows:
            ident = safe(bulk.bulk_id or "?")
            if board.marked(bulk.key):
                ident.stylize("bold reverse")
            operation = Text(cut_to(safe_str(bulk.operation or "-"), widths["operation"]))
            progress = board.progress(bulk)
            table.add_row(
                ident,
                status_text(bulk.status),
                operation,
                Text(items_text(bulk), justify="right"),
                Text(age_text(bulk, now), justify="right"),
                bar(progress[0], progress[1], 4) if progress else Text(""),
                key=bulk.key,
            )
        if selected is not None and selected in {b.key for b in rows}:
            table.move_cursor(row=table.get_row_index(selected), scroll=False)
        table.scroll_to(y=scroll_y, animate=False, immediate=True)

    def selected_key(self) -> str | None:
        table = self.query_one("#bulks", DataTable)
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(row_key.value) if row_key.value is not None else None

    def selected_bulk(self) -> BulkProcess | None:
        key = self.selected_key()
        return next((b for b in self.bulk_app.board.rows if b.key == key), None)

    def visible_ids(self) -> list[str]:
        table = self.query_one("#bulks", DataTable)
        start = int(table.scroll_y)
        # before the first layout the table has no size yet: assume it fills the screen
        height = table.size.height - 1 if table.size.height > 1 else self.app.size.height
        rows = self.bulk_app.board.shown()[start : start + height]
        return [b.bulk_id for b in rows if b.bulk_id]

    # -- keys ---------------------------------------------------------------------------------

    def action_status_key(self, key: str) -> None:
        self.bulk_app.board.toggle(STATUS_KEYS[key])
        self.redraw()
        self.bulk_app.refresh_now()

    def action_clear_statuses(self) -> None:
        self.bulk_app.board.clear()
        self.redraw()
        self.bulk_app.refresh_now()

    def action_filter_operation(self) -> None:
        box = self.query_one(OperationInput)
        box.value = self.bulk_app.board.operation
        box.display = True
        box.focus()

    @on(Input.Submitted)
    def apply_operation(self, event: Input.Submitted) -> None:
        self.bulk_app.board.set_operation(event.value)
        self.close_filter()
        self.redraw()

    def close_filter(self) -> None:
        self.query_one(OperationInput).display = False
        self.query_one("#bulks", DataTable).focus()

    def action_copy_id(self) -> None:
        bulk = self.selected_bulk()
        if bulk is not None and bulk.bulk_id and not is_bulk_id(bulk.bulk_id):
            self.app.notify("not copied: that id is not digits only", markup=False)
        elif bulk is not None and is_bulk_id(bulk.bulk_id):  # OSC 52 carries digits only
            self.app.copy_to_clipboard(bulk.bulk_id or "")
            self.app.notify(safe_str(f"copied {bulk.bulk_id}"), markup=False)

    @on(DataTable.RowSelected, "#bulks")
    def open_details(self, event: DataTable.RowSelected) -> None:
        bulk = self.selected_bulk()
        if bulk is not None and bulk.bulk_id:
            self.app.push_screen(DetailScreen(bulk))


class OperationInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", show=False)]

    def action_cancel(self) -> None:
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.close_filter()


class DetailScreen(Screen[None]):
    """One bulk: its fields and progress, failures by errorCode, and its operations."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", show=False),
        Binding("s", "cycle_status", show=False),
        Binding("n", "more", show=False),
        Binding("y", "copy_id", show=False),
        *(Binding(k, f"app.act('{a}')", show=False) for k, a in ACTION_KEYS.items()),
        Binding("f5", "reload", show=False),
    ]
    KEYS = "esc back  s op status  n more  y copy  x p r c R act  F5 reload  q quit"

    def __init__(self, bulk: BulkProcess) -> None:
        super().__init__()
        self.bulk = bulk
        self.bulk_id = bulk.bulk_id or ""
        self.op_status: str | None = None
        self.operations: list[BulkOperation] = []
        self.ops_total: int | None = None
        self.failures: list[tuple[str, int]] | None = None
        self.failed_total: int | None = None
        self.loading = False
        self.problem: str | None = None

    @property
    def bulk_app(self) -> BulkApp:
        assert isinstance(self.app, BulkApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="fields")
        yield Static(id="failures")
        table: DataTable[Text] = DataTable(id="ops", cursor_type="row")
        yield table
        yield Static(id="payload")
        yield Static(Text(self.KEYS, style="dim"), id="keys")
        yield KeyBar(id="status")

    def on_mount(self) -> None:
        table = self.query_one("#ops", DataTable)
        table.add_column("SEQ", key="seq", width=6)
        table.add_column("STATUS", key="status", width=9)
        # fixed widths: an auto-sized column would change as pages arrive
        table.add_column("REQUEST", key="path", width=max(20, self.app.size.width - 27))
        self.draw_bulk()
        self.action_reload()

    # -- drawing ------------------------------------------------------------------------------

    def draw_bulk(self) -> None:
        bulk = self.bulk_app.board.details.get(self.bulk_id, self.bulk)
        title = Text("bulk ", style="bold")
        title.append_text(safe(self.bulk_id, "bold"))
        title.append("  ")
        title.append_text(status_text(bulk.status))
        title.append("  ")
        title.append_text(safe(bulk.operation or "-"))
        self.query_one("#title", Static).update(title)
        now = self.bulk_app.backend.now()
        grid = Table.grid(padding=(0, 2))
        for _ in range(4):
            grid.add_column()
        items = bulk.submitted_items_count
        grid.add_row(
            Text("items", style="bold"),
            Text("-" if items is None else f"{items:,}"),
            Text("mode", style="bold"),
            safe(bulk.mode or "-"),
        )
        grid.add_row(
            Text("started", style="bold"),
            Text(age(bulk.execution_start, now) + " ago" if bulk.execution_start else "-"),
            Text("finished", style="bold"),
            Text(age(bulk.execution_finish, now) + " ago" if bulk.execution_finish else "-"),
        )
        counts = Text()
        for entry in bulk.operation_status_counts:
            counts.append_text(safe(f"{entry.status or '?'} {entry.count or 0:,}  "))
        parts: list[RenderableType] = [grid]
        done = bulk.count_of("COMPLETED") + bulk.count_of("FAILED")
        if items and bulk.operation_status_counts:
            row = Table.grid(padding=(0, 1))
            row.add_row(
                Text("progress", style="bold"),
                ProgressBar(total=items, completed=min(done, items), width=30),
                Text(f"{min(done, items):,} / {items:,} ({100 * min(done, items) // items}%)"),
            )
            parts.append(row)
        parts.append(counts)
        self.query_one("#fields", Static).update(Group(*parts))
        self.draw_failures()

    def draw_failures(self) -> None:
        text = Text("failed by errorCode: ", style="bold")
        if self.problem:
            text = safe(self.problem, "bold red")
        elif self.failures is None:
            text.append("…", style="dim")
        elif not self.failures:
            text.append("none")
        else:
            for code, count in self.failures:
                text.append_text(safe(code, "red"))
                text.append(f" {count:,}  ")
            read = sum(c for _, c in self.failures)
            if self.failed_total is not None and self.failed_total > read:
                text.append(f"(first {read:,} of {self.failed_total:,} read)", style="dim")
        self.query_one("#failures", Static).update(text)

    def fill_operations(self) -> None:
        table = self.query_one("#ops", DataTable)
        table.clear()
        for op in self.operations:
            table.add_row(
                Text(str(op.sequence) if op.sequence is not None else "?"),
                status_text(op.status),
                safe(f"{op.method or '?'} {op.path or '?'}"),
            )
        shown = self.op_status or "all statuses"
        total = "?" if self.ops_total is None else f"{self.ops_total:,}"
        table.border_title = f"operations ({shown}): {len(self.operations):,} of {total} loaded"
        self.show_payload()

    def show_payload(self) -> None:
        table = self.query_one("#ops", DataTable)
        row = table.cursor_row
        if not self.operations or not 0 <= row < len(self.operations):
            self.query_one("#payload", Static).update(Text("no operation selected", style="dim"))
            return
        op = self.operations[row]
        text = Text(f"#{op.sequence} response ", style="bold")
        text.append_text(safe(pretty_payload(op.response_payload)))
        text.append(f"\n#{op.sequence} request  ", style="bold")
        text.append_text(safe(pretty_payload(op.request_payload)))
        self.query_one("#payload", Static).update(text)

    @on(DataTable.RowHighlighted, "#ops")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_payload()
        if event.cursor_row >= len(self.operations) - 1:
            self.action_more()

    # -- loading ------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.operations = []
        self.ops_total = None
        self.run_worker(self.load_all(), group="details", exclusive=True, exit_on_error=False)

    async def load_all(self) -> None:
        backend = self.bulk_app.backend
        try:
            bulk = await in_thread(backend.get_bulk, self.bulk_id)
            self.bulk_app.board.details[self.bulk_id] = bulk
            self.problem = None
            self.draw_bulk()
            if bulk.count_of("FAILED") > 0:
                failed = await in_thread(backend.operations, self.bulk_id, 0, FAILED_READ, "FAILED")
                self.failures = group_failures(failed.records)
                self.failed_total = failed.count
            else:
                self.failures = []
            self.draw_failures()
            await self.load_page()
        except Exception as exc:
            self.problem = error_text(exc, self.bulk_app.backend.suggest)
            self.draw_failures()

    async def load_page(self) -> None:
        if self.loading:
            return
        self.loading = True
        try:
            page = await in_thread(
                self.bulk_app.backend.operations,
                self.bulk_id,
                len(self.operations),
                OPS_PAGE,
                self.op_status,
            )
            self.operations.extend(page.records)
            self.ops_total = page.count
        finally:
            self.loading = False
        self.fill_operations()

    def action_more(self) -> None:
        if self.ops_total is not None and len(self.operations) >= self.ops_total:
            return
        if self.loading or self.ops_total is None:
            return
        self.run_worker(self.more_worker(), group="ops", exit_on_error=False)

    async def more_worker(self) -> None:
        try:
            await self.load_page()
        except Exception as exc:
            self.app.notify(
                error_text(exc, self.bulk_app.backend.suggest), severity="error", markup=False
            )

    def action_cycle_status(self) -> None:
        choices: list[str | None] = [None, *OPERATION_STATUSES]
        self.op_status = choices[(choices.index(self.op_status) + 1) % len(choices)]
        self.operations = []
        self.ops_total = None
        self.fill_operations()
        self.run_worker(self.more_worker(), group="ops", exclusive=True, exit_on_error=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_id(self) -> None:
        if not is_bulk_id(self.bulk_id):  # OSC 52 carries digits only
            self.app.notify("not copied: that id is not digits only", markup=False)
            return
        self.app.copy_to_clipboard(self.bulk_id)
        self.app.notify(safe_str(f"copied {self.bulk_id}"), markup=False)


class ConfirmScreen(ModalScreen[str | None]):
    """Yes or No (the default) before an action; for execute, ``m`` switches the mode.

    Keys that arrived before the question was drawn answer nothing (``BulkApp.on_event``
    drops them): a key typed while the bulk was read never meets a question unseen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", show=False),
        Binding("n", "answer(False)", show=False),
        Binding("escape", "answer(False)", show=False),
        Binding("m", "switch_mode", show=False),
    ]

    def __init__(
        self, action: str, bulk: BulkProcess, backend: Backend, question: str | None = None
    ) -> None:
        super().__init__()
        self.action = action
        self.bulk = bulk
        self.backend = backend
        self.mode = DEFAULT_MODE
        self.fixed_question = question  # rerun's, from its plan
        self.question = Text()
        self.drawn_at: float | None = None  # when the question was on screen, Textual's clock

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(id="question")
            with Horizontal(id="buttons"):
                yield Button("No", id="no", variant="primary")
                yield Button("Yes", id="yes", variant="error")
            hint = "y yes  n/esc no" + ("  m switch mode" if self.action == "execute" else "")
            yield Static(Text(hint, style="dim"))

    def on_mount(self) -> None:
        self.draw()
        self.answer_widget().focus()
        self.call_after_refresh(self.drawn)

    def drawn(self) -> None:
        from textual._time import get_time  # the clock Textual stamps each key with

        self.drawn_at = get_time()

    def accepts(self, event: events.Event) -> bool:
        """Whether a key may answer: only one pressed after the question was drawn."""
        return self.drawn_at is not None and event.time >= self.drawn_at

    def answer_widget(self) -> Widget:
        return self.query_one("#no", Button)

    def draw(self) -> None:
        where = self.backend.where
        words = self.fixed_question or confirmation_text(
            self.action, self.bulk.bulk_id or "?", self.bulk, where.text, self.mode
        )
        question = safe(words, "bold red" if where.production else "")
        self.question = question
        self.query_one("#question", Static).update(question)

    def action_switch_mode(self) -> None:
        if self.action == "execute":
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
            self.draw()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(self.mode if yes else None)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")


class ProductionConfirmScreen(ConfirmScreen, inherit_bindings=False):
    """Where the gate's table says so, a key is not enough (as in ``actions.ask``): the word
    ``production`` typed, then Enter, goes ahead; anything else, or Esc, does not. ↑/↓
    switch execute's mode (the letters go into the answer)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", show=False),
        Binding("up,down", "switch_mode", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(id="question")
            yield Input(placeholder=f"type {PRODUCTION_ANSWER} to go ahead", id="answer")
            hint = f"type {PRODUCTION_ANSWER}, then Enter  esc cancels"
            if self.action == "execute":
                hint += "  ↑↓ switch mode"
            yield Static(Text(hint, style="dim"))

    def answer_widget(self) -> Widget:
        return self.query_one("#answer", Input)

    @on(Input.Submitted, "#answer")
    def typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_answer(typed_production(event.value))


class TooSmallScreen(Screen[None]):
    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.size_seen = (width, height)

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def on_mount(self) -> None:
        self.draw(*self.size_seen)

    def draw(self, width: int, height: int) -> None:
        self.size_seen = (width, height)
        if not self.is_mounted:
            return
        self.query_one("#too-small", Static).update(
            Text(
                f"bulkctl ui needs at least {MIN_WIDTH}×{MIN_HEIGHT}; "
                f"this terminal is {width}×{height}. Make it larger, or press q.",
                justify="center",
            )
        )


class BulkApp(App[None]):
    """The whole ui over one ``Backend``; ``run()`` returns the exit code."""

    TITLE = "bulkctl ui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", priority=True, show=False),
        Binding("q", "quit", show=False),
    ]
    CSS = """
    #where, #counts, #note, #keys, #status { height: auto; padding: 0 1; }
    #bulks, #ops { height: 1fr; }
    #title, #fields, #failures { padding: 0 1; height: auto; }
    #payload { height: 5; padding: 0 1; overflow: hidden; }
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
        first_rows: Future[list[BulkProcess]] | None = None,
    ) -> None:
        super().__init__()
        self.first_rows = first_rows  # the first page, requested while Textual was loading
        self.backend = backend
        self.board = board or Board(backend)
        self.next_at: float | None = None
        self.quota_line: str | None = None  # read after each refresh, off the app's thread
        self.main = MainScreen()
        self._timer: Any = None
        self._tick: Any = None
        self._refresh_worker: Worker[None] | None = None
        self._too_small: TooSmallScreen | None = None

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_mount(self) -> None:
        if not self.is_headless:  # tests run headless and keep their own signals
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.terminated)
        self._tick = self.set_interval(1.0, self.tick)
        self.check_size(self.size.width, self.size.height)
        self.refresh_now()

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

    def current_bulk(self) -> BulkProcess | None:
        screen = self.screen
        if isinstance(screen, DetailScreen):
            return self.board.details.get(screen.bulk_id, screen.bulk)
        if isinstance(screen, MainScreen):
            return screen.selected_bulk()
        return None

    def action_act(self, action: str) -> None:
        bulk = self.current_bulk()
        if bulk is None or not bulk.bulk_id:
            return
        if not is_bulk_id(bulk.bulk_id):
            self.notify("this bulk's id is not digits only: no action can name it", markup=False)
            return
        if action == "rerun" and bulk.is_final and bulk.bulk_id not in self.board.details:
            # a listing carries no counts per operation status: read them before deciding
            self.run_worker(self.read_then_act(bulk.bulk_id, action), exit_on_error=False)
            return
        self.decide(action, self.board.details.get(bulk.bulk_id, bulk))

    async def read_then_act(self, bulk_id: str, action: str) -> None:
        try:
            bulk = await in_thread(self.backend.get_bulk, bulk_id)
        except Exception as exc:
            self.notify(
                error_text(exc, self.backend.suggest),
                title=f"cannot {action}",
                severity="error",
                markup=False,
            )
            return
        self.board.details[bulk_id] = bulk
        self.decide(action, bulk)

    def decide(self, action: str, bulk: BulkProcess) -> None:
        """The gate's verdict: refuse with the reason, or ask as the table says (the
        commands' question); nothing is sent before the answer."""
        bulk_id = bulk.bulk_id or ""
        if action == "rerun":
            reason = refusal("rerun", bulk)
            if reason is not None:
                self.notify(
                    safe_str(reason), title="cannot rerun", severity="warning", markup=False
                )
                return
            self.run_worker(self.plan_then_ask(bulk), exit_on_error=False)
            return
        decision = self.backend.decide(action, bulk)
        if decision.refused is not None:
            self.notify(
                safe_str(decision.refused),
                title=f"cannot {action}",
                severity="warning",
                markup=False,
            )
            return
        if decision.note is not None:
            self.notify(safe_str(decision.note), markup=False)

        def answered(mode: str | None) -> None:
            if mode is None:
                self.notify(safe_str(f"bulk {bulk_id}: {action} skipped"), markup=False)
                return
            self.run_worker(self.send_action(bulk_id, action, mode), exit_on_error=False)

        if decision.question is Question.NONE:
            answered(DEFAULT_MODE)
            return
        self.push_screen(
            self.confirmation(action, bulk, production=decision.question is Question.WORD), answered
        )

    async def plan_then_ask(self, bulk: BulkProcess) -> None:
        """Read the FAILED operations and plan the rerun, then ask (nothing is sent before Yes)."""
        bulk_id = bulk.bulk_id or ""
        self.notify(safe_str(f"bulk {bulk_id}: reading its FAILED operations …"), markup=False)
        try:
            plan = await in_thread(self.backend.plan_rerun, bulk_id)
        except Exception as exc:
            self.notify(
                error_text(exc, self.backend.suggest),
                title="cannot rerun",
                severity="error",
                markup=False,
            )
            return
        where = self.backend.where.text
        question = rerun_confirmation_text(bulk_id, plan.kind.name, len(plan.items), where)

        def answered(mode: str | None) -> None:
            if mode is None:
                self.notify(safe_str(f"bulk {bulk_id}: rerun skipped"), markup=False)
                return
            self.run_worker(self.send_rerun(plan), exit_on_error=False)

        asked = question_for(CREATE, self.backend.where.production)  # as submit and rerun ask
        if asked is Question.NONE:
            answered(DEFAULT_MODE)
            return
        screen = self.confirmation("rerun", bulk, question, production=asked is Question.WORD)
        self.push_screen(screen, answered)

    def confirmation(
        self, action: str, bulk: BulkProcess, question: str | None = None, *, production: bool
    ) -> ConfirmScreen:
        """The question before an action: Yes or No, or the word typed (as the gate says)."""
        screen = ProductionConfirmScreen if production else ConfirmScreen
        return screen(action, bulk, self.backend, question)

    async def send_rerun(self, plan: RerunPlan) -> None:
        try:
            outcomes = await in_thread(self.backend.submit_rerun, plan)
            for outcome in outcomes:
                said = "already submitted as" if outcome.already else "submitted as"
                count = outcome.operation_count
                self.notify(
                    safe_str(
                        f"bulk {plan.source_bulk}: rerun {said} bulk {outcome.bulk_id} "
                        f"({len(outcome.chunk.items) if count is None else count:,} operations, "
                        "SUBMITTED, not executed: x executes it)"
                    ),
                    markup=False,
                    timeout=15,
                )
        except Exception as exc:
            self.notify(
                error_text(exc, self.backend.suggest),
                title="rerun failed",
                severity="error",
                markup=False,
                timeout=15,
            )
        self.board.reset()
        self.refresh_now()

    async def send_action(self, bulk_id: str, action: str, mode: str) -> None:
        try:
            message = await in_thread(self.backend.act, bulk_id, action, mode)
            self.notify(safe_str(message), markup=False)
        except Conflict as exc:
            if exc.error_code == "INVALID_STATE":
                current = await in_thread(self.backend.current_status, bulk_id)
                message = invalid_state_text(bulk_id, action, current)
            else:
                message = " ".join(exc.lines())
            self.notify(
                safe_str(message), title=f"{action} refused", severity="error", markup=False
            )
        except Exception as exc:
            # OutcomeUnknown says it may or may not have happened, as the commands do
            self.notify(
                error_text(exc, self.backend.suggest),
                title=f"{action} failed",
                severity="error",
                markup=False,
                timeout=15,
            )
        self.board.reset()
        self.refresh_now()
        screen = self.screen
        if isinstance(screen, DetailScreen):
            screen.action_reload()


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
