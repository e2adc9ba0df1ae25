"""Against a hostile local user (issue 20): folders checked as ssh checks them, a journal
that stays within its limit, bounded waits, and a profile name that is never ignored."""

from __future__ import annotations

import pytest

from tests.conftest import Served, run_bulkctl

# -- profiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_unknown_profile_is_refused_even_when_the_environment_has_every_credential(
    served: Served, how: str
) -> None:
    args, env = (["--profile", "opz"], {}) if how == "flag" else ([], {"BULKCTL_PROFILE": "opz"})
    result = run_bulkctl(*args, "list", env=served.env(**env))
    assert result.code == 2, result.stderr
    assert "unknown profile 'opz'" in result.stderr
    assert served.emulator.request_count == 0  # refused before any request


def test_the_profile_flag_beats_the_profile_variable(served: Served) -> None:
    refused = run_bulkctl("list", env=served.env(BULKCTL_PROFILE="opz"))
    assert refused.code == 2
    result = run_bulkctl("--profile", "default", "list", env=served.env(BULKCTL_PROFILE="opz"))
    assert result.code == 0, result.stderr
    assert "unknown profile" not in result.stderr


# -- waiting durations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["watch", "--interval", "9" * 400],
        ["watch", "--interval", "8d"],
        ["wait", "1100000000000471", "--timeout", "9" * 400 + "d"],
        ["wait", "1100000000000471", "--timeout", "604801s"],
        ["wait", "1100000000000471", "--interval", "169h"],
    ],
)
def test_a_wait_over_seven_days_is_a_usage_error(served: Served, args: list[str]) -> None:
    result = run_bulkctl(*args, env=served.env())
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr and "9" * 30 not in result.stderr
    assert "at most 7d" in result.stderr or "too long" in result.stderr
    assert served.emulator.request_count == 0


def test_seven_days_is_still_a_wait_and_a_look_back_may_be_longer() -> None:
    from bulkctl.filters import parse_when
    from bulkctl.options import check_interval, parse_wait

    assert check_interval("7d") == 7 * 86400
    assert parse_wait("604800", "--timeout") == 604800
    now = 1_800_000_000.0
    assert parse_when("30d", now, "--since") == now - 30 * 86400
    assert parse_when("400d", now, "--since") == now - 400 * 86400
