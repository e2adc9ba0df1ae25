"""The words CI reads: the step summary's heading, ``summary --markdown``'s columns, and
why a change that asks is refused. The real process against the emulator (and a real pty)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Served, bulkctl_command, run_bulkctl


def test_the_step_summary_heading_counts_one_bulk_in_the_singular(
    served: Served, tmp_path: Path
) -> None:
    bulk_id = served.state.listing("COMPLETED")[0]
    summary = tmp_path / "summary.md"
    env = served.env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    result = run_bulkctl("wait", bulk_id, env=env)
    assert result.code == 0, result.stderr
    heading = summary.read_text().splitlines()[0]
    assert heading == "### bulkctl wait: 1 bulk, 1 COMPLETED"


def test_summary_markdown_of_bulks_has_no_column_it_cannot_fill(served: Served) -> None:
    ids = [served.state.listing("FAILED")[0], served.state.listing("COMPLETED")[0]]
    result = run_bulkctl("summary", *ids, "--markdown", env=served.env())
    assert result.code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].split("|")[1:-1]]
    assert header == ["Bulk", "Operation", "Status", "Done", "Failed"]
    body = [r for r in rows if r.split("|")[1].strip() in ids]
    assert len(body) == 2 and all(len(r.split("|")) == len(rows[0].split("|")) for r in body)


def test_a_refusal_on_a_terminal_in_ci_says_ci_is_the_reason(served: Served) -> None:
    pexpect = pytest.importorskip("pexpect")
    bulk_id = served.state.listing("RUNNING")[0]
    command = bulkctl_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "cancel", bulk_id],
        env=dict(os.environ, **served.env(CI="true")),
        timeout=30,
        encoding="utf-8",
    )
    child.expect(pexpect.EOF)
    text = child.before
    child.close()
    assert child.exitstatus == 2, text
    assert "refusing to cancel without confirmation (CI is set: no question is asked)" in text
    assert "no terminal" not in text  # there is one: CI is why nothing is asked
    assert served.state.bulks[bulk_id].status == "RUNNING"
