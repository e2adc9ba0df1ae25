"""The demo wiring: the one module outside the emulator's own command that reaches into
``bulkctl.emulator``, to answer ``--profile demo`` in-process.

Its credentials are this module's own constants (the emulator keeps its own copy, and a
test checks that they agree), so config.py can fill in the demo profile without importing
the emulator. The emulator is imported only when a demo request is about to be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

DEMO_API_KEY = "demo-api-key-7f3a"
DEMO_TOKEN = "demo-token-never-expires"
DEMO_BASE_URL = "https://demo.bulkctl.invalid/multi"


def demo_transport(
    state_dir: Path, clock: Callable[[], float], save: Callable[[Path, bytes], None]
) -> httpx.BaseTransport:
    """An httpx transport answered by the built-in emulator, whose journal of actions lives in
    ``state_dir`` and is written with ``save`` (an atomic file write)."""
    from bulkctl.emulator.demo import load_demo
    from bulkctl.emulator.transport import EmulatorTransport

    return EmulatorTransport(load_demo(state_dir, clock, save=save))
