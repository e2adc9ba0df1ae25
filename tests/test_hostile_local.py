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
