"""bulkctl ui against hostile numbers and text: an answer whose item count is ``"--5"`` is
named as malformed and the ui goes on (before, it showed "internal error"); an operation and
a failure holding a RIGHT-TO-LEFT OVERRIDE or zero widths is shown with them visible, on the
main screen and in the details, and the operation filter sees through zero widths."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual", reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'")

from bulkctl.emulator import submissions as emulator_submissions
from tests.conftest import make_emulator
from tests.test_ui import running_ui

pytestmark = pytest.mark.anyio

REVERSED = "/tr\u200bansfers \u202eRUE 00.01"  # shown raw, a terminal reads "10.00 EUR"
HIDDEN = ("\u200b", "\u202e")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_count_that_is_no_integer_is_named_and_the_ui_goes_on(tmp_path: Path) -> None:
    emulator, _ = make_emulator()
    newest = emulator.state.bulks[emulator.state.order[0]]
    newest.items = "--5"  # type: ignore[assignment]
    emulator.state._version += 1
    async with running_ui(tmp_path, emulator) as ui:
        shown = ui.words() + " " + " ".join(ui.notes())
        assert "submittedItemsCount" in shown, shown
        assert "internal error" not in shown
        assert ui.app.is_running


async def test_bidi_and_zero_widths_are_visible_on_the_main_screen_and_in_details(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = make_emulator()
    monkeypatch.setitem(emulator_submissions.FAILURE_CODES, REVERSED, (REVERSED,))
    state = emulator.state
    failed = next(b for b in state.bulks.values() if b.status == "FAILED")
    failed.operation = REVERSED
    state.order.remove(failed.bulk_id)
    state.order.insert(0, failed.bulk_id)
    state._version += 1
    async with running_ui(tmp_path, emulator, size=(120, 40)) as ui:
        main = ui.text()
        assert "\\u{202e}" in main and not any(ch in main for ch in HIDDEN)
        ui.app.board.set_operation("/transfers")  # what a person reads finds it
        assert failed.bulk_id in [b.bulk_id for b in ui.app.board.shown()]
        ui.app.board.set_operation("")
        ui.select("FAILED")
        await ui.press("enter")
        details = ui.text()
        assert details.count("\\u{202e}") >= 2, details  # the title and the failures
        assert not any(ch in details for ch in HIDDEN)
