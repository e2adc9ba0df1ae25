"""rerun's refusal when --error-code matched nothing: the near code and the codes present,
with their counts, in two lines that fit an 80-column terminal (a real process on a pty)."""

from __future__ import annotations

import re

from bulkctl.emulator.submissions import FAILURE_CODES
from bulkctl.files.rerun import fitted_list
from tests.conftest import Served
from tests.test_errors_end_in_the_fix import on_a_terminal


def failed_transfers(served: Served) -> str:
    state = served.state
    return next(
        i
        for i in state.listing("FAILED")
        if state.bulks[i].operation == "/transfers" and state.bulks[i].items > 40
    )


def test_a_code_that_matches_nothing_is_two_lines_that_fit_80_columns(served: Served) -> None:
    bulk_id = failed_transfers(served)
    lines = on_a_terminal(
        "rerun", bulk_id, "--failed", "--error-code", "FUNDS_INSUFICIENT", "--dry-run",
        env=served.env(),
    )  # fmt: skip
    assert len(lines) == 2, lines
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    first, hint = lines
    assert (
        first == "bulkctl: error: nothing to rerun: did you mean --error-code FUNDS_INSUFFICIENT?"
    )
    listed = re.fullmatch(r"  FAILED: (?P<codes>.+?)(?:, …and (?P<more>\d+) more)?", hint)
    assert listed is not None, hint
    present = [part.split(" ", 1) for part in listed["codes"].split(", ")]
    assert all(n.isdigit() and code in FAILURE_CODES["/transfers"] for n, code in present)
    counts = [int(n) for n, _ in present]
    assert counts == sorted(counts, reverse=True)  # the commonest first
    assert len(present) >= 2 or listed["more"] is None  # two of these codes fit beside the label
    assert len(present) + int(listed["more"] or 0) == 3  # transfers fail with three codes here


def test_with_no_code_near_the_line_says_none_has_it(served: Served) -> None:
    bulk_id = failed_transfers(served)
    lines = on_a_terminal(
        "rerun", bulk_id, "--failed", "--error-code", "XYZ", "--dry-run", env=served.env()
    )
    assert lines[0] == "bulkctl: error: nothing to rerun: no FAILED has errorCode XYZ", lines
    assert len(lines) == 2 and len(lines[1]) <= 80, lines


def test_a_list_is_cut_with_how_many_more_and_keeps_at_least_one() -> None:
    parts = ["30 A_CODE_OF_TWENTY_ONE", "20 ANOTHER_CODE_OF_22_C", "10 THE_THIRD_CODE_IS_LONGER"]
    assert fitted_list("FAILED: ", parts, 200) == f"FAILED: {', '.join(parts)}"
    two = "FAILED: 30 A_CODE_OF_TWENTY_ONE, 20 ANOTHER_CODE_OF_22_C, …and 1 more"
    assert fitted_list("FAILED: ", parts, len(two)) == two
    assert fitted_list("FAILED: ", parts, len(two) - 1) == (
        "FAILED: 30 A_CODE_OF_TWENTY_ONE, …and 2 more"
    )
    assert fitted_list("FAILED: ", parts, 10) == "FAILED: 30 A_CODE_OF_TWENTY_ONE, …and 2 more"
