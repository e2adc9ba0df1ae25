"""The questions before a change: yes or no, or the production answer typed."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from bulkctl.actions import (
    DEFAULT_MODE,
    PRODUCTION_ANSWER,
    confirmation_text,
    typed_production,
)
from bulkctl.api.records import MODES, BulkProcess
from bulkctl.ui.backend import Backend
from bulkctl.ui.safe import safe


class ConfirmScreen(ModalScreen[str | None]):
    """Yes or No (the default) before an action; for execute, ``m`` switches the mode.

    Keys that arrived before the question was drawn answer nothing (``BulkApp.on_event``
    drops them): a key typed while the bulk was read never meets a question unseen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", show=False),
        Binding("n", "answer(False)", show=False),
        Binding("escape", "answer(False)", show=False),
        Binding("m", "switch_mode", show=False),
    ]

    def __init__(
        self, action: str, bulk: BulkProcess, backend: Backend, question: str | None = None
    ) -> None:
        super().__init__()
        self.action = action
        self.bulk = bulk
        self.backend = backend
        self.mode = DEFAULT_MODE
        self.fixed_question = question  # rerun's, from its plan
        self.question = Text()
        self.drawn_at: float | None = None  # when the question was on screen, Textual's clock

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(id="question")
            with Horizontal(id="buttons"):
                yield Button("No", id="no", variant="primary")
                yield Button("Yes", id="yes", variant="error")
            hint = "y yes  n/esc no" + ("  m switch mode" if self.action == "execute" else "")
            yield Static(Text(hint, style="dim"))

    def on_mount(self) -> None:
        self.draw()
        self.answer_widget().focus()
        self.call_after_refresh(self.drawn)

    def drawn(self) -> None:
        from textual._time import get_time  # the clock Textual stamps each key with

        self.drawn_at = get_time()

    def accepts(self, event: events.Event) -> bool:
        """Whether a key may answer: only one pressed after the question was drawn."""
        return self.drawn_at is not None and event.time >= self.drawn_at

    def answer_widget(self) -> Widget:
        return self.query_one("#no", Button)

    def draw(self) -> None:
        where = self.backend.where
        words = self.fixed_question or confirmation_text(
            self.action, self.bulk.bulk_id or "?", self.bulk, where.text, self.mode
        )
        question = safe(words, "bold red" if where.production else "")
        self.question = question
        self.query_one("#question", Static).update(question)

    def action_switch_mode(self) -> None:
        if self.action == "execute":
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
            self.draw()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(self.mode if yes else None)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")


class ProductionConfirmScreen(ConfirmScreen, inherit_bindings=False):
    """Where the gate's table says so, a key is not enough (as in ``actions.ask``): the word
    ``production`` typed, then Enter, goes ahead; anything else, or Esc, does not. ↑/↓
    switch execute's mode (the letters go into the answer)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", show=False),
        Binding("up,down", "switch_mode", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(id="question")
            yield Input(placeholder=f"type {PRODUCTION_ANSWER} to go ahead", id="answer")
            hint = f"type {PRODUCTION_ANSWER}, then Enter  esc cancels"
            if self.action == "execute":
                hint += "  ↑↓ switch mode"
            yield Static(Text(hint, style="dim"))

    def answer_widget(self) -> Widget:
        return self.query_one("#answer", Input)

    @on(Input.Submitted, "#answer")
    def typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_answer(typed_production(event.value))
