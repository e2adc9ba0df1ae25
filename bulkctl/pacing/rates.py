"""Rates: the windows a quota is paced by (``N/W``), read from the ``rate_limit`` setting and
from the ``x-ratelimit-limit`` header, and seconds written for people."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import msgspec

from bulkctl.errors import UsageError

MAX_ENTRIES = 100_000  # request starts kept (and so the largest limit a window may have)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smhd]?)")


def format_seconds(seconds: float) -> str:
    """60 -> '60s', 3600 -> '1h', 600 -> '10m', 90.5 -> '91s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and abs(seconds - round(seconds / size) * size) < 0.01:
            return f"{round(seconds / size)}{unit}"
    return f"{math.ceil(seconds - 0.01)}s"


class Window(msgspec.Struct, frozen=True, order=True):
    """At most ``limit`` request starts within any ``seconds``."""

    seconds: float
    limit: int

    def __str__(self) -> str:
        return f"{self.limit} requests per {format_seconds(self.seconds)}"


def parse_rate_limit(text: str) -> tuple[Window, ...]:
    """'100/60s,1000/3600s' -> windows; a bare number is requests a minute; '0' is none."""
    text = text.strip().lower()
    if text in ("0", "off", "none"):
        return ()
    windows: list[Window] = []
    for part in text.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit():
            part += "/60s"
        match = _RATE.fullmatch(part)
        seconds = float(match.group(2)) * UNITS[match.group(3) or "s"] if match else 0.0
        if match is None or int(match.group(1)) < 1 or not 0 < seconds <= 86400:
            raise UsageError(
                f"invalid rate limit {text!r}",
                hint="write N/WINDOW[,N/WINDOW...], e.g. 100/60s,1000/1h; a bare N is N a "
                "minute; 0 turns pacing off",
            )
        windows.append(Window(seconds, int(match.group(1))))
    return merge_windows(windows)


def merge_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """One window per size, the strictest limit kept, sorted by size."""
    best: dict[float, int] = {}
    for w in windows:
        best[w.seconds] = min(w.limit, best.get(w.seconds, w.limit))
    return tuple(Window(s, n) for s, n in sorted(best.items()))


def parse_limit_header(value: str | None) -> tuple[Window, ...]:
    """The windows named in ``x-ratelimit-limit`` ('20, 10;w=60, 20;w=3600'); a bare first
    number (the limit that was exceeded) names no window and is skipped."""
    if not value:
        return ()
    windows = []
    for part in value.split(",")[:16]:
        limit, _, rest = part.strip().partition(";")
        match = re.fullmatch(r"\s*w\s*=\s*(\d{1,6})\s*", rest)
        if match is None or not limit.strip().isdigit():
            continue
        n, seconds = int(limit), int(match.group(1))
        if 1 <= n <= MAX_ENTRIES and 1 <= seconds <= 7 * 86400:  # past a day: suspect
            windows.append(Window(float(seconds), n))
    return merge_windows(windows)
