"""Request quotas as the real API applies them: fixed windows on the emulator's clock.

Weavr's documented standard is 100 requests a minute, 1,000 an hour and 10,000 a day per
programme; past a window every request is refused until that window is over. A quota is
written ``N/WINDOW[,N/WINDOW...]`` where WINDOW is seconds with an optional unit
(``60s``, ``1m``, ``1h``, ``1d``); ``100/60s,1000/3600s`` is the standard minute and hour.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_WINDOW = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Window:
    limit: int  # requests admitted per window
    seconds: int  # window length


def parse_quota(text: str) -> tuple[Window, ...]:
    """``"100/60s,1000/3600s"`` -> windows. Raises ValueError with a readable reason."""
    windows = []
    for part in text.split(","):
        match = _WINDOW.fullmatch(part)
        if match is None:
            raise ValueError(f"{part.strip()!r} is not N/WINDOW (e.g. 100/60s)")
        limit = int(match[1])
        seconds = float(match[2]) * _UNIT_SECONDS[match[3]]
        if limit < 1 or seconds < 1 or seconds != int(seconds):
            raise ValueError(f"{part.strip()!r}: N and WINDOW must be whole and at least 1")
        windows.append(Window(limit, int(seconds)))
    return tuple(windows)


@dataclass
class Refusal:
    """Why a request was refused: the window exceeded and seconds until it resets."""

    window: Window
    reset_seconds: int
    windows: tuple[Window, ...]

    def limit_header(self) -> str:
        """``x-ratelimit-limit`` as the spec shows it: the exceeded limit, then the windows."""
        parts = [str(self.window.limit)]
        parts += [f"{w.limit};w={w.seconds}" for w in self.windows]
        return ", ".join(parts)


@dataclass
class Quota:
    """Fixed windows aligned to multiples of their length on the emulator's clock."""

    windows: tuple[Window, ...]
    _used: dict[Window, tuple[int, int]] = field(default_factory=dict)  # window -> (index, used)

    def admit(self, now: float) -> Refusal | None:
        """Count a request at ``now`` or refuse it (a refused request is not counted)."""
        worst: Refusal | None = None
        for window in self.windows:
            index = math.floor(now / window.seconds)
            start, used = self._used.get(window, (index, 0))
            if start != index:
                used = 0
            if used >= window.limit:
                reset = max(0, math.ceil((index + 1) * window.seconds - now))
                if worst is None or reset > worst.reset_seconds:
                    worst = Refusal(window, reset, self.windows)
        if worst is not None:
            return worst
        for window in self.windows:
            index = math.floor(now / window.seconds)
            start, used = self._used.get(window, (index, 0))
            self._used[window] = (index, used + 1 if start == index else 1)
        return None
