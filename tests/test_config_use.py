"""``bulkctl config use PROFILE`` (default_profile), what still beats it, and ``auth status``
saying which profile is in force and why; each step the real process."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN
from bulkctl.errors import ExitCode
from tests.conftest import Served, run_bulkctl


def config_file(home: Path) -> Path:
    return home / "config" / "bulkctl" / "config.toml"


def make_profile(served: Served, name: str) -> None:
    base = run_bulkctl("--profile", name, "config", "set", "base_url", served.multi)
    assert base.code == 0, base.stderr
    for key, secret in (("api_key", DEMO_API_KEY), ("auth_token", DEMO_TOKEN)):
        stored = run_bulkctl("--profile", name, "config", "set", key, input=secret + "\n")
        assert stored.code == 0, stored.stderr


def status(*args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = run_bulkctl(*args, "auth", "status", "--offline", "--json", env=env)
    assert result.code == 0, result.stderr
    info = json.loads(result.stdout)
    return {"profile": info["profile"], "why": info["profileSource"]}


def test_config_use_sets_the_default_and_flag_and_env_still_win(
    served: Served, isolated_home: Path
) -> None:
    make_profile(served, "ops")
    assert status() == {"profile": "default", "why": "built-in default"}
    used = run_bulkctl("config", "use", "ops")
    assert used.code == 0, used.stderr
    path = config_file(isolated_home)
    assert tomllib.loads(path.read_text())["default_profile"] == "ops"
    assert status() == {"profile": "ops", "why": f"default_profile in {path}"}
    listed = run_bulkctl("list", "-n", "2", "-o", "json")  # no --profile: ops's URL and token
    assert listed.code == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2
    assert status("--profile", "demo") == {"profile": "demo", "why": "from --profile"}
    by_env = status(env={"BULKCTL_PROFILE": "demo"})
    assert by_env == {"profile": "demo", "why": "from BULKCTL_PROFILE"}
    both = status("--profile", "ops", env={"BULKCTL_PROFILE": "demo"})
    assert both == {"profile": "ops", "why": "from --profile"}
    text = run_bulkctl("auth", "status", "--offline").stdout.splitlines()[0]
    assert text.split() == ["profile", "ops", "(default_profile", "in", f"{path})"]


def test_config_set_goes_to_the_default_profile(served: Served, isolated_home: Path) -> None:
    make_profile(served, "ops")
    assert run_bulkctl("config", "use", "ops").code == 0
    assert run_bulkctl("config", "set", "retries", "2").code == 0
    profiles = tomllib.loads(config_file(isolated_home).read_text())["profiles"]
    assert profiles["ops"]["retries"] == "2" and "default" not in profiles


def test_an_unknown_profile_is_a_usage_error_and_changes_nothing(
    served: Served, isolated_home: Path
) -> None:
    make_profile(served, "ops")
    before = config_file(isolated_home).read_bytes()
    result = run_bulkctl("config", "use", "opz")
    assert result.code == ExitCode.USAGE
    assert "unknown profile 'opz'" in result.stderr and "did you mean ops?" in result.stderr
    assert config_file(isolated_home).read_bytes() == before


def test_use_default_goes_back_to_the_built_in_default(served: Served, isolated_home: Path) -> None:
    make_profile(served, "ops")
    assert run_bulkctl("config", "use", "ops").code == 0
    assert run_bulkctl("config", "use", "default").code == 0
    assert "default_profile" not in tomllib.loads(config_file(isolated_home).read_text())
    assert status() == {"profile": "default", "why": "built-in default"}


def test_a_default_profile_whose_table_is_gone_is_named_with_where_it_was_chosen(
    served: Served, isolated_home: Path
) -> None:
    make_profile(served, "ops")
    assert run_bulkctl("config", "use", "ops").code == 0
    path = config_file(isolated_home)
    path.write_text(path.read_text().replace("[profiles.ops]", "[profiles.other]"))
    result = run_bulkctl("list")
    assert result.code == ExitCode.USAGE
    assert f"unknown profile 'ops', default_profile in {path} (known: " in result.stderr
