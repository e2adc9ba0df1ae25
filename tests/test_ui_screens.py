"""The ui's screens as SVG on the fixed demo (fixed data, clock and host), compared with the
committed pictures; docs/ui.svg is one of them.

After a deliberate change: UPDATE_UI_SNAPSHOTS=1 pytest tests/test_ui_screens.py, and
python scripts/generate.py for docs/ui.svg; then look at the pictures before committing.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

pytest.importorskip("textual", reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'")

from bulkctl.ui.demo import screenshot

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"

SCREENS = {
    "ui-main-80x24": ((80, 24), ()),
    "ui-details-80x24": ((80, 24), ("enter",)),
    "ui-main-120x40": ((120, 40), ()),
    "ui-failed-120x40": ((120, 40), ("5",)),
    "ui-too-small-50x12": ((50, 12), ()),
    "ui-keys-80x24": ((80, 24), ("question_mark",)),
    "ui-failed-details-80x24": ((80, 24), ("5", "enter")),
}


@pytest.mark.parametrize("name", SCREENS)
def test_the_screen_is_the_committed_picture(name: str) -> None:
    size, keys = SCREENS[name]
    svg = asyncio.run(screenshot(size, keys))
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("UPDATE_UI_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, (
        f"{path.name} differs; look at both, then UPDATE_UI_SNAPSHOTS=1 to accept"
    )


def test_docs_ui_svg_is_what_generate_draws() -> None:
    committed = (ROOT / "docs" / "ui.svg").read_text(encoding="utf-8")
    assert committed == asyncio.run(screenshot()), "run: python scripts/generate.py"


def test_the_pictures_show_the_demo_and_no_raw_markup() -> None:
    main = (SNAPSHOTS / "ui-main-80x24.svg").read_text(encoding="utf-8")
    assert "BULK&#160;ID" in main and "profile&#160;demo" in main
    details = (SNAPSHOTS / "ui-details-80x24.svg").read_text(encoding="utf-8")
    assert "failed&#160;by&#160;errorCode" in details
