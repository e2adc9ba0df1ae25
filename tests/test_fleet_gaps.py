"""Fleet loose ends: an empty fleet result says so as list of one profile does, and the
notes of the config store, shared by the profiles' threads, are each said once."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
from pathlib import Path
from typing import Any

import pytest

from bulkctl import context as context_module
from bulkctl.cli.options import FleetFlags, PagingFlags
from bulkctl.commands import list as list_cmd
from bulkctl.config_file import ConfigStore
from bulkctl.context import Context, GlobalOptions
from bulkctl.emulator.app import DEMO_API_KEY, Emulator, Faults
from bulkctl.emulator.auth import served_identities
from bulkctl.emulator.quota import parse_quota
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.transport import EmulatorTransport
from bulkctl.lists.progress import CLEAR
from tests.conftest import T0, LinkedClock, ManualClock

IDENTITIES = "corporate:1001,consumer:2001"


def identities_context(tmp_path: Path, bulks: int) -> Context:
    clock = ManualClock(T0)
    emulator = Emulator(EmulatorState(bulks=bulks, now=clock()), clock=clock, identities=2)
    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi/backoffice",
            "BULKCTL_API_KEY": DEMO_API_KEY,
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        options=GlobalOptions(),
        transport=EmulatorTransport(emulator),
    )


@pytest.mark.parametrize(
    ("bulks", "operation", "said"),
    [(40, "/no_such_path", "no bulks match"), (0, None, "no bulks found")],
)
def test_an_empty_fleet_result_says_so_on_stderr(
    tmp_path: Path, bulks: int, operation: str | None, said: str
) -> None:
    ctx = identities_context(tmp_path, bulks)
    try:
        options = list_cmd.parse(
            ctx,
            paging=PagingFlags(all_records=True),
            operation=operation,
            fleet=FleetFlags(identities=IDENTITIES),
        )
        assert list_cmd.run(ctx, options) == 0
    finally:
        ctx.close()
    err = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert said in err.splitlines(), err
    assert ctx.stdout.getvalue().count("\n") <= 1  # type: ignore[attr-defined]


class MeetingStream(io.StringIO):
    """stderr whose writes wait (a while) for the other profile's thread to write too."""

    def __init__(self, meeting: threading.Barrier) -> None:
        super().__init__()
        self.meeting = meeting

    def write(self, text: str) -> int:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other had nothing to say
            self.meeting.wait(timeout=1)
        return super().write(text)


def test_a_kept_config_note_is_said_once_when_two_profiles_resolve_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfigStore(tmp_path / "cfg")  # no callback: notes are kept for settings()
    store.notes.append("note: the config file was open to other users; now 0600")
    resolved = threading.Barrier(2)

    def resolve(*args: Any, **kwargs: Any) -> object:
        resolved.wait(timeout=5)  # both profiles' threads reach the notes together
        return object()

    monkeypatch.setattr(context_module, "resolve", resolve)
    meeting = threading.Barrier(2)
    base = Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={},
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        options=GlobalOptions(),
        transport=EmulatorTransport(Emulator(EmulatorState(bulks=1, now=T0))),
        _store=store,
    )
    members = [
        dataclasses.replace(base, stderr=MeetingStream(meeting), _stderr_lock=threading.RLock())
        for _ in range(2)
    ]
    threads = [threading.Thread(target=m.settings) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    said = "".join(m.stderr.getvalue() for m in members)  # type: ignore[attr-defined]
    assert said.count("was open to other users") == 1, said
    assert store.notes == []


def test_the_same_store_note_fired_by_several_threads_is_said_once(tmp_path: Path) -> None:
    heard: list[str] = []
    store = ConfigStore(tmp_path / "cfg", note=heard.append)
    start = threading.Barrier(8)

    def fire() -> None:
        start.wait(timeout=5)
        store._note("note: config.toml was open to other users (mode 644); now 0600")

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(heard) == 1, heard


def test_a_fleet_of_identities_on_a_terminal_draws_lists_transient_line(tmp_path: Path) -> None:
    """One progress module: the identities are counted by the line list draws over pages,
    transient on a terminal, cleared before a failing identity's line and at the end."""
    clock = ManualClock(T0 + 4.3)
    emulator = Emulator(
        EmulatorState(bulks=20, now=clock()),
        clock=clock,
        faults=Faults(quota=parse_quota("10/10s")),
        identities=12,
    )
    ctx = identities_context(tmp_path, 0)
    ctx.transport = EmulatorTransport(emulator)
    ctx.clock = LinkedClock(clock)
    ctx.stderr_tty = True
    ctx.env = {**ctx.env, "BULKCTL_RATE_LIMIT": "10/10s", "BULKCTL_CONCURRENCY": "1"}
    names = [f"{k.lower()}:{i}" for k, i in served_identities(12)] + ["corporate:404404"]
    try:
        options = list_cmd.parse(
            ctx, status=["failed"], fleet=FleetFlags(identities=",".join(names))
        )
        assert list_cmd.run(ctx, options) != 0  # the identity the emulator does not know
    finally:
        ctx.close()
    err = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    drawn = err.split(CLEAR)
    lines = [part for part in drawn if part.startswith("reading identities: ")]
    assert lines and all(" of 13, " in line and "\n" not in line for line in lines), err
    assert any("ETA " in line for line in lines), err
    for part in drawn:  # nothing is written after the transient line without clearing it
        assert part.startswith("reading identities: ") or "reading identities" not in part
    assert "corporate:404404" in err and not err.endswith(lines[-1])  # cleared at the end
