"""Against a hostile local user (issue 20): folders checked as ssh checks them, a journal
that stays within its limit, bounded waits, and a profile name that is never ignored."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkctl.api.kinds import KINDS
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_EMAIL, DEMO_PASSWORD
from bulkctl.errors import StorageError
from bulkctl.files.submission import JOURNAL_LIMIT, Journal
from bulkctl.safefile import MAX_PRIVATE_FILE
from tests.conftest import Served, bulkctl_command, run_bulkctl
from tests.test_auth_config import login_multi

BLOCKS = KINDS["card-blocks"]

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


@pytest.mark.parametrize(
    "args",
    [["auth", "status", "--offline"], ["config", "list"], ["config", "get", "environment"]],
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_reading_commands_refuse_an_unknown_profile_rather_than_show_defaults(
    how: str, args: list[str]
) -> None:
    assert run_bulkctl("--profile", "ops", "config", "set", "environment", "sandbox").code == 0
    named, env = (
        (["--profile", "nosuch"], {}) if how == "flag" else ([], {"BULKCTL_PROFILE": "nosuch"})
    )
    result = run_bulkctl(*named, *args, env=env)
    assert result.code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "unknown profile 'nosuch' (known: demo, ops)" in result.stderr


def test_a_new_profile_can_still_be_made_by_config_set_and_auth_login(served: Served) -> None:
    made = run_bulkctl("--profile", "fresh", "config", "set", "base_url", served.multi)
    assert made.code == 0, made.stderr
    assert run_bulkctl("--profile", "fresh", "config", "get", "base_url").stdout.strip() == (
        served.multi
    )
    login_multi(served, "newer", run=run_bulkctl)  # asserts the login succeeded
    assert run_bulkctl("--profile", "newer", "auth", "status", "--offline").code == 0


def test_auth_token_of_an_unknown_profile_is_refused_not_taken_from_the_environment(
    served: Served,
) -> None:
    result = run_bulkctl("--profile", "opz", "auth", "token", env=served.env())
    assert result.code == 2 and result.stdout == ""
    assert "unknown profile 'opz'" in result.stderr


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
    from bulkctl.cli.options import check_interval, parse_wait
    from bulkctl.lists.filters import parse_when

    assert check_interval("7d") == 7 * 86400
    assert parse_wait("604800", "--timeout") == 604800
    now = 1_800_000_000.0
    assert parse_when("30d", now, "--since") == now - 30 * 86400
    assert parse_when("400d", now, "--since") == now - 400 * 86400


# -- the journal ------------------------------------------------------------------------------


def _honest_entry(index: int, at: float) -> dict[str, object]:
    return {
        "bulkId": f"{1_100_000_000_000_000 + index}",
        "kind": "card-blocks",
        "chunk": index % 7,
        "operationCount": 10_000,
        "sourceBulk": None,
        "submittedAt": at,
    }


def _fill_journal(path: Path, now: float, limit: int) -> int:
    """Honest entries, oldest first, up to just under ``limit`` bytes; returns their count."""
    entries = {f"bulkctl-{i:040x}": _honest_entry(i, now - 86400 + i) for i in range(6000)}
    while len(json.dumps({"submissions": entries})) > limit:
        for key in list(entries)[-20:]:
            del entries[key]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps({"submissions": entries}, sort_keys=True))
    path.chmod(0o600)
    return len(entries)


def test_a_full_journal_drops_its_oldest_entries_and_stays_readable(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    journal = Journal(tmp_path / "state", now=lambda: now)
    count = _fill_journal(journal.path, now, JOURNAL_LIMIT - 2000)
    assert 4_000 < count < 6_000  # about 4,700 honest entries a month fill the megabyte
    for index in range(30):
        key = f"new-{index}"
        journal.record(key, bulk_id=str(9_000 + index), kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.path.stat().st_size <= MAX_PRIVATE_FILE
    assert journal.find("new-0") is not None and journal.find("new-29") is not None
    assert journal.find(f"bulkctl-{0:040x}") is None  # the oldest went first
    assert journal.find(f"bulkctl-{count - 1:040x}") is not None  # the newest old ones stay


def test_a_megabyte_bulk_id_is_never_journalled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state", now=lambda: 1000.0)
    journal.record("before", bulk_id="42", kind=BLOCKS, chunk=0, operation_count=1)
    with pytest.raises(StorageError, match="not journalled") as caught:
        journal.record("huge", bulk_id="7" * 1_100_000, kind=BLOCKS, chunk=0, operation_count=1)
    assert len(str(caught.value)) < 200
    assert journal.path.stat().st_size < 4096
    assert journal.find("huge") is None
    found = journal.find("before")
    assert found is not None and found.bulk_id == "42"
    journal.record("after", bulk_id="43", kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.find("after") is not None


def test_a_journal_left_over_the_limit_is_forgotten_not_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state", now=lambda: 1000.0)
    journal.path.parent.mkdir(parents=True)
    entries = {f"k{i}": {**_honest_entry(i, 999.0), "bulkId": "9" * 64} for i in range(9000)}
    journal.path.write_text(json.dumps({"submissions": entries}))
    journal.path.chmod(0o600)
    assert journal.path.stat().st_size > MAX_PRIVATE_FILE
    assert journal.find("k1") is None
    journal.record("next", bulk_id="44", kind=BLOCKS, chunk=0, operation_count=1)
    assert journal.find("next") is not None
    assert journal.path.stat().st_size <= MAX_PRIVATE_FILE


def test_two_hundred_chunks_of_one_on_a_nearly_full_journal_complete_and_repeat(
    served: Served, tmp_path: Path
) -> None:
    env = served.env(BULKCTL_RATE_LIMIT="0")
    source = tmp_path / "blocks.jsonl"
    source.write_text(json.dumps({"pathParams": {"_id_": "5000000"}}) + "\n")
    first = run_bulkctl("submit", "card-blocks", str(source), "--json", env=env)
    assert first.code == 0, first.stderr[-2000:]
    [path] = (tmp_path / "state").rglob("submissions.json")
    _fill_journal(path, time.time(), JOURNAL_LIMIT - 1000)
    source.write_text(
        "".join(json.dumps({"pathParams": {"_id_": f"{6_000_000 + i}"}}) + "\n" for i in range(200))
    )
    second = run_bulkctl("submit", "card-blocks", str(source), "--chunk-size", "1", "--json",
                         env=env, timeout=120)  # fmt: skip
    assert second.code == 0, second.stderr[-2000:]
    assert len(json.loads(second.stdout)) == 200
    assert path.stat().st_size <= MAX_PRIVATE_FILE
    before = served.emulator.request_count
    again = run_bulkctl("submit", "card-blocks", str(source), "--chunk-size", "1", "--json",
                        env=env, timeout=120)  # fmt: skip
    assert again.code == 0, again.stderr[-2000:]
    assert all(r["alreadySubmitted"] for r in json.loads(again.stdout))
    assert served.emulator.request_count == before  # the journal named every bulk


# -- folders, as ssh checks them --------------------------------------------------------------

OTHER_UID = 65534  # nobody
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="planting another user's folder needs chown, which needs root"
)


def _run_with_umask(
    umask: int, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*bulkctl_command(), *args],
        env=dict(os.environ, **env),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(umask) and None,
    )


def test_under_umask_000_every_folder_bulkctl_makes_is_0700(tmp_path: Path, served: Served) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {
        **served.env(BULKCTL_RATE_LIMIT="0"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }
    made = _run_with_umask(0, "config", "set", "environment", "sandbox", env=env)
    assert made.returncode == 0, made.stderr
    source = tmp_path / "blocks.jsonl"
    source.write_text(json.dumps({"pathParams": {"_id_": "5100001"}}) + "\n")
    sent = _run_with_umask(0, "submit", "card-blocks", str(source), env=env)
    assert sent.returncode == 0, sent.stderr
    folders = [p for p in home.rglob("*") if p.is_dir()]
    assert {home / ".config", home / ".config" / "bulkctl", home / ".local"} <= set(folders)
    assert home / ".local" / "state" / "bulkctl" / "submissions" in folders
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {"0o700"}


@needs_root
def test_a_config_folder_swapped_for_another_user_s_link_is_never_followed(
    tmp_path: Path, served: Served, isolated_home: Path
) -> None:
    # the victim's own folder (a cloned repository) holding the attacker's base_url
    repo = tmp_path / "repo"
    repo.mkdir(mode=0o700)
    (repo / "config.toml").write_text(f'[profiles.default]\nbase_url = "{served.multi}"\n')
    (repo / "config.toml").chmod(0o600)
    (isolated_home / "config").mkdir(mode=0o700)
    link = isolated_home / "config" / "bulkctl"
    link.symlink_to(repo, target_is_directory=True)
    os.lchown(link, OTHER_UID, OTHER_UID)
    result = run_bulkctl(
        "auth", "login", "--email", DEMO_EMAIL, input=f"{DEMO_API_KEY}\n{DEMO_PASSWORD}\n"
    )
    assert result.code == 2, result.stderr
    assert f"{link} is a symbolic link of uid {OTHER_UID}" in result.stderr
    assert "remove it" in result.stderr
    assert not served.emulator.requests  # the key never went to the planted base_url


def test_a_link_of_the_user_s_own_is_followed_as_a_dotfiles_setup(isolated_home: Path) -> None:
    dotfiles = isolated_home / "dotfiles" / "bulkctl"
    dotfiles.mkdir(parents=True, mode=0o700)
    (isolated_home / "config").mkdir(mode=0o700)
    (isolated_home / "config" / "bulkctl").symlink_to(dotfiles, target_is_directory=True)
    assert run_bulkctl("config", "set", "environment", "production").code == 0
    assert 'environment = "production"' in (dotfiles / "config.toml").read_text()
    assert run_bulkctl("config", "get", "environment").stdout.strip() == "production"


@needs_root
@pytest.mark.parametrize(
    ("owner", "mode", "refused"),
    [
        (OTHER_UID, 0o755, "belongs to uid 65534"),
        (0, 0o777, "writable by other users (mode 777)"),
        (0, 0o775, "writable by other users (mode 775)"),
        (OTHER_UID, 0o1777, "belongs to uid 65534"),  # sticky, but not root's
        (0, 0o1777, None),  # root's sticky folder, as /tmp
        (0, 0o755, None),
    ],
)
def test_every_folder_above_the_config_is_checked_up_to_the_root(
    tmp_path: Path, owner: int, mode: int, refused: str | None
) -> None:
    above = tmp_path / "shared"
    above.mkdir()
    os.chown(above, owner, owner)
    above.chmod(mode)
    config = above / "me" / "config"
    config.mkdir(parents=True, mode=0o700)
    (above / "me").chmod(0o700)
    env = {"XDG_CONFIG_HOME": str(config)}
    result = run_bulkctl("config", "set", "environment", "sandbox", env=env)
    listed = run_bulkctl("config", "list", env=env)
    if refused is None:
        assert result.code == 0 and listed.code == 0, result.stderr + listed.stderr
        return
    for answer in (result, listed):
        assert answer.code == 2, answer.stderr
        assert f"the folder {above} above it" in answer.stderr
        assert refused in answer.stderr
    assert not (config / "bulkctl").exists()  # nothing made under a folder others control


@pytest.mark.parametrize("linked", [False, True])
def test_the_folder_holding_a_linked_config_folder_is_checked_too(
    tmp_path: Path, linked: bool
) -> None:
    """Whoever can write the folder that holds the link can swap the link itself."""
    conf = tmp_path / "conf"
    conf.mkdir()
    conf.chmod(0o777)
    if linked:  # the user's (or root's) own link, to a private folder elsewhere
        real = tmp_path / "private" / "bulkctl"
        real.mkdir(parents=True, mode=0o700)
        (tmp_path / "private").chmod(0o700)
        (conf / "bulkctl").symlink_to(real, target_is_directory=True)
    else:
        (conf / "bulkctl").mkdir(mode=0o700)
    env = {"XDG_CONFIG_HOME": str(conf)}
    for args in (("auth", "status", "--offline"), ("config", "list")):
        result = run_bulkctl(*args, env=env)
        assert result.code == 2, (args, result.stderr)
        assert f"the folder {conf} above it is writable by other users" in result.stderr


@needs_root
def test_a_state_folder_under_another_user_s_folder_is_refused(
    tmp_path: Path, served: Served
) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    os.chown(planted, OTHER_UID, OTHER_UID)
    source = tmp_path / "blocks.jsonl"
    source.write_text(json.dumps({"pathParams": {"_id_": "5100002"}}) + "\n")
    env = served.env(XDG_STATE_HOME=str(planted / "state"))
    result = run_bulkctl("submit", "card-blocks", str(source), env=env)
    assert result.code == 2, result.stderr
    assert f"the folder {planted} above it belongs to uid {OTHER_UID}" in result.stderr
    assert served.emulator.request_count == 0


@needs_root
def test_open_private_refuses_another_user_s_file_and_a_link_and_tightens_our_own(
    tmp_path: Path,
) -> None:
    from bulkctl.errors import UnsafePath
    from bulkctl.safefile import open_private

    folder = tmp_path / "state" / "pacer"
    path = folder / "limits.json"
    os.close(open_private(path, "pacer file", "the pacer's record"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path.chmod(0o666)
    os.close(open_private(path, "pacer file", "the pacer's record"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafePath, match="belongs to uid 65534"):
        open_private(path, "pacer file", "the pacer's record")
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePath, match="symbolic link"):
        open_private(path, "pacer file", "the pacer's record")
    assert not (tmp_path / "elsewhere").exists()


# -- a process that holds secrets cannot be dumped ----------------------------------------------

DUMPABLE_AFTER = """
import ctypes, sys
from bulkctl.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    print("dumpable", ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), file=sys.stderr)  # PR_GET_DUMPABLE
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.parametrize(
    ("args", "dumpable"), [(["--profile", "demo", "list"], 0), (["--version"], 1)]
)
def test_a_process_that_read_secrets_is_not_dumpable(args: list[str], dumpable: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DUMPABLE_AFTER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, BULKCTL_API_KEY="a-secret-key-0001"),
    )
    assert f"dumpable {dumpable}" in proc.stderr.splitlines(), proc.stderr[-2000:]
