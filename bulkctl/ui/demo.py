"""The fixed demo screens: the built-in demo profile at a fixed time, drawn headless.

``scripts/generate.py`` writes ``docs/ui.svg`` from ``screenshot()``, and the tests compare
screens with it, so the same data, clock and host always draw the same picture.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bulkctl.context import Clock, Context, GlobalOptions

DEMO_NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z


class FixedClock(Clock):
    """Time that stands still: the demo data and every AGE stay the same."""

    def __init__(self, now: float = DEMO_NOW) -> None:
        self.fixed = now

    def now(self) -> float:
        return self.fixed

    def monotonic(self) -> float:
        return 1000.0

    def sleep(self, seconds: float) -> None:
        return None


def demo_context(home: Path, clock: Clock | None = None) -> Context:
    """A Context on the built-in demo profile, with its state under ``home``."""
    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={},
        config_dir=home / "config",
        state_dir=home / "state",
        clock=clock or FixedClock(),
        options=GlobalOptions(profile="demo"),
    )


def utc_time_of_day(seconds: float) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(seconds))


async def screenshot(size: tuple[int, int] = (100, 30), keys: Sequence[str] = ()) -> str:
    """The ui on the fixed demo as SVG, after pressing ``keys``."""
    from bulkctl.ui.app import BulkApp, settled
    from bulkctl.ui.backend import Backend

    with tempfile.TemporaryDirectory() as home:
        ctx = demo_context(Path(home))
        backend = Backend.from_context(ctx)
        backend.clock_text = utc_time_of_day  # the same picture in every time zone
        app = BulkApp(backend)
        try:
            async with app.run_test(size=size) as pilot:
                await settled(app, pilot)
                for key in keys:
                    await pilot.press(key)
                    await settled(app, pilot)
                return app.export_screenshot(title="bulkctl --profile demo ui")
        finally:
            ctx.close()
