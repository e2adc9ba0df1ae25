"""Durations as people write them (90s, 5m, 2h, 3d, or plain seconds), and the bounds of
the durations bulkctl waits for (``--interval``, ``--timeout``). Re-exported by
``bulkctl.cli.options``, where the commands import them from."""

from __future__ import annotations

import math
import re

from bulkctl.errors import UsageError

MIN_INTERVAL = 1.0
MAX_WAIT = 7 * 86400.0  # --interval and --timeout: a week at most


def check_interval(text: str) -> float:
    """--interval: a duration of at least a second, so nobody hammers the API, and at most
    seven days."""
    seconds = parse_wait(text, "--interval")
    if seconds < MIN_INTERVAL:
        raise UsageError(f"--interval must be at least 1s (got {text}), so nobody hammers the API")
    return seconds


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str, what: str = "duration") -> float:
    """'90s', '5m', '2h', '3d', or plain seconds -> seconds (a span to look back over, such as
    --since's, may be any length a float holds)."""
    match = _DURATION.match(value)
    if not match:
        raise UsageError(f"invalid {what} {value!r}", hint="write it like 90s, 5m, 2h or 3d")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise UsageError(
            f"{what} {_shown(value)} is too long", hint="write it like 90s, 5m, 2h or 3d"
        )
    return seconds


def parse_wait(value: str, what: str) -> float:
    """A duration bulkctl waits for (--interval, --timeout): at most seven days, so no
    sleep or deadline is ever out of the clock's range."""
    seconds = parse_duration(value, what)
    if seconds > MAX_WAIT:
        raise UsageError(f"{what} must be at most 7d (got {_shown(value)})")
    return seconds


def _shown(value: str) -> str:
    """A value for a message, cut short (a 400-digit number is not repeated whole)."""
    text = value.strip()
    return repr(text if len(text) <= 24 else text[:21] + "...")
