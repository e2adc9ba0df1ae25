"""What the ui shows when the terminal is too small to draw it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from bulkctl.ui.parts import MIN_HEIGHT, MIN_WIDTH


class TooSmallScreen(Screen[None]):
    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.size_seen = (width, height)

    def compose(self) -> ComposeResult:
        # the message from the start: pushed by a resize, no later event would draw it
        yield Static(self.message(), id="too-small")

    def message(self) -> Text:
        width, height = self.size_seen
        return Text(
            f"bulkctl ui needs at least {MIN_WIDTH}×{MIN_HEIGHT}; "
            f"this terminal is {width}×{height}. Make it larger, or press q.",
            justify="center",
        )

    def draw(self, width: int, height: int) -> None:
        self.size_seen = (width, height)
        for shown in self.query("#too-small").results(Static):
            shown.update(self.message())
