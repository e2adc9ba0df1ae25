"""wait's exit code: the timeout beats every outcome; among final bulks the worst wins.

In-process against the emulator, with the command's clock tied to the emulator's, so a
timeout of minutes passes in no real time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.api.records import parse_bulk
from bulkctl.commands import wait as wait_cmd
from bulkctl.waiting.polling import outcome_code
from tests.conftest import InProcess, LinkedClock, in_process


def waiting(tmp_path: Path) -> InProcess:
    proc = in_process(tmp_path)
    proc.ctx.clock = LinkedClock(proc.clock)
    return proc


def first(proc: InProcess, status: str) -> str:
    return proc.emulator.state.listing(status)[0]


def wait(proc: InProcess, *ids: str, timeout: float = 60, interval: float = 5) -> int:
    try:
        return wait_cmd.run(
            proc.ctx, wait_cmd.WaitOptions(list(ids), timeout=timeout, interval=interval)
        )
    finally:
        proc.ctx.close()


@pytest.mark.parametrize("order", ["failed first", "pending first"])
@pytest.mark.parametrize("final", ["FAILED", "PARTIALLY_COMPLETED", "CANCELLED", "COMPLETED"])
def test_a_final_bulk_never_beats_one_still_pending_at_the_timeout(
    tmp_path: Path, final: str, order: str
) -> None:
    proc = waiting(tmp_path)
    done, paused = first(proc, final), first(proc, "PAUSED")
    ids = (done, paused) if order == "failed first" else (paused, done)
    assert wait(proc, *ids, timeout=30, interval=5) == 124
    assert f"still pending: {paused} PAUSED" in proc.err
    assert sum(proc.ctx.clock.slept) == pytest.approx(30)  # type: ignore[attr-defined]  # the timeout ran its course


def test_failed_plus_a_bulk_never_started_is_124(tmp_path: Path) -> None:
    proc = waiting(tmp_path)
    failed, submitted = first(proc, "FAILED"), first(proc, "SUBMITTED")
    assert wait(proc, failed, submitted, timeout=20, interval=5) == 124
    assert f"still pending: {submitted} SUBMITTED" in proc.err


def test_failed_with_every_other_bulk_final_is_12(tmp_path: Path) -> None:
    proc = waiting(tmp_path)
    ids = [first(proc, s) for s in ("COMPLETED", "FAILED", "CANCELLED", "PARTIALLY_COMPLETED")]
    assert wait(proc, *ids, timeout=30) == 12
    assert proc.ctx.clock.slept == []  # type: ignore[attr-defined]  # nothing to wait for


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([], 0),
        (["COMPLETED"], 0),
        (["COMPLETED", "CANCELLED"], 10),
        (["CANCELLED", "PARTIALLY_COMPLETED"], 11),
        (["PARTIALLY_COMPLETED", "FAILED", "CANCELLED"], 12),
        (["FAILED", "COMPLETED"], 12),
        (["COMPLETED", "REBOOTING"], 0),  # an unknown status is not an outcome
    ],
)
def test_outcome_code_is_the_worst_final_status(statuses: list[str], code: int) -> None:
    bulks = [parse_bulk({"bulkId": str(i), "status": s}) for i, s in enumerate(statuses)]
    assert outcome_code(bulks) == code


# -- gates and inputs -------------------------------------------------------------------------


def run_parsed(proc: InProcess, ids: list[str], **options: object) -> int:
    parsed = wait_cmd.parse(proc.ctx, bulk_ids=ids, flags=wait_cmd.WaitFlags(**options))  # type: ignore[arg-type]
    try:
        return wait_cmd.run(proc.ctx, parsed)
    finally:
        proc.ctx.close()


@pytest.mark.parametrize(
    ("statuses", "accept", "code"),
    [
        (["PARTIALLY_COMPLETED"], ["partially_completed"], 0),
        (["PARTIALLY_COMPLETED", "CANCELLED"], ["partially_completed,cancelled"], 0),
        (["PARTIALLY_COMPLETED", "CANCELLED"], ["partially_completed"], 10),
        (["PARTIALLY_COMPLETED", "FAILED"], ["partially_completed", "cancelled"], 12),
        (["PARTIALLY_COMPLETED"], [], 11),
    ],
)
def test_accept_turns_the_named_outcomes_into_exit_0(
    tmp_path: Path, statuses: list[str], accept: list[str], code: int
) -> None:
    proc = waiting(tmp_path)
    ids = [first(proc, s) for s in statuses]
    assert run_parsed(proc, ids, accept=accept) == code
    if accept and "PARTIALLY_COMPLETED" in statuses:
        assert f"accepted (--accept): {ids[0]} PARTIALLY_COMPLETED" in proc.err


def test_accept_refuses_an_outcome_that_cannot_be_accepted(tmp_path: Path) -> None:
    from bulkctl.errors import UsageError

    with pytest.raises(UsageError, match="--accept outcome"):
        wait_cmd.parse(
            waiting(tmp_path).ctx, bulk_ids=["1"], flags=wait_cmd.WaitFlags(accept=["failed"])
        )


def test_ids_come_from_stdin_and_from_a_file_as_submit_prints_them(tmp_path: Path) -> None:
    proc = waiting(tmp_path)
    completed, failed, cancelled = (first(proc, s) for s in ("COMPLETED", "FAILED", "CANCELLED"))
    proc.ctx.stdin.write(f"{completed}\n\n{completed}\n")
    proc.ctx.stdin.seek(0)
    listed = tmp_path / "ids.txt"
    listed.write_text(f"# from submit\n{failed}\n{cancelled}\n")
    assert run_parsed(proc, ["-"], from_file=str(listed), progress="plain") == 12
    for bulk_id in (completed, failed, cancelled):
        assert f"bulk {bulk_id}: " in proc.err


def test_status_running_waits_on_every_bulk_running_at_the_start(tmp_path: Path) -> None:
    proc = waiting(tmp_path)
    running = set(proc.emulator.state.listing("RUNNING"))
    assert running
    code = run_parsed(proc, [], status=["running"], timeout="10h", progress="plain")
    assert code == 11  # each ended, the worst PARTIALLY_COMPLETED
    seen = {
        line.split(":")[0].split()[1] for line in proc.err.splitlines() if line.startswith("bulk ")
    }
    assert running <= seen


def test_wait_needs_some_bulks(tmp_path: Path) -> None:
    from bulkctl.errors import UsageError

    with pytest.raises(UsageError, match="name the bulks"):
        wait_cmd.parse(waiting(tmp_path).ctx, bulk_ids=[])
