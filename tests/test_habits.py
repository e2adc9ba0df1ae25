"""A person's habits: global options after the command, hints that carry the profile, clear
words for an unknown profile and a failed login, near-miss suggestions, friendlier dates."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from bulkctl.api.records import BULK_STATUSES, parse_bulk
from bulkctl.cli.options import near_miss, parse_statuses
from bulkctl.config import ConfigStore, resolve, suggested_command
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_EMAIL
from bulkctl.errors import UsageError
from bulkctl.lists.filters import BulkFilter, parse_when
from tests.conftest import Served, run_bulkctl, run_main


def test_global_options_work_after_the_command() -> None:
    after = run_bulkctl("list", "--profile", "demo", "-n", "2", "--json")
    before = run_bulkctl("--profile", "demo", "list", "-n", "2", "--json")
    assert after.code == 0, after.stderr
    assert [b["bulkId"] for b in json.loads(after.stdout)] == [
        b["bulkId"] for b in json.loads(before.stdout)
    ]
    noisy = run_bulkctl("list", "--profile=demo", "-n", "1")
    quiet = run_bulkctl("list", "--profile=demo", "-n", "1", "-q")
    assert "shown" in noisy.stderr and quiet.stderr == ""
    debug = run_bulkctl("show", "1", "--profile", "demo", "--debug")
    assert "debug:" in debug.stderr


def test_a_global_option_after_the_command_wins_over_the_one_before(served: Served) -> None:
    result = run_main(
        "--base-url",
        "http://127.0.0.1:9/multi",
        "list",
        "--base-url",
        served.multi,
        "-n",
        "1",
        env=served.env(),
    )
    assert result.code == 0, result.stderr
    assert served.emulator.requests


def test_no_input_after_the_command_forbids_prompts(served: Served) -> None:
    bulk_id = served.state.insert_submitted(served.clock(), 1)[0]
    result = run_main("execute", bulk_id, "--no-input", env=served.env())
    assert result.code == 2 and "--no-input" in result.stderr


def test_global_options_stay_out_of_each_commands_help() -> None:
    help_text = run_main("list", "--help").stdout
    assert re.search(r"--profile\b(?!s)", help_text) is None  # list's own --profiles is fine
    assert "--base-url" not in help_text
    assert "--profile" in run_main("--help").stdout


def test_hints_carry_the_profile_in_use(served: Served) -> None:
    assert run_bulkctl("--profile", "ops", "config", "set", "environment", "sandbox").code == 0
    result = run_bulkctl("--profile", "ops", "list", env={"BULKCTL_NO_INPUT": "1"})
    assert result.code == 3
    assert "run: bulkctl --profile ops auth login" in result.stderr
    default = run_bulkctl("list")
    assert "run: bulkctl auth login" in default.stderr


def test_an_unknown_profile_says_so_and_lists_the_known_ones() -> None:
    assert run_bulkctl("--profile", "ops", "config", "set", "environment", "sandbox").code == 0
    result = run_bulkctl("list", "--profile", "opz")
    assert result.code == 2  # a mistyped name is usage, not a missing login
    assert "unknown profile 'opz' (known: demo, ops)" in result.stderr
    assert "bulkctl --profile opz auth login" in result.stderr


def test_a_suggested_command_is_built_from_parts_each_quoted(tmp_path: object) -> None:
    from pathlib import Path

    store = ConfigStore(Path(str(tmp_path)))
    named = resolve(store, {}, profile_flag="my ops", base_url_flag="https://gw.example/multi")
    assert suggested_command(named, "show", "12") == (
        "bulkctl --profile 'my ops' --base-url https://gw.example/multi show 12"
    )
    # the default profile named by nothing stays out; named by the environment, it is kept
    assert suggested_command(resolve(store, {}), "list") == "bulkctl list"
    by_env = resolve(store, {"BULKCTL_PROFILE": "default"})
    assert suggested_command(by_env, "list") == "bulkctl --profile default list"
    # a part that holds shell words or a line break stays one quoted word on one line
    text = suggested_command(named, "submit", "transfers", "a b;$(x)\nc.jsonl")
    assert "\n" not in text and "'a b;$(x)" in text


def login(served: Served, api_key: str, password: str, *more: str) -> str:
    result = run_bulkctl(
        "--profile",
        "emu",
        "--base-url",
        served.multi,
        "auth",
        "login",
        "--email",
        DEMO_EMAIL,
        *more,
        env={"BULKCTL_API_KEY": api_key, "BULKCTL_PASSWORD": password},
    )
    assert result.code == 3
    return result.stderr


def test_a_rejected_api_key_and_a_wrong_password_say_which(served: Served) -> None:
    rejected = login(served, "wrong-key", "whatever")
    assert "the API key was rejected" in rejected and "not allowed" not in rejected
    # the hint's sentence ends before the command it suggests
    hint = rejected.splitlines()[1].replace("\n  ", " ")
    assert f"type it again); run: bulkctl --profile emu --base-url {served.multi} auth login" in (
        hint
    ), rejected
    wrong = login(served, DEMO_API_KEY, "not-the-password")
    assert f"wrong email or password for {DEMO_EMAIL}" in wrong
    assert "not allowed" not in wrong
    # the retry keeps the base URL and the email given as flags: it works as printed
    again = f"try again: bulkctl --profile emu --base-url {served.multi} auth login --email "
    assert again + DEMO_EMAIL in wrong, wrong
    # and the environment, when it was given: without it the retry would go to the profile's
    wrong = login(served, DEMO_API_KEY, "not-the-password", "--environment", "production")
    assert (
        f"--base-url {served.multi} auth login --email {DEMO_EMAIL} --environment production"
        in wrong
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("CANCELED", "CANCELLED"),
        ("FAIL", "FAILED"),
        ("PARTIAL", "PARTIALLY_COMPLETED"),
        ("RUNING", "RUNNING"),
        ("XYZ", None),
    ],
)
def test_near_misses_get_a_suggestion(typed: str, meant: str | None) -> None:
    assert near_miss(typed, BULK_STATUSES) == meant
    with pytest.raises(UsageError) as caught:
        parse_statuses([typed.lower()], BULK_STATUSES)
    assert (f"did you mean {meant}?" in caught.value.message) is (meant is not None)


def test_a_near_miss_is_suggested_by_the_command() -> None:
    result = run_main("--profile", "demo", "list", "--status", "canceled")
    assert result.code == 2
    assert "did you mean CANCELLED?" in result.stderr


def test_since_today_and_yesterday_count_from_local_midnight() -> None:
    now = datetime(2026, 11, 30, 15, 45).astimezone().timestamp()
    today = datetime.fromtimestamp(parse_when("today", now, "--since")).astimezone()
    assert (today.day, today.hour, today.minute) == (30, 0, 0)
    yesterday = datetime.fromtimestamp(parse_when("Yesterday", now, "--since")).astimezone()
    assert (yesterday.day, yesterday.hour) == (29, 0)


def test_since_later_than_until_is_an_error() -> None:
    with pytest.raises(UsageError, match="later than --until"):
        BulkFilter.parse(since="1h", until="2h", now=1_790_000_000.0)
    assert BulkFilter.parse(since="2h", until="1h", now=1_790_000_000.0).active


def test_operation_matching_ignores_case() -> None:
    bulk = parse_bulk({"bulkId": "1", "operation": "/managed_cards/{id}/block"})
    for pattern in ("/MANAGED_CARDS", "/Managed_Cards/*", "BLOCK"):
        assert BulkFilter.parse(operation=pattern, now=0).matches(bulk), pattern
    assert not BulkFilter.parse(operation="/transfers", now=0).matches(bulk)


def test_summary_since_says_never_started_bulks_are_not_counted() -> None:
    result = run_bulkctl("--profile", "demo", "summary", "--since", "yesterday")
    assert result.code == 0, result.stderr
    assert "never-started bulks" in result.stderr
    assert "never-started" not in run_bulkctl("--profile", "demo", "summary").stderr
