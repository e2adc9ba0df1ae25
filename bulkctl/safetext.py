"""The one place that makes text from outside safe to show: control characters made visible.

Whatever the server sends (statuses, operation names, payloads, error messages, headers) is
data, never terminal control. Every C0 control character (U+0000-U+001F), DEL (U+007F) and
every C1 control character (U+0080-U+009F: U+009B is a one-character CSI) is written as
``\\xHH``, so no escape sequence, bell, carriage return or backspace from the data reaches a
terminal. The output formats build on these functions (see ``bulkctl.render``).
"""

from __future__ import annotations

_CONTROL_CODES = (*range(0x20), *range(0x7F, 0xA0))
_VISIBLE: dict[int, str] = {code: f"\\x{code:02x}" for code in _CONTROL_CODES}
# JSON with ensure_ascii=False escapes C0 itself but writes DEL and C1 raw
_JSON_C1: dict[int, str] = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def safe_text(text: object, keep: str = "") -> str:
    """``text`` (anything; ``str()`` of it) with every control character but those in ``keep``
    written as ``\\xHH``: the text to put on a terminal."""
    shown = text if isinstance(text, str) else str(text)
    if keep:
        table = {code: value for code, value in _VISIBLE.items() if chr(code) not in keep}
        return shown.translate(table)
    return shown.translate(_VISIBLE)


def safe_json(encoded: str) -> str:
    """JSON text from an ``ensure_ascii=False`` encoder with DEL and C1 characters escaped as
    ``\\u00XX``: the same values, nothing a terminal would act on. Valid because those
    characters can only occur inside JSON strings."""
    return encoded.translate(_JSON_C1)
