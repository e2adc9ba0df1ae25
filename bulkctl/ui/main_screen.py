"""The main screen: the bulk table, its status keys, going to an id, the operation filter,
more rows, and the order."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import JustifyMethod
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from bulkctl.api.records import BulkProcess, is_bulk_id
from bulkctl.output.outcome import outcome_bar
from bulkctl.output.render import (
    GAP,
    STATUS_STYLES,
    Field,
    cells,
    cut_to,
    fit_columns,
)
from bulkctl.output.tables import cut_path
from bulkctl.ui.board import PROGRESS_FIELD, PROGRESS_WIDTH, STATUS_KEYS, board_cell, board_fields
from bulkctl.ui.detail_screen import DetailScreen
from bulkctl.ui.parts import ACTION_KEYS, BoardApp, KeyBar, status_text
from bulkctl.ui.safe import safe, safe_str

SHORT_STATUS = {  # the header's names when the full ones do not fit on one line
    "SUBMITTED": "SUBM",
    "RUNNING": "RUN",
    "PARTIALLY_COMPLETED": "PART",
    "COMPLETED": "COMPL",
    "FAILED": "FAIL",
    "PAUSED": "PAUSE",
    "CANCELLED": "CANC",
}
CHIP_GAP = "  "


def header_lines(chips: list[Text], width: int) -> Text:
    """The chips on as few lines as fit ``width``, broken only between chips."""
    lines: list[Text] = [Text()]
    for chip in chips:
        line = lines[-1]
        if line.cell_len and line.cell_len + len(CHIP_GAP) + chip.cell_len > width:
            lines.append(Text())
            line = lines[-1]
        if line.cell_len:
            line.append(CHIP_GAP)
        line.append_text(chip)
    return Text("\n").join(lines)


class OperationInput(Input):
    """Below the table: an id to go to (``:``), or an operation filter or id (``/``)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", show=False)]
    ids_only = False

    def action_cancel(self) -> None:
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.close_filter()


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(k, f"status_key('{k}')", show=False) for k in STATUS_KEYS),
        Binding("0", "clear_statuses", show=False),
        Binding("slash", "filter_operation", show=False),
        Binding("colon", "go_to", show=False),
        Binding("n", "more", show=False),
        Binding("o", "sort", show=False),
        Binding("y", "copy_id", show=False),
        *(Binding(k, f"app.act('{a}')", show=False) for k, a in ACTION_KEYS.items()),
        Binding("f5", "app.refresh_now", show=False),
    ]
    KEYS = "⏎ open  : id  0-7 status  / filter  n more  o sort  x p r c R m act  ? keys"

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Any, ...] | None = None  # what the table shows (see fill_table)

    def compose(self) -> ComposeResult:
        yield Static(id="where")
        yield Static(id="counts")
        yield Static(id="note")
        table: DataTable[Text] = DataTable(id="bulks", cursor_type="row", zebra_stripes=False)
        yield table
        yield OperationInput()
        yield Static(Text(self.KEYS, style="dim"), id="keys")
        yield KeyBar(id="status")

    @property
    def bulk_app(self) -> BoardApp:
        assert isinstance(self.app, BoardApp)
        return self.app

    def on_mount(self) -> None:
        self.query_one(OperationInput).display = False
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.fill_table()  # the OPERATION column takes the width the others leave

    # -- drawing ------------------------------------------------------------------------------

    def redraw(self) -> None:
        app = self.bulk_app
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
        self.query_one("#counts", Static).update(self.counts_text())
        self.query_one("#note", Static).update(self.note_text())
        self.fill_table()

    def counts_text(self) -> Text:
        """A chip per status ("5 FAILED 30"), on one line where it fits (short names when
        the full ones do not), else broken between chips, never inside one."""
        board = self.bulk_app.board
        width = max(self.size.width or self.app.size.width, 20) - 2  # the padding
        for names in ({s: s for s in STATUS_KEYS.values()}, SHORT_STATUS):
            chips: list[Text] = []
            for key, status in STATUS_KEYS.items():
                count = board.counts.get(status)
                known = status in board.counts
                shown = "-" if not known else ("?" if count is None else f"{count:,}")
                chip = Text(f"{key} ")
                chip.append(names.get(status, status), style=STATUS_STYLES.get(status, ""))
                chip.append(f" {shown}")
                if status in board.selected:
                    chip.stylize("reverse")
                chips.append(chip)
            text = header_lines(chips, width)
            if "\n" not in text.plain:
                return text
        return text

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
            total = board.total()
            of = "" if total is None else f" of {total:,}"
            parts.append(f"newest {len(board.rows):,}{of} ({statuses})")
            if board.has_more():
                parts.append(" · n more")
        parts.append(f" · by {board.sort}")
        if board.as_of is not None:
            parts.append(f" · data as of {self.bulk_app.backend.clock_text(board.as_of)}")
        return parts

    def columns(self, rows: list[BulkProcess]) -> tuple[list[Field], list[int], list[list[str]]]:
        """``list``'s columns laid out by ``list``'s rule (render's ``fit_columns``): the
        columns that fit, their widths, and each row's texts. Ids, statuses and numbers keep
        their natural width, OPERATION takes what is left, cut with "…", and the least needed
        columns go when even that does not fit."""
        now = self.bulk_app.backend.now()
        fields = board_fields()
        texts = [[board_cell(f, b, now) for f in fields] for b in rows]
        sizes = [
            [
                PROGRESS_WIDTH if f is PROGRESS_FIELD else cells(t)
                for f, t in zip(fields, row, strict=True)
            ]
            for row in texts
        ]
        headers = [f.header for f in fields]
        if not rows:  # the header alone; PROGRESS keeps the bar's width
            sizes = [[PROGRESS_WIDTH if f is PROGRESS_FIELD else 0 for f in fields]]
        # DataTable pads each cell by one on each side (GAP) and keeps 2 for the scrollbar
        room = self.size.width - 2 - (2 * len(fields) - GAP * (len(fields) - 1))
        keep, widths = fit_columns(fields, headers, sizes, room)
        return [fields[i] for i in keep], widths, [[row[i] for i in keep] for row in texts]

    def fill_table(self) -> None:
        """Refill the table, unless it already shows exactly this: a refill makes Textual
        measure and draw every row again, and start-up asks for several (mount, resizes,
        the first page) before the first frame."""
        board = self.bulk_app.board
        table = self.query_one("#bulks", DataTable)
        rows = board.shown()
        fields, widths, texts = self.columns(rows)
        shown = (
            tuple(f.name for f in fields),
            tuple(widths),
            tuple((b.key, *row) for b, row in zip(rows, texts, strict=True)),
            tuple((board.marked(b.key), board.outcome(b)) for b in rows),
        )
        if shown == self._shown:
            return
        self._shown = shown
        selected = self.selected_key()
        scroll_y = table.scroll_y
        table.clear(columns=True)
        for f, width in zip(fields, widths, strict=True):
            justify: JustifyMethod = "right" if f.right else "left"
            table.add_column(Text(f.header, justify=justify), width=width, key=f.name)
        for bulk, row in zip(rows, texts, strict=True):
            cells_of_row = [
                self.cell(bulk, f, text, width)
                for f, text, width in zip(fields, row, widths, strict=True)
            ]
            table.add_row(*cells_of_row, key=bulk.key)
        if selected is not None and selected in {b.key for b in rows}:
            table.move_cursor(row=table.get_row_index(selected), scroll=False)
        table.scroll_to(y=scroll_y, animate=False, immediate=True)

    def cell(self, bulk: BulkProcess, field: Field, text: str, width: int) -> Text:
        """One cell: the id marked when its row changed, statuses in colour, the progress
        bar, the cuttable columns cut to their width, numbers to the right."""
        board = self.bulk_app.board
        if field is PROGRESS_FIELD:
            outcome = board.outcome(bulk)
            if outcome is None or not outcome.total:
                return Text("…", style="dim", justify="right")  # not read: not 0%
            shown = outcome_bar(outcome, 4)
            shown.append(f" {100 * min(outcome.ended, outcome.total) // outcome.total:>3}%")
            return shown
        if field.kind == "status":
            return status_text(bulk.status)
        if field.cut:  # a path keeps its end, which tells kinds apart (as list's table)
            text = cut_path(text, width) if field.kind == "path" else cut_to(text, width)
        shown = Text(text, justify="right" if field.right else "left")
        if field.name == "bulkId" and board.marked(bulk.key):
            shown.stylize("bold reverse")
        return shown

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
        self.open_input("operation contains …, or a bulk id (Enter, Esc cancels)", ids_only=False)
        self.query_one(OperationInput).value = self.bulk_app.board.operation

    def action_go_to(self) -> None:
        self.open_input("go to bulk id (Enter, Esc cancels)", ids_only=True)

    def open_input(self, placeholder: str, *, ids_only: bool) -> None:
        box = self.query_one(OperationInput)
        box.placeholder = placeholder
        box.ids_only = ids_only
        box.value = ""
        box.display = True
        box.focus()

    @on(Input.Submitted)
    def apply_operation(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        ids_only = self.query_one(OperationInput).ids_only
        self.close_filter()
        if is_bulk_id(text):
            self.bulk_app.go_to(text)
        elif ids_only:
            if text:
                self.app.notify(safe_str(f"not a bulk id: {text} (digits only)"), markup=False)
        else:
            self.bulk_app.board.set_operation(text)
            self.redraw()

    def action_more(self) -> None:
        self.bulk_app.load_more()

    def action_sort(self) -> None:
        order = self.bulk_app.board.next_sort()
        self.redraw()
        self.app.notify(f"sorted by {order}", markup=False, timeout=2)

    @on(DataTable.RowHighlighted, "#bulks")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        board = self.bulk_app.board
        if event.cursor_row >= len(board.shown()) - 1 and board.has_more():
            self.bulk_app.load_more(quiet=True)  # at the end of the rows: read the next page

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
