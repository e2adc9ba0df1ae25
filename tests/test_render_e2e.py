"""The real process on a real (pseudo) terminal of 80 columns against the emulator: one line
a bulk, whole ids, no escape sequence from the data; several statuses in one newest-first list."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios

import pytest

from tests.conftest import Served, bulkctl_command, run_bulkctl

HOSTILE = "\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example/\x1b\\x\x1b]8;;\x1b\\\r\x08\x9b31m"


def on_terminal(served: Served, *args: str, columns: int = 80) -> tuple[int, str]:
    """Run bulkctl with stdout and stderr on a pseudo-terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, **served.env(), "TERM": "xterm"}
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [*bulkctl_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    code = proc.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def without_colours(text: str) -> str:
    return re.sub("\x1b\\[[0-9;]*m", "", text)


@pytest.mark.parametrize("columns", [80, 120])
def test_list_on_an_80_column_terminal_takes_one_line_a_bulk(served: Served, columns: int) -> None:
    newest = served.state.listing(None)[:20]
    served.state.bulks[newest[0]].operation = "/transfers/" + HOSTILE + "/" + "long" * 30
    code, text = on_terminal(served, "list", columns=columns)
    assert code == 0
    lines = without_colours(text).rstrip("\n").split("\n")
    assert lines[0].startswith("BULK ID")
    rows, note = lines[1:-1], lines[-1]
    assert [row.split()[0] for row in rows] == newest, "one line a bulk, ids whole, in order"
    assert len(lines) == 1 + 20 + 1 and "shown" in note, "header, 20 bulks and the note"
    assert all(len(line) <= columns and line == line.rstrip() for line in lines)
    for status in (served.state.bulks[i].status for i in newest):
        assert status in text
    for char in ("\x1b]", "\x07", "\x9b", "\x08", "\x1b[2J"):
        assert char not in text


def test_operations_and_summary_fit_80_columns(served: Served) -> None:
    bulk_id = next(i for i in served.state.listing("PARTIALLY_COMPLETED"))
    for args in (("operations", bulk_id), ("summary",)):
        code, text = on_terminal(served, *args)
        assert code == 0
        lines = [line for line in without_colours(text).split("\n") if line]
        assert all(len(line) <= 80 for line in lines), lines
        assert not text.startswith("\n")
    code, text = on_terminal(served, "operations", bulk_id)
    assert str(int(bulk_id) * 10_000 + 1) in text, "operation ids whole"


def test_several_statuses_give_the_newest_of_all_of_them(served: Served) -> None:
    result = run_bulkctl("list", "-s", "running,paused", "-n", "6", "--json", env=served.env())
    assert result.code == 0, result.stderr
    ids = [row["bulkId"] for row in json.loads(result.stdout)]
    both = served.state.listing("RUNNING") + served.state.listing("PAUSED")
    assert ids == sorted(both, key=int, reverse=True)[:6]
    assert "of" in result.stderr and "shown" in result.stderr
