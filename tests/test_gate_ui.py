"""The ui behind the gate: it copies and acts only on ids that are digits, and its
question ignores keys that arrived before it was drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual import events
from textual._time import get_time

from bulkctl.ui.app import ConfirmScreen, MainScreen
from tests.conftest import make_emulator
from tests.test_ui import PRODUCTION, running_ui

pytestmark = pytest.mark.anyio  # anyio (an httpx dependency) runs the async tests


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


HOSTILE_ID = "12\x1b[201~\nrm -rf ~"  # ends a bracketed paste, then a newline runs the rest


async def test_a_non_digit_id_is_never_copied_nor_acted_on(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    emulator, _ = make_emulator()
    state = emulator.state
    odd = next(b for b in state.bulks.values() if b.status == "SUBMITTED")
    odd.bulk_id = HOSTILE_ID  # as the server sends it; the emulator still files it by its key
    state.order.remove(next(k for k, b in state.bulks.items() if b is odd))
    state.order.insert(0, next(k for k, b in state.bulks.items() if b is odd))
    state._version += 1
    async with running_ui(tmp_path, emulator) as ui:
        copied: list[str] = []
        ui.app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        screen = ui.app.screen
        assert isinstance(screen, MainScreen)
        rows = ui.app.board.shown()
        index = next(i for i, b in enumerate(rows) if b.bulk_id == HOSTILE_ID)
        screen.query_one("#bulks", DataTable).move_cursor(row=index)
        await ui.press("y")
        assert copied == []  # nothing reaches OSC 52
        assert any("not copied" in n for n in ui.notes())
        await ui.press("x")
        assert not isinstance(ui.app.screen, ConfirmScreen)
        assert ui.posts() == []
        assert "\x1b" not in ui.text()


async def test_keys_stamped_before_the_question_was_drawn_answer_nothing(tmp_path: Path) -> None:
    async with running_ui(tmp_path, env=PRODUCTION) as ui:
        bulk_id = ui.select("SUBMITTED")
        typed_at = get_time()  # typed while the question was being built
        await ui.press("x")
        dialog = ui.app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.drawn_at is not None
        for key, character in [*((c, c) for c in "production"), ("enter", "\r")]:
            early = events.Key(key, character)
            early.time = typed_at
            ui.app.post_message(early)
        await ui.pilot.pause()
        await ui.pilot.pause()
        assert ui.app.screen is dialog and ui.posts() == []  # the early word did nothing
        await ui.press(*"production", "enter")  # typed after it was drawn: it goes ahead
        assert ui.posts() == [f"/multi/bulks/{bulk_id}/execute"]
