"""Issue 23's shared quota with the real ``bulkctl`` and a real Redis server: three machines
(processes with separate state folders) and one store stay within the quota together; the
store killed mid-run, down, or behind a password."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Served, run_bulkctl
from tests.quota_scenario import LoggingEmulator
from tests.redis_server import NO_SERVER, RedisServer, free_port, redis_server
from tests.shared_quota_scenario import BULKS, PROCESSES, run_fleet

pytestmark = pytest.mark.skipif(NO_SERVER is not None, reason=NO_SERVER or "")

PASSWORD = "hunter2-store-secret"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as started:
        yield started


def store_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "rate limit store" in line]


def test_three_machines_with_one_store_draw_at_most_3_quota_answers_where_files_draw_more(
    server: RedisServer, tmp_path: Path
) -> None:
    shared = run_fleet(tmp_path / "shared", server.url)
    separate = run_fleet(tmp_path / "separate", None)
    print(
        f"quota answers, 3 processes at 20/6s: one Redis store {shared.quota_answers}, "
        f"separate state folders {separate.quota_answers}"
    )
    assert shared.complete and separate.complete, (shared.stderrs, separate.stderrs)
    assert shared.quota_answers <= 3, shared.log
    assert separate.quota_answers > max(3, shared.quota_answers), separate.log
    assert not any(store_warnings(err) for err in shared.stderrs), shared.stderrs


def test_the_store_killed_mid_run_every_process_finishes_on_its_state_file(
    server: RedisServer, tmp_path: Path
) -> None:
    def kill_after_the_first_window(emulator: LoggingEmulator) -> None:
        give_up = time.monotonic() + 60
        while emulator.request_count < 20 and time.monotonic() < give_up:
            time.sleep(0.01)
        server.kill()  # the quota's first window is spent: every process waits on

    run = run_fleet(tmp_path, server.url, during=kill_after_the_first_window)
    assert run.requests >= PROCESSES * BULKS // 100 and server.proc.poll() is not None
    assert run.complete, run.stderrs  # every bulk, exit 0, on the fallback
    warned = [store_warnings(err) for err in run.stderrs]
    assert all(len(lines) <= 1 for lines in warned), warned  # one warning a command at most
    assert sum(len(lines) for lines in warned) >= 1, run.stderrs
    for lines in warned:
        assert all("cannot be used" in line and "local state file" in line for line in lines)
    for i, lines in enumerate(warned):  # each warned machine's own state file took over
        state = tmp_path / f"machine{i}" / "state" / "bulkctl"
        assert not lines or list(state.glob("pacer-*.bin")), (i, lines)


def test_a_store_that_is_down_costs_one_warning_and_never_the_command(
    served: Served, tmp_path: Path
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    result = run_bulkctl(
        "list",
        "--all",
        "--jsonl",
        env=served.env(BULKCTL_RATE_LIMIT_STORE=down, BULKCTL_RATE_LIMIT="100/60s"),
    )
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(served.state.order)
    assert len(store_warnings(result.stderr)) == 1, result.stderr
    assert result.stderr.count("warning:") == 1, result.stderr


def test_the_stores_password_is_masked_in_config_debug_and_errors(
    served: Served, tmp_path: Path
) -> None:
    with redis_server(tmp_path / "redis", password=PASSWORD) as server:
        typed = run_bulkctl("config", "set", "rate_limit_store", server.url)
        assert typed.code == 2 and "not taken from the command line" in typed.stderr
        assert run_bulkctl("config", "set", "rate_limit_store", input=server.url + "\n").code == 0
        got = run_bulkctl("config", "get", "rate_limit_store")
        listed = run_bulkctl("config", "list")
        as_json = run_bulkctl("config", "list", "--json")
        debug = run_bulkctl("--debug", "list", "--all", "--jsonl", env=served.env())
        used = server.client().keys("bulkctl:pacer:*")  # type: ignore[attr-defined]
    masked = server.url.replace(PASSWORD, "****")
    assert got.stdout.strip() == masked
    assert masked in listed.stdout
    rows = {row["setting"]: row for row in json.loads(as_json.stdout)["settings"]}
    assert rows["rate_limit_store"]["value"] == masked
    assert debug.code == 0 and f"through the store {masked}" in debug.stderr, debug.stderr
    assert len(used) == 2  # the store was really used, with the password from the profile
    wrong = run_bulkctl("list", env=served.env(BULKCTL_RATE_LIMIT_STORE=f"http://:{PASSWORD}@h/0"))
    assert wrong.code == 2 and "****" in wrong.stderr
    for result in (typed, got, listed, as_json, debug, wrong):
        assert PASSWORD not in result.stdout + result.stderr


def test_reset_limits_forgets_what_the_fleet_learned_in_the_store(
    server: RedisServer, tmp_path: Path
) -> None:
    from bulkctl.pacing.pacer import Pacer, Window, parse_rate_limit
    from bulkctl.pacing.redis_store import RedisStore, store_keys
    from tests.test_redis_store import RealClock

    keys = store_keys("https://sandbox.weavr.io/multi", "some-key")
    store = RedisStore(server.url, keys, tmp_path / "pacer.bin", warn=print)
    pacer = Pacer(parse_rate_limit("5/1s"), clock=RealClock(), store=store)
    pacer.quota_answer(pacer.acquire(10), 30.0, (Window(60.0, 50),))  # learned on one machine
    pacer.close()
    client = server.client()
    assert sorted(client.hkeys(keys[1])) == [b"blocked", b"v", b"w:50/60.0"]  # type: ignore[attr-defined]
    reset = run_bulkctl("config", "reset-limits", env={"BULKCTL_RATE_LIMIT_STORE": server.url})
    assert reset.code == 0 and reset.stdout.split() == [server.url, keys[1]], reset
    assert client.hkeys(keys[1]) == [b"v"]  # type: ignore[attr-defined]
    assert client.zcard(keys[0]) == 1  # type: ignore[attr-defined]  # the starts stay
    down = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    unreachable = run_bulkctl("config", "reset-limits", env={"BULKCTL_RATE_LIMIT_STORE": down})
    assert unreachable.code == 0 and "nothing forgotten there" in unreachable.stderr
    assert PASSWORD not in unreachable.stdout + unreachable.stderr
