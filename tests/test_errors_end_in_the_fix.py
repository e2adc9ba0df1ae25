"""Every error ends in the fix (issue 22), each run as the real process against the
emulator: a near miss is named (modes, kinds, error codes), a 404 says which base URL or
where ids are found, a refused connection says so once, and the lines stay short."""

from __future__ import annotations

import socket

from bulkctl.emulator.submissions import FAILURE_CODES
from bulkctl.errors import ExitCode, closest
from tests.conftest import Served, logged_in, run_bulkctl


def test_the_modes_the_table_prints_are_accepted_and_a_near_miss_is_named(
    served: Served,
) -> None:
    stop = run_bulkctl("list", "--mode", "stop", "-n", "5", "-o", "json", env=served.env())
    assert stop.code == 0, stop.stderr
    assert '"ON_FAILURE_CONTINUE"' not in stop.stdout and '"ON_FAILURE_STOP"' in stop.stdout
    wrong = run_bulkctl("list", "--mode", "contnue", env=served.env())
    assert wrong.code == ExitCode.USAGE
    assert "unknown mode 'contnue'" in wrong.stderr
    assert "did you mean continue?" in wrong.stderr
    assert served.emulator.request_count == 1  # the first listing only: checked before sending


def test_a_kind_in_the_singular_is_corrected(served: Served) -> None:
    result = run_bulkctl("submit", "transfer", "items.jsonl", env=served.env())
    assert result.code == ExitCode.USAGE
    assert "unknown kind 'transfer'" in result.stderr
    assert "did you mean transfers?" in result.stderr
    assert served.emulator.request_count == 0


def test_an_error_code_that_matches_nothing_lists_the_codes_present(served: Served) -> None:
    state = served.state
    bulk_id = next(i for i in state.listing("FAILED") if state.bulks[i].operation == "/transfers")
    result = run_bulkctl(
        "rerun", bulk_id, "--failed", "--error-code", "FUNDS_INSUFICIENT", "--dry-run",
        env=served.env(),
    )  # fmt: skip
    assert result.code == ExitCode.USAGE, result.stderr
    assert "nothing to rerun" in result.stderr
    first, hint = result.stderr.splitlines()
    assert hint.startswith("  FAILED: ")
    present = [p for p in hint.split("FAILED: ")[1].split(", ") if not p.startswith("…and ")]
    codes = [part.split(" ")[1] for part in present]
    assert codes and set(codes) <= set(FAILURE_CODES["/transfers"])
    assert all(part.split(" ")[0].isdigit() for part in present)
    if "FUNDS_INSUFFICIENT" in codes:
        assert first.endswith("did you mean --error-code FUNDS_INSUFFICIENT?")


def test_a_base_url_without_multi_names_the_right_one(served: Served) -> None:
    result = run_bulkctl("list", env=logged_in(served.root))  # as `emulator serve` prints it first
    assert result.code == ExitCode.NOT_FOUND
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[1].endswith(f"--base-url {served.root}/multi")
    again = run_bulkctl("list", "-n", "1", env=logged_in(lines[1].rsplit(" ", 1)[1]))
    assert again.code == 0, again.stderr  # the hint's URL works


def test_a_base_url_ending_in_backoffice_gets_multi_before_it(served: Served) -> None:
    result = run_bulkctl("list", "-n", "1", env=logged_in(f"{served.root}/backoffice"))
    assert result.code == ExitCode.NOT_FOUND
    hint = result.stderr.splitlines()[-1]
    assert hint.endswith(f"--base-url {served.root}/multi/backoffice"), hint
    again = run_bulkctl("list", "-n", "1", env=logged_in(hint.rsplit(" ", 1)[1]))
    assert again.code == 0, again.stderr  # the hint's URL works


def test_a_login_against_the_other_apis_root_names_it(served: Served) -> None:
    env = {"BULKCTL_API_KEY": logged_in(served.multi)["BULKCTL_API_KEY"]}
    url = ("--base-url", served.multi)  # the Multi API's root, for a Back Office login
    result = run_bulkctl(*url, "auth", "login", "--identity", "corporate:1001", env=env)
    assert result.code == ExitCode.NOT_FOUND, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[1].endswith(f"--base-url {served.root}/multi/backoffice")


def test_an_unknown_bulk_says_how_to_find_ids_in_two_short_lines(served: Served) -> None:
    result = run_bulkctl("show", "1100000000999999", env=served.env())
    assert result.code == ExitCode.NOT_FOUND
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines), lines
    assert lines[0] == "bulkctl: error: get bulk 1100000000999999: not found (HTTP 404)"
    assert lines[1].strip() == "find bulk ids with: bulkctl list"


def test_a_refused_connection_is_one_line_per_attempt_at_most() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        result = run_bulkctl("list", env=logged_in(f"http://127.0.0.1:{port}/multi"))
    assert result.code == ExitCode.NETWORK
    lines = result.stderr.splitlines()
    assert len(lines) <= 4, lines  # 4 attempts (retries' default)
    assert lines[0] == "list bulks: connection refused; trying 3 more times"
    assert "cannot connect" in lines[1] and "gave up after 4 attempts" in lines[1]
    assert lines[-1].strip().startswith("check the base URL")


def test_closest_is_none_when_nothing_is_near() -> None:
    assert closest("stp", ["STOP", "CONTINUE"]) == "STOP"
    assert closest("xyz", ["STOP", "CONTINUE"]) is None


# -- commands to copy are never cut by the terminal's edge ------------------------------------


def on_a_terminal(*args: str, env: dict[str, str]) -> list[str]:
    """The lines a 80×24 terminal receives from a real bulkctl process (``--no-pager``:
    the lines as written, not a pager's screen)."""
    import os

    import pexpect

    from tests.conftest import bulkctl_command

    command = bulkctl_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "--no-pager", *args],
        env=dict(os.environ, COLUMNS="80", LINES="24", **env),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    return str(child.before).replace("\r\n", "\n").splitlines()


LONG_PROFILE = "live-operations-eu"


def test_at_80_columns_a_hint_that_does_not_fit_puts_its_command_on_its_own_line(
    served: Served,
) -> None:
    lines = on_a_terminal("list", env=logged_in(served.root))
    assert lines[-1] == f"--base-url {served.root}/multi", lines  # whole, from column 0
    assert lines[-2] == "  its root ends in /multi or /multi/backoffice:"
    env = {**served.env(), "BULKCTL_PROFILE": LONG_PROFILE}
    made = run_bulkctl("--profile", LONG_PROFILE, "config", "set", "retries", "4")
    assert made.code == 0, made.stderr  # a profile of the file: its name goes in every hint
    bulk_id = served.state.listing("FAILED")[0]
    lines = on_a_terminal("show", bulk_id, env=env)
    command = f"bulkctl --profile {LONG_PROFILE} operations {bulk_id} --status failed --errors"
    assert len(command) > 80 - len("next: ")
    at = lines.index("next:")  # show puts its failures, and this hint, first
    assert lines[at + 1] == command, lines[at : at + 2]


def test_not_logged_in_at_80_columns_gives_each_command_whole_and_nothing_after_it() -> None:
    lines = on_a_terminal("--base-url", "http://127.0.0.1:9/multi", "list", env={})
    assert lines[0] == "bulkctl: error: not logged in (profile default, 127.0.0.1:9)", lines
    assert lines[-1] == "bulkctl --profile demo list", lines  # it was "... demo list)"
    assert any("bulkctl --base-url http://127.0.0.1:9/multi auth login" in x for x in lines)
    assert not any(line.rstrip().endswith(")") for line in lines[1:]), lines


def test_a_line_that_fits_is_left_as_it_is_and_a_long_one_breaks_before_each_command() -> None:
    from bulkctl.errors import fit_commands

    assert fit_commands("  run: bulkctl auth login", 80) == ["  run: bulkctl auth login"]
    long = "  run: bulkctl --profile live-operations-eu auth login   (or try the demo: bulkctl --profile demo list)"
    assert fit_commands(long, 80) == [
        "  run: bulkctl --profile live-operations-eu auth login   (or try the demo:",
        "bulkctl --profile demo list)",
    ]
    prose = (
        "  fix or move the file; bulkctl will not overwrite it, whatever the width of the screen"
    )
    assert fit_commands(prose, 40) == [prose]  # no command in it: the terminal folds prose
    message = (
        "bulkctl: error: bulkctl ui reads keys, and --no-input (or BULKCTL_NO_INPUT) forbids it"
    )
    assert fit_commands(message, 80) == [message]  # a message that starts with our name


def test_a_kind_the_back_office_lacks_names_the_base_url_when_that_chose_the_api(
    served: Served,
) -> None:
    """The base URL names the API, so "config set api multi" would change nothing there: the
    fix named is the URL (the audit ran the old hint and got the same error again)."""
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples"
    env = logged_in(f"{served.root}/multi/backoffice")
    result = run_bulkctl("submit", "card-removals", str(examples / "card-removals.jsonl"), env=env)
    assert result.code == ExitCode.USAGE
    assert "the Back Office API has no bulk card-removals" in result.stderr
    assert "base_url ends in /multi, not /multi/backoffice" in result.stderr
    assert "config set api multi" not in result.stderr
    assert served.emulator.request_count == 0
