"""``wait --timeout`` is one deadline for everything inside it: the login, the pacer, quota
waits, retries and reads. On an injected clock, another process holding the shared pacer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.emulator.app import DEMO_EMAIL, DEMO_PASSWORD
from bulkctl.errors import DeadlineReached, ExitCode
from bulkctl.pacing.pacer import Pacer, Window, state_file
from bulkctl.waiting.wait import WaitOptions, wait_for
from tests.conftest import LinkedClock, in_process

BASE_URL = "http://127.0.0.1:9/multi"


def waiting_run(tmp_path: Path, *, stored: bool, other_since: float) -> tuple[int, str, float]:
    """``wait ID --timeout 10s`` while another process has used the pacer's 10/60s window,
    ``other_since`` seconds ago: the exit code, stderr, and the time the wait took."""
    run = in_process(tmp_path, env={"BULKCTL_RATE_LIMIT": "10/60s"})
    ctx, manual = run.ctx, run.clock
    if not stored:
        ctx.env = {
            **{k: v for k, v in ctx.env.items() if k != "BULKCTL_AUTH_TOKEN"},
            "BULKCTL_EMAIL": DEMO_EMAIL,
            "BULKCTL_PASSWORD": DEMO_PASSWORD,
        }
    clock = LinkedClock(manual)
    ctx.clock = clock
    bulk_id = run.emulator.state.insert_submitted(manual(), 1)[0]
    api_key = ctx.env["BULKCTL_API_KEY"]
    other = Pacer((Window(60, 10),), clock=clock, path=state_file(ctx.state_dir, BASE_URL, api_key))
    manual.advance(-other_since)
    for _ in range(10):
        other.acquire(0)
    other.close()
    manual.advance(other_since)
    started = clock.monotonic()
    try:
        code = wait_for(ctx, WaitOptions([bulk_id], timeout=10, interval=2))
    except DeadlineReached as exc:  # before the first poll: the entry point prints it, 124
        code = exc.exit_code
        ctx.error(exc.lines())
    finally:
        ctx.close()
    return code, run.err, clock.monotonic() - started


@pytest.mark.parametrize("stored", [True, False], ids=["stored token", "no stored token"])
def test_a_pacer_full_past_the_deadline_ends_at_once_saying_so(
    tmp_path: Path, stored: bool
) -> None:
    code, err, took = waiting_run(tmp_path, stored=stored, other_since=0)
    assert code == ExitCode.TIMEOUT, err
    assert took <= 10
    # ended before the deadline: it says why, and when the next request could start
    assert "the rate limit leaves no request before the deadline" in err
    assert "the next could start at" in err
    assert "timed out after 10s" not in err


@pytest.mark.parametrize("stored", [True, False], ids=["stored token", "no stored token"])
def test_a_pacer_that_frees_within_the_deadline_is_waited_for_and_ends_by_it(
    tmp_path: Path, stored: bool
) -> None:
    code, err, took = waiting_run(tmp_path, stored=stored, other_since=55)
    assert code == ExitCode.TIMEOUT, err  # the bulk is never executed: the deadline ends it
    assert took <= 10 + 1e-6
    assert "timed out after 10s" in err  # the time measured, which is the whole timeout
