"""A bulk's operations by outcome, declared once for ``show``, ``watch`` and the ui.

Progress is a stacked bar coloured by outcome: completed green, failed red, cancelled dim,
still to run empty; the words beside it ("284 done · 85 failed · 0 left") say the same
without colour, and each outcome has its own glyph so a bar read without colour still
tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from bulkctl.api.records import BulkProcess

# (outcome, glyph, style), in the order the bar draws them
PARTS: tuple[tuple[str, str, str], ...] = (
    ("completed", "█", "green"),
    ("failed", "▓", "red"),
    ("cancelled", "▒", "dim"),
    ("left", "·", "dim"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Operations completed, failed and cancelled, and the total (None when unknown)."""

    completed: int
    failed: int
    cancelled: int
    total: int | None

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled

    @property
    def left(self) -> int | None:
        """Operations still to run; None when the total is unknown."""
        return None if self.total is None else max(self.total - self.ended, 0)


def outcome_of(bulk: BulkProcess) -> Outcome:
    total = bulk.submitted_items_count
    return Outcome(
        completed=bulk.count_of("COMPLETED"),
        failed=bulk.count_of("FAILED"),
        cancelled=bulk.count_of("CANCELLED"),
        total=total if total is not None and total > 0 else None,
    )


def segments(outcome: Outcome, width: int) -> list[tuple[str, int]]:
    """Cells per outcome for a bar ``width`` cells wide, in PARTS' order; they add up to
    ``width``. An outcome with any operation gets at least one cell when the width allows,
    so one failure among thousands still shows red."""
    scale = max(outcome.total or outcome.ended, outcome.ended, 1)
    counts = {
        "completed": outcome.completed,
        "failed": outcome.failed,
        "cancelled": outcome.cancelled,
        "left": max(scale - outcome.ended, 0),
    }
    cells = {name: width * counts[name] // scale for name, _, _ in PARTS}
    for name in counts:  # nothing non-zero is drawn as nothing
        if counts[name] and not cells[name] and sum(cells.values()) < width:
            cells[name] = 1
    spare = width - sum(cells.values())
    if spare > 0:  # rounding: the largest remainder first, never an outcome of zero
        order = sorted((n for n in counts if counts[n]), key=lambda n: -(width * counts[n] % scale))
        for name in (order * width)[:spare]:
            cells[name] += 1
    while sum(cells.values()) > width:  # the minimum cells overflowed: take from the largest
        largest = max(cells, key=lambda n: cells[n])
        cells[largest] -= 1
    if not any(counts.values()):
        cells["left"] = width
    return [(name, cells[name]) for name, _, _ in PARTS]


def outcome_words(outcome: Outcome) -> str:
    """'284 done · 85 failed · 0 left'; cancelled only when there are any; '? left' when the
    total is unknown."""
    words = [f"{outcome.completed:,} done", f"{outcome.failed:,} failed"]
    if outcome.cancelled:
        words.append(f"{outcome.cancelled:,} cancelled")
    left = outcome.left
    words.append(f"{left:,} left" if left is not None else "? left")
    return " · ".join(words)


def outcome_bar(outcome: Outcome, width: int) -> Text:
    """The stacked bar as rich Text, ``width`` cells wide."""
    text = Text()
    styles = {name: (glyph, style) for name, glyph, style in PARTS}
    for name, cells in segments(outcome, width):
        glyph, style = styles[name]
        text.append(glyph * cells, style=style)
    return text
