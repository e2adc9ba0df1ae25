"""Credentials and local files bulkctl can trust (issue 12): ownership, symlinks, clear text,
nothing stored unasked, header-safe secrets, reprs, unwritable storage."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkctl.api.client import ApiClient
from bulkctl.api.wire import check_base_url, goes_direct
from bulkctl.auth import Reauthenticator
from bulkctl.config import ConfigStore, resolve
from bulkctl.context import Context, GlobalOptions
from bulkctl.emulator.app import (
    DEMO_API_KEY,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_TOKEN,
    Request,
    Response,
)
from bulkctl.errors import ExitCode, NotAuthenticated, StorageError, UnsafePath, UsageError
from tests.conftest import Served, bulkctl_command, run_bulkctl

OTHER_UID = 65534  # nobody
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="planting another user's file needs chown, which needs root"
)


def config_dir(home: Path) -> Path:
    return home / "config" / "bulkctl"


def state_dir(home: Path) -> Path:
    return home / "state" / "bulkctl"


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    folder = config_dir(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def profile_text(served: Served, **extra: str) -> str:
    lines = [
        "[profiles.default]",
        f'base_url = "{served.backoffice}"',
        f'api_key = "{DEMO_API_KEY}"',
        'identity = "corporate:1001"',
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def login_requests(served: Served) -> list[str]:
    return [u for _, u in served.emulator.requests if u.endswith(("/access_token", "_password"))]


# -- ownership ------------------------------------------------------------------------------


@needs_root
def test_a_config_folder_planted_by_another_user_is_refused_before_any_request(
    isolated_home: Path, served: Served
) -> None:
    path = write_config(isolated_home, f'[profiles.default]\nbase_url = "{served.multi}"\n')
    os.chown(path, OTHER_UID, OTHER_UID)
    os.chown(path.parent, OTHER_UID, OTHER_UID)
    result = run_bulkctl(
        "auth", "login", "--email", DEMO_EMAIL, input=f"{DEMO_API_KEY}\n{DEMO_PASSWORD}\n"
    )
    assert result.code == ExitCode.USAGE, result.stderr
    assert f"config folder {path.parent} belongs to uid {OTHER_UID}" in result.stderr
    assert "chown" in result.stderr
    assert not served.emulator.requests  # the key never went to the planted base_url
    assert DEMO_API_KEY not in result.stderr


@needs_root
def test_a_config_file_of_another_user_in_our_folder_is_refused(isolated_home: Path) -> None:
    path = write_config(isolated_home, 'environment = "sandbox"\n', mode=0o644)
    os.chown(path, OTHER_UID, OTHER_UID)
    for args in (["config", "list"], ["config", "set", "email", "a@example.com"]):
        result = run_bulkctl(*args)
        assert result.code == ExitCode.USAGE
        assert f"config file {path} belongs to uid {OTHER_UID}" in result.stderr
        assert "Traceback" not in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not touched
    assert path.read_text() == 'environment = "sandbox"\n'


def test_a_config_folder_others_can_write_to_is_refused(isolated_home: Path) -> None:
    path = write_config(isolated_home, "")
    path.parent.chmod(0o777)
    result = run_bulkctl("config", "get", "environment")
    assert result.code == ExitCode.USAGE
    assert f"config folder {path.parent} is writable by other users (mode 777)" in result.stderr
    assert f"chmod go-w {path.parent}" in result.stderr


@needs_root
@pytest.mark.parametrize("planted", ["folder", "journal"])
def test_the_demo_journal_follows_the_same_rules(isolated_home: Path, planted: str) -> None:
    folder = state_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o700)
    journal = folder / "demo.json"
    journal.write_text('{"epoch": 0, "actions": []}')
    os.chown(folder if planted == "folder" else journal, OTHER_UID, OTHER_UID)
    result = run_bulkctl("--profile", "demo", "list", "-n", "1")
    assert result.code == ExitCode.USAGE
    named = folder if planted == "folder" else journal
    assert f"{named} belongs to uid {OTHER_UID}" in result.stderr


# -- symlinks -------------------------------------------------------------------------------


def test_a_symlinked_config_file_is_refused_and_its_target_never_chmodded(
    isolated_home: Path,
) -> None:
    victim = isolated_home / "notes.txt"
    victim.write_text("mine")
    victim.chmod(0o644)
    folder = config_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o700)
    (folder / "config.toml").symlink_to(victim)
    for args in (["config", "list"], ["config", "set", "email", "a@example.com"]):
        result = run_bulkctl(*args)
        assert result.code == ExitCode.USAGE
        assert "is a symbolic link" in result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert victim.read_text() == "mine"


def test_a_symlinked_lock_is_refused_with_a_clear_line(isolated_home: Path) -> None:
    victim = isolated_home / "notes.txt"
    victim.write_text("mine")
    folder = config_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o700)
    (folder / "config.toml.lock").symlink_to(victim)
    result = run_bulkctl("config", "set", "email", "a@example.com")
    assert result.code == ExitCode.USAGE
    assert f"lock file {folder / 'config.toml.lock'} is a symbolic link" in result.stderr
    assert "internal error" not in result.stderr
    assert victim.read_text() == "mine"
    assert not (folder / "config.toml").exists()


def test_a_symlinked_demo_journal_is_refused(isolated_home: Path) -> None:
    folder = state_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o700)
    victim = isolated_home / "notes.txt"
    victim.write_text("mine")
    victim.chmod(0o644)
    (folder / "demo.json").symlink_to(victim)
    result = run_bulkctl("--profile", "demo", "list", "-n", "1")
    assert result.code == ExitCode.USAGE
    assert "demo journal" in result.stderr and "symbolic link" in result.stderr
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_our_own_wide_open_journal_is_tightened_with_a_note(isolated_home: Path) -> None:
    folder = state_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o700)
    journal = folder / "demo.json"
    journal.write_text('{"epoch": 0, "actions": []}')
    journal.chmod(0o666)
    result = run_bulkctl("--profile", "demo", "list", "-n", "1")
    assert result.code == 0, result.stderr
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert "now 0600" in result.stderr


# -- clear text -----------------------------------------------------------------------------


class FakeProxy:
    """A loopback listener that records the first line of each connection, then hangs up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.lines: list[str] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self.lines.append(conn.recv(4096).decode("latin-1").split("\r\n")[0])

    def env(self) -> dict[str, str]:
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
        proxied = {n: self.url for n in names} | {n.lower(): self.url for n in names}
        return proxied | {"NO_PROXY": "", "no_proxy": ""}


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    fake = FakeProxy()
    yield fake
    fake.sock.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_requests_never_go_through_a_proxy(
    served: Served, proxy: FakeProxy, host: str
) -> None:
    base = served.multi.replace("127.0.0.1", host)
    env = {
        "BULKCTL_BASE_URL": base,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
        **proxy.env(),
    }
    result = run_bulkctl("list", "-n", "2", "--json", env=env)
    assert result.code == 0, result.stderr
    assert proxy.lines == []
    assert len(served.emulator.requests) == 1


def test_other_hosts_still_use_the_proxy_from_the_environment(proxy: FakeProxy) -> None:
    env = {
        "BULKCTL_BASE_URL": "https://api.example.invalid/multi",
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
        "BULKCTL_RETRIES": "1",
        **proxy.env(),
    }
    result = run_bulkctl("list", "-n", "1", env=env)
    assert result.code == ExitCode.NETWORK
    assert proxy.lines == ["CONNECT api.example.invalid:443 HTTP/1.1"]  # a tunnel: no secret


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/multi", True),
        ("http://127.5.6.7/multi", True),
        ("http://[::1]:8080/multi", True),
        ("http://localhost:8080/multi", True),
        ("http://LOCALHOST:8080/multi", True),
        ("https://api.localhost/multi", True),  # https: fine anywhere
        ("http://api.localhost:8080/multi", False),  # *.localhost is a DNS name like any other
        ("http://localhost.:8080/multi", False),
        ("http://127.1/multi", False),  # not a literal address
        ("http://[::ffff:127.0.0.1]/multi", False),
        ("http://10.0.0.1/multi", False),
    ],
)
def test_plain_http_only_to_literal_loopback_or_localhost(url: str, allowed: bool) -> None:
    if allowed:
        check_base_url(url)
    else:
        with pytest.raises(UsageError, match="plain http"):
            check_base_url(url)
    assert goes_direct(url) == (allowed and url.startswith("http://"))


@pytest.mark.parametrize(
    "url",
    [
        "https://ops:hunter2@api.example.com/multi",
        "https://hunter2@api.example.com/multi",
        "http://ops:hunter2@127.0.0.1:9/multi",
        "ftp://ops:hunter2@x",
        "https://ops:hunter2@[::1/multi",
    ],
)
def test_a_base_url_with_userinfo_is_refused_without_echo(url: str) -> None:
    for result in (
        run_bulkctl("--base-url", url, "list"),
        run_bulkctl("auth", "status", env={"BULKCTL_BASE_URL": url}),
        run_bulkctl("config", "set", "base_url", url),
    ):
        assert result.code == ExitCode.USAGE
        assert "user name or password" in result.stderr
        assert "hunter2" not in result.stdout + result.stderr
    assert not (Path(run_bulkctl("config", "path").stdout.strip())).exists()


def test_a_base_url_with_userinfo_in_the_file_is_refused_without_echo(isolated_home: Path) -> None:
    write_config(isolated_home, '[profiles.default]\nbase_url = "https://u:hunter2@h/multi"\n')
    result = run_bulkctl("auth", "status", "--offline")
    assert result.code == ExitCode.USAGE
    assert "hunter2" not in result.stdout + result.stderr


# -- nothing stored unasked -----------------------------------------------------------------


def env_login(served: Served, **extra: str) -> dict[str, str]:
    return {
        "BULKCTL_BASE_URL": served.backoffice,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_IDENTITY": "corporate:1001",
        "BULKCTL_AUTH_TOKEN": "expired-token",
        **extra,
    }


@pytest.mark.parametrize("file", ["absent", "with another profile's token"])
def test_an_environment_only_relogin_leaves_the_config_file_byte_identical(
    isolated_home: Path, served: Served, file: str
) -> None:
    path = config_dir(isolated_home) / "config.toml"
    if file != "absent":
        path = write_config(
            isolated_home,
            '[profiles.default]\nbase_url = "https://sandbox.weavr.io/multi"\n'
            'auth_token = "the-profiles-own-token"\n',
        )
    before = path.read_bytes() if path.exists() else None
    result = run_bulkctl("list", "-n", "1", "--json", env=env_login(served))
    assert result.code == 0, result.stderr
    assert "logged in again" in result.stderr
    assert len(login_requests(served)) == 1
    assert (path.read_bytes() if path.exists() else None) == before


@pytest.mark.parametrize(
    ("from_env", "stored"),
    [
        ({}, True),  # everything from the profile: the token is the profile's
        ({"BULKCTL_IDENTITY": "corporate:1001"}, False),
        ({"BULKCTL_API_KEY": DEMO_API_KEY}, False),
        ({"BULKCTL_BASE_URL": "{backoffice}"}, False),  # a token for another base URL
    ],
)
def test_a_relogin_token_is_stored_only_when_every_credential_is_the_profiles(
    isolated_home: Path, served: Served, from_env: dict[str, str], stored: bool
) -> None:
    path = write_config(isolated_home, profile_text(served, auth_token="expired-token"))
    before = path.read_bytes()
    env = {k: v.format(backoffice=served.backoffice) for k, v in from_env.items()}
    result = run_bulkctl("list", "-n", "1", "--json", env=env)
    assert result.code == 0, result.stderr
    assert "logged in again" in result.stderr
    assert (path.read_bytes() != before) == stored


def test_a_relogin_with_the_password_from_the_environment_is_not_stored(
    isolated_home: Path, served: Served
) -> None:
    path = write_config(
        isolated_home,
        f'[profiles.default]\nbase_url = "{served.multi}"\napi_key = "{DEMO_API_KEY}"\n'
        f'email = "{DEMO_EMAIL}"\nauth_token = "expired"\n',
    )
    before = path.read_bytes()
    result = run_bulkctl("list", "-n", "1", env={"BULKCTL_PASSWORD": DEMO_PASSWORD})
    assert result.code == 0, result.stderr
    assert "logged in again" in result.stderr
    assert path.read_bytes() == before


# -- header-safe secrets --------------------------------------------------------------------

BAD_KEY = "key-7f3a-abcdef\r\nX-Injected: 1"
BAD_TOKEN = "token-0123456789\r\nX-Injected: 1"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("env", "api_key"),
        ("env", "auth_token"),
        ("file", "api_key"),
        ("file", "auth_token"),
    ],
)
def test_a_key_or_token_with_cr_lf_exits_3_masked_before_any_request(
    isolated_home: Path, served: Served, source: str, name: str
) -> None:
    bad = BAD_KEY if name == "api_key" else BAD_TOKEN
    good = {"api_key": DEMO_API_KEY, "auth_token": DEMO_TOKEN}
    env_names = {"api_key": "BULKCTL_API_KEY", "auth_token": "BULKCTL_AUTH_TOKEN"}
    env = {"BULKCTL_BASE_URL": served.multi}
    if source == "env":
        env |= {env_names[k]: (bad if k == name else v) for k, v in good.items()}
    else:
        values = {k: (bad if k == name else v) for k, v in good.items()}
        import tomli_w

        write_config(isolated_home, tomli_w.dumps({"profiles": {"default": values}}))
    result = run_bulkctl("list", "-n", "1", env=env)
    assert result.code == ExitCode.AUTH, result.stderr
    where = f"env {env_names[name]}" if source == "env" else "profile default"
    assert f"{name} ({where}) holds a line break (CR or LF)" in result.stderr
    assert bad.split("\r")[0] not in result.stderr  # masked
    assert "retrying" not in result.stderr
    assert not served.emulator.requests


def test_a_key_with_cr_lf_typed_at_auth_login_exits_3_before_any_request(served: Served) -> None:
    result = run_bulkctl(
        "--base-url",
        served.backoffice,
        "auth",
        "login",
        "--identity",
        "corporate:1001",
        input="key-7f3a-abcdef\rX-Injected: 1\n",
    )
    assert result.code == ExitCode.AUTH
    assert "the API key holds a line break" in result.stderr
    assert "key-7f3a" not in result.stderr
    assert not served.emulator.requests
    assert not Path(run_bulkctl("config", "path").stdout.strip()).exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("BULKCTL_EMAIL", "ops@example.com\r\nBcc: x"), ("BULKCTL_IDENTITY", "corporate:1\n001")],
)
def test_an_email_or_identity_with_control_characters_exits_3(
    served: Served, name: str, value: str
) -> None:
    env = {"BULKCTL_BASE_URL": served.multi, "BULKCTL_API_KEY": DEMO_API_KEY, name: value}
    result = run_bulkctl("list", env=env)
    assert result.code == ExitCode.AUTH, result.stderr
    assert f"(env {name}) holds a line break" in result.stderr
    assert not served.emulator.requests


def hostile_token_answer(served: Served, token: str) -> None:
    def answer(request: Request) -> Response:
        import json

        return Response(200, json.dumps({"token": {"token": token}}).encode())

    served.emulator._access_token = answer  # type: ignore[method-assign]


@pytest.mark.parametrize("token", [BAD_TOKEN, "tok\x1b]0;pwned\x07en", "x" * 5000, "two words"])
def test_a_login_answer_with_an_implausible_token_is_malformed_and_never_stored(
    served: Served, token: str
) -> None:
    hostile_token_answer(served, token)
    result = run_bulkctl(
        "--base-url",
        served.backoffice,
        "auth",
        "login",
        "--identity",
        "corporate:1001",
        input=f"{DEMO_API_KEY}\n",
    )
    assert result.code == ExitCode.ERROR
    assert "the token is not plausible" in result.stderr
    assert token[:8] not in result.stderr
    assert len(login_requests(served)) == 1
    assert not Path(run_bulkctl("config", "path").stdout.strip()).exists()


def test_a_relogin_answer_with_an_implausible_token_exits_1(served: Served) -> None:
    hostile_token_answer(served, BAD_TOKEN)
    result = run_bulkctl("list", "-n", "1", env=env_login(served))
    assert result.code == ExitCode.ERROR, result.stderr
    assert "not plausible" in result.stderr
    assert "token-0123" not in result.stderr
    assert len(login_requests(served)) == 1


def test_the_client_refuses_unsafe_credentials_itself() -> None:
    for kwargs in ({"api_key": BAD_KEY, "token": None}, {"api_key": "k", "token": BAD_TOKEN}):
        with pytest.raises(NotAuthenticated) as caught:
            ApiClient(base_url="https://api.example.com/multi", **kwargs)  # type: ignore[arg-type]
        assert caught.value.exit_code == ExitCode.AUTH
        assert "X-Injected" not in caught.value.message


# -- reprs ----------------------------------------------------------------------------------

SECRETS = {
    "BULKCTL_API_KEY": "api-key-s3cret-0001",
    "BULKCTL_AUTH_TOKEN": "token-s3cret-0002",
    "BULKCTL_PASSWORD": "password-s3cret-0003",
}


def context_with_secrets(tmp_path: Path) -> Context:
    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={"BULKCTL_BASE_URL": "https://api.example.com/multi", **SECRETS},
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        options=GlobalOptions(),
        read_secret=lambda _: "typed-s3cret",
    )


def assert_no_secret(text: str) -> None:
    for secret in (*SECRETS.values(), "typed-s3cret"):
        assert secret not in text
        assert secret[-6:] not in text


def test_the_settings_repr_hides_key_token_and_password(tmp_path: Path) -> None:
    resolved = resolve(ConfigStore(tmp_path), SECRETS)
    assert resolved.get("api_key") == SECRETS["BULKCTL_API_KEY"]
    assert resolved.password == SECRETS["BULKCTL_PASSWORD"]
    text = repr(resolved)
    assert_no_secret(text)
    assert "<hidden>" in text and "profile='default'" in text


def test_the_context_repr_hides_the_environment_settings_and_client(tmp_path: Path) -> None:
    ctx = context_with_secrets(tmp_path)
    assert_no_secret(repr(ctx))
    ctx.settings()
    ctx.client()
    assert ctx._client is not None
    assert_no_secret(repr(ctx))
    ctx.close()


def test_the_client_and_reauthenticator_reprs_hide_secrets(tmp_path: Path) -> None:
    ctx = context_with_secrets(tmp_path)
    client = ApiClient(
        base_url="https://api.example.com/multi",
        api_key=SECRETS["BULKCTL_API_KEY"],
        token=SECRETS["BULKCTL_AUTH_TOKEN"],
    )
    assert_no_secret(repr(client))
    assert "api.example.com" in repr(client)
    client.close()
    assert_no_secret(repr(Reauthenticator(ctx, ctx.settings())))


# -- unwritable storage ---------------------------------------------------------------------


def _drop_root_file_override() -> None:
    """In the child: root without CAP_DAC_OVERRIDE/READ_SEARCH obeys permission bits."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_in_read_only_folder(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run bulkctl as a user that cannot write a 0500 folder (root too, without its override)."""
    preexec = None
    if os.geteuid() == 0:
        try:
            probe = subprocess.run(["true"], preexec_fn=_drop_root_file_override, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot drop CAP_DAC_OVERRIDE to make a folder read-only for root: {exc}")
        if probe.returncode != 0:
            pytest.skip("cannot drop CAP_DAC_OVERRIDE to make a folder read-only for root")
        preexec = _drop_root_file_override
    return subprocess.run(
        [*bulkctl_command(), *args],
        input=input,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        preexec_fn=preexec,
    )


def test_a_read_only_config_folder_gives_one_line_and_keeps_the_file(isolated_home: Path) -> None:
    path = write_config(isolated_home, '[profiles.default]\nemail = "old@example.com"\n')
    before = path.read_bytes()
    path.parent.chmod(0o500)
    try:
        result = run_in_read_only_folder("config", "set", "email", "new@example.com")
    finally:
        path.parent.chmod(0o700)
    assert result.returncode == ExitCode.ERROR
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "email of profile default not saved" in lines[0]
    assert str(path.parent) in lines[0] and "Permission denied" in lines[0]
    assert "internal error" not in result.stderr
    assert path.read_bytes() == before


def test_auth_login_says_the_token_was_not_saved_and_never_prints_it(
    isolated_home: Path, served: Served
) -> None:
    folder = config_dir(isolated_home)
    folder.mkdir(parents=True, mode=0o500)
    try:
        result = run_in_read_only_folder(
            "--base-url",
            served.backoffice,
            "auth",
            "login",
            "--identity",
            "corporate:1001",
            input=f"{DEMO_API_KEY}\n",
        )
    finally:
        folder.chmod(0o700)
    assert result.returncode == ExitCode.ERROR, result.stderr
    assert "logged in as corporate:1001, but the token was not saved" in result.stderr
    again = f"then run bulkctl --base-url {served.backoffice} auth login --identity corporate:1001"
    assert again in result.stderr
    issued = [t for t in served.state.tokens if t.startswith("bo-")]
    assert len(issued) == 1
    assert issued[0] not in result.stdout + result.stderr
    assert DEMO_API_KEY not in result.stdout + result.stderr
    assert list(folder.iterdir()) == []


def test_a_write_that_fails_part_way_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfigStore(tmp_path / "cfg")
    store.set_values("default", {"email": "old@example.com"})
    before = store.path.read_bytes()
    real_fdopen = os.fdopen

    class HalfThenFull(io.RawIOBase):
        def __init__(self, fd: int) -> None:
            self.inner = real_fdopen(fd, "wb", buffering=0)

        def write(self, data: Any) -> int:
            self.inner.write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fileno(self) -> int:
            return self.inner.fileno()

        def close(self) -> None:
            self.inner.close()
            super().close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfThenFull(fd))
    with pytest.raises(StorageError) as caught:
        store.set_values("default", {"email": "new-address@example.com", "api": "multi"})
    monkeypatch.undo()
    message = caught.value.message
    assert "email, api of profile default not saved" in message
    assert str(store.path) in message and "No space left on device" in message
    assert caught.value.exit_code == ExitCode.ERROR
    assert store.path.read_bytes() == before
    assert [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")] == []


def test_a_relogin_token_that_cannot_be_saved_is_used_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import in_process

    run = in_process(tmp_path, env={"BULKCTL_AUTH_TOKEN": "", "BULKCTL_API_KEY": ""})
    store = run.ctx.store
    store.set_values(
        "default",
        {
            "base_url": "http://127.0.0.1:9/multi/backoffice",
            "api_key": DEMO_API_KEY,
            "identity": "corporate:1001",
        },
    )
    run.ctx.env = {}
    before = store.path.read_bytes()

    def full(*_: object, **__: object) -> None:
        raise StorageError("auth_token of profile default not saved: cannot write X: full")

    monkeypatch.setattr(store, "set_values", full)
    page = run.ctx.client().list_bulks(offset=0, limit=1)
    assert page.records
    assert "not saved" in run.err and "used for this command only" in run.err
    assert store.path.read_bytes() == before


def test_unsafe_path_is_a_config_error_and_storage_error_is_exit_1() -> None:
    assert UnsafePath("x").exit_code == ExitCode.USAGE
    assert StorageError("x").exit_code == ExitCode.ERROR


def test_config_set_refuses_a_key_that_could_never_be_sent_without_echoing_it() -> None:
    result = run_bulkctl("config", "set", "api_key", input="key-7f3a-abcdef\rX-Injected: 1\n")
    assert result.code == ExitCode.USAGE
    assert "api_key holds a line break" in result.stderr
    assert "key-7f3a" not in result.stderr and "X-Injected" not in result.stderr
    assert not Path(run_bulkctl("config", "path").stdout.strip()).exists()


def test_auth_login_refuses_an_identity_from_the_environment_with_a_line_break(
    served: Served,
) -> None:
    env = {"BULKCTL_BASE_URL": served.backoffice, "BULKCTL_IDENTITY": "corporate:10\n01"}
    result = run_bulkctl("auth", "login", env=env, input=f"{DEMO_API_KEY}\n")
    assert result.code == ExitCode.AUTH, result.stderr
    assert "the identity holds a line break" in result.stderr
    assert not served.emulator.requests


def test_config_set_on_a_wide_open_file_tightens_it_with_a_note(isolated_home: Path) -> None:
    path = write_config(isolated_home, 'environment = "sandbox"\n', mode=0o644)
    result = run_bulkctl("config", "set", "email", "a@example.com")
    assert result.code == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "was open to other users (mode 644); now 0600" in result.stderr


def test_a_demo_action_that_cannot_be_journalled_says_so_and_exits_1(isolated_home: Path) -> None:
    import json

    listed = run_bulkctl("--profile", "demo", "list", "--status", "RUNNING", "-n", "1", "--json")
    bulk_id = json.loads(listed.stdout)[0]["bulkId"]
    folder = state_dir(isolated_home)
    journal = (folder / "demo.json").read_bytes()  # the demo's timeline, kept by the listing
    folder.chmod(0o500)
    try:
        result = run_in_read_only_folder("--profile", "demo", "pause", bulk_id, "--yes")
    finally:
        folder.chmod(0o700)
    assert result.returncode == ExitCode.ERROR
    assert f"the demo's pause of bulk {bulk_id} not saved" in result.stderr
    assert str(folder / "demo.json") in result.stderr
    assert [p.name for p in folder.iterdir()] == ["demo.json"]
    assert (folder / "demo.json").read_bytes() == journal
