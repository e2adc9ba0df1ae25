"""The in-process emulator behind ``--profile demo``, remembered between commands.

Each command is a new process, so the demo keeps a small journal in the user state
directory: when it began (its epoch) and every action and submission since. Each command
rebuilds the seeded data from that epoch and replays the journal, so a bulk shows the
same times in every command and RUNNING bulks move on as the wall clock does. An hour
after it began the demo starts afresh, with new RUNNING bulks to look at.

How the journal file is read and written is injected: the demo wiring passes readers and
writers that refuse another user's folder, a symlinked journal, and say what was not saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request
from bulkctl.emulator.spec import SUBMISSIONS_BY_NAME
from bulkctl.emulator.state import EmulatorState, InvalidState
from bulkctl.emulator.submissions import build_operations

DEMO_FILE = "demo.json"
DEMO_LIFETIME = 3600.0

_ACCOUNT = {"type": "managed_accounts", "id": "110000000000004412"}


def _transfer(i: int, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "profileId": "110000000000000117",
            "tag": f"payout-{i:04d}",
            "source": _ACCOUNT,
            "destination": {"type": "managed_accounts", "id": f"1100000000{i:08d}"},
            "destinationAmount": {"currency": "EUR", "amount": 1500 + 25 * i},
            "description": description,
        }
    }


# SUBMITTED bulks built through the submission endpoints, with operations that fail on
# execution (FAIL:CODE descriptions, card ids ending in 99N): (kind, items, minutes ago)
DEMO_SUBMISSIONS: tuple[tuple[str, list[dict[str, Any]], int], ...] = (
    (
        "transfers",
        [
            _transfer(
                i,
                "FAIL:FUNDS_INSUFFICIENT November payout"
                if i % 9 == 4
                else "FAIL:DESTINATION_NOT_FOUND November payout"
                if i % 13 == 7
                else "November payout",
            )
            for i in range(40)
        ],
        95,
    ),
    (
        "card-blocks",
        [
            {"pathParams": {"_id_": f"1100000000{i:05d}{'991' if i % 5 == 0 else '100'}"}}
            for i in range(12)
        ],
        50,
    ),
    (
        "users",
        [
            {
                "requestBody": {
                    "name": "Demo",
                    "surname": "FAIL:EMAIL_NOT_UNIQUE Reuse" if i == 3 else f"User{i}",
                    "email": f"demo.user{i}@bulkctl.example",
                }
            }
            for i in range(6)
        ],
        20,
    ),
)


JournalReader = Callable[[Path], bytes | None]
JournalWriter = Callable[[Path, bytes, str], None]


def load_demo(
    state_dir: Path,
    clock: Callable[[], float],
    *,
    read: JournalReader | None = None,
    write: JournalWriter | None = None,
) -> Emulator:
    """The demo emulator as the journal in ``state_dir`` left it, answering at ``clock()``.

    ``read(path)`` returns the journal's bytes or None; ``write(path, data, what)`` replaces
    it, ``what`` saying what would be lost. Errors from ``write`` on an action propagate.
    """
    read = read or _read_file
    write = write or _write_file
    path = state_dir / DEMO_FILE
    now = clock()
    journal = _read_journal(read, path, now)
    if journal is None:
        journal = {"epoch": now, "actions": []}
        # keep the epoch, so times stay put between commands; the demo works without it
        with contextlib.suppress(Exception):
            write(path, json.dumps(journal).encode(), "the demo's start time")
    epoch = float(journal["epoch"])
    state = EmulatorState(now=epoch)
    for name, items, minutes_ago in DEMO_SUBMISSIONS:
        kind = SUBMISSIONS_BY_NAME[name]
        state.submit(epoch - 60.0 * minutes_ago, kind, build_operations(kind, items))
    replay_time = [epoch]
    emulator = Emulator(state, clock=lambda: replay_time[0])
    for entry in journal["actions"]:
        try:
            replay_time[0] = float(entry["at"])
            if "submit" in entry:
                _replay_submission(emulator, entry)
            else:
                state.act(
                    str(entry["bulkId"]), str(entry["action"]), replay_time[0], entry.get("mode")
                )
        except (KeyError, TypeError, ValueError, InvalidState):
            continue
    emulator.violations.clear()

    def remember(entry: dict[str, Any]) -> None:
        latest = _read_journal(read, path, clock())  # another command may have written
        if latest is not None and latest["epoch"] == journal["epoch"]:
            journal["actions"] = latest["actions"]
        journal["actions"].append(entry)
        what = (
            f"the demo's {entry['action']} of bulk {entry.get('bulkId')}"
            if "action" in entry
            else f"the demo's {entry.get('submit')} submission"
        )
        write(path, json.dumps(journal).encode(), what)

    emulator.clock = clock
    emulator.journal = remember
    return emulator


def _replay_submission(emulator: Emulator, entry: dict[str, Any]) -> None:
    kind = SUBMISSIONS_BY_NAME[str(entry["submit"])]
    prefix = "/multi/backoffice" if entry.get("api") == "backoffice" else "/multi"
    headers = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}
    if entry.get("ref"):
        headers["idempotency-ref"] = str(entry["ref"])
    body = json.dumps(entry["items"]).encode()
    emulator.handle(Request(kind.method, prefix + kind.path, headers, body))


def _read_journal(read: JournalReader, path: Path, now: float) -> dict[str, Any] | None:
    try:
        raw = read(path)
        loaded = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return None  # a garbled journal: the demo starts afresh
    if (
        isinstance(loaded, dict)
        and isinstance(loaded.get("epoch"), int | float)
        and isinstance(loaded.get("actions"), list)
        and 0 <= now - loaded["epoch"] < DEMO_LIFETIME
    ):
        return loaded
    return None


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write_file(path: Path, data: bytes, what: str) -> None:
    """Replace ``path`` with ``data`` in one step (a reader never sees half a journal)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
