"""The ui an operator can live in, driven headless by Textual's pilot: opening on a bulk,
going to an id, more rows, the order, the header, the stamp, progress by outcome, failures
first, the operations' columns, and the size check while running."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

pytest.importorskip("textual", reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'")

from textual.widgets import DataTable

from bulkctl.api.records import failure_reason
from bulkctl.ui.app import (
    BulkApp,
    DetailScreen,
    MainScreen,
    ProductionConfirmScreen,
    TooSmallScreen,
    settled,
)
from bulkctl.ui.backend import Backend
from bulkctl.ui.keys_screen import KeysScreen
from tests.conftest import in_process, make_emulator
from tests.test_ui import PRODUCTION, Ui, running_ui

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def header(ui: Ui) -> list[str]:
    """The counts' lines under the first line, up to the note."""
    lines = ui.text().splitlines()
    end = next(i for i, line in enumerate(lines) if "newest" in line or "loading" in line)
    return [line.strip() for line in lines[1:end]]


@pytest.mark.parametrize(
    ("width", "lines"),
    [(120, ["1 SUBMITTED 14", "3 PARTIALLY_COMPLETED 39"]), (80, ["1 SUBM 14", "3 PART 39"])],
)
async def test_the_header_is_one_line_that_fits(
    tmp_path: Path, width: int, lines: list[str]
) -> None:
    async with running_ui(tmp_path, size=(width, 30)) as ui:
        counts = header(ui)
        assert len(counts) == 1 and len(counts[0]) <= width - 2
        assert all(words in counts[0] for words in lines)


async def test_a_narrow_header_breaks_between_items_never_inside_one(tmp_path: Path) -> None:
    async with running_ui(tmp_path, size=(60, 24)) as ui:
        counts = header(ui)
        assert len(counts) == 2
        chips = [c for line in counts for c in re.split(r"\s{2,}", line)]
        assert [c.split()[0] for c in chips] == [str(i) for i in range(1, 8)]
        assert all(re.fullmatch(r"\d [A-Z]+ [\d,?-]+", c) for c in chips)


async def test_progress_is_an_ellipsis_where_it_was_not_read(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        table = ui.app.main.query_one("#bulks", DataTable)
        for bulk in ui.app.board.shown()[:15]:
            shown = table.get_cell(bulk.key, "progress").plain
            if ui.app.board.outcome(bulk) is None:
                assert shown == "…"
            else:
                assert shown.endswith("%") and len(shown) == 9


async def test_the_note_stamps_the_data_and_o_changes_the_order(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        stamp = ui.app.backend.clock_text(ui.clock())
        assert f"data as of {stamp}" in ui.text() and "by age" in ui.text()
        await ui.press("o")
        assert ui.app.board.sort == "status" and "by status" in ui.text()
        statuses = [b.status for b in ui.app.board.shown()]
        assert statuses[0] == "SUBMITTED" and statuses[-1] == "CANCELLED"


async def test_it_opens_on_a_bulk_read_though_not_loaded(tmp_path: Path) -> None:
    emulator, clock = make_emulator()
    oldest = emulator.state.order[-1]
    run = in_process(tmp_path, emulator, clock)
    backend = Backend.from_context(run.ctx, now=clock, monotonic=clock)
    app = BulkApp(backend, open_id=oldest)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.bulk_id == oldest
        assert oldest not in {b.bulk_id for b in app.board.rows}
        await pilot.press("escape")
        await settled(app, pilot)
        assert isinstance(app.screen, MainScreen)


async def test_colon_goes_to_an_id_and_says_when_it_cannot(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        oldest = ui.emulator.state.order[-1]
        await ui.press("colon", *"abc", "enter")
        assert any("not a bulk id: abc" in n for n in ui.notes())
        await ui.press("colon", *"99", "enter")
        assert isinstance(ui.app.screen, MainScreen)
        said = [(n.title, n.message) for n in ui.app._notifications]
        assert any(t == "cannot open bulk 99" and "not found" in m for t, m in said)
        await ui.press("slash", *oldest, "enter")
        assert isinstance(ui.app.screen, DetailScreen) and ui.app.screen.bulk_id == oldest
        assert ui.app.board.operation == ""  # an id is no operation filter
        newer = ui.emulator.state.order[1]
        await ui.press("colon")
        await ui.press(*newer, "enter")  # from the details too
        assert isinstance(ui.app.screen, DetailScreen) and ui.app.screen.bulk_id == newer
        await ui.press("escape")
        assert isinstance(ui.app.screen, MainScreen)


async def test_n_reads_more_rows_and_says_how_many_are_loaded(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        await ui.press("4")
        assert "newest 100 of 172 (COMPLETED) · n more" in ui.text()
        await ui.press("n")
        assert "loaded 172 of 172" in ui.notes()
        assert "newest 172 of 172 (COMPLETED)" in ui.text()
        await ui.press("n")
        assert "all 172 loaded" in ui.notes()


async def test_rows_past_the_first_100_are_refreshed_too(tmp_path: Path) -> None:
    """After `n`, a refresh (F5 here) reads both loaded pages again, and nothing else: a
    bulk executed past the first 100 shows RUNNING, and the next refresh waits twice as long."""
    emulator, clock = make_emulator()
    emulator.state.insert_submitted(clock(), 120)  # the seeded bulks past 100 are all final
    async with running_ui(tmp_path, emulator) as ui:
        await ui.press("n")
        assert "loaded 200 of 420" in ui.notes()
        later = ui.app.board.rows[110]
        assert later.status == "SUBMITTED"
        emulator.state.act(later.bulk_id or "", "execute", clock(), "ON_FAILURE_STOP")
        before = len(emulator.requests)
        await ui.press("f5")
        table = ui.app.main.query_one("#bulks", DataTable)
        assert table.get_cell(later.key, "status").plain == "RUNNING"
        urls = [url for _, url in list(emulator.requests)[before:]]
        pages = [url for url in urls if url.startswith("/multi/bulks?")]
        assert pages == ["/multi/bulks?limit=100", "/multi/bulks?limit=100&offset=100"]
        assert len(urls) <= len(pages) + 5  # and details for at most 5 visible rows
        assert "next refresh in 10s (every 10s while quiet)" in ui.text()


async def test_a_failed_bulk_s_bar_has_no_green_and_says_so_in_words(tmp_path: Path) -> None:
    emulator, _ = make_emulator()
    async with running_ui(tmp_path, emulator) as ui:
        bulk_id = next(
            b.bulk_id
            for b in ui.app.board.rows
            if b.status == "FAILED"
            and emulator.state.bulks[b.bulk_id or ""].operation_counts()["COMPLETED"] == 0
        )
        await ui.press("colon", *bulk_id, "enter")
        items = emulator.state.bulks[bulk_id].items
        progress = next(line for line in ui.text().splitlines() if "progress" in line)
        assert "▓" in progress and "█" not in progress  # failed, never completed's green
        assert f"0 done · {items:,} failed · 0 left" in progress


async def test_the_operations_show_error_codes_and_no_repeated_request(tmp_path: Path) -> None:
    async with running_ui(tmp_path, size=(80, 24)) as ui:
        ui.select("PARTIALLY_COMPLETED")
        await ui.press("enter")
        screen = ui.app.screen
        assert isinstance(screen, DetailScreen)
        table = screen.query_one("#ops", DataTable)
        headers = [c.label.plain for c in table.columns.values()]
        assert headers == ["SEQ", "STATUS", "ERROR CODE"]  # no REQUEST repeated in each row
        request = {f"{op.method} {op.path}" for op in screen.operations}
        assert len(request) == 1 and f"] {request.pop()}" in str(table.border_title)
        codes = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        assert codes == [failure_reason(op.response_payload)[0] for op in screen.operations]
        op = screen.operations[0]
        assert (op.request_payload or "")[:20] and all(
            word in ui.words() for word in (op.request_payload or "").replace('"', " ").split()
        )  # the whole request, wrapped, at 80x24


async def test_requests_that_differ_keep_their_column(tmp_path: Path) -> None:
    emulator, _ = make_emulator()
    async with running_ui(tmp_path, emulator) as ui:
        bulk_id = next(
            b.bulk_id
            for b in ui.app.board.rows
            if "{id}" in (b.operation or "")
            and b.status == "COMPLETED"
            and (b.submitted_items_count or 0) > 100
        )
        await ui.press("colon", *bulk_id, "enter")
        screen = ui.app.screen
        assert isinstance(screen, DetailScreen) and screen.op_status is None
        table = screen.query_one("#ops", DataTable)
        assert [c.label.plain for c in table.columns.values()] == ["SEQ", "STATUS", "REQUEST"]
        assert "operations(all)[50 of " in str(table.border_title)
        await ui.press("n")
        assert any(re.fullmatch(r"loaded 100 of [\d,]+", n) for n in ui.notes())


async def test_question_mark_lists_every_key_and_esc_closes_it(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        await ui.press("question_mark")
        assert isinstance(ui.app.screen, KeysScreen)
        words = ui.words()
        for key in (
            "Enter",
            ": id",
            "1-7, 0",
            "n",
            "o",
            "s",
            "x",
            "m switches",
            "R",
            "y",
            "F5",
            "q",
        ):
            assert key in words
        await ui.press("escape")
        assert isinstance(ui.app.screen, MainScreen)


async def test_a_resize_below_60x15_while_running_shows_the_message(tmp_path: Path) -> None:
    async with running_ui(tmp_path) as ui:
        await ui.press("enter")
        await ui.pilot.resize_terminal(59, 15)
        await settled(ui.app, ui.pilot)
        assert isinstance(ui.app.screen, TooSmallScreen)
        assert "needs at least 60×15" in ui.text() and "59×15" in ui.text()
        await ui.pilot.resize_terminal(59, 14)
        await settled(ui.app, ui.pilot)
        assert "59×14" in ui.text()
        await ui.pilot.resize_terminal(80, 24)
        await settled(ui.app, ui.pilot)
        assert isinstance(ui.app.screen, DetailScreen)
        assert "failed by errorCode" in ui.text()


async def test_a_bulk_asked_for_on_a_small_terminal_opens_once_it_grows(tmp_path: Path) -> None:
    emulator, clock = make_emulator()
    oldest = emulator.state.order[-1]
    run = in_process(tmp_path, emulator, clock)
    app = BulkApp(Backend.from_context(run.ctx, now=clock, monotonic=clock), open_id=oldest)
    async with app.run_test(size=(50, 12)) as pilot:
        await settled(app, pilot)
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(80, 24)
        await settled(app, pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.bulk_id == oldest
        assert [type(s) for s in app.screen_stack] == [MainScreen, DetailScreen]


async def test_the_operation_column_keeps_each_paths_end_at_80_columns(tmp_path: Path) -> None:
    async with running_ui(tmp_path, size=(80, 30)) as ui:
        table = ui.app.main.query_one("#bulks", DataTable)
        shown = {
            bulk.operation: table.get_cell(bulk.key, "operation").plain
            for bulk in ui.app.board.shown()
            if bulk.operation
        }
        cut = {path: text for path, text in shown.items() if text != path}
        assert cut, "no operation was cut at 80 columns: the test needs a narrower table"
        for path, text in cut.items():
            last = path.rstrip("/").rsplit("/", 1)[-1]
            if path.count("/") > 1:
                assert text.endswith(last), (path, text)


async def test_a_question_ready_on_a_small_terminal_waits_under_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R reads the FAILED operations before it asks: the terminal shrinks meanwhile. The
    too-small message stays on top, and the question shows once the terminal grows."""
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select("PARTIALLY_COMPLETED")
        backend = ui.app.backend
        plan, release = backend.plan_rerun, threading.Event()
        monkeypatch.setattr(backend, "plan_rerun", lambda b: release.wait(10) and plan(b))
        await ui.pilot.press("R")
        await ui.pilot.resize_terminal(59, 14)
        await ui.pilot.pause()
        release.set()
        await settled(ui.app, ui.pilot)
        assert isinstance(ui.app.screen, TooSmallScreen)
        assert "needs at least 60×15" in ui.text() and "type production" not in ui.words()
        await ui.pilot.resize_terminal(80, 24)
        await settled(ui.app, ui.pilot)
        assert isinstance(ui.app.screen, ProductionConfirmScreen)
        assert "rerun" in ui.words() and "type production, then Enter" in ui.words()
        await ui.press("escape")
        assert isinstance(ui.app.screen, MainScreen)
        assert f"bulk {bulk_id}: rerun skipped" in ui.notes()
        assert not ui.posts()  # nothing was sent
