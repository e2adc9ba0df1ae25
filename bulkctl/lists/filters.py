"""Filters the API does not have, applied by bulkctl to each page it receives.

Shared by ``list``, ``summary`` and ``watch``: ``--operation`` (substring or glob on the
operation path), ``--mode``, and ``--since`` / ``--until`` on each bulk's latest
timestamp (executionFinish when present, else executionStart; a bulk with neither is
left out by these two). Text is compared as a person reads it: without the zero-width and
bidi characters of ``bulkctl.safetext.HIDDEN``, so ``/tr\u200bansfers`` is ``/transfers``.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta

import msgspec

from bulkctl.api.records import BulkProcess
from bulkctl.cli.options import parse_duration, parse_mode
from bulkctl.errors import UsageError
from bulkctl.safetext import without_hidden


def parse_when(value: str, now: float, what: str) -> float:
    """An ISO date or time, an age ('2h', '3d'), 'today' or 'yesterday' (from local midnight),
    as epoch seconds."""
    text = value.strip()
    days_back = {"today": 0, "yesterday": 1}.get(text.lower())
    if days_back is not None:
        midnight = (
            datetime.fromtimestamp(now)
            .astimezone()
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        return (midnight - timedelta(days=days_back)).timestamp()
    if text and text[-1:] in "smhd" and text[:1].isdigit() and "-" not in text:
        return now - parse_duration(text, what)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid {what} {value!r}",
            hint="use an ISO date or time (2026-11-28, 2026-11-28T09:30Z), an age (90m, 2h, 3d), "
            "today or yesterday",
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return moment.timestamp()


class BulkFilter(msgspec.Struct, frozen=True):
    operation: str | None = None
    mode: str | None = None
    since_ms: float | None = None
    until_ms: float | None = None

    @classmethod
    def parse(
        cls,
        *,
        operation: str | None = None,
        mode: str | None = None,
        since: str | None = None,
        until: str | None = None,
        now: float,
    ) -> BulkFilter:
        if operation is not None and not operation.strip():
            raise UsageError("--operation cannot be empty")
        since_ms = parse_when(since, now, "--since") * 1000 if since is not None else None
        until_ms = parse_when(until, now, "--until") * 1000 if until is not None else None
        if since_ms is not None and until_ms is not None and since_ms > until_ms:
            raise UsageError(
                f"--since {since} is later than --until {until}: nothing could match",
                hint="swap them, or drop one",
            )
        return cls(
            operation=operation.strip() if operation else None,
            mode=parse_mode(mode) if mode is not None else None,
            since_ms=since_ms,
            until_ms=until_ms,
        )

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.operation, self.mode, self.since_ms, self.until_ms))

    def matches(self, bulk: BulkProcess) -> bool:
        if self.operation is not None:  # any case: /Transfers finds /transfers
            path = without_hidden(bulk.operation or "").casefold()
            pattern = without_hidden(self.operation).casefold()
            if any(ch in pattern for ch in "*?["):
                if not fnmatch.fnmatchcase(path, pattern):
                    return False
            elif pattern not in path:
                return False
        if self.mode is not None and without_hidden(bulk.mode or "") != self.mode:
            return False
        if self.since_ms is not None or self.until_ms is not None:
            latest = bulk.latest_timestamp
            if latest is None:
                return False
            if self.since_ms is not None and latest < self.since_ms:
                return False
            if self.until_ms is not None and latest >= self.until_ms:
                return False
        return True
