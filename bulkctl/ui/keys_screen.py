"""``?``: every key of the ui, on every screen, in one place (Esc, ``?`` or q closes it)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "the list",
        (
            ("Enter", "open the bulk's details"),
            (": id Enter", "go to a bulk by id (read when it is not loaded)"),
            ("/ text Enter", "filter the loaded rows by operation (an id: go to it)"),
            ("1-7, 0", "toggle a status (the header's numbers), 0 shows all"),
            ("n", "read the next 100 rows (also at the last row)"),
            ("o", "sort by age, status or progress"),
        ),
    ),
    (
        "a bulk's details",
        (
            ("Esc", "back to the list"),
            ("s", "next operation status (FAILED first, empty ones skipped)"),
            ("n", "read the next operations (also at the last row)"),
        ),
    ),
    (
        "changes (each asks first, as the commands do)",
        (
            ("x", "execute (in the question, m switches the mode)"),
            ("p r c", "pause, resume, cancel"),
            ("R", "rerun the FAILED operations as a new bulk, not executed"),
            ("y / n / Esc", "answer; on production type the word production"),
        ),
    ),
    (
        "anywhere",
        (
            ("y", "copy the bulk's id"),
            ("F5", "refresh now"),
            ("?", "these keys"),
            ("q, Ctrl-C", "quit"),
        ),
    ),
)


KEY_WIDTH = 14


def keys_text() -> Text:
    """Every key, a line each, under the screen it works on."""
    text = Text()
    for title, keys in KEYS:
        text.append(title + "\n", style="bold underline")
        for key, what in keys:
            text.append(f"{key:<{KEY_WIDTH}}", style="bold")
            text.append(what + "\n")
    text.append("Esc or ? closes this", style="dim")
    return text


class KeysScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", show=False),
        Binding("question_mark", "dismiss", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="keys-box"):
            yield Static(keys_text())
