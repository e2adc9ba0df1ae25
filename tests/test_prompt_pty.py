"""The confirmation prompt on a real terminal: text from the server cannot erase, hide or
rewrite it. A bulk's operation carries every trick (ESC, CSI, OSC 0, OSC 8, BEL, CR, C1 CSI)
and the bytes the terminal receives hold none of them, with the question shown whole."""

from __future__ import annotations

import os

import pytest

from bulkctl.actions import confirmation_text, refusal
from bulkctl.actions.rules import unknown_status_note
from bulkctl.api.records import parse_bulk
from tests.conftest import Served, bulkctl_command

HOSTILE = (
    "/transfers"
    "\x1b[2K\x1b[1G"  # CSI: erase the line, back to column 1
    "\x1b]0;pwned\x07"  # OSC 0: retitle the window, ended by BEL
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\"  # OSC 8: a hyperlink
    "\rexecute bulk 1 on sandbox: 1 × /harmless"  # CR: write over the start of the line
    "\x9b2J"  # C1 CSI: clear the screen
    "\x07"
)


def spawn(served: Served, *args: str) -> object:
    import pexpect

    command = bulkctl_command()
    return pexpect.spawn(
        command[0], [*command[1:], *args], env=dict(os.environ, **served.env()), timeout=30
    )


@pytest.mark.parametrize(("action", "status"), [("execute", "SUBMITTED"), ("cancel", "RUNNING")])
def test_a_hostile_operation_cannot_rewrite_the_prompt(
    served: Served, action: str, status: str
) -> None:
    import pexpect

    bulk_id = served.state.insert_submitted(served.clock(), 1)[0]
    bulk = served.state.bulks[bulk_id]
    bulk.items, bulk.operation = 5, HOSTILE
    if status == "RUNNING":
        served.state.act(bulk_id, "execute", served.clock(), "ON_FAILURE_STOP")
    child = spawn(served, action, bulk_id)
    child.expect(rb"\[y/N\]")  # type: ignore[attr-defined]
    shown = child.before + child.after  # type: ignore[attr-defined]
    child.sendline(b"n")  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 8  # type: ignore[attr-defined]  # declined
    assert served.state.bulks[bulk_id].status == status  # nothing was done
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\r"):
        assert raw not in shown, raw
    text = shown.decode("utf-8")
    assert text.startswith(f"{action} bulk {bulk_id} on custom base URL (127.0.0.1:")
    assert "5 × /transfers\\x1b[2K\\x1b[1G\\x1b]0;pwned\\x07" in text
    assert "\\x0dexecute bulk 1 on sandbox" in text and "\\x9b2J" in text
    assert text.endswith("? This cannot be undone. [y/N]" if action == "cancel" else "? [y/N]")


def test_the_confirmation_text_is_one_safe_line() -> None:
    bulk = parse_bulk(
        {"bulkId": "7", "status": "RUNNING\x1b[2J", "operation": HOSTILE, "submittedItemsCount": 3}
    )
    text = confirmation_text("cancel", "7", bulk, "sandbox (x, profile p)")
    assert text.isprintable()
    assert text.startswith("cancel bulk 7 on sandbox (x, profile p): 3 × /transfers\\x1b")
    assert text.endswith("now RUNNING\\x1b[2J? This cannot be undone.")  # confirm adds [y/N]


@pytest.mark.parametrize(
    ("action", "status", "allowed"),
    [
        ("execute", "SUBMITTED", True),
        ("execute", "RUNNING", False),
        ("pause", "RUNNING", True),
        ("pause", "PAUSED", False),
        ("resume", "PAUSED", True),
        ("resume", "RUNNING", False),
        ("cancel", "RUNNING", True),
        ("cancel", "PAUSED", True),
        ("cancel", "COMPLETED", False),
        ("cancel", None, True),  # unknown: the API decides
    ],
)
def test_refusal_names_the_status_and_what_the_action_needs(
    action: str, status: str | None, allowed: bool
) -> None:
    reason = refusal(action, parse_bulk({"bulkId": "12", "status": status}), "12")
    assert (reason is None) is allowed
    if reason is not None:
        assert reason.startswith(f"bulk 12 is {status}; only a")


def test_a_hostile_status_is_left_to_the_server_with_a_note_made_safe() -> None:
    bulk = parse_bulk({"bulkId": "1", "status": "DONE\x1b]0;x\x07"})
    assert refusal("execute", bulk, "1") is None  # no status the spec knows: not refused here
    note = unknown_status_note("1", bulk, "execute")
    assert note is not None and note.isprintable() and "\\x1b]0;x\\x07" in note
