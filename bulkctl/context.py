"""One object carrying the outside world: streams, terminal facts, environment, config and
state directories, the clock, and the factory of API clients. Commands get everything
from here, so a test can swap any piece.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from bulkctl.auth import Reauthenticator, unknown_profile
from bulkctl.config import ConfigStore, Resolved, profile_name, resolve, suggested_command
from bulkctl.demo import demo_transport
from bulkctl.errors import BulkctlError, error_text, fit_commands
from bulkctl.safetext import safe_text

if TYPE_CHECKING:
    import httpx

    from bulkctl.api.client import ApiClient
    from bulkctl.pacing.redis_store import RedisStore


class Clock:
    """Wall time for timestamps, monotonic time for durations, and sleeping."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


WAIT_SLICE = 30.0  # seconds: a slice of a sleep when ``while_waiting`` names no time


class _WatchedClock(Clock):
    """The Context's clock, whose sleeps are the Context's (cut into slices that call
    ``while_waiting``): the clock handed to the client and its pacer."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def now(self) -> float:
        return self.ctx.clock.now()

    def monotonic(self) -> float:
        return self.ctx.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self.ctx.sleep(seconds)


def in_ci(env: Mapping[str, str]) -> bool:
    """True when ``CI`` is set (to anything but '', 0, false or no), as CI services do."""
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class GlobalOptions(msgspec.Struct):
    profile: str | None = None
    base_url: str | None = None
    debug: bool = False
    quiet: bool = False
    no_input: bool = False
    no_pager: bool = False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _default_config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path("bulkctl", appauthor=False)


def _default_state_dir() -> Path:
    from platformdirs import user_state_path

    return user_state_path("bulkctl", appauthor=False)


PR_SET_DUMPABLE = 4


def not_dumpable() -> None:
    """On Linux, make this process not dumpable from the moment it reads secrets (as
    ssh-agent does): no core file holds them, and other processes of the same user cannot
    attach to it or read its memory. Elsewhere, or when it fails, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@dataclass
class Context:
    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    env: Mapping[str, str] = field(repr=False)  # holds secrets: BULKCTL_API_KEY, _PASSWORD
    config_dir: Path
    state_dir: Path
    clock: Clock = field(default_factory=Clock)
    options: GlobalOptions = field(default_factory=GlobalOptions)
    stdout_tty: bool = False
    stderr_tty: bool = False
    stdin_tty: bool = False
    paging: bool = False  # a pager shows stdout: nothing transient is drawn on stderr meanwhile
    transport: httpx.BaseTransport | None = None  # tests may answer requests themselves
    read_secret: Callable[[str], str] | None = field(default=None, repr=False)
    # called between slices of every wait the client makes (quota, pacer, retry): a wait
    # that shows progress sets it, so a minute never passes in silence; it answers in how
    # many seconds it wants to run again (None: no wish)
    while_waiting: Callable[[], float | None] | None = field(default=None, repr=False)
    _stderr_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # the command's hard deadline (monotonic): every client built, logins included, keeps it
    deadline: float | None = None
    _resolved: Resolved | None = None
    _client: ApiClient | None = None
    _store: ConfigStore | None = None

    @classmethod
    def from_process(cls, options: GlobalOptions) -> Context:
        env = dict(os.environ)
        if env.get("BULKCTL_NO_INPUT", "").strip().lower() in ("1", "true", "yes"):
            options.no_input = True
        if in_ci(env):  # a CI job: no question is ever asked, even on a pseudo-terminal
            options.no_input = True
        return cls(
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin=sys.stdin,
            env=env,
            config_dir=_default_config_dir(),
            state_dir=_default_state_dir(),
            options=options,
            stdout_tty=_isatty(sys.stdout),
            stderr_tty=_isatty(sys.stderr),
            stdin_tty=_isatty(sys.stdin),
        )

    # -- messages ---------------------------------------------------------------------------

    @property
    def color(self) -> bool:
        """Colour on stdout: a terminal, NO_COLOR unset, TERM not dumb."""
        return self.stdout_tty and not self.env.get("NO_COLOR") and self.env.get("TERM") != "dumb"

    @property
    def in_ci(self) -> bool:
        return in_ci(self.env)

    def say(self, text: str) -> None:
        """Whole lines on stderr in one write, so lines of several threads never run together;
        on a terminal, a command to copy that would reach its edge starts a line of its own."""
        if self.stderr_tty:
            width = self.stderr_width()
            text = "\n".join(
                part for line in text.split("\n") for part in fit_commands(line, width)
            )
        with self._stderr_lock:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    @property
    def stderr_lock(self) -> threading.RLock:
        """Held while anything is written on stderr (re-entrant: a writer may clear a
        transient line first, see ``bulkctl.lists.progress``)."""
        return self._stderr_lock

    def stderr_width(self) -> int:
        """The columns of the terminal behind stderr: $COLUMNS first, then the terminal, else 80."""
        columns = self.env.get("COLUMNS", "")
        if columns.strip().isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(self.stderr.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            return 80

    def note(self, message: str) -> None:
        """Something a person may want to know; silenced by --quiet."""
        if not self.options.quiet:
            self.say(safe_text(message))

    def warn(self, message: str) -> None:
        """Something that may change the meaning of the output; never silenced."""
        self.say(f"warning: {safe_text(message)}")

    def error(self, lines: Sequence[str]) -> None:
        """An error's lines on stderr, as ``bulkctl: error: ...``; the exit code is the caller's.
        A command an error suggests is built with ``suggest`` (``exc.lines(ctx.suggest)``)."""
        self.say(error_text(lines))

    def suggest(self, *words: str) -> str:
        """A bulkctl command to suggest, from its words and the options in force (profile,
        a --base-url flag); with the profile alone when the settings cannot be read."""
        try:
            settings = self.settings()
        except BulkctlError:
            return suggested_command(None, *words, profile=self.profile)
        return suggested_command(settings, *words)

    @property
    def profile(self) -> str:
        """The profile in use (without reading the config file)."""
        if self._resolved is not None:
            return self._resolved.profile
        return profile_name(self.options.profile, self.env)

    def debug(self, message: str) -> None:
        if self.options.debug:
            self.say(f"debug: {message}")

    def sleep(self, seconds: float) -> None:
        """The clock's sleep; when ``while_waiting`` is set, cut into slices that end when it
        asks to run again (at least a second each; ``WAIT_SLICE`` when it has no wish), calling it after
        each (counted in slices: a test clock may not move)."""
        hook = self.while_waiting
        if hook is None or seconds <= 0:  # a back-off of 0 s is still a sleep of the clock's
            self.clock.sleep(seconds)
            if hook is not None:
                hook()
            return
        left = seconds
        while left > 0:
            wanted = hook()
            step = min(left, WAIT_SLICE if wanted is None else max(wanted, 1.0))
            self.clock.sleep(step)
            left -= step
        hook()

    @property
    def can_prompt(self) -> bool:
        return self.stdin_tty and self.stderr_tty and not self.options.no_input

    def ask(self, label: str) -> str:
        """A visible answer typed at a prompt (the prompt goes to stderr, made safe: it may
        quote the server, and nothing in it may erase or rewrite the question)."""
        print(f"{safe_text(label)}: ", end="", file=self.stderr, flush=True)
        return self.stdin.readline().rstrip("\n")

    def secret(self, label: str) -> str:
        """A secret typed at a hidden prompt."""
        if self.read_secret is not None:
            return self.read_secret(label)
        import getpass  # with termios: only a hidden prompt needs it

        return getpass.getpass(f"{label}: ", stream=self.stderr)

    # -- config -----------------------------------------------------------------------------

    @property
    def store(self) -> ConfigStore:
        if self._store is None:
            self._store = ConfigStore(self.config_dir, note=self.note)
        return self._store

    def settings(self) -> Resolved:
        if self._resolved is None:
            if self.transport is None:  # a real process (tests in-process keep theirs)
                not_dumpable()
            self._resolved = resolve(
                self.store,
                self.env,
                profile_flag=self.options.profile,
                base_url_flag=self.options.base_url,
            )
            for note in self.store.take_notes():
                self.note(note)
        return self._resolved

    def concurrency(self, override: int | None = None) -> int:
        """Requests in flight while paging: --concurrency, else the setting (default 8)."""
        if override is not None:
            self.settings().values["concurrency"] = str(override)
        return int(self.settings().get("concurrency") or 8)

    # -- API --------------------------------------------------------------------------------

    def client(self, *, require_token: bool = True) -> ApiClient:
        """The API client for the settings in force (one per command, shared by its threads)."""
        if self._client is None:
            settings = self.settings()
            if not settings.known:  # a mistyped name, whatever credentials the environment holds
                raise unknown_profile(settings)
            settings.check_credentials()
            reauth = Reauthenticator(self, settings)
            if require_token:
                reauth.ensure_token()
            self._client = self.build_client(
                settings,
                api_key=settings.get("api_key"),
                token=settings.get("auth_token"),
                reauth=reauth.refresh if require_token else None,
            )
        return self._client

    def built_client(self) -> ApiClient | None:
        """The client ``client()`` built, if any; never builds one (a read's progress asks
        its pacer how long the quota holds the requests left)."""
        return self._client

    def build_client(
        self,
        settings: Resolved,
        *,
        api_key: str | None,
        token: str | None,
        reauth: Callable[[], str | None] | None,
    ) -> ApiClient:
        client = self._new_client(settings, api_key=api_key, token=token, reauth=reauth)
        client.deadline = self.deadline
        return client

    def _new_client(
        self,
        settings: Resolved,
        *,
        api_key: str | None,
        token: str | None,
        reauth: Callable[[], str | None] | None,
    ) -> ApiClient:
        from bulkctl.api.client import ApiClient, RetryPolicy
        from bulkctl.pacing.pacer import Pacer, parse_rate_limit, state_file

        transport = self.transport
        if transport is None and settings.in_process:
            transport = demo_transport(self.state_dir, self.clock.now, self.note)
            self.transport = transport  # one emulator per command, shared by login and calls
        # the built-in demo is unlimited; elsewhere every process of the user shares one record
        windows = () if settings.in_process else parse_rate_limit(settings.get("rate_limit") or "0")
        path = state_file(self.state_dir, settings.base_url, api_key) if windows else None
        pacer = Pacer(
            windows,
            clock=_WatchedClock(self),
            path=path,
            note=self.note,
            store=self._shared_store(settings, api_key, path),
        )
        return ApiClient(
            base_url=settings.base_url,
            api_key=api_key,
            token=token,
            transport=transport,
            connect_timeout=float(settings.get("connect_timeout") or 5),
            read_timeout=float(settings.get("read_timeout") or 30),
            request_timeout=float(settings.get("request_timeout") or 60),
            ca_bundle=settings.get("ca_bundle"),
            env=self.env,
            retry=RetryPolicy(
                attempts=int(settings.get("retries") or 4),
                sleep=self.sleep,
                monotonic=self.clock.monotonic,
            ),
            concurrency=int(settings.get("concurrency") or 8),
            on_retry=None if self.options.quiet else self.note,
            debug=self.debug if self.options.debug else None,
            reauth=reauth,
            pacer=pacer,
            quota_wait=float(settings.get("quota_wait") or 0),
        )

    def _shared_store(
        self, settings: Resolved, api_key: str | None, path: Path | None
    ) -> RedisStore | None:
        """The Redis store of ``rate_limit_store``, the state file its fallback; None: the file."""
        url = settings.get("rate_limit_store")
        if not url or path is None:
            return None
        from bulkctl.pacing.redis_store import RedisStore, store_keys

        keys = store_keys(settings.base_url, api_key)
        return RedisStore(url, keys, path, warn=self.warn, debug=self.debug)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
