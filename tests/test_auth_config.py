"""Credentials and config: both logins from stdin, file safety, masking, re-login, precedence."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkctl.config import ConfigStore, mask, resolve, validate_value
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOKEN
from bulkctl.errors import ConfigError, StorageError, UsageError
from tests.conftest import Result, Served, bulkctl_command, logged_in, run_bulkctl, run_main

Run = Callable[..., Result]


def config_path() -> Path:
    return Path(run_main("config", "path").stdout.strip())


def login_multi(served: Served, profile: str = "default", run: Run = run_main) -> None:
    """Log in with email and password from stdin: in-process unless ``run`` is the real
    process (the tests of login itself)."""
    result = run(
        "--profile",
        profile,
        "--base-url",
        served.multi,
        "auth",
        "login",
        "--email",
        DEMO_EMAIL,
        input=f"{DEMO_API_KEY}\n{DEMO_PASSWORD}\n",
    )
    assert result.code == 0, result.stderr


def login_backoffice(served: Served, profile: str = "default", run: Run = run_main) -> None:
    """Log in with an identity and the key from stdin; in-process unless ``run`` says."""
    result = run(
        "--profile",
        profile,
        "--base-url",
        served.backoffice,
        "auth",
        "login",
        "--identity",
        "corporate:1001",
        input=f"{DEMO_API_KEY}\n",
    )
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("login", [login_multi, login_backoffice])
def test_login_from_stdin_stores_token_not_password_in_a_private_file(
    served: Served, login: object
) -> None:
    login(served, run=run_bulkctl)  # type: ignore[operator]
    path = config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "auth_token" in text
    assert DEMO_PASSWORD not in text
    assert [p for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    listed = run_main("list", "-n", "3", "--json")  # the stored token works
    assert listed.code == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 3


@pytest.mark.parametrize("login", [login_multi, login_backoffice])
def test_status_config_list_and_debug_never_print_secrets_in_full(
    served: Served, login: object
) -> None:
    login(served)  # type: ignore[operator]
    import tomllib

    profile = tomllib.loads(config_path().read_text())["profiles"]["default"]
    token = profile["auth_token"]
    outputs = [  # the entry point in-process: the process boundary changes nothing printed
        run_main("auth", "status"),
        run_main("auth", "status", "--json"),
        run_main("config", "list"),
        run_main("config", "get", "api_key"),
        run_main("--debug", "list", "-n", "1"),
    ]
    for result in outputs:
        for secret in (DEMO_API_KEY, token):
            assert secret not in result.stdout + result.stderr
    assert outputs[0].code == 0
    assert "works" in outputs[0].stdout
    assert mask(token) in outputs[2].stdout
    assert run_bulkctl("auth", "token").stdout.strip() == token


def test_logout_drops_the_token_then_list_exits_3(served: Served) -> None:
    login_multi(served)
    assert run_bulkctl("auth", "logout").code == 0
    assert "auth_token" not in config_path().read_text()
    result = run_main("list")
    assert result.code == 3
    assert "auth login" in result.stderr


def test_status_exits_3_when_the_token_is_rejected(served: Served) -> None:
    login_multi(served)
    served.emulator.expire_tokens()
    result = run_bulkctl("auth", "status")
    assert result.code == 3
    assert "does NOT work" in result.stdout


def test_status_exits_6_when_the_network_is_down() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        env = logged_in(f"http://127.0.0.1:{port}/multi", BULKCTL_RETRIES="1")
        result = run_main("auth", "status", env=env)  # test_closed_port_exits_6 is a process
    assert result.code == 6, result.stderr
    assert "could not be checked" in result.stdout and "cannot connect" in result.stdout


def test_expired_token_is_renewed_once_with_identity_and_stored(served: Served) -> None:
    login_backoffice(served)
    before = config_path().read_text()
    served.emulator.expire_tokens()
    result = run_bulkctl("list", "-n", "1", "--json")
    assert result.code == 0, result.stderr
    assert "logged in again" in result.stderr
    after = config_path().read_text()
    assert after != before  # the new token was stored
    again = run_main("list", "-n", "1", "--json")
    assert again.code == 0 and "logged in again" not in again.stderr


def test_ci_with_key_and_identity_in_env_and_no_token_just_works(served: Served) -> None:
    env = {
        "BULKCTL_BASE_URL": served.backoffice,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_IDENTITY": "corporate:1001",
    }
    result = run_bulkctl("list", "-n", "2", "--json", env=env)
    assert result.code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_ci_with_email_and_password_in_env_just_works(served: Served) -> None:
    env = {
        "BULKCTL_BASE_URL": served.multi,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_EMAIL": DEMO_EMAIL,
        "BULKCTL_PASSWORD": DEMO_PASSWORD,
    }
    result = run_main("list", "-n", "2", "--json", env=env)  # the identity's case is a process
    assert result.code == 0, result.stderr


def test_relogin_never_loops_when_the_new_token_is_also_rejected(served: Served) -> None:
    env = {
        "BULKCTL_BASE_URL": served.backoffice,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_IDENTITY": "corporate:1001",
        "BULKCTL_AUTH_TOKEN": "stale",
    }
    served.emulator.state.tokens.clear()
    original = served.emulator._access_token

    def token_that_never_works(request):  # type: ignore[no-untyped-def]
        response = original(request)
        served.emulator.state.tokens.clear()
        return response

    served.emulator._access_token = token_that_never_works  # type: ignore[method-assign]
    result = run_main("list", "-n", "1", env=env)
    assert result.code == 3
    logins = [u for _, u in served.emulator.requests if u.endswith("/access_token")]
    assert len(logins) == 1


def test_wrong_password_exits_3_without_storing_anything(served: Served) -> None:
    result = run_main(
        "--base-url",
        served.multi,
        "auth",
        "login",
        "--email",
        DEMO_EMAIL,
        input=f"{DEMO_API_KEY}\nwrong\n",
    )
    assert result.code == 3
    assert not config_path().exists()


def test_unknown_identity_exits_5(served: Served) -> None:
    result = run_main(
        "--base-url",
        served.backoffice,
        "auth",
        "login",
        "--identity",
        "corporate:999",
        input=f"{DEMO_API_KEY}\n",
    )
    assert result.code == 5
    assert "UNRESOLVED_IDENTITY" in result.stderr


def test_malformed_identity_exits_2_before_any_request(served: Served) -> None:
    result = run_main(
        "--base-url", served.backoffice, "auth", "login", "--identity", "corporate:12a"
    )
    assert result.code == 2
    assert not served.emulator.requests


# -- config -----------------------------------------------------------------------------------


def test_config_set_get_unset_round_trip() -> None:
    assert run_bulkctl("config", "set", "environment", "PRODUCTION").code == 0
    assert run_bulkctl("config", "get", "environment").stdout.strip() == "production"
    status = run_main("auth", "status", "--offline")
    assert "PRODUCTION" in status.stdout and "api.weavr.io" in status.stdout
    assert run_bulkctl("config", "unset", "environment").code == 0
    assert run_main("config", "get", "environment").stdout.strip() == "sandbox"


def test_secrets_are_refused_on_the_command_line_and_read_from_stdin() -> None:
    refused = run_main("config", "set", "api_key", "sk-live-123456789")
    assert refused.code == 2
    assert "secret" in refused.stderr
    assert not config_path().exists()
    assert run_bulkctl("config", "set", "api_key", input="sk-live-123456789\n").code == 0
    shown = run_main("config", "get", "api_key").stdout.strip()
    assert shown == mask("sk-live-123456789") and shown.endswith("6789")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("environment", "staging"),
        ("base_url", "http://evil.example.com"),
        ("retries", "0"),
        ("identity", "corp:1"),
        ("nope", "x"),
        ("read_timeout", "-1"),
    ],
)
def test_invalid_settings_exit_2_and_change_nothing(key: str, value: str) -> None:
    result = run_main("config", "set", key, value)  # parsing only: no process needed
    assert result.code == 2
    assert not config_path().exists()


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("quota_wait", "100000", "from 0 to 86400 (a day)"),
        ("quota_wait", "soon", "from 0 to 86400 (a day)"),
        ("read_timeout", "7200", "above 0, at most 3600 (an hour)"),
    ],
)
def test_a_number_out_of_range_is_told_the_range(key: str, value: str, said: str) -> None:
    result = run_main("config", "set", key, value)
    assert result.code == 2
    assert f"{key} must be a number of seconds {said} (got '{value}')" in result.stderr


def test_unparseable_config_is_named_and_never_overwritten() -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[profiles.default\napi_key = ")
    for args in (["list"], ["config", "set", "environment", "production"]):
        result = run_main(*args)
        assert result.code == 2
        assert str(path) in result.stderr
        assert "Traceback" not in result.stderr
    assert path.read_text() == "[profiles.default\napi_key = "


def test_wider_permissions_are_tightened_with_a_note() -> None:
    assert run_main("config", "set", "email", "a@example.com").code == 0
    path = config_path()
    path.chmod(0o644)
    result = run_main("config", "get", "email")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "0600" in result.stderr


def test_two_writers_at_once_lose_no_update(tmp_path: Path) -> None:
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [
                *bulkctl_command(),
                "--profile",
                f"p{i}",
                "config",
                "set",
                "email",
                f"u{i}@example.com",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(8)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    import tomllib

    profiles = tomllib.loads(config_path().read_text())["profiles"]
    assert sorted(profiles) == [f"p{i}" for i in range(8)]


def test_precedence_is_flag_then_env_then_profile_then_default(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.set_values(
        "default", {"base_url": "https://profile.example.com/multi", "email": "p@example.com"}
    )
    resolved = resolve(store, {})
    assert resolved.base_url == "https://profile.example.com/multi"
    assert resolved.sources["base_url"] == "profile default"
    resolved = resolve(store, {"BULKCTL_BASE_URL": "https://env.example.com/multi"})
    assert resolved.base_url == "https://env.example.com/multi"
    resolved = resolve(
        store,
        {"BULKCTL_BASE_URL": "https://env.example.com/multi"},
        base_url_flag="https://flag.example.com/multi",
    )
    assert resolved.base_url == "https://flag.example.com/multi"
    assert resolved.sources["base_url"] == "flag --base-url"
    assert resolve(store, {}, profile_flag="other").base_url == "https://sandbox.weavr.io/multi"
    assert resolve(store, {"BULKCTL_PROFILE": "other"}).profile == "other"


def test_environment_and_api_choose_the_base_url(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.set_values("live", {"environment": "production", "api": "backoffice"})
    resolved = resolve(store, {}, profile_flag="live")
    assert resolved.base_url == "https://api.weavr.io/multi/backoffice"
    assert resolved.is_production
    assert resolved.where() == "production (api.weavr.io, profile live)"
    # the same host written as a fully qualified name (trailing dot) is production too, so its
    # actions still want the word 'production'
    dotted = resolve(store, {}, base_url_flag="https://api.weavr.io./multi")
    assert dotted.is_production


def test_config_loader_rejects_wrong_shapes_with_its_own_error(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.path.write_text('profiles = "nope"\n')
    with pytest.raises(ConfigError):
        store.load()
    store.path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        store.load()


def test_demo_profile_ignores_env_credentials(tmp_path: Path) -> None:
    resolved = resolve(ConfigStore(tmp_path), {"BULKCTL_API_KEY": "real-key"}, profile_flag="demo")
    assert resolved.get("auth_token") == DEMO_TOKEN
    assert resolved.in_process


def test_invalid_env_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="env BULKCTL_BASE_URL"):
        resolve(ConfigStore(tmp_path), {"BULKCTL_BASE_URL": "http://remote.example.com"})


def test_crash_during_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfigStore(tmp_path)
    store.set_values("default", {"email": "old@example.com"})
    before = store.path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(StorageError, match="disk full"):
        store.set_values("default", {"email": "new@example.com"})
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@given(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_config_loader_fed_anything_raises_only_its_own_error(
    tmp_path: Path, data: bytes
) -> None:
    import tomllib

    store = ConfigStore(tmp_path)
    store.path.write_bytes(data)
    try:
        parsed: object = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        parsed = None
    profiles = parsed.get("profiles", {}) if isinstance(parsed, dict) else None
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        with pytest.raises(ConfigError) as caught:  # unreadable: said so, naming the file
            resolve(store, {})
        assert str(store.path) in caught.value.message
        assert store.path.read_bytes() == data  # and left as it was
        return
    with contextlib.suppress(UsageError):  # a readable file may still hold a bad value
        assert resolve(store, {}).profile == "default"


@given(
    st.dictionaries(
        st.sampled_from(["environment", "api", "base_url", "retries", "identity", "x"]),
        st.one_of(
            st.text(max_size=30),
            st.integers(-2, 70),
            st.booleans(),
            st.lists(st.integers(), max_size=2),
            st.sampled_from(
                [
                    " Multi ",
                    "BACKOFFICE",
                    "production",
                    "64",
                    "65",
                    " 8 ",
                    "corporate:12",
                    "Consumer:7",
                    "https://api.example.com/multi/",
                    "http://127.0.0.1:9/x",
                    "",
                ]
            ),
        ),
        max_size=5,
    )
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_profile_values_resolve_or_raise_a_usage_error(
    tmp_path: Path, profile: dict[str, object]
) -> None:
    import tomli_w

    store = ConfigStore(tmp_path)
    store.path.write_text(tomli_w.dumps({"profiles": {"default": profile}}))
    expected: dict[str, str] = {}
    valid = True
    for name, value in profile.items():
        text = str(value).strip()
        if name == "x" or text == "":
            continue  # unknown keys are ignored, empty values fall back to the default
        header = name != "email"
        unsafe = any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text) or (
            header and (not text.isascii() or " " in text)
        )
        if name in ("api_key", "auth_token", "email", "identity") and (unsafe or len(text) > 4096):
            continue  # kept as it is, and refused (masked, exit 3) before any request
        if name == "retries":
            ok = text.isascii() and text.isdigit() and 1 <= int(text) <= 64
        elif name in ("environment", "api"):
            text = text.lower()
            ok = (
                text
                in {"environment": ("sandbox", "production"), "api": ("multi", "backoffice")}[name]
            )
        else:
            try:
                text = validate_value(name, text)
                ok = True
            except UsageError:
                ok = False
        valid = valid and ok
        expected[name] = text
    if not valid:
        with pytest.raises(UsageError, match="profile default"):
            resolve(store, {})
        return
    resolved = resolve(store, {})
    assert {name: resolved.values[name] for name in expected} == expected
    assert resolved.base_url.startswith(("https://", "http://"))


def test_emulator_serve_prints_its_urls_and_serves_both_logins() -> None:
    import subprocess as sp

    proc = sp.Popen(
        [*bulkctl_command(), "emulator", "serve", "--port", "0", "--bulks", "20"],
        stdout=sp.PIPE,
        stderr=sp.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(7)]
        root = banner[0].split()[-1]
        assert banner[1].split()[-1] == root + "/multi"
        assert banner[2].split()[-1] == root + "/multi/backoffice"
        assert DEMO_API_KEY in banner[3] and DEMO_PASSWORD in banner[4]
        login = run_main(  # the server is the real process here
            "--base-url",
            root + "/multi",
            "auth",
            "login",
            "--email",
            DEMO_EMAIL,
            input=f"{DEMO_API_KEY}\n{DEMO_PASSWORD}\n",
        )
        assert login.code == 0, login.stderr
        listed = run_main("list", "--all", "--json")
        assert len(json.loads(listed.stdout)) == 20
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_login_on_a_terminal_asks_with_hidden_prompts(served: Served) -> None:
    import pexpect

    command = bulkctl_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "--base-url", served.multi, "auth", "login", "--email", DEMO_EMAIL],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
    )
    child.expect("API key: ")
    child.sendline(DEMO_API_KEY)
    child.expect("Password: ")
    child.sendline(DEMO_PASSWORD)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    transcript = child.before or ""
    assert DEMO_PASSWORD not in transcript and DEMO_API_KEY not in transcript  # nothing echoed
    assert "Logged in" in transcript
    assert DEMO_PASSWORD not in config_path().read_text()


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("2h", 7200), ("1.5d", 129600), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    from bulkctl.cli.options import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "-3m", "m"])
def test_bad_durations(text: str) -> None:
    from bulkctl.cli.options import parse_duration

    with pytest.raises(UsageError):
        parse_duration(text)


def test_when_accepts_ages_dates_and_offsets() -> None:
    from bulkctl.lists.filters import parse_when

    now = 1_800_000_000.0
    assert parse_when("2h", now, "--since") == now - 7200
    assert parse_when("2026-11-28T00:00:00Z", now, "--since") == 1_795_824_000.0
    assert parse_when("2026-11-28T01:00:00+01:00", now, "--since") == 1_795_824_000.0
    with pytest.raises(UsageError):
        parse_when("the day before", now, "--since")
