"""summary across identities (and profiles) on an 80-column terminal: the real process under
``script`` (a real pseudo-terminal, colours on); the status columns are headed shorter as the
width needs, and no profile name or identity is ever cut."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bulkctl.emulator.app import DEMO_API_KEY, Emulator
from bulkctl.emulator.state import EmulatorState
from tests.conftest import ManualClock
from tests.serving import bulkctl_command, serving

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")

COLOURS = re.compile("\x1b\\[[0-9;]*m")
IDENTITIES = "corporate:1001,consumer:2001,corporate:1002"
WORDS = ["SUBMIT", "RUN", "PARTIAL", "COMPL", "FAIL", "PAUSE", "CANCEL"]
LETTERS = ["SUB", "RUN", "PART", "COMP", "FAIL", "PAUS", "CANC"]


def at_80_columns(*args: str) -> list[str]:
    command = shlex.join([*bulkctl_command(), "--no-pager", *args])
    proc = subprocess.run(
        ["script", "-qec", f"stty cols 80 rows 50; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    text = COLOURS.sub("", proc.stdout.decode("utf-8")).replace("\r\n", "\n").rstrip()
    assert proc.returncode == 0, text
    return text.split("\n")


def test_summary_of_identities_fits_80_columns_with_every_identity_whole() -> None:
    lines = at_80_columns("--profile", "demo", "summary", "--identities", IDENTITIES)
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]  # it was 81
    assert lines[0].split() == ["IDENTITY", *WORDS]
    assert [line.split()[0] for line in lines[1:]] == [*IDENTITIES.split(","), "TOTAL"]
    assert all(re.fullmatch(r"[\d,]+", cell) for line in lines[1:] for cell in line.split()[1:])


def test_summary_with_profile_and_identity_columns_fits_80_columns() -> None:
    lines = at_80_columns("summary", "--profiles", "demo", "--identities", IDENTITIES)
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]  # it was 90
    assert lines[0].split() == ["PROFILE", "IDENTITY", *WORDS]
    assert [line.split()[:2] for line in lines[1:-1]] == [
        ["demo", identity] for identity in IDENTITIES.split(",")
    ]


def test_a_long_profile_name_gets_headers_of_four_letters_and_stays_whole(
    isolated_home: Path,
) -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=30, now=clock()), clock=clock, identities=3)
    name = "live-operations-eu-west"
    folder = isolated_home / "config" / "bulkctl"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    (isolated_home / "config").chmod(0o700)
    with serving(emulator) as root:
        values = {"base_url": f"{root}/multi/backoffice", "api_key": DEMO_API_KEY}
        lines_of_file = [
            f"[profiles.{name}]",
            *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
        ]
        (folder / "config.toml").write_text("\n".join(lines_of_file) + "\n")
        (folder / "config.toml").chmod(0o600)
        lines = at_80_columns("summary", "--profiles", name, "--identities", IDENTITIES)
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    assert lines[0].split() == ["PROFILE", "IDENTITY", *LETTERS]
    assert [line.split()[0] for line in lines[1:]] == [name, name, name, "TOTAL"]
