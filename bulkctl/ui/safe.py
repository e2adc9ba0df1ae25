"""Server text for widgets: made safe by ``bulkctl.safetext.safe_text`` (the one place that
does it), then wrapped in ``rich.text.Text``.

Every string that came from the API (ids, statuses, operations, payloads, error messages)
goes through ``safe`` before any widget sees it: control characters are written as
``\\xHH``, bidi and zero-width characters as ``\\u{HHHH}`` (so U+202E cannot reverse an
amount in the details), and a ``Text`` is never read as markup by Textual, so ``[/]`` stays
text and ``[@click=app.quit]x`` never becomes an action.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from bulkctl.safetext import safe_text


def safe_str(value: Any) -> str:
    """``value`` as text with every control and hidden character escaped (``None`` is
    empty)."""
    return safe_text("" if value is None else value)


def safe(value: Any, style: str = "") -> Text:
    """``value`` made safe (see ``safe_str``) and wrapped in ``Text``, never markup."""
    return Text(safe_str(value), style=style, no_wrap=False)
