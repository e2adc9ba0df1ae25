"""A bulk's operations by outcome, declared once for ``show``, ``watch`` and the ui.

Progress is a stacked bar coloured by outcome: completed green, failed red, cancelled dim,
still to run empty; the words beside it ("284 done · 85 failed · 0 left") say the same
without colour, and each outcome has its own glyph so a bar read without colour still
tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulkctl.api.records import BulkProcess
from bulkctl.output.values import human_duration

if TYPE_CHECKING:  # rich is imported by the functions that draw (start-up stays light)
    from rich.text import Text

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
    from rich.text import Text

    text = Text()
    styles = {name: (glyph, style) for name, glyph, style in PARTS}
    for name, cells in segments(outcome, width):
        glyph, style = styles[name]
        text.append(glyph * cells, style=style)
    return text


def outcome_line(outcome: Outcome, width: int) -> Text:
    """The bar and its words on one line of at most ``width`` cells: the bar gives way
    (never under 10 cells) so the words stay whole; below that, or with no total to draw
    against, the words alone."""
    from rich.text import Text

    words = outcome_words(outcome)
    if outcome.total is None:  # nothing to draw a bar against
        return Text(f"{words} (total unknown)")
    bar_width = min(40, width - len(words) - 2)
    if bar_width < 10:
        return Text(words)
    line = outcome_bar(outcome, bar_width)
    line.append("  " + words)
    return line


def rate_and_eta(outcome: Outcome, started_ms: int | None, now: float) -> str | None:
    """'12.5 operations/s · about 3m 20s left' for a bulk running since ``started_ms``
    (epoch milliseconds) at ``now`` (epoch seconds): the operations ended over the time
    run. None when there is no start; no ETA while nothing has ended or the total is
    unknown."""
    if started_ms is None:
        return None
    elapsed = now - started_ms / 1000
    if elapsed <= 0 or outcome.ended == 0:
        return "no operation ended yet: no rate or ETA"
    rate = outcome.ended / elapsed
    shown = f"{rate:,.1f} operations/s" if rate >= 0.1 else f"{rate * 60:,.1f} operations/min"
    left = outcome.left
    if left is None:
        return f"{shown} · total unknown: no ETA"
    return f"{shown} · about {human_duration(int(left / rate + 0.5))} left"
