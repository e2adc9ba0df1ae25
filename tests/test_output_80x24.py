"""Issue 22's output at 80x24, as a person sees it: the real process under ``script`` (a real
pseudo-terminal, colours on) set to 80 columns and 24 rows, on the demo and on the emulator
served on loopback. Colours by outcome, failures first, paths cut in the middle, payloads
shown whole, empty results said."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import Served, bulkctl_command

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")

COLOURS = re.compile("\x1b\\[[0-9;]*m")
GREEN = "\x1b[32m"
BAR = re.compile("[█▓▒·]{10,}")


def at_80x24(*args: str, env: dict[str, str] | None = None, code: int = 0) -> tuple[str, str]:
    """(what the terminal shows, with its colour codes; the same without them) of
    ``bulkctl ARGS`` on an 80x24 terminal. ``--no-pager``: no pager waits for a key."""
    command = shlex.join([*bulkctl_command(), *args])
    proc = subprocess.run(
        ["script", "-qec", f"stty cols 80 rows 24; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    raw = proc.stdout.decode("utf-8").replace("\r\n", "\n")
    assert proc.returncode == code, raw + proc.stderr.decode()
    return raw, COLOURS.sub("", raw)


def demo(*args: str, code: int = 0) -> tuple[str, str]:
    return at_80x24("--profile", "demo", "--no-pager", *args, code=code)


def first_bulk(status: str) -> str:
    _, text = demo("list", "-s", status, "-n", "1")
    return text.split("\n")[1].split()[0]


def assert_failed_bulk_fits(raw: str, text: str) -> None:
    """No green in the bar; the status, the counts and the failure groups in 15 lines."""
    lines = text.rstrip("\n").split("\n")
    top = lines[:15]
    assert any(line.split()[:2] == ["status", "FAILED"] for line in top), top
    counts = r"\b0 done · [\d,]+ failed( · [\d,]+ cancelled)? · 0 left$"
    assert any(re.search(counts, line) for line in top), top
    heading = next(i for i, line in enumerate(top) if line.startswith("failed operations by"))
    assert top[heading + 1].split()[:2] == ["ERROR", "CODE"]
    groups = [line for line in top[heading + 2 :] if re.match(r"[A-Z_]+ +\d+ ", line)]
    assert groups, top
    # the next command, whole: beside "next:", or on its own line when that is too long
    assert any(line.startswith("next:") for line in top), top
    bar_line = next(line for line in raw.split("\n") if "failed ·" in line)
    assert GREEN not in bar_line and "█" not in bar_line  # nothing drawn as completed
    assert "\x1b[31m" in bar_line  # the failures, red
    assert all(len(line) <= 80 for line in lines if not line.startswith(("next: ", "bulkctl ")))


def test_show_of_a_failed_demo_bulk_has_no_green_and_its_failures_first() -> None:
    raw, text = demo("show", first_bulk("failed"))
    assert_failed_bulk_fits(raw, text)


def test_show_of_a_failed_served_bulk_has_no_green_and_its_failures_first(
    served: Served,
) -> None:
    failed = [b for b in served.state.bulks.values() if b.status == "FAILED"]
    assert failed
    raw, text = at_80x24("--no-pager", "show", failed[0].bulk_id, env=served.env())
    assert_failed_bulk_fits(raw, text)


def test_show_without_colour_says_the_outcome_in_words() -> None:
    bulk_id = first_bulk("partially_completed")
    raw, _ = at_80x24("--profile", "demo", "--no-pager", "show", bulk_id, env={"NO_COLOR": "1"})
    assert "\x1b[" not in raw
    line = next(line for line in raw.split("\n") if line.startswith("progress"))
    assert re.search(r"[\d,]+ done · [\d,]+ failed · 0 left$", line), line
    assert "█" in line and "▓" in line  # each outcome its own glyph


def test_show_of_a_running_bulk_gives_its_rate_and_eta() -> None:
    _, text = demo("show", first_bulk("running"))
    rate = next(line for line in text.split("\n") if line.startswith("rate"))
    assert re.fullmatch(r"rate +[\d,.]+ operations/(s|min) · about .+ left", rate), rate


def test_list_tells_block_unblock_and_remove_apart(served: Served) -> None:
    kinds = ("block", "unblock", "remove")
    for kind, bulk_id in zip(kinds, served.state.insert_submitted(served.clock(), 3), strict=True):
        served.state.bulks[bulk_id].operation = f"/managed_cards/{{id}}/{kind}"
    _, text = at_80x24("--no-pager", "list", "-n", "60", env=served.env())
    rows = text.split("\n")[1:61]
    header = text.split("\n")[0]
    start = header.index("OPERATION")
    cut = [row[start:].split()[0] for row in rows if "managed_cards" in row or "/…/" in row]
    for kind in kinds:
        assert any(cell.endswith(f"/{kind}") for cell in cut), (kind, cut)
    assert not any(cell.endswith("…") for cell in cut), cut


def test_list_of_the_demo_keeps_each_operations_end() -> None:
    _, text = demo("list", "-n", "60")
    header, *rows = text.rstrip("\n").split("\n")[:61]
    start = header.index("OPERATION")
    cells = [row[start:].split()[0] for row in rows]
    for cell in cells:
        assert cell.endswith(
            ("/block", "/unblock", "/remove", "/users", "/sends", "/transfers")
        ) or cell.startswith("/outgoing_wire_"), cell
    assert any(cell.endswith("/block") for cell in cells)


def assert_both_payloads_of_both(text: str, bulk_id: str) -> None:
    blocks = text.split("\n\n")
    assert [b.split("\n")[0].split()[:2] for b in blocks[:2]] == [
        ["operation", "1"],
        ["operation", "2"],
    ], text
    for block in blocks[:2]:
        lines = block.split("\n")
        request, response = lines.index("  request"), lines.index("  response")
        assert lines[request + 1].strip() == "{" and lines[response + 1].strip() == "{", block
        assert any('"' in line for line in lines[request + 1 : response])  # the payload itself
        assert all(len(line) <= 80 for line in lines)
        assert str(int(bulk_id) * 10_000 + int(lines[0].split()[1])) in block  # the id, whole


def test_operations_payloads_on_a_terminal_shows_both_payloads_of_both() -> None:
    bulk_id = first_bulk("completed")
    _, text = demo("operations", bulk_id, "-n", "2", "--payloads")
    assert_both_payloads_of_both(text, bulk_id)


def test_operations_payloads_on_the_served_emulator(served: Served) -> None:
    done = [b for b in served.state.bulks.values() if b.status == "PARTIALLY_COMPLETED"]
    bulk_id = done[0].bulk_id
    _, text = at_80x24(
        "--no-pager", "operations", bulk_id, "-n", "2", "--payloads", env=served.env()
    )
    assert_both_payloads_of_both(text, bulk_id)


def test_a_failed_operation_is_described_with_its_error_code() -> None:
    _, text = demo("operations", first_bulk("failed"), "-n", "1", "-s", "failed", "--payloads")
    assert re.search(r"^  error code   [A-Z_]+$", text, re.M), text
    assert '"errorCode"' in text  # the response, pretty-printed


def test_operations_payloads_with_o_keeps_the_columns() -> None:
    bulk_id = first_bulk("completed")
    _, text = demo("operations", bulk_id, "-n", "2", "--payloads", "-o", "wide")
    header = text.split("\n")[0].split()
    assert "REQUEST" in header and "RESPONSE" in header


def test_an_empty_result_says_so() -> None:
    _, text = demo("list", "--operation", "/nothing_of_the_kind")
    assert "no bulks match" in text
    bulk_id = first_bulk("completed")
    _, text = demo("operations", bulk_id, "-s", "failed")
    assert "no operations match" in text


def test_an_empty_result_on_the_served_emulator_says_so(served: Served) -> None:
    _, text = at_80x24("--no-pager", "list", "-s", "paused", "--since", "1m", env=served.env())
    assert "no bulks match" in text


def test_the_done_when_on_emulator_serve() -> None:
    """``bulkctl emulator serve`` as its own process, as a user runs it: a FAILED bulk's
    show, list -n 60's operations, operations -n 2 --payloads, an empty result."""
    from tests.conftest import logged_in
    from tests.serving import emulator_process

    with emulator_process() as (base_url, _):
        env = logged_in(base_url)
        _, text = at_80x24("--no-pager", "list", "-n", "60", env=env)
        header, *rows = text.rstrip("\n").split("\n")[:61]
        start = header.index("OPERATION")
        assert len(rows) == 60
        assert not [row for row in rows if row[start:].split()[0].endswith("{…")]
        _, text = at_80x24("--no-pager", "list", "-s", "failed", "-n", "1", env=env)
        raw, text = at_80x24("--no-pager", "show", text.split("\n")[1].split()[0], env=env)
        assert_failed_bulk_fits(raw, text)
        _, text = at_80x24("--no-pager", "list", "-s", "completed", "-n", "1", env=env)
        bulk_id = text.split("\n")[1].split()[0]
        _, text = at_80x24("--no-pager", "operations", bulk_id, "-n", "2", "--payloads", env=env)
        assert_both_payloads_of_both(text, bulk_id)
        _, text = at_80x24("--no-pager", "operations", bulk_id, "-s", "failed", env=env)
        assert f"no operations match in bulk {bulk_id}" in text


def test_watch_of_a_failed_bulk_draws_no_green() -> None:
    raw, text = demo("watch", first_bulk("failed"), code=12)
    bar_line = next(line for line in raw.split("\n") if "failed ·" in line)
    assert GREEN not in bar_line and "█" not in bar_line and "▓" in bar_line
    assert re.search(r"0 done · [\d,]+ failed", text)


def test_operations_of_a_failed_bulk_show_an_error_code_column() -> None:
    """Where payloads are JSON with errorCode, the table has an ERROR CODE column, each
    failed row naming its code (the demo's codes are FAIL: descriptions turned errors)."""
    from bulkctl.emulator.submissions import FAILURE_CODES

    codes = {code for kind in FAILURE_CODES.values() for code in kind}
    _, text = demo("operations", first_bulk("failed"), "-s", "failed", "-n", "5")
    header, *lines = text.rstrip("\n").split("\n")
    assert "ERROR CODE" in header, text
    rows = [line.split() for line in lines if line.startswith(" ")]  # the note does not
    assert len(rows) == 5, text
    assert all(row[1] == "FAILED" and row[2] in codes for row in rows), text
