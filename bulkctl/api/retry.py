"""The retry policy: how many attempts, how long between them, and what a server's
``Retry-After`` and ``x-ratelimit-reset`` headers say about when to try again."""

from __future__ import annotations

import datetime
import email.utils
import random
import time
from collections.abc import Callable

import msgspec

from bulkctl.errors import BulkctlError, DeadlineReached, NetworkError
from bulkctl.pacing.rates import format_seconds

RETRYABLE_STATUSES = frozenset({502, 503, 504})
SUBMIT_RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0
NAMED_WAIT_MAX = 10.0**12  # seconds: a larger number still means "far ahead", never "now"


class RetryPolicy(msgspec.Struct):
    attempts: int = 4
    deadline: float = 120.0  # seconds for one logical request, its retries included
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = msgspec.field(default_factory=random.Random)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: Retry-After, else full jitter."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def before_retry(
        self,
        budget: _Attempts,
        error: BulkctlError,
        why: str,
        retry_after: float | None,
        what: str,
        *,
        closed: bool,
        on_retry: Callable[[str], None] | None,
    ) -> None:
        """Count an attempt that failed with ``error`` and sleep until the next one; raises
        ``error`` when no attempt or time is left (or the client is ``closed``), and
        DeadlineReached when the hard deadline comes first."""
        budget.count += 1
        attempt = budget.count
        if closed:
            raise error
        if attempt >= self.attempts:
            if attempt > 1:
                error.message += f" (gave up after {attempt} attempts)"
            raise error
        wait = self.backoff(attempt, retry_after)
        now = self.monotonic()
        if budget.hard is not None and now + wait >= budget.hard:
            self.sleep(max(0.0, budget.hard - now))  # a wait of bulkctl's ends at the deadline
            raise DeadlineReached(f"{what}: {why}, and the deadline came before a retry")
        if now + wait > budget.retry_until:
            error.message += " (no time left to retry)"
            raise error
        if on_retry is not None:
            on_retry_note(on_retry, budget, error, why, what, wait, attempt, self.attempts)
        self.sleep(wait)


def on_retry_note(
    on_retry: Callable[[str], None],
    budget: _Attempts,
    error: BulkctlError,
    why: str,
    what: str,
    wait: float,
    attempt: int,
    attempts: int,
) -> None:
    """The note before a retry: a connection that never opened is said once, in a few words
    (the error names the URL at the end), so a refused connection is one line per attempt
    at most; any other failure is noted before each retry."""
    reason = error.reason if isinstance(error, NetworkError) else ""
    if not reason:
        on_retry(f"{what}: {why}; retrying in {wait:.1f}s (attempt {attempt + 1} of {attempts})")
    elif budget.noted != reason:
        budget.noted = reason
        left = attempts - attempt
        on_retry(f"{what}: {reason}; trying {left} more time{'s' if left != 1 else ''}")


class _Attempts(msgspec.Struct):
    """The budget of one logical request: attempts, retry time, re-login and quota wait."""

    retry_until: float
    hard: float | None  # the caller's absolute deadline (monotonic), if any
    count: int = 0
    relogged: bool = False
    quota_since: float | None = None  # when this request first waited for the quota
    noted: str = ""  # the connection failure already said while retrying


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return parse_reset(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(delta, NAMED_WAIT_MAX) if delta > 0 else None


def parse_reset(value: str | None) -> float | None:
    """Seconds from ``x-ratelimit-reset`` (seconds until the window resets, as the spec says);
    a number too large to mean anything (an epoch time, say) is read as far ahead, never now."""
    if not value:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return min(float(int(value)), NAMED_WAIT_MAX) if len(value) <= 20 else NAMED_WAIT_MAX


def when_text(seconds: float, now: float) -> str:
    """'at 2026-12-06 22:30:00 UTC (in 10m)' for a wait of ``seconds`` from wall time ``now``."""
    try:
        at = datetime.datetime.fromtimestamp(now + seconds, tz=datetime.UTC)
    except (OverflowError, ValueError, OSError):
        return f"in {format_seconds(seconds)}"
    return f"at {at:%Y-%m-%d %H:%M:%S} UTC (in {format_seconds(seconds)})"


class _PolicyClock:
    """The retry policy's clock for a client built without a pacer (tests, the demo)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def now(self) -> float:
        return self.policy.monotonic()

    def monotonic(self) -> float:
        return self.policy.monotonic()

    def sleep(self, seconds: float) -> None:
        self.policy.sleep(seconds)
