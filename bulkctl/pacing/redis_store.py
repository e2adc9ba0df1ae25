"""The shared store in Redis: the pacer's record kept where every process on every machine
that names the same store (``rate_limit_store = redis://host:6379/0``) and the same API host
and key paces against it together.

Layout: two keys per API host and key, named from the host and a hash of the base URL and
key (never the key itself), with a hash tag so a cluster keeps them on one node:
``bulkctl:pacer:{HOST:DIGEST}:starts``, a sorted set of request starts (score: wall time),
and ``...:meta``, a hash of the wait the server named (``blocked``), the windows learned
(``w:LIMIT/SECONDS`` -> when each expires) and a version bumped by every change. Both expire
a day after their last use.

A request start is recorded by one Lua script that compares the version read with the one
stored: when another process recorded anything in between, nothing is written and the pacer
looks again. A wait or a learned window is merged (the later one wins), so it needs no check.

The ``redis`` client is imported only here, only once a store is used. A store that is down,
slow (``TIMEOUT``) or not installed gives one warning for the command, and pacing goes on
with the local state file; the command never fails for it. The URL's password is shown as
``****`` in every message (``shown_url``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bulkctl.errors import StorageError
from bulkctl.pacing.rates import MAX_ENTRIES, Window
from bulkctl.pacing.store import SHARED_MAX, SUSPECT_LIMIT, FileStore, _Record
from bulkctl.pacing.store_url import shown_url

TIMEOUT = 0.5  # seconds to connect, and for each answer: a slow store is a down one
KEY_TTL = int(SHARED_MAX) + 60  # a record unused for a day is gone
INSTALL = "pip install 'bulkctl[redis]'"
MAX_CONFLICTS = 1000  # starts refused in a row before the store counts as unusable

# one request start, recorded only when nothing changed since the record was read
START_SCRIPT = """
local v = tonumber(redis.call('HGET', KEYS[2], 'v') or '0') or 0
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[5]) + 1))
v = redis.call('HINCRBY', KEYS[2], 'v', 1)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return v
"""

# a wait the server named and windows learned, merged: the later end wins; '' forgets one
MERGE_SCRIPT = """
local changed = false
if tonumber(ARGV[1]) > (tonumber(redis.call('HGET', KEYS[2], 'blocked') or '0') or 0) then
  redis.call('HSET', KEYS[2], 'blocked', ARGV[1])
  changed = true
end
for i = 3, #ARGV, 2 do
  local field = 'w:' .. ARGV[i]
  if ARGV[i + 1] == '' then
    if redis.call('HDEL', KEYS[2], field) == 1 then changed = true end
  elseif tonumber(ARGV[i + 1]) > (tonumber(redis.call('HGET', KEYS[2], field) or '0') or 0) then
    redis.call('HSET', KEYS[2], field, ARGV[i + 1])
    changed = true
  end
end
if changed then redis.call('HINCRBY', KEYS[2], 'v', 1) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

_warned: set[str] = set()  # stores already warned about in this process (one per command)


def store_keys(base_url: str, api_key: str | None) -> tuple[str, str]:
    """The two keys of one API host and key: the host in clear, the key only hashed."""
    digest = hashlib.sha256(f"{base_url}\n{api_key or ''}".encode()).hexdigest()[:16]
    host = re.sub(r"[^a-z0-9.:-]", "_", (urlsplit(base_url).netloc or "").lower())
    tag = f"bulkctl:pacer:{{{host}:{digest}}}"
    return f"{tag}:starts", f"{tag}:meta"


class RedisStore:
    """The pacer's record in Redis (see the module), with the state file as its fallback:
    the first failure warns once and the rest of the command paces with the file."""

    def __init__(
        self,
        url: str,
        keys: tuple[str, str],
        fallback: Path,
        *,
        warn: Callable[[str], None],
        debug: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.keys = keys
        self.fallback = fallback
        self.warn = warn
        self.debug = debug
        self._client: Any = None
        self._scripts: tuple[Any, Any] | None = None
        self._file: FileStore | None = None
        self._down = False  # fell back: every update from now on is the file's
        self._version = 0  # the version of the record last read
        self._token = os.urandom(6).hex()  # makes this process's starts distinct members
        self._count = 0
        self._conflicts = 0  # starts refused in a row: the record changed since it was read

    # -- the Store protocol -----------------------------------------------------------------

    @contextlib.contextmanager
    def update(self, memory: _Record, *, write: bool = True) -> Iterator[_Record | None]:
        if not self._down:
            # any failure of the store falls back (redis's own errors are not importable here)
            try:
                record = self._read(memory)
            except Exception as exc:
                self._fall_back(exc)
            else:
                read = (record.blocked_until, dict(record.learned))
                yield record
                if write and not self._down:
                    try:
                        self._merge(record, *read)
                    except Exception as exc:
                        self._fall_back(exc)
                return
        file = self._open_file()
        if file is None:
            yield None
            return
        with file.update(memory, write=write) as stored:
            yield stored

    def start(self, record: _Record, at: float) -> bool:
        """Record a request start at ``at`` in the store and in ``record``; False when another
        process changed the record since it was read (or the store just failed): look again."""
        if self._down:
            record.starts.append(at)
            return True
        self._count += 1
        member = f"{at!r}:{self._token}:{self._count}"
        try:
            assert self._scripts is not None
            version = self._scripts[0](
                keys=list(self.keys),
                args=[self._version, repr(at), member, repr(at - SHARED_MAX), MAX_ENTRIES, KEY_TTL],
            )
        except Exception as exc:
            self._fall_back(exc)
            return False
        if int(version) < 0:
            self._conflicts += 1
            if self._conflicts > MAX_CONFLICTS:  # never a loop without end
                self._fall_back(RuntimeError("its record changes faster than it can be read"))
            return False
        self._conflicts = 0
        self._version = int(version)
        record.starts.append(at)
        return True

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- inside -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._client is None:
            try:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry
            except ImportError:
                self._down = True
                self._say(
                    f"rate_limit_store names a Redis store, but its client is not installed "
                    f"({INSTALL}); pacing with the local state file"
                )
                raise
            client = redis.Redis.from_url(
                self.url,
                socket_timeout=TIMEOUT,
                socket_connect_timeout=TIMEOUT,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            self._scripts = (
                client.register_script(START_SCRIPT),
                client.register_script(MERGE_SCRIPT),
            )
            self._client = client
            if self.debug is not None:
                self.debug(f"pacing shared through the store {shown_url(self.url)}")
        return self._client

    def _read(self, memory: _Record) -> _Record:
        client = self._connect()
        starts_key, meta_key = self.keys
        pipe = client.pipeline(transaction=True)
        pipe.zrange(starts_key, -MAX_ENTRIES, -1, withscores=True)
        pipe.hgetall(meta_key)
        scored, meta = pipe.execute()
        meta = {_text(k): _text(v) for k, v in meta.items()}
        self._version = int(_number(meta.get("v"), 0.0))
        if not scored and not meta:  # new: start from what this process saw
            return _Record(list(memory.starts), memory.blocked_until, dict(memory.learned))
        starts = sorted(float(score) for _, score in scored if math.isfinite(float(score)))
        learned: dict[Window, float] = {}
        for field, value in meta.items():
            window = _window(field)
            expires = _number(value, math.nan)
            if window is not None and math.isfinite(expires):
                learned[window] = expires
        return _Record(starts, _number(meta.get("blocked"), 0.0), learned)

    def _merge(self, record: _Record, blocked: float, learned: dict[Window, float]) -> None:
        """Write what changed in ``record`` since it was read: the wait, the windows."""
        args: list[str] = []
        for window, ends in record.learned.items():
            if learned.get(window) != ends:
                args += [f"{window.limit}/{window.seconds!r}", repr(ends)]
        for window in learned.keys() - record.learned.keys():
            args += [f"{window.limit}/{window.seconds!r}", ""]
        if record.blocked_until <= blocked and not args:
            return
        assert self._scripts is not None
        self._scripts[1](keys=list(self.keys), args=[repr(record.blocked_until), KEY_TTL, *args])

    def _fall_back(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            why = " ".join(str(exc).split())[:160] or type(exc).__name__
            self._say(
                f"the rate limit store {shown_url(self.url)} cannot be used ({why}); "
                "pacing with the local state file for this command"
            )
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def _say(self, message: str) -> None:
        """One warning per store and process, the URL's password never in it."""
        password = urlsplit(self.url).password if "@" in self.url else None
        if password:
            message = message.replace(password, "****")
        if self.url not in _warned:
            _warned.add(self.url)
            self.warn(message)

    def _open_file(self) -> FileStore | None:
        if self._file is None:
            try:
                self._file = FileStore(self.fallback)
            except (OSError, StorageError):
                return None
        return self._file


def forget_learned_in_store(url: str, *, warn: Callable[[str], None]) -> list[str]:
    """Forget the waits and windows learned from answers in every pacer record of the store
    at ``url`` (the request starts stay); the keys changed. A store that cannot be used: a
    warning, and nothing changed."""
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:
        warn(f"rate_limit_store names a Redis store, but its client is not installed ({INSTALL})")
        return []
    changed = []
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        with client:
            for key in client.scan_iter(match="bulkctl:pacer:*:meta", count=100):
                fields = [
                    f for f in client.hkeys(key) if _text(f) == "blocked" or _text(f)[:2] == "w:"
                ]
                if fields:
                    client.hdel(key, *fields)
                    client.hincrby(key, "v", 1)
                    changed.append(_text(key))
    except Exception as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        password = urlsplit(url).password if "@" in url else None
        if password:
            why = why.replace(password, "****")
        warn(
            f"the rate limit store {shown_url(url)} cannot be used ({why}); nothing forgotten there"
        )
    return sorted(changed)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _window(field: str) -> Window | None:
    """``w:LIMIT/SECONDS`` as a learned window, when it fits what may be shared."""
    limit, _, seconds = field.removeprefix("w:").partition("/")
    if not field.startswith("w:") or not limit.isdigit():
        return None
    length = _number(seconds, 0.0)
    if SUSPECT_LIMIT <= int(limit) <= MAX_ENTRIES and 0 < length <= SHARED_MAX:
        return Window(length, int(limit))
    return None
