"""bulkctl ui against an answer whose item count is ``"--5"``: the ui names the field of the
malformed answer and goes on running; before, it showed "internal error"."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual", reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'")

from tests.conftest import make_emulator
from tests.test_ui import running_ui

pytestmark = pytest.mark.anyio


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
