"""The pacer's record in a real Redis server (tests/redis_server.py): the atomic check of a
request start, what the keys hold, the fallback to the state file, the URL's password."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkctl.config import shown, validate_value
from bulkctl.errors import UsageError
from bulkctl.pacing import redis_store
from bulkctl.pacing.pacer import Pacer, QuotaWaitTooLong, Window, parse_rate_limit, state_file
from bulkctl.pacing.redis_store import RedisStore, store_keys
from bulkctl.pacing.store import _Record
from bulkctl.pacing.store_url import shown_url
from tests.conftest import Served
from tests.redis_server import NO_SERVER, RedisServer, free_port, redis_server

pytestmark = pytest.mark.skipif(NO_SERVER is not None, reason=NO_SERVER or "")

BASE_URL = "https://sandbox.weavr.io/multi"
API_KEY = "sk-live-0123456789abcdef"  # what must never reach the store


class RealClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as started:
        yield started


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    """Each test is a command of its own: one warning per store and command."""
    redis_store._warned.clear()
    yield
    redis_store._warned.clear()


def store_for(url: str, tmp_path: Path, warnings: list[str] | None = None) -> RedisStore:
    keys = store_keys(BASE_URL, API_KEY)
    fallback = state_file(tmp_path / "state", BASE_URL, API_KEY)
    sink = warnings if warnings is not None else []
    return RedisStore(url, keys, fallback, warn=sink.append)


def assert_within(starts: list[float], window: Window) -> None:
    """No ``limit + 1`` starts lie within any ``seconds`` (a sliding window)."""
    starts = sorted(starts)
    for first, last in zip(starts, starts[window.limit :], strict=False):
        assert last - first >= window.seconds, (first, last, window)


def test_a_start_is_recorded_only_on_the_record_it_was_checked_against(
    server: RedisServer, tmp_path: Path
) -> None:
    """Two processes read the same record; the first to record a start wins, the second
    records nothing and must look again (it would have checked a record that is gone)."""
    first, second = store_for(server.url, tmp_path), store_for(server.url, tmp_path)
    empty = _Record([], 0.0, {})
    with first.update(empty) as a, second.update(empty) as b:
        assert a is not None and b is not None
        assert first.start(a, 100.0) is True
        assert second.start(b, 100.5) is False  # checked against a record without 100.0
        assert b.starts == []
    with second.update(empty) as again:
        assert again is not None and again.starts == [100.0]
        assert second.start(again, 100.5) is True
    assert server.client().zcard(store_keys(BASE_URL, API_KEY)[0]) == 2  # type: ignore[attr-defined]
    first.close()
    second.close()


def test_processes_and_threads_sharing_one_store_never_exceed_the_rate(
    server: RedisServer, tmp_path: Path
) -> None:
    """Four processes of four threads each, one store, ``8/1s``: every start they record,
    taken together, keeps the window (each process alone would allow 8 a second)."""
    worker = textwrap.dedent(
        f"""
        import json, sys, threading, time
        from pathlib import Path
        from bulkctl.pacing.pacer import Pacer, parse_rate_limit
        from bulkctl.pacing.redis_store import RedisStore, store_keys
        from tests.test_redis_store import RealClock
        store = RedisStore(sys.argv[1], store_keys({BASE_URL!r}, {API_KEY!r}),
                           Path(sys.argv[2]), warn=lambda m: print(m, file=sys.stderr))
        pacer = Pacer(parse_rate_limit("8/1s"), clock=RealClock(), store=store)
        starts = []
        def run():
            for _ in range(3):
                starts.append(pacer.acquire(60))
        threads = [threading.Thread(target=run) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        pacer.close()
        print(json.dumps(starts))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", worker, server.url, str(tmp_path / f"p{i}" / "pacer.bin")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        for i in range(4)
    ]
    starts: list[float] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and not err, err
        starts += [float(t) for t in out.strip().strip("[]").split(",")]
    assert len(starts) == 48
    assert_within(starts, Window(1.0, 8))


def test_keys_name_the_host_and_a_hash_never_the_api_key_and_expire(
    server: RedisServer, tmp_path: Path
) -> None:
    pacer = Pacer(
        parse_rate_limit("5/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
    )
    started = pacer.acquire(10)
    pacer.quota_answer(started, 30.0, (Window(60.0, 50),))  # a wait and a window learned
    pacer.close()
    client = server.client()
    keys = sorted(k.decode() for k in client.keys("*"))  # type: ignore[attr-defined]
    assert keys == sorted(store_keys(BASE_URL, API_KEY))
    assert all(k.startswith("bulkctl:pacer:{sandbox.weavr.io:") for k in keys), keys
    stored = repr(client.zrange(keys[1], 0, -1)) + repr(client.hgetall(keys[0]))  # type: ignore[attr-defined]
    for text in (*keys, stored):
        assert API_KEY not in text and API_KEY[-8:] not in text
    assert "w:50/60.0" in stored and "blocked" in stored
    assert all(0 < client.ttl(k) <= redis_store.KEY_TTL for k in keys)  # type: ignore[attr-defined]


def test_a_wait_the_server_named_reaches_every_process(server: RedisServer, tmp_path: Path) -> None:
    first = Pacer(
        parse_rate_limit("50/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
    )
    second = Pacer(
        parse_rate_limit("50/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
    )
    first.quota_answer(first.acquire(10), 30.0, ())
    with pytest.raises(QuotaWaitTooLong, match="quota is used up"):
        second.acquire(5)  # blocked for 30 s by what the other process was told
    first.close()
    second.close()


@pytest.mark.parametrize("how", ["down", "slow"])
def test_a_store_down_or_slow_falls_back_to_the_file_with_one_warning(
    server: RedisServer, tmp_path: Path, how: str
) -> None:
    warnings: list[str] = []
    url = server.url if how == "slow" else f"redis://127.0.0.1:{free_port()}/0"
    if how == "slow":
        server.pause()  # the kernel takes the connection; nothing answers
    path = state_file(tmp_path / "state", BASE_URL, API_KEY)
    pacer = Pacer(
        parse_rate_limit("3/1s"),
        clock=RealClock(),
        path=path,
        store=store_for(url, tmp_path, warnings),
    )
    starts = [pacer.acquire(10) for _ in range(6)]
    pacer.close()
    assert len(warnings) == 1, warnings
    assert "cannot be used" in warnings[0] and "local state file" in warnings[0]
    assert path.exists()  # paced with the file, which the next command will read
    assert_within(starts, Window(1.0, 3))


def test_without_the_redis_client_one_line_says_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis: ImportError
    warnings: list[str] = []
    pacer = Pacer(
        parse_rate_limit("3/1s"),
        clock=RealClock(),
        path=state_file(tmp_path / "state", BASE_URL, API_KEY),
        store=store_for("redis://127.0.0.1:6379/0", tmp_path, warnings),
    )
    for _ in range(3):
        pacer.acquire(10)
    pacer.close()
    assert warnings == [
        "rate_limit_store names a Redis store, but its client is not installed "
        "(pip install 'bulkctl[redis]'); pacing with the local state file"
    ]


def test_a_wrong_password_falls_back_and_no_message_holds_the_password(
    tmp_path: Path,
) -> None:
    warnings: list[str] = []
    with redis_server(tmp_path / "redis", password="hunter2-correct") as server:
        wrong = server.url.replace("hunter2-correct", "hunter2-wrong-pw")
        pacer = Pacer(
            parse_rate_limit("3/1s"), clock=RealClock(), store=store_for(wrong, tmp_path, warnings)
        )
        pacer.acquire(10)
        pacer.close()
        ok = Pacer(
            parse_rate_limit("3/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
        )
        ok.acquire(10)
        ok.close()
        assert server.client().zcard(store_keys(BASE_URL, API_KEY)[0]) == 1  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "redis://:****@127.0.0.1:" in warnings[0], warnings
    assert "hunter2" not in warnings[0]


@pytest.mark.parametrize(
    ("url", "shown_as"),
    [
        ("redis://:pa55word@host:6379/0", "redis://:****@host:6379/0"),
        ("rediss://user:pa55word@host:6380/2", "rediss://user:****@host:6380/2"),
        ("redis://pa55word@host/0", "redis://****@host/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://:pa55word@host:port/x", "redis://:****@host:port/x"),
    ],
)
def test_the_password_of_a_store_url_is_shown_as_stars(url: str, shown_as: str) -> None:
    assert shown_url(url) == shown_as
    assert shown("rate_limit_store", url) == shown_as


@pytest.mark.parametrize(
    "url",
    ["http://:pa55word@host:6379/0", "redis://:pa55word@/0", "redis://:pa55word@host:6379/zero"],
)
def test_a_wrong_store_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(UsageError) as refused:
        validate_value("rate_limit_store", url)
    assert "pa55word" not in refused.value.message and "****" in refused.value.message


def test_threads_of_one_process_share_the_store_without_looking_again_for_ever(
    server: RedisServer, tmp_path: Path
) -> None:
    """Many threads, one pacer: the pacer's lock orders them, so the store's check never
    refuses a start of this process (it would loop on its own records)."""
    pacer = Pacer(
        parse_rate_limit("40/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
    )
    starts: list[float] = []
    threads = [
        threading.Thread(target=lambda: starts.extend(pacer.acquire(10) for _ in range(5)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pacer.close()
    assert len(starts) == 40
    assert server.client().zcard(store_keys(BASE_URL, API_KEY)[0]) == 40  # type: ignore[attr-defined]


def test_a_record_another_writer_spoiled_neither_blocks_nor_hangs(
    server: RedisServer, tmp_path: Path
) -> None:
    """Whatever else can write to the store: values that are no numbers, a start at infinity,
    windows too tight or too long to share are left out; a version that is no number makes
    the store unusable (one warning, the state file), never a loop."""
    starts_key, meta_key = store_keys(BASE_URL, API_KEY)
    client = server.client()
    client.zadd(starts_key, {"spoiled": float("inf")})  # type: ignore[attr-defined]
    spoiled = {"blocked": "nan", "w:2/60.0": "1e300", "w:50/1e9": "1e300", "w:x/y": "z"}
    client.hset(meta_key, mapping=spoiled)  # type: ignore[attr-defined]
    pacer = Pacer(
        parse_rate_limit("3/1s"), clock=RealClock(), store=store_for(server.url, tmp_path)
    )
    assert pacer.acquire(0) > 0  # not blocked, no window learned from the spoiled fields
    assert pacer.usage(1.0).limit == 3
    pacer.close()
    client.hset(meta_key, "v", "not a number")  # type: ignore[attr-defined]
    warnings: list[str] = []
    pacer = Pacer(
        parse_rate_limit("3/1s"),
        clock=RealClock(),
        path=state_file(tmp_path / "state", BASE_URL, API_KEY),
        store=store_for(server.url, tmp_path, warnings),
    )
    pacer.acquire(10)
    pacer.close()
    assert len(warnings) == 1 and "cannot be used" in warnings[0], warnings


def test_the_redis_client_is_imported_only_when_a_store_is_named(served: Served) -> None:
    """A command without rate_limit_store never loads the redis package (start-up costs)."""
    probe = (
        "import sys; from bulkctl.__main__ import main\n"
        "sys.argv = ['bulkctl', 'list', '--jsonl']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('redis' in sys.modules, file=sys.stderr)\n"
    )
    for store, loaded in ((None, "False"), (f"redis://127.0.0.1:{free_port()}/0", "True")):
        extra = {"BULKCTL_RATE_LIMIT_STORE": store} if store else {}
        env = {**os.environ, **served.env(**extra)}
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.stderr.splitlines()[-1] == loaded, done.stderr


def test_the_settings_in_force_never_show_the_stores_password(tmp_path: Path) -> None:
    from bulkctl.config import ConfigStore, resolve

    url = "redis://:pa55word-of-the-store@host:6379/0"
    settings = resolve(ConfigStore(tmp_path), {"BULKCTL_RATE_LIMIT_STORE": url})
    assert settings.get("rate_limit_store") == url  # the client gets it whole
    assert "pa55word" not in repr(settings) and "redis://:****@host:6379/0" in repr(settings)
