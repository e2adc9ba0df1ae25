"""Output a CI log can live with: plain lines under CI even on a pseudo-terminal, a
heartbeat at least once a minute through the client's own waits, no question asked in CI,
and stderr lines that never run together."""

from __future__ import annotations

import io
import itertools
import os
import shlex
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bulkctl.commands import wait as wait_cmd
from bulkctl.context import Context, GlobalOptions
from bulkctl.emulator.app import Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.waiting.progress import progress_mode
from tests.conftest import (
    LinkedClock,
    Served,
    StampedStream,
    bulkctl_command,
    in_process,
    make_emulator,
)


def test_a_heartbeat_at_least_every_minute_through_a_five_minute_quota_wait(
    tmp_path: Path,
) -> None:
    # the API admits 2 requests in 5 minutes: after the first poll the client waits for the
    # quota, inside one request, for minutes on end
    emulator, clock = make_emulator(
        bulks=30, faults=Faults(quota=parse_quota("2/300s"), quota_headers=True)
    )
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", "CI": "true"})
    proc.ctx.clock = LinkedClock(clock)
    stderr = StampedStream(clock)
    proc.ctx.stderr = stderr
    state = emulator.state
    bulk_id = state.insert_submitted(clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.pace, bulk.fail_rate, bulk._fails = 100_000, 100.0, 0.0, []
    state.act(bulk_id, "execute", clock(), "ON_FAILURE_CONTINUE")
    start = clock()
    options = wait_cmd.parse(
        proc.ctx, bulk_ids=[bulk_id], flags=wait_cmd.WaitFlags(timeout="15m", interval="5s")
    )
    try:
        wait_cmd.run(proc.ctx, options)
    finally:
        proc.ctx.close()
    times = [start] + [t for t, text in stderr.stamps if text.strip()]
    assert times[-1] - start >= 300  # the wait lasted more than five minutes
    assert emulator.request_count <= 8  # most of it spent waiting for the quota
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 60, gaps
    assert sum("still waiting after" in text for _, text in stderr.stamps) >= 5


@pytest.mark.skipif(not Path("/usr/bin/script").exists(), reason="util-linux script needed")
def test_under_a_pseudo_terminal_with_ci_set_wait_writes_plain_lines(
    served: Served, tmp_path: Path
) -> None:
    state = served.state
    bulk_id = state.insert_submitted(served.clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.pace, bulk.fail_rate, bulk._fails = 100, 10.0, 0.0, []
    state.act(bulk_id, "execute", served.clock(), "ON_FAILURE_CONTINUE")
    stop = threading.Event()

    def tick() -> None:  # the bulk runs on once the command has polled
        while not served.emulator.requests and not stop.wait(0.01):
            pass
        while not stop.wait(0.2):
            served.clock.advance(3)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    command = shlex.join([*bulkctl_command(), "wait", bulk_id, "--interval", "1s"])
    env = dict(os.environ, **served.env(CI="true", TERM="xterm-256color", COLUMNS="100"))
    try:
        result = subprocess.run(
            ["script", "-qec", command, "/dev/null"],
            capture_output=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    finally:
        stop.set()
        ticker.join(timeout=5)
    out = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, out
    assert "\x1b" not in out  # no cursor movement, no colour, no redrawn table
    assert f"bulk {bulk_id}: RUNNING" in out
    assert f"bulk {bulk_id}: COMPLETED (100/100 operations done)" in out


@pytest.mark.parametrize(
    ("tty", "env", "requested", "mode"),
    [
        (True, {}, None, "live"),
        (True, {"CI": "true"}, None, "plain"),
        (True, {"CI": "1"}, None, "plain"),
        (True, {"CI": "false"}, None, "live"),
        (True, {"TERM": "dumb"}, None, "plain"),
        (False, {}, None, "plain"),
        (False, {}, "live", "live"),
        (True, {"CI": "true"}, "none", "none"),
    ],
)
def test_progress_mode(
    tmp_path: Path, tty: bool, env: dict[str, str], requested: str | None, mode: str
) -> None:
    proc = in_process(tmp_path, env=env)
    proc.ctx.stderr_tty = tty
    assert progress_mode(proc.ctx, requested) == mode


def test_progress_none_prints_no_status_lines(tmp_path: Path) -> None:
    proc = in_process(tmp_path)
    proc.ctx.clock = LinkedClock(proc.clock)
    done = proc.emulator.state.listing("COMPLETED")[0]
    options = wait_cmd.parse(proc.ctx, bulk_ids=[done], flags=wait_cmd.WaitFlags(progress="none"))
    try:
        assert wait_cmd.run(proc.ctx, options) == 0
    finally:
        proc.ctx.close()
    assert f"bulk {done}" not in proc.err


def test_ci_set_means_no_question_is_asked_even_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    ctx = Context.from_process(GlobalOptions())
    ctx.stdin_tty = ctx.stderr_tty = True  # a pseudo-terminal
    assert not ctx.can_prompt


class SlowStream(io.StringIO):
    """A stream that hands the processor to other threads inside every write."""

    def write(self, text: str) -> int:
        written = 0
        for char in text:
            written += super().write(char)
            time.sleep(0)
        return written


def test_lines_of_several_threads_never_run_together(tmp_path: Path) -> None:
    proc = in_process(tmp_path)
    proc.ctx.stderr = SlowStream()
    lines = {f"note number {n} from a paging thread" for n in range(40)}

    def say(line: str) -> None:
        for _ in range(5):
            proc.ctx.note(line)

    threads = [threading.Thread(target=say, args=(line,)) for line in lines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = proc.ctx.stderr.getvalue().splitlines()
    assert len(written) == 200 and set(written) == lines
