"""bulkctl ui driven headless by Textual's pilot, over the in-process emulator on a clock
that stands still: filters, details, every action with Yes and No, refusals, a failing
refresh, hostile strings on every screen, the size check and quitting."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual", reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'")

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from bulkctl.emulator import submissions as emulator_submissions
from bulkctl.emulator.app import Emulator
from bulkctl.output import fields
from bulkctl.output.render import BULK_TABLE_FIELDS, Field, local_time
from bulkctl.ui.app import (
    BulkApp,
    ConfirmScreen,
    DetailScreen,
    MainScreen,
    ProductionConfirmScreen,
    TooSmallScreen,
    settled,
)
from bulkctl.ui.backend import Backend
from tests.conftest import ManualClock, in_process, make_emulator

pytestmark = pytest.mark.anyio  # anyio (an httpx dependency) runs the async tests


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


HOSTILE = "[/][@click=app.quit]x\x1b[2J\x07\x9b"
SHOWN = "[/][@click=app.quit]x\\x1b[2J\\x07\\x9b"


@dataclass
class Ui:
    app: BulkApp
    pilot: Pilot[Any]
    emulator: Emulator
    clock: ManualClock

    async def press(self, *keys: str) -> None:
        for key in keys:
            await self.pilot.press(key)
            await settled(self.app, self.pilot)

    def text(self) -> str:
        """The screen as plain text (no colours), as a person would read it."""
        width, height = self.app.size
        console = Console(
            width=width, height=height, file=io.StringIO(), color_system=None, record=True
        )
        console.print(
            self.app.screen._compositor.render_update(
                full=True, screen_stack=self.app._background_screens
            )
        )
        return console.export_text()

    def words(self) -> str:
        """The screen's words with line breaks and padding squeezed out (lines wrap at 80)."""
        return " ".join(self.text().split())

    def notes(self) -> list[str]:
        return [n.message for n in self.app._notifications]

    def posts(self) -> list[str]:
        return [url for method, url in self.emulator.requests if method == "POST"]

    def select(self, status: str) -> str:
        """Put the cursor on the first loaded row in ``status``; its id."""
        screen = self.app.screen
        assert isinstance(screen, MainScreen)
        rows = self.app.board.shown()
        index = next(i for i, b in enumerate(rows) if b.status == status)
        screen.query_one("#bulks", DataTable).move_cursor(row=index)
        return rows[index].bulk_id or ""


@asynccontextmanager
async def running_ui(
    tmp_path: Path,
    emulator: Emulator | None = None,
    size: tuple[int, int] = (80, 24),
    quota: Callable[[], str | None] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Ui]:
    if emulator is None:
        emulator, clock = make_emulator()
    else:
        clock = emulator.clock  # type: ignore[assignment]
    run = in_process(tmp_path, emulator, clock, env=env)
    app = BulkApp(Backend.from_context(run.ctx, now=clock, monotonic=clock, quota=quota))
    async with app.run_test(size=size, notifications=True) as pilot:
        await settled(app, pilot)
        yield Ui(app, pilot, emulator, clock)


async def test_the_main_screen_shows_counts_where_and_the_newest_bulks(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        text = ui.text()
        newest = ui.emulator.state.order[0]
        assert newest in text
        assert "profile default" in text and "host 127.0.0.1:9" in text
        assert "2 RUN 10" in text  # at 80 columns, the short names keep the header on a line
        assert "next refresh in 5s" in text


async def test_the_first_rows_are_drawn_before_details_and_counts_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in a thread at once, details and counts held the first frame back (start-up)."""
    emulator, clock = make_emulator()
    backend = Backend.from_context(in_process(tmp_path, emulator, clock).ctx, now=clock)
    app = BulkApp(backend)
    events: list[str] = []
    for name in ("count", "get_bulk"):
        read = getattr(backend, name)
        monkeypatch.setattr(
            backend, name, lambda *a, _read=read: events.append("read") or _read(*a)
        )
    display = app._display  # Textual's one way to the terminal, called headless too

    def frame(screen: Any, renderable: Any) -> None:
        if renderable is not None and screen is app.main and app.board.loaded:
            events.append("frame")
        display(screen, renderable)

    monkeypatch.setattr(app, "_display", frame)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        assert "read" in events and "frame" in events
        assert events.index("frame") < events.index("read")
        assert app.board.counts and emulator.state.order[0] in {b.bulk_id for b in app.board.rows}


async def test_a_refresh_that_changes_nothing_leaves_the_table_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_ui(tmp_path) as ui:
        table = ui.app.main.query_one("#bulks", DataTable)
        refills: list[bool] = []
        clear = table.clear
        monkeypatch.setattr(
            table, "clear", lambda columns=False: [refills.append(columns), clear(columns)][1]
        )
        await ui.press("f5")
        assert refills == []  # nothing to measure and draw again
        ui.clock.advance(120)  # bulks moved on, and every AGE with them
        await ui.press("f5")
        assert refills  # rows, then their progress
        assert ui.emulator.state.order[0] in ui.text()


async def test_status_keys_toggle_server_filters_and_0_clears_them(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        await ui.press("5")
        assert ui.app.board.selected == ["FAILED"]
        assert {b.status for b in ui.app.board.rows} == {"FAILED"}
        assert any(url.endswith("status=FAILED") for _, url in ui.emulator.requests)
        await ui.press("2")
        assert ui.app.board.selected == ["RUNNING", "FAILED"]
        assert "newest" in ui.text() and "RUNNING, FAILED" in ui.text()
        await ui.press("0")
        assert ui.app.board.selected == []
        assert len({b.status for b in ui.app.board.rows}) > 2


async def test_the_operation_filter_says_it_applies_to_loaded_rows(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        sent = len(ui.emulator.requests)
        await ui.press("slash", *"sends", "enter")
        assert ui.app.board.operation == "sends"
        assert all("sends" in (b.operation or "") for b in ui.app.board.shown())
        assert "of the 100 loaded rows (filters loaded rows only)" in ui.text()
        assert len(ui.emulator.requests) == sent  # client-side: nothing sent
        await ui.press("slash", "escape")
        assert ui.app.board.operation == "sends"


async def test_enter_opens_details_and_escape_goes_back(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("FAILED")
        await ui.press("enter")
        screen = ui.app.screen
        assert isinstance(screen, DetailScreen) and screen.bulk_id == bulk_id
        text = ui.text()
        assert f"bulk {bulk_id}" in text
        assert "failed by errorCode:" in text and "progress" in text
        first = screen.operations[0].sequence
        assert f"#{first} request  {{" in text and f"#{first} response {{" in text
        assert screen.operations and screen.failures
        assert screen.op_status == "FAILED"  # failures first
        assert "operations(FAILED)[" in text
        bulk = ui.app.board.details[bulk_id]
        present = [s for s in ("COMPLETED", "CANCELLED") if bulk.count_of(s) > 0]
        for expected in [*present, None]:  # s skips statuses with no operations
            await ui.press("s")
            assert screen.op_status == expected
            assert f"operations({expected or 'all'})[" in ui.text()
            assert screen.operations
        await ui.press("escape")
        assert isinstance(ui.app.screen, MainScreen)


async def test_operations_are_paged_on_demand(tmp_path: Path) -> None:
    emulator, _ = make_emulator()
    big = next(
        b for b in emulator.state.bulks.values() if b.status == "COMPLETED" and b.items > 120
    )
    emulator.state.order.remove(big.bulk_id)
    emulator.state.order.insert(0, big.bulk_id)
    emulator.state._version += 1
    async with running_ui(tmp_path, emulator) as ui:
        ui.select("COMPLETED")
        await ui.press("enter")
        screen = ui.app.screen
        assert isinstance(screen, DetailScreen) and len(screen.operations) == 50
        await ui.press("n")
        assert len(screen.operations) == 100


@pytest.mark.parametrize(
    ("key", "action", "status", "after"),
    [
        ("x", "execute", "SUBMITTED", "RUNNING"),
        ("p", "pause", "RUNNING", "PAUSED"),
        ("r", "resume", "PAUSED", "RUNNING"),
        ("c", "cancel", "RUNNING", "CANCELLED"),
    ],
)
async def test_each_action_asks_first_and_no_sends_nothing(
    tmp_path: Path, key: str, action: str, status: str, after: str
) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select(status)
        await ui.press(key)
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen)
        question = dialog.question.plain
        assert question.startswith(
            f"{action} bulk {bulk_id} on custom base URL (127.0.0.1:9, profile default): "
        )
        # the commands' own words (bulkctl.actions.confirmation_text)
        assert " × /" in question
        if action == "execute":
            assert question.endswith(", ON_FAILURE_STOP?")
        else:
            assert f", now {status}" in question
            assert ("cannot be undone" in question) == (action == "cancel")
        assert bulk_id in ui.text() and "No" in ui.text()
        await ui.press("enter")  # No is the default
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert ui.posts() == []
        assert f"bulk {bulk_id}: {action} skipped" in ui.notes()
        await ui.press(key, "y")
        assert ui.posts() == [f"/multi/bulks/{bulk_id}/{action}"]
        assert any(f"bulk {bulk_id}: {action} accepted" in n for n in ui.notes())
        assert ui.emulator.state.bulks[bulk_id].status == after
        assert ui.app.board.interval == 5.0


async def test_execute_sends_the_mode_chosen_in_the_dialog(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("SUBMITTED")
        await ui.press("x", "m")
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question.plain.endswith(", ON_FAILURE_CONTINUE?")
        await ui.press("y")
        assert ui.emulator.state.bulks[bulk_id].mode == "ON_FAILURE_CONTINUE"


PRODUCTION = {"BULKCTL_BASE_URL": "https://api.weavr.io/multi"}  # served in-process all the same


@pytest.mark.parametrize(
    ("key", "action", "status"),
    [("x", "execute", "SUBMITTED"), ("r", "resume", "PAUSED"), ("c", "cancel", "RUNNING")],
)
async def test_on_production_only_the_word_production_goes_ahead(
    tmp_path: Path, key: str, action: str, status: str
) -> None:
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select(status)
        await ui.press(key)
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question.plain.startswith(
            f"{action} bulk {bulk_id} on PRODUCTION (api.weavr.io, profile default): "
        )
        assert "type production, then Enter esc cancels" in ui.words()
        await ui.press("y", "enter")  # a key is not enough here
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert f"bulk {bulk_id}: {action} skipped" in ui.notes()
        await ui.press(key, *"prod", "enter")
        await ui.press(key, "escape")
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert ui.posts() == []
        await ui.press(key, *"Production", "enter")  # the word itself, as the commands want
        assert ui.posts() == []
        await ui.press(key, *" production ", "enter")  # spaces around it aside
        assert ui.posts() == [f"/multi/bulks/{bulk_id}/{action}"]
        assert any(f"bulk {bulk_id}: {action} accepted (production" in n for n in ui.notes())


async def test_on_production_pause_is_a_yes_or_no_as_in_the_commands(tmp_path: Path) -> None:
    """Pause stops money from moving: the gate's table asks y/N for it everywhere."""
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select("RUNNING")
        await ui.press("p")
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen) and not isinstance(dialog, ProductionConfirmScreen)
        await ui.press("n")
        assert ui.posts() == []
        await ui.press("p")
        await ui.press("y")
        assert ui.posts() == [f"/multi/bulks/{bulk_id}/pause"]


async def test_on_production_arrows_switch_the_mode_and_letters_are_the_answer(
    tmp_path: Path,
) -> None:
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select("SUBMITTED")
        await ui.press("x", "m", "up")  # m is a letter of the answer; the arrow switches
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question.plain.endswith(", ON_FAILURE_CONTINUE?")
        await ui.press("enter")  # "m" is not the word
        assert ui.posts() == []
        await ui.press("x", "down", "down", *"production", "enter")
        assert ui.posts() == [f"/multi/bulks/{bulk_id}/execute"]
        assert ui.emulator.state.bulks[bulk_id].mode == "ON_FAILURE_STOP"


async def test_on_production_a_rerun_asks_for_the_word_too(tmp_path: Path) -> None:
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select("FAILED")
        await ui.press("R", "y", "enter")
        assert ui.posts() == []
        assert f"bulk {bulk_id}: rerun skipped" in ui.notes()
        await ui.press("R", *"production", "enter")
        assert len(ui.posts()) == 1 and not ui.posts()[0].endswith("/execute")


@pytest.mark.parametrize(
    ("key", "status", "words"),
    [
        ("p", "COMPLETED", "is COMPLETED; only a RUNNING bulk can be paused"),
        ("x", "FAILED", "is FAILED; only a SUBMITTED bulk can be executed"),
        ("r", "RUNNING", "is RUNNING; only a PAUSED bulk can be resumed"),
        ("c", "SUBMITTED", "is SUBMITTED; only a RUNNING or PAUSED bulk can be cancelled"),
        ("R", "RUNNING", "is RUNNING; only a final bulk can be rerun"),
    ],
)
async def test_a_key_the_status_forbids_says_why_and_sends_nothing(
    tmp_path: Path, key: str, status: str, words: str
) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select(status)
        sent = len(ui.emulator.requests)
        await ui.press(key)
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert any(bulk_id in n and words in n for n in ui.notes())
        assert len(ui.emulator.requests) == sent


async def test_rerun_submits_the_failed_operations_without_executing_or_asking_off_production(
    tmp_path: Path,
) -> None:
    """As ``rerun`` without --execute: creating a bulk starts nothing, so off production
    the gate's table asks nothing (its execute, the x key, asks)."""
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("FAILED")
        source = ui.emulator.state.bulks[bulk_id]
        before = set(ui.emulator.state.bulks)
        await ui.press("R")
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert len(ui.posts()) == 1 and not ui.posts()[0].endswith("/execute")
        new = [b for i, b in ui.emulator.state.bulks.items() if i not in before]
        assert len(new) == 1 and new[0].status == "SUBMITTED"
        assert new[0].operation == source.operation
        assert any(f"rerun submitted as bulk {new[0].bulk_id}" in n for n in ui.notes())
        await ui.press("R")  # the journal knows it: nothing is sent twice
        assert len(ui.posts()) == 1
        assert any(f"rerun already submitted as bulk {new[0].bulk_id}" in n for n in ui.notes())


async def test_rerun_needs_failed_operations(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("COMPLETED")
        await ui.press("R")
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert any(f"bulk {bulk_id} has no FAILED operations" in n for n in ui.notes())
        assert ui.posts() == []


async def test_a_stale_status_answered_invalid_state_is_explained(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("RUNNING")
        ui.emulator.state.act(bulk_id, "pause", ui.clock())  # changed behind the ui's back
        await ui.press("p", "y")
        assert any(
            f"bulk {bulk_id} is PAUSED; only a RUNNING bulk can be paused" in n for n in ui.notes()
        )


async def test_a_failed_refresh_keeps_the_last_good_data_and_shows_the_error(
    tmp_path: Path,
) -> None:
    async with running_ui(tmp_path) as ui:
        rows = list(ui.app.board.rows)
        ui.emulator.faults.fail_rate = 1.0
        await ui.press("f5")
        assert ui.app.board.rows == rows
        text = ui.text()
        assert "refresh failed, showing the last good data" in text
        assert rows[0].bulk_id in text
        assert any("server error" in n for n in ui.notes())
        assert ui.app.is_running
        ui.emulator.faults.fail_rate = 0.0
        await ui.press("f5")
        assert "refresh failed, showing" not in ui.text()


async def test_hostile_strings_stay_text_on_every_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = make_emulator()
    monkeypatch.setitem(emulator_submissions.FAILURE_CODES, HOSTILE, (HOSTILE,))
    state = emulator.state
    failed = next(b for b in state.bulks.values() if b.status == "FAILED")
    failed.operation = HOSTILE
    odd = next(b for b in state.bulks.values() if b.status == "COMPLETED")
    odd.status = HOSTILE
    waiting = next(b for b in state.bulks.values() if b.status == "SUBMITTED")
    waiting.operation = HOSTILE
    for bulk in (waiting, odd, failed):
        state.order.remove(bulk.bulk_id)
        state.order.insert(0, bulk.bulk_id)
    state._version += 1
    async with running_ui(tmp_path, emulator, size=(120, 40)) as ui:
        main = ui.text()
        assert SHOWN in main and "\x1b" not in main
        # a status nobody knows: the server decides; the gate's note names it, escaped
        ui.select(HOSTILE)
        await ui.press("c")
        assert any(SHOWN in n and "left to the server" in n for n in ui.notes())
        assert isinstance(ui.app.screen, ConfirmScreen)
        await ui.press("n")
        ui.select("SUBMITTED")
        await ui.press("x")
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen) and SHOWN in dialog.question.plain
        assert "\x1b" not in ui.text()
        await ui.press("n")
        ui.select("FAILED")
        await ui.press("enter")
        details = ui.text()
        # the title, failures by errorCode, the operations' pane title and error codes
        assert details.count("[/][@click=app.quit]") >= 4
        assert "\\x1b[2J" in details and "\x1b" not in details
        await ui.press("escape")
        assert isinstance(ui.app.screen, MainScreen) and ui.app.is_running
        assert ui.app.return_code is None


async def test_below_60x15_it_says_so_instead_of_drawing(tmp_path: Path) -> None:
    async with running_ui(tmp_path, size=(50, 12)) as ui:
        assert isinstance(ui.app.screen, TooSmallScreen)
        assert "needs at least 60×15" in ui.text() and "50×12" in ui.text()
        await ui.pilot.resize_terminal(80, 24)
        await settled(ui.app, ui.pilot)
        assert isinstance(ui.app.screen, MainScreen)


async def test_y_copies_the_selected_id(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("RUNNING")
        await ui.press("y")
        assert ui.app.clipboard == bulk_id


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_q_and_ctrl_c_quit_with_0_even_with_a_request_in_flight(
    tmp_path: Path, key: str
) -> None:
    async with running_ui(tmp_path) as ui:
        ui.emulator.faults.latency_ms = 3000
        ui.app.refresh_now()
        await ui.pilot.pause()
        assert any(w.is_running for w in ui.app.workers)
        await ui.pilot.press(key)
        await ui.pilot.pause()
        assert ui.app.return_code == 0
        assert ui.app.backend.closed


async def test_the_footer_shows_the_quota_state_from_the_pacer(tmp_path: Path) -> None:
    async with running_ui(tmp_path, quota=lambda: "paced: 12 of 100 this minute") as ui:
        ui.app.tick()
        await ui.pilot.pause()
        assert "next refresh in 5s" in ui.text()
        assert "paced: 12 of 100 this minute" in ui.text()


async def test_an_action_without_an_answer_says_it_may_or_may_not_have_happened(
    tmp_path: Path,
) -> None:
    async with running_ui(tmp_path) as ui:
        bulk_id = ui.select("RUNNING")
        await ui.press("p")
        ui.emulator.faults.drop_rate = 1.0  # the connection closes before any answer
        await ui.press("y")
        sent = [n for n in ui.notes() if f"pause bulk {bulk_id}" in n]
        assert sent and "may or may not have happened" in sent[-1]
        assert "check before trying again" in sent[-1]
        assert len(ui.posts()) == 1  # a state change is never repeated blindly


def main_columns(ui: Ui) -> list[tuple[str, str]]:
    """The main table's columns as drawn: (key, header)."""
    table = ui.app.main.query_one("#bulks", DataTable)
    return [(str(key.value), column.label.plain) for key, column in table.columns.items()]


async def test_the_main_table_has_lists_columns_then_progress(tmp_path: Path) -> None:
    """One declaration: the ui's columns are those of ``list``'s table on a terminal."""
    async with running_ui(tmp_path, size=(160, 40)) as ui:
        listed = [(f.name, f.header) for f in BULK_TABLE_FIELDS if not f.wide_only]
        assert main_columns(ui) == [*listed, ("progress", "PROGRESS")]
        assert ("mode", "MODE") in main_columns(ui)  # the column the ui once left out


async def test_a_column_added_to_lists_table_reaches_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = Field("executionStart", "STARTED", "time")
    monkeypatch.setattr(fields, "BULK_TABLE_FIELDS", (*fields.BULK_TABLE_FIELDS, started))
    async with running_ui(tmp_path, size=(200, 40)) as ui:
        assert main_columns(ui)[-2:] == [("executionStart", "STARTED"), ("progress", "PROGRESS")]
        table = ui.app.main.query_one("#bulks", DataTable)
        bulk = next(b for b in ui.app.board.shown() if b.execution_start is not None)
        shown = table.get_cell(bulk.key, "executionStart")
        assert shown.plain == local_time(bulk.execution_start)


async def test_a_narrow_ui_drops_lists_least_needed_columns_first(tmp_path: Path) -> None:
    """At 80 columns the ui drops what ``list`` drops first (MODE), never an id or status."""
    async with running_ui(tmp_path, size=(80, 24)) as ui:
        keys = [key for key, _ in main_columns(ui)]
        assert "mode" not in keys
        assert keys[:3] == ["bulkId", "status", "operation"] and keys[-1] == "progress"
