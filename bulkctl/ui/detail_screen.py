"""A bulk's details: its fields, its progress by outcome, its failures grouped, and its
operations page by page, opening on FAILED when there are failures, the filter in the pane's
title (as k9s names its views)."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from bulkctl.api.records import (
    OPERATION_STATUSES,
    BulkOperation,
    BulkProcess,
    failure_reason,
    is_bulk_id,
)
from bulkctl.output.outcome import outcome_bar, outcome_of, outcome_words
from bulkctl.ui.board import (
    age,
    group_failures,
    pretty_payload,
)
from bulkctl.ui.parts import (
    ACTION_KEYS,
    FAILED_READ,
    OPS_PAGE,
    BoardApp,
    KeyBar,
    error_text,
    in_thread,
    status_text,
)
from bulkctl.ui.safe import safe, safe_str


def error_code_of(operation: BulkOperation) -> str | None:
    """The errorCode of an operation whose response payload is JSON that names one."""
    code, _ = failure_reason(operation.response_payload)
    if code is None or code == operation.response_payload:
        return None  # no payload, or not JSON naming a code: the payload is its own code
    return code


@runtime_checkable
class MainScreenLike(Protocol):
    def action_go_to(self) -> None: ...


class DetailScreen(Screen[None]):
    """One bulk: its fields and progress, failures by errorCode, and its operations."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", show=False),
        Binding("s", "cycle_status", show=False),
        Binding("colon", "go_to", show=False),
        Binding("n", "more", show=False),
        Binding("y", "copy_id", show=False),
        *(Binding(k, f"app.act('{a}')", show=False) for k, a in ACTION_KEYS.items()),
        Binding("f5", "reload", show=False),
    ]
    KEYS = "esc back  s status  n more  y copy  x p r c R m act  F5  ? keys  q quit"

    def __init__(self, bulk: BulkProcess) -> None:
        super().__init__()
        self.bulk = bulk
        self.bulk_id = bulk.bulk_id or ""
        self.op_status: str | None = None
        self.chosen = False  # the operator chose op_status with s: failures no longer lead
        self.operations: list[BulkOperation] = []
        self.ops_total: int | None = None
        self.failures: list[tuple[str, int]] | None = None
        self.failed_total: int | None = None
        self.loading = False
        self.problem: str | None = None

    @property
    def bulk_app(self) -> BoardApp:
        assert isinstance(self.app, BoardApp)
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
        if self.bulk.count_of("FAILED") > 0:
            self.op_status = "FAILED"  # failures first, as soon as the listing says so
        self.fill_operations()
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
        if items and bulk.operation_status_counts:
            outcome = outcome_of(bulk)
            row = Table.grid(padding=(0, 1))
            row.add_row(
                Text("progress", style="bold"),
                outcome_bar(outcome, 20),
                Text(outcome_words(outcome)),
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
        """The operations: SEQ, STATUS, ERROR CODE where a payload is JSON with errorCode,
        and the request (method and path) only where it differs between them: one
        repeated in every row goes to the pane's title."""
        table = self.query_one("#ops", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        requests = {f"{op.method or '?'} {op.path or '?'}" for op in self.operations}
        codes = [error_code_of(op) for op in self.operations]
        table.add_column("SEQ", key="seq", width=6)
        table.add_column("STATUS", key="status", width=9)
        if any(codes):
            table.add_column(
                "ERROR CODE", key="code", width=max(10, *map(len, filter(None, codes)))
            )
        if len(requests) > 1:
            # a fixed width: an auto-sized column would change as pages arrive
            table.add_column("REQUEST", key="path", width=max(20, self.app.size.width - 27))
        for op, code in zip(self.operations, codes, strict=True):
            cells = [
                Text(str(op.sequence) if op.sequence is not None else "?"),
                status_text(op.status),
            ]
            if any(codes):
                cells.append(safe(code or "-", "red" if code else ""))
            if len(requests) > 1:
                cells.append(safe(f"{op.method or '?'} {op.path or '?'}"))
            table.add_row(*cells)
        if self.operations and 0 <= row < len(self.operations):
            table.move_cursor(row=row, scroll=False)
        table.border_title = self.pane_title(requests)
        self.show_payload()

    def pane_title(self, requests: set[str]) -> Text:
        """'operations(FAILED)[50 of 75] POST /transfers': the filter always named (Text:
        a border title given as a string would be read as markup)."""
        shown = self.op_status or "all"
        total = "?" if self.ops_total is None else f"{self.ops_total:,}"
        title = Text(f"operations({shown})[{len(self.operations):,} of {total}]", style="bold")
        if len(requests) == 1:
            title.append(" ")
            title.append_text(safe(next(iter(requests))))
        title.append("  s: status", style="dim")
        return title

    def show_payload(self) -> None:
        table = self.query_one("#ops", DataTable)
        row = table.cursor_row
        if not self.operations or not 0 <= row < len(self.operations):
            shown = self.op_status or "no"
            empty = "loading …" if self.ops_total is None else f"{shown} operations: none"
            self.query_one("#payload", Static).update(Text(empty, style="dim"))
            return
        op = self.operations[row]
        text = Text(f"#{op.sequence} request  ", style="bold")
        text.append_text(safe(pretty_payload(op.request_payload)))
        text.append(f"\n#{op.sequence} response ", style="bold")
        text.append_text(safe(pretty_payload(op.response_payload)))
        self.query_one("#payload", Static).update(text)

    @on(DataTable.RowHighlighted, "#ops")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_payload()
        if event.cursor_row >= len(self.operations) - 1:
            self.action_more(quiet=True)

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
                if not self.chosen:  # failures first: that read is the first page
                    self.op_status = "FAILED"
                    self.operations = list(failed.records)
                    self.ops_total = failed.count
                    self.draw_failures()
                    self.fill_operations()
                    return
            else:
                self.failures = []
                if not self.chosen and self.op_status == "FAILED":
                    self.op_status = None  # the listing's counts were older: none failed
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

    def action_more(self, quiet: bool = False) -> None:
        if self.loading or self.ops_total is None:
            return
        if len(self.operations) >= self.ops_total:
            if not quiet:
                self.app.notify(f"all {self.ops_total:,} loaded", markup=False, timeout=3)
            return
        self.run_worker(self.more_worker(quiet), group="ops", exit_on_error=False)

    async def more_worker(self, quiet: bool = True) -> None:
        try:
            await self.load_page()
        except Exception as exc:
            self.app.notify(
                error_text(exc, self.bulk_app.backend.suggest), severity="error", markup=False
            )
            return
        if not quiet:
            total = "?" if self.ops_total is None else f"{self.ops_total:,}"
            self.app.notify(f"loaded {len(self.operations):,} of {total}", markup=False, timeout=3)

    def status_choices(self) -> list[str | None]:
        """What s cycles through: FAILED first, then the other statuses this bulk has
        operations in (none skipped when its counts are not known), then all."""
        bulk = self.bulk_app.board.details.get(self.bulk_id, self.bulk)
        known = bool(bulk.operation_status_counts)
        ordered = ["FAILED", *(s for s in OPERATION_STATUSES if s != "FAILED")]
        present = [s for s in ordered if not known or bulk.count_of(s) > 0]
        return [*present, None]

    def action_cycle_status(self) -> None:
        choices = self.status_choices()
        at = choices.index(self.op_status) if self.op_status in choices else -1
        self.op_status = choices[(at + 1) % len(choices)]
        self.chosen = True
        self.operations = []
        self.ops_total = None
        self.fill_operations()
        self.run_worker(self.more_worker(), group="ops", exclusive=True, exit_on_error=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_go_to(self) -> None:
        """``:`` here as on the list: the id is typed there, and its bulk opens."""
        self.app.pop_screen()
        main = self.app.screen
        if isinstance(main, MainScreenLike):
            main.action_go_to()

    def action_copy_id(self) -> None:
        if not is_bulk_id(self.bulk_id):  # OSC 52 carries digits only
            self.app.notify("not copied: that id is not digits only", markup=False)
            return
        self.app.copy_to_clipboard(self.bulk_id)
        self.app.notify(safe_str(f"copied {self.bulk_id}"), markup=False)
