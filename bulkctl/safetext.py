"""The one place that makes text from outside safe to show: control characters and characters
that make text read differently than it is, made visible.

Whatever the server sends (statuses, operation names, payloads, error messages, headers) is
data, never terminal control. Every C0 control character (U+0000-U+001F), DEL (U+007F) and
every C1 control character (U+0080-U+009F: U+009B is a one-character CSI, U+0085 a line
break) is written as ``\\xHH``, so no escape sequence, bell, carriage return or backspace from
the data reaches a terminal.

Characters that a terminal does not act on but that change how a line reads ("Trojan
Source", CVE-2021-42574) are written as ``\\u{HHHH}``, as rustc shows them: the bidi
controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the zero-width and
invisible format characters (U+180E, U+200B-U+200D, U+2060-U+206F, U+FEFF) and the line and
paragraph separators (U+2028, U+2029). ``HIDDEN`` lists them all; ``without_hidden`` drops
them, for filters that compare text. The output formats build on these functions (see
``bulkctl.output.render``).
"""

from __future__ import annotations

from functools import lru_cache

_CONTROL_CODES = (*range(0x20), *range(0x7F, 0xA0))
# every code point that changes how text reads without being seen, and is not a C0/C1 control
HIDDEN: frozenset[int] = frozenset(
    {
        0x061C,  # arabic letter mark (bidi)
        0x180E,  # mongolian vowel separator (zero width)
        *range(0x200B, 0x2010),  # zero width space, non-joiner, joiner; LRM, RLM
        0x2028,  # line separator
        0x2029,  # paragraph separator
        *range(0x202A, 0x202F),  # bidi embeddings and overrides: LRE RLE PDF LRO RLO
        *range(0x2060, 0x2070),  # word joiner, invisible operators, bidi isolates, deprecated
        0xFEFF,  # zero width no-break space (byte order mark)
    }
)
_VISIBLE: dict[int, str] = {code: f"\\x{code:02x}" for code in _CONTROL_CODES} | {
    code: f"\\u{{{code:04x}}}" for code in HIDDEN
}
_DROPPED: dict[int, None] = dict.fromkeys(HIDDEN)
# JSON with ensure_ascii=False escapes C0 itself but writes DEL, C1 and the hidden ones raw
_JSON_ESCAPED: dict[int, str] = {
    code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *sorted(HIDDEN))
}


def safe_text(text: object, keep: str = "") -> str:
    """``text`` (anything; ``str()`` of it) with every control character but those in ``keep``
    written as ``\\xHH``, and every ``HIDDEN`` character as ``\\u{HHHH}``: the text to put on a
    terminal."""
    shown = text if isinstance(text, str) else str(text)
    return shown.translate(_table(keep) if keep else _VISIBLE)


@lru_cache(maxsize=8)
def _table(keep: str) -> dict[int, str]:
    """``_VISIBLE`` less the characters in ``keep``, built once (csv asks for every cell)."""
    return {code: value for code, value in _VISIBLE.items() if chr(code) not in keep}


def without_hidden(text: str) -> str:
    """``text`` without its ``HIDDEN`` characters: what a person reads, for comparing
    (``/tr\\u200bansfers`` is ``/transfers``)."""
    return text.translate(_DROPPED)


def safe_json(encoded: str) -> str:
    """JSON text from an ``ensure_ascii=False`` encoder with DEL, C1 and the ``HIDDEN``
    characters escaped as ``\\uXXXX``: the same values, nothing a terminal would act on or a
    reader be fooled by. Valid because those characters can only occur inside JSON strings."""
    if encoded.isascii() and "\x7f" not in encoded:  # the usual case: nothing to escape
        return encoded
    return encoded.translate(_JSON_ESCAPED)
