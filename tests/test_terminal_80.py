"""The done-when of the 80-column tables, as a person sees them: the real process under
``script`` (a real pseudo-terminal, colours on) set to 80 columns, with the demo profile."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

from bulkctl.api.records import BULK_STATUSES, OPERATION_STATUSES
from tests.conftest import bulkctl_command

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")

COLOURS = re.compile("\x1b\\[[0-9;]*m")


def under_script(*args: str, columns: int = 80) -> list[str]:
    """The lines ``bulkctl --profile demo ARGS`` writes on an 80-column terminal."""
    command = shlex.join([*bulkctl_command(), "--profile", "demo", *args])
    proc = subprocess.run(
        ["script", "-qec", f"stty cols {columns} rows 50; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = COLOURS.sub("", proc.stdout.decode("utf-8")).replace("\r\n", "\n")
    assert "\x1b" not in text
    lines = text.rstrip("\n").split("\n")
    assert all(len(line) <= columns for line in lines), lines
    return lines


def test_list_is_one_line_a_bulk_with_whole_ids_and_statuses() -> None:
    lines = under_script("list")
    assert lines[0].split()[:2] == ["BULK", "ID"]
    rows, note = lines[1:-1], lines[-1]
    assert len(rows) == 20 and "shown" in note
    for row in rows:
        bulk_id, status = row.split()[:2]
        assert re.fullmatch(r"\d{16}", bulk_id), row
        assert status in BULK_STATUSES, row


def bulk_with_operations() -> str:
    lines = under_script("list", "-s", "partially_completed", "-n", "1")
    return lines[1].split()[0]


def test_operations_is_one_line_an_operation_with_whole_ids_and_statuses() -> None:
    bulk_id = bulk_with_operations()
    lines = under_script("operations", bulk_id)
    assert lines[0].split()[:2] == ["SEQ", "STATUS"]
    rows = lines[1:-1]
    assert len(rows) == 20 and "shown" in lines[-1]
    for number, row in enumerate(rows, start=1):
        cells = row.split()
        assert cells[0] == str(number) and cells[1] in OPERATION_STATUSES, row
        assert str(int(bulk_id) * 10_000 + number) in cells, row  # the operation id, whole


def test_summary_is_one_line_a_status() -> None:
    lines = under_script("summary")
    assert lines[0].split() == ["STATUS", "COUNT"]
    assert [line.split()[0] for line in lines[1:]] == [*BULK_STATUSES, "TOTAL"]
    assert all(re.fullmatch(r"[\d,]+", line.split()[1]) for line in lines[1:])


def test_summary_across_profiles_fits_80_columns_with_partial_for_its_longest_status() -> None:
    command = shlex.join([*bulkctl_command(), "summary", "--profiles", "demo"])
    proc = subprocess.run(
        ["script", "-qec", f"stty cols 80 rows 50; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = COLOURS.sub("", proc.stdout.decode("utf-8")).replace("\r\n", "\n").rstrip().split("\n")
    assert lines[0].split() == [
        "PROFILE",
        *(s.replace("PARTIALLY_COMPLETED", "PARTIAL") for s in BULK_STATUSES),
    ]
    assert [line.split()[0] for line in lines[1:]] == ["demo", "TOTAL"]
    assert all(len(line) <= 80 for line in lines), lines  # it was 86: every line wrapped
