"""The one place the ui makes server text safe to show.

Every string that came from the API (ids, statuses, operations, payloads, error messages)
goes through ``safe`` before any widget sees it: C0 and C1 controls and DEL are written as
``\\xHH``, and the result is a ``rich.text.Text``, which Textual never reads as markup, so
``[/]`` stays text and ``[@click=app.quit]x`` never becomes an action.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

# C0 controls, DEL and C1 controls
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_str(value: Any) -> str:
    """``value`` as one line of text with every control character escaped as ``\\xHH``."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def safe(value: Any, style: str = "") -> Text:
    """``value`` made safe (see ``safe_str``) and wrapped in ``Text``, never markup."""
    return Text(safe_str(value), style=style, no_wrap=False)
