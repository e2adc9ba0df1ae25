"""An identity the API key cannot impersonate, or one another session acts for: POST
/access_token's two 409s end in their own fix, in a fleet (each fix once, under the first
member it fixes) and for one identity (``auth login --identity``, a profile's ``identity``),
each run as the real process against the emulator served on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator
from bulkctl.emulator.state import EmulatorState
from bulkctl.errors import ExitCode
from tests.conftest import ManualClock, Spawned, run_bulkctl
from tests.serving import serving

UNKNOWN_FIX = "  check the type and id in --identities"
BUSY_FIX = "  another session is acting for this identity: try again once it has ended"


def emulator_with_a_busy_identity() -> Emulator:
    """Three identities (corporate:1001, consumer:2001, corporate:1002); another session
    acts for consumer:2001."""
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=20, now=clock()), clock=clock, identities=3)
    emulator.impersonated_elsewhere = frozenset({("CONSUMER", "2001")})
    return emulator


def back_office(root: str, **extra: str) -> dict[str, str]:
    return {
        "BULKCTL_BASE_URL": root + "/multi/backoffice",
        "BULKCTL_API_KEY": DEMO_API_KEY,
        **extra,
    }


def errors_with_their_fixes(stderr: str) -> list[tuple[str, str | None]]:
    """Each error line of a fleet, with the indented line under it (None: none)."""
    lines = stderr.splitlines()
    return [
        (line, lines[n + 1] if n + 1 < len(lines) and lines[n + 1].startswith("  ") else None)
        for n, line in enumerate(lines)
        if line.startswith("bulkctl: error: ")
    ]


def test_identities_the_key_cannot_impersonate_end_in_the_fix_said_once(tmp_path: Path) -> None:
    emulator = emulator_with_a_busy_identity()
    ids = tmp_path / "ids.txt"
    ids.write_text("corporate:1001\ncorporate:9999\ncorporate:9998\nconsumer:2001\n")
    with serving(emulator) as root:
        result = run_bulkctl("summary", "--identities", f"@{ids}", "--json", env=back_office(root))
    assert result.code == ExitCode.CONFLICT, result.stderr
    said = errors_with_their_fixes(result.stderr)
    unknown = [(e, fix) for e, fix in said if "UNRESOLVED_IDENTITY" in e]
    assert sorted(e.split(": ")[2] for e, _ in unknown) == ["corporate:9998", "corporate:9999"]
    assert all("the API key cannot impersonate this identity" in e for e, _ in unknown)
    # the fix names where the identities came from, under the first refused, once
    assert unknown[0][1] == f"{UNKNOWN_FIX} @{ids}: the API key must be able to impersonate it"
    assert unknown[1][1] is None, result.stderr
    busy = [(e, fix) for e, fix in said if "ALREADY_IMPERSONATED" in e]
    assert len(busy) == 1 and busy[0][0].startswith("bulkctl: error: consumer:2001: ")
    assert "this identity is impersonated already" in busy[0][0]
    assert busy[0][1] == BUSY_FIX
    assert len(said) == 3, result.stderr
    document = json.loads(result.stdout)  # the identity it could read is counted
    assert [c["identity"] for c in document["counts"]] == ["corporate:1001"]
    assert sorted(e["identity"] for e in document["errors"]) == [
        "consumer:2001",
        "corporate:9998",
        "corporate:9999",
    ]


def test_identities_given_on_the_command_line_are_named_by_the_option(tmp_path: Path) -> None:
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        result = run_bulkctl(
            "list",
            "--identities",
            "corporate:1001,corporate:9999",
            "-n",
            "1",
            env=back_office(root),
        )
    assert result.code == ExitCode.CONFLICT, result.stderr
    [(error, fix)] = errors_with_their_fixes(result.stderr)
    assert error.startswith("bulkctl: error: corporate:9999: access token: the API key cannot")
    assert fix == f"{UNKNOWN_FIX}: the API key must be able to impersonate it"


def test_logging_in_as_an_identity_the_key_cannot_impersonate_says_which_and_the_fix() -> None:
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        login = run_bulkctl("auth", "login", "--identity", "corporate:9999", env=back_office(root))
        # a profile's identity, logged in as the first request of any command asks
        listing = run_bulkctl(
            "list", "-n", "1", env=back_office(root, BULKCTL_IDENTITY="corporate:9999")
        )
    for result in (login, listing):
        assert result.code == ExitCode.CONFLICT, result.stderr
        first, fix = result.stderr.splitlines()
        assert first.startswith(
            "bulkctl: error: login: the API key cannot impersonate corporate:9999 ("
        )
        assert "errorCode UNRESOLVED_IDENTITY" in first
        assert fix.startswith("  check the identity's type (corporate or consumer) and id")
        assert fix.endswith(": bulkctl auth login --identity TYPE:ID"), fix


def test_logging_in_as_an_identity_another_session_acts_for_says_what_to_do() -> None:
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        result = run_bulkctl("auth", "login", "--identity", "consumer:2001", env=back_office(root))
        again = run_bulkctl("auth", "login", "--identity", "consumer:2001", env=back_office(root))
        emulator.impersonated_elsewhere = frozenset()  # that session has ended
        after = run_bulkctl("auth", "login", "--identity", "consumer:2001", env=back_office(root))
    assert result.code == again.code == ExitCode.CONFLICT, result.stderr
    first, fix = result.stderr.splitlines()
    assert "login: consumer:2001 is impersonated already" in first
    assert "errorCode ALREADY_IMPERSONATED" in first
    assert fix == BUSY_FIX
    assert after.code == 0, after.stderr


def test_a_failing_profile_of_a_fleet_is_told_the_command_for_its_own_profile(
    isolated_home: Path,
) -> None:
    """A member's fix names the member's profile: "bulkctl auth login" alone would log in
    the default profile, not the one refused."""
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=5, now=clock()), clock=clock)
    folder = isolated_home / "config" / "bulkctl"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    (isolated_home / "config").chmod(0o700)
    with serving(emulator) as root:
        profiles = {"good": DEMO_TOKEN, "stale": "a-token-the-server-refuses"}
        text = "".join(
            f'[profiles.{name}]\nbase_url = "{root}/multi"\napi_key = "{DEMO_API_KEY}"\n'
            f'auth_token = "{token}"\n'
            for name, token in profiles.items()
        )
        (folder / "config.toml").write_text(text)
        (folder / "config.toml").chmod(0o600)
        result = run_bulkctl("list", "--profiles", "good,stale", "-n", "1")
    assert result.code == ExitCode.AUTH, result.stderr
    [(error, fix)] = errors_with_their_fixes(result.stderr)
    assert error.startswith("bulkctl: error: profile stale: ")
    assert fix is not None and fix.endswith("bulkctl --profile stale auth login"), fix


def test_an_api_key_the_api_rejects_is_named_as_the_cause_not_a_token() -> None:
    """A 401 of POST /access_token is about the API key (no token is sent yet): "run: bulkctl
    auth login" alone named the wrong cure."""
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        env = back_office(root, BULKCTL_API_KEY="not-the-key")
        result = run_bulkctl("list", "--identities", "corporate:1001,corporate:1002", env=env)
    assert result.code == ExitCode.AUTH, result.stderr
    said = errors_with_their_fixes(result.stderr)
    assert len(said) == 2, result.stderr
    assert all("access token: the API key was rejected (HTTP 401" in e for e, _ in said)
    assert "token is missing" not in result.stderr
    fixes = [fix for _, fix in said if fix is not None]
    assert fixes == [
        "  check the API key (BULKCTL_API_KEY), or type it again: "
        "bulkctl auth login --identity TYPE:ID"
    ]


def test_identities_without_an_api_key_are_refused_before_any_request() -> None:
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        env = {"BULKCTL_BASE_URL": root + "/multi/backoffice"}
        result = run_bulkctl("summary", "--identities", "corporate:1001", env=env)
        assert emulator.request_count == 0
    assert result.code == ExitCode.AUTH, result.stderr
    first, fix = result.stderr.splitlines()
    assert first.startswith("bulkctl: error: --identities needs an API key, and "), first
    assert fix.endswith("bulkctl auth login --identity TYPE:ID"), fix


def test_an_identity_refused_with_403_is_told_to_check_it_once() -> None:
    from bulkctl.emulator.messages import Faults, Scripted

    clock = ManualClock()
    faults = Faults(scripted=(Scripted("POST /access_token", 403),))
    emulator = Emulator(EmulatorState(bulks=5, now=clock()), clock=clock, faults=faults)
    with serving(emulator) as root:
        result = run_bulkctl(
            "list", "--identities", "corporate:1001,consumer:2001", env=back_office(root)
        )
    assert result.code == ExitCode.AUTH, result.stderr
    said = errors_with_their_fixes(result.stderr)
    assert len(said) == 2 and all("access token: not allowed" in e for e, _ in said)
    assert [fix for _, fix in said if fix] == [
        f"{UNKNOWN_FIX}: the API key must be able to impersonate it"
    ]


def test_the_fleets_usage_errors_end_in_their_fix(tmp_path: Path) -> None:
    missing = run_bulkctl("--profile", "demo", "list", "--identities", f"@{tmp_path / 'nope.txt'}")
    assert missing.code == ExitCode.USAGE
    first, fix = missing.stderr.splitlines()
    assert first.endswith("nope.txt: no such file")
    assert fix == (
        "  check the path after @; the file holds one TYPE:ID a line, e.g. corporate:1001 "
        "(# starts a comment)"
    )
    both = run_bulkctl("list", "-A", "--profiles", "demo")
    assert both.code == ExitCode.USAGE
    assert both.stderr.splitlines()[1].startswith("  -A reads every profile"), both.stderr


def token_requests(emulator: Emulator) -> int:
    return emulator.route_counts["POST /multi/backoffice/access_token"]


def watched(emulator: Emulator, root: str, identities: str, until: Callable[[], bool]) -> str:
    """``watch --identities`` polled every second until ``until()``; its stderr."""
    args = ("watch", "--identities", identities, "-s", "failed", "-n", "1", "--interval", "1s")
    with Spawned(*args, env=back_office(root)) as watch:
        deadline = time.monotonic() + 60
        while not until():
            assert watch.proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        watch.interrupt()
        code, _, err = watch.finish()
    assert code == 130, err
    return err


def test_watch_asks_each_identity_token_once_for_the_command() -> None:
    """Issue 23: the token of each identity is kept in memory for the command; watch asked
    a new one every poll, two requests a poll where one does."""
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        listings = "GET /multi/backoffice/bulks"
        watched(
            emulator,
            root,
            "corporate:1001,corporate:1002",
            lambda: emulator.route_counts[listings] >= 6,
        )
        assert token_requests(emulator) == 2  # three polls or more, one token each


def test_watch_says_a_fix_once_however_many_polls_repeat_the_failure() -> None:
    emulator = emulator_with_a_busy_identity()
    with serving(emulator) as root:
        # five token requests: corporate:1001's one, and corporate:9999's of four polls, so
        # the first three polls have ended and said their errors (the fourth may still be
        # saying its own when the watch is interrupted)
        err = watched(
            emulator, root, "corporate:9999,corporate:1001", lambda: token_requests(emulator) >= 5
        )
    said = errors_with_their_fixes(err)
    assert len(said) >= 3 and all(e.startswith("bulkctl: error: corporate:9999: ") for e, _ in said)
    assert [fix for _, fix in said if fix] == [
        f"{UNKNOWN_FIX}: the API key must be able to impersonate it"
    ]
