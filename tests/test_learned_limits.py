"""Against a hostile server and local users: learned limits are evidence, not law; the
pacer's file is trusted only as the config is; server text in errors and --debug is safe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bulkctl.context import Clock
from bulkctl.emulator.app import DEMO_API_KEY
from bulkctl.errors import ApiError, ExitCode
from bulkctl.pacing.pacer import (
    SHARED_MAX,
    Pacer,
    Window,
    _Record,
    decode,
    encode,
    parse_limit_header,
    state_file,
)
from tests.conftest import Served, run_bulkctl
from tests.test_api_client import PAGE, Script, answer, client_for
from tests.test_pacer import SharedFakeClock

DAY_OF_ONE = "1, 1;w=86400"


@pytest.mark.parametrize(
    ("header", "seconds", "limit"),
    [(DAY_OF_ONE, 86400, 1), ("1000, 1000;w=172800", 172800, 1000)],
    ids=["fewer than 5", "longer than a day"],
)
def test_a_suspect_window_is_used_by_this_command_only(
    tmp_path: Path, header: str, seconds: int, limit: int
) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    first = Pacer((Window(60, 100),), clock=clock, path=path)
    first.quota_answer(first.acquire(0), 5, parse_limit_header(header))
    assert first.usage(seconds).limit == limit  # believed here, for this command ...
    second = Pacer((Window(60, 100),), clock=clock, path=path)
    assert second.usage(seconds).limit is None  # ... but never handed to other processes


def test_a_header_the_next_answer_contradicts_is_dropped() -> None:
    # "1 a day", no reset named: the probe a second later is answered, so it was not so
    script = Script([answer(429, headers={"x-ratelimit-limit": DAY_OF_ONE})])
    script.answers += [answer(200, PAGE)] * 3
    client, slept, _ = client_for(script)
    for _ in range(3):
        client.list_bulks(offset=0, limit=1)
    assert slept == [1]  # one probe's wait, then no window of a day
    assert client.pace_usage(86400).limit is None
    script.verify()


def test_a_learned_window_ends_one_window_after_the_reset(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    pacer = Pacer((), clock=clock, path=tmp_path / "pacer.bin")
    pacer.quota_answer(pacer.acquire(0), 30, parse_limit_header("100, 100;w=3600"))
    clock.t += 30 + 3600 - 1
    assert pacer.usage(3600).limit == 100
    clock.t += 2
    assert pacer.usage(3600).limit is None


def test_a_file_that_says_a_window_lasts_past_a_day_is_not_believed(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    record = _Record([], 0.0, {})
    record.learned[Window(60, 10)] = clock.now() + 10 * SHARED_MAX  # written by someone else
    record.blocked_until = clock.now() + 10 * SHARED_MAX
    path.write_bytes(encode(record))
    path.chmod(0o600)
    pacer = Pacer((), clock=clock, path=path)
    assert pacer.usage(60).limit is None
    pacer.acquire(2 * SHARED_MAX)
    assert clock.slept == [pytest.approx(SHARED_MAX)]  # a day at most, and never "now"


def pacer_path(tmp_path: Path, base_url: str) -> Path:
    return state_file(tmp_path / "state" / "bulkctl", base_url, DEMO_API_KEY)


def test_the_quota_message_names_the_file_and_the_ways_out_and_reset_limits_forgets(
    served: Served, tmp_path: Path
) -> None:
    path = pacer_path(tmp_path, served.multi)
    other = Pacer((Window(60, 100),), clock=Clock(), path=path)
    other.quota_answer(other.acquire(0), 3600, parse_limit_header("50, 50;w=60"))
    other.close()
    env = served.env(BULKCTL_QUOTA_WAIT="60")
    refused = run_bulkctl("list", "-n", "1", env=env)
    assert refused.code == ExitCode.ERROR, refused.stderr
    for words in (str(path), "quota_wait", "rate_limit (0 turns", "bulkctl config reset-limits"):
        assert words in refused.stderr.replace("\n  ", " ")
    reset = run_bulkctl("config", "reset-limits", env=env)
    assert reset.code == 0 and reset.stdout.strip() == str(path)
    assert run_bulkctl("list", "-n", "1", env=env).code == 0
    record = decode(path.read_bytes())
    assert record is not None and record.learned == {} and record.blocked_until == 0


@pytest.mark.parametrize("how", ["group and other writable", "another user's"])
def test_a_pacer_file_others_could_write_is_refused_with_exit_2(
    served: Served, tmp_path: Path, how: str
) -> None:
    path = pacer_path(tmp_path, served.multi)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(b"")
    if how == "another user's":
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(path, 65534, 65534)
        path.chmod(0o600)
    else:
        path.chmod(0o666)
    result = run_bulkctl("list", "-n", "1", env=served.env(BULKCTL_RATE_LIMIT="100/60s"))
    assert result.code == ExitCode.USAGE, result.stderr
    assert str(path) in result.stderr
    assert ("chmod 600" if how != "another user's" else "chown") in result.stderr


def test_a_status_the_spec_does_not_list_is_named_with_the_servers_words() -> None:
    body = {"title": "Unprocessable \x1b]0;owned\x07batch", "detail": "item 3 is wrong"}
    script = Script([answer(422, body)])
    client, _, _ = client_for(script)
    with pytest.raises(ApiError) as caught:
        client.list_bulks(offset=0, limit=1)
    text = "\n".join(caught.value.lines())
    assert "server error" not in text
    assert "list bulks: unprocessable" in text and "HTTP 422" in text
    assert "batch" in text and "\x1b" not in text and "\x07" not in text


def test_debug_makes_header_values_safe() -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2Jref"
    script = Script([answer(200, PAGE, {"request-ref": hostile})])
    lines: list[str] = []
    client, _, _ = client_for(script, debug=lines.append)
    client.list_bulks(offset=0, limit=1)
    assert len(lines) == 1 and "ref" in lines[0]
    assert "\x1b" not in lines[0] and "\x07" not in lines[0]
