"""wait's exit code: the timeout beats every outcome; among final bulks the worst wins.

In-process against the emulator, with the command's clock tied to the emulator's, so a
timeout of minutes passes in no real time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.api.records import parse_bulk
from bulkctl.commands import wait as wait_cmd
from bulkctl.polling import outcome_code
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
