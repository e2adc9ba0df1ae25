"""The demo wiring: the one module outside the emulator's own command that reaches into
``bulkctl.emulator``, to answer ``--profile demo`` in-process.

Its credentials are this module's own constants (the emulator keeps its own copy, and a
test checks that they agree), so config.py can fill in the demo profile without importing
the emulator. The emulator is imported only when a demo request is about to be sent.
The demo's journal is read and written here, on the config file's terms: the folder and
file must be the user's own, no symlink is followed, and a failed write says what was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bulkctl.safefile import atomic_write, check_private_dir, make_private_dir, read_private

if TYPE_CHECKING:
    import httpx

DEMO_API_KEY = "demo-api-key-7f3a"
DEMO_TOKEN = "demo-token-never-expires"
DEMO_BASE_URL = "https://demo.bulkctl.invalid/multi"


def demo_transport(
    state_dir: Path, clock: Callable[[], float], note: Callable[[str], None]
) -> httpx.BaseTransport:
    """An httpx transport answered by the built-in emulator, whose journal lives in
    ``state_dir``; ``note`` gets notes such as a journal's mode being tightened."""
    from bulkctl.emulator.demo import load_demo
    from bulkctl.emulator.transport import EmulatorTransport

    def read(path: Path) -> bytes | None:
        check_private_dir(path.parent, "state folder")
        return read_private(path, "demo journal", note)

    def write(path: Path, data: bytes, what: str) -> None:
        make_private_dir(path.parent, "state folder", what)
        atomic_write(path, data, what)

    return EmulatorTransport(load_demo(state_dir, clock, read=read, write=write))
