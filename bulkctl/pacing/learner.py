"""What header-less quota answers teach about a server's fixed window, for one command.

A refusal ends a run of answered requests, and a wait that follows ends at a window
boundary: the run's length is the limit N, and the boundaries seen lie on one lattice
B + kW whose W is the window's length. ``Learner`` holds what was learned and where to probe
next; ``lattice_window`` fits one W to every boundary seen, however many windows apart.
"""

from __future__ import annotations

import math
from typing import Protocol

from bulkctl.pacing.rates import format_seconds

PROBE_FIRST = 1.0  # seconds before the first probe after a quota answer without headers
PROBE_CAP = 60.0
GUESS_MIN_RUN = 5  # answered requests in a run before a limit is learned from it
PROBE_GROWTH = 2.2  # while a window's length is unknown, each probe looks this much further
BISECT_SPAN = 0.25  # seconds: a narrower span for the next boundary is probed at its end
IDLE_GAP = 5.0  # seconds without a request outside a wait: the caller paused (watch, a pager)
LATTICE_KEEP = 12  # brackets of window boundaries kept to fit one window length to them all


class QuotaLearner(Protocol):
    """What the pacer asks of a learner; the pacer calls it under its own lock."""

    @property
    def waiting(self) -> bool:
        """A wait for the quota, begun by the learner, is going on."""
        ...

    def started(self, now: float) -> None:
        """A request started at ``now``."""

    def hold(self, now: float) -> float | None:
        """When the next request may start (None: the learner holds nothing back)."""

    def refused(self, started: float, now: float, fresh: bool, fallback: float) -> float:
        """A header-less quota answer: when to probe (``fallback``: the growing delay's)."""
        ...

    def answered(self, started: float, *, told: bool) -> bool:
        """A request was answered (``told``: a header explained the quota); True when that
        ends a wait."""
        ...

    def describe(self) -> str | None:
        """What was learned, for a person ('100 requests a window of 1m or less'), or None."""


class Learner:
    """What header-less quota answers teach about a server's fixed window: N requests per W
    seconds, its boundaries at B + kW. Kept for one command, never in the shared file.

    A refusal ends a run of answered requests; when the next probe is refused too, the
    quota stayed shut, so the run filled a window: its length is N. Each wait ends at a
    boundary, which lies between the last start known refused (or where holding back began)
    and the first answered start. Every wait leaves such a bracket, and the next boundary is
    looked for one W after the latest. The first bracket bounds W from below (the first
    window began at or before the first start); each later one bounds it from both sides
    and narrows what was learned, or replaces it when it disagrees.

    Once N is known, requests are held back after N starts in a window, and the probe goes
    where the next boundary can lie: halfway into that span first, then at its latest;
    while W is unbounded above, at ``PROBE_GROWTH`` times the least W, and again. A run
    refused before N starts shows N too high (another client shares the quota, or the first
    run began near a window's end and spanned two): N is learned again from that run.

    A wait that ends at its first probe leaves N unconfirmed (the window may have ended just
    then, or the refusal was no window at all): the run's length is held to as a guess. The
    next run is held back at it too; a refused probe confirms it, and a probe answered at
    once drops it with what it taught, so a refusal that was no window costs one short wait.
    A pause of the caller's (``watch`` between polls, a stopped pager) may hide any number
    of windows: the next boundary is then looked for afresh and teaches nothing about W.
    """

    def __init__(self) -> None:
        self.first: float | None = None  # the command's first start
        self.run_starts = 0  # starts since the current run of answers began
        self.run_ok = 0  # answered among them
        self.candidate: int | None = None  # a run's length at its refusal, until confirmed
        self.limit: int | None = None  # N, learned
        self.guess: int | None = None  # N from one run whose wait ended at its first probe
        self.w_lo = 0.0  # W lies above this ...
        self.w_hi = math.inf  # ... and below this
        # the latest boundary lies after the first time and at or before the second
        self.bracket: tuple[float, float] | None = None
        # every recent boundary seen through a refusal: (refused at, answered at]
        self.brackets: list[tuple[float, float]] = []
        self.fit: Fit | None = None  # the lattice they fit, while it agrees with w_lo, w_hi
        self.stale = False  # the caller paused since the bracket: windows may have passed
        self.last: float | None = None  # the latest start
        self.wait_began: float | None = None  # a refusal, or a hold, began a wait
        self.held = False  # this wait began by holding back, not by a refusal
        self.shut = -math.inf  # the latest start known to lie in a full window
        self.probes = 0  # refused probes in this wait
        self.next_probe: float | None = None

    @property
    def waiting(self) -> bool:
        return self.wait_began is not None

    def started(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.last = now
        self.run_starts += 1

    def hold(self, now: float) -> float | None:
        """When the next request may start, while N starts have filled this window."""
        if self.wait_began is None:
            self._notice_pause(now)
            limit = self.limit if self.limit is not None else self.guess
            if limit is None or self.run_starts < limit:
                return None
            self.wait_began, self.held, self.probes = now, True, 0
            self.shut = now  # taken to lie in the full window (the run fit in it)
            # a guess is tried at once: if it was no limit, that costs one short wait
            guessed = self.limit is None
            self.next_probe = (
                now + PROBE_FIRST if guessed else self._probe_at(now, now + PROBE_FIRST)
            )
        return self.next_probe

    def _notice_pause(self, now: float) -> None:
        """The caller sent nothing for a while, outside any wait (``watch`` between polls, a
        stopped pager): how many windows passed is unknown, so the next boundary teaches
        nothing about W; past the longest W a new window surely began."""
        if self.last is None or now - self.last <= max(IDLE_GAP, self.w_lo):
            return
        self.stale = self.bracket is not None
        if now - self.last >= self.w_hi:
            self.run_starts = self.run_ok = 0
        self.last = now

    def refused(self, started: float, now: float, fresh: bool, fallback: float) -> float:
        """A header-less quota answer to a request started at ``started``: when to probe
        (``fallback`` is the growing delay's time)."""
        if self.wait_began is None:  # the refusal ends a run
            self.wait_began, self.held, self.probes = started, False, 0
            self.shut = started
            # held back at N, a run is refused only when N is too high (another client shares
            # the quota): a run half as long or more is a new candidate; a shorter one began
            # at an opening that was none (a run that spanned a boundary) and teaches nothing
            limit = self.limit if self.limit is not None else self.guess
            self.candidate = self.run_ok if limit is None or 2 * self.run_ok >= limit else None
            self.guess = None
        elif fresh:  # a probe: the quota stayed shut
            self.probes += 1
            if self.candidate is not None and self.candidate >= GUESS_MIN_RUN:
                self.limit = self.candidate
            elif self.held and self.limit is None and self.guess is not None:
                self.limit = self.guess  # a second run filled a window at the same length
            self.candidate = self.guess = None
        self.shut = max(self.shut, started)
        self.next_probe = self._probe_at(now, fallback)
        return self.next_probe

    def answered(self, started: float, *, told: bool) -> bool:
        """A request started at ``started`` was answered; True when that ends a wait."""
        if self.wait_began is None or started < self.wait_began:
            self.run_ok += 1  # part of the run (perhaps answered after its refusal)
            if self.candidate is not None:
                self.candidate += 1
            return False
        at_first_probe = self.limit is None and not self.probes
        if told:
            pass
        elif at_first_probe and self.held:
            # held back at a guess and answered at once: no window showed, so the refusal
            # it came from was none; forget what it taught
            self.guess, self.bracket, self.w_lo, self.w_hi = None, None, 0.0, math.inf
            self.brackets, self.fit = [], None
            self.first = None  # the next start bounds W from below, not the first
        else:
            if at_first_probe and (self.candidate or 0) >= GUESS_MIN_RUN:
                self.guess = self.candidate  # the run's refusal ended at once: N unconfirmed
            self._opened(started)
        self.wait_began, self.next_probe, self.candidate = None, None, None
        self.run_starts = self.run_ok = 1
        return True

    def describe(self) -> str | None:
        if self.limit is None:
            return None
        if math.isinf(self.w_hi):
            return f"{self.limit} requests a window (learned)"
        return f"{self.limit} requests a window of {format_seconds(self.w_hi)} or less (learned)"

    def _opened(self, opened: float) -> None:
        """A wait ended at ``opened``: the boundary it waited for is bracketed; learn W (not
        across a pause of the caller's, which may hide any number of windows)."""
        after = self.shut
        if self.stale:
            self.stale = False
        elif self.bracket is None:
            if self.first is not None:
                self.w_lo = max(self.w_lo, after - self.first)
        else:
            before_after, before_at = self.bracket
            lo, hi = after - before_at, opened - before_after
            if lo >= self.w_hi or hi <= self.w_lo:  # not as learned: start again from these
                self.w_lo, self.w_hi = max(0.0, lo), hi
            else:
                self.w_lo, self.w_hi = max(self.w_lo, lo), min(self.w_hi, hi)
        self.bracket = (after, opened)
        # every boundary seen lies on one lattice B + kW, however many windows passed between
        # two waits (another client sharing the quota, a pause): the longest W that fits all
        # of them narrows, or corrects, what pairs of neighbouring waits taught
        self.brackets = [*self.brackets, (after, opened)][-LATTICE_KEEP:]
        self.fit = lattice_window(self.brackets, PROBE_FIRST)
        if self.fit is None:
            self.brackets = self.brackets[-1:]  # the window changed: start again from here
            return
        lo, hi, _ = self.fit
        if lo < self.w_hi and hi > self.w_lo:
            self.w_lo, self.w_hi = max(self.w_lo, lo), min(self.w_hi, hi)
        else:
            self.w_lo, self.w_hi = lo, hi

    def _lattice_span(self, now: float) -> tuple[float, float] | None:
        """Where the boundary after the latest refusal can lie, by every bracket at once."""
        if self.fit is None or self.stale:
            return None
        _, _, ks = self.fit
        w_lo, w_hi = self.w_lo, self.w_hi
        for k in range(ks[-1] + 1, ks[-1] + 100):
            lo = max(
                after + (k - was) * w_lo for (after, _), was in zip(self.brackets, ks, strict=True)
            )
            hi = min(at + (k - was) * w_hi for (_, at), was in zip(self.brackets, ks, strict=True))
            if hi > self.shut:
                earliest = max(now, lo, self.shut)
                return (earliest, hi) if lo <= hi and earliest < hi else None
        return None

    def _probe_at(self, now: float, fallback: float) -> float:
        """Where the next window can begin: halfway into that span first, then its end;
        growing delays while nothing is known, or since the caller paused."""
        if self.bracket is None or self.stale:
            return fallback
        span = self._lattice_span(now)
        if span is not None:
            earliest, latest = span
            if self.probes == 0 and latest - earliest > BISECT_SPAN:
                return (earliest + latest) / 2
            return latest
        after, at = self.bracket
        earliest = max(now, after + self.w_lo, self.shut)
        latest = at + self.w_hi
        if latest <= now:  # refused past the latest: the window is not what was learned
            self.w_hi = math.inf
        if math.isinf(self.w_hi):
            # the next boundary lies W after the last one at most: try W as PROBE_GROWTH
            # times the least window learned, and again, past every start known refused
            length = max(PROBE_FIRST, self.w_lo)
            while at + length <= max(earliest, now + 1e-3):
                length *= PROBE_GROWTH
            return min(at + length, now + PROBE_CAP)
        if self.probes == 0 and latest - earliest > BISECT_SPAN:
            return (earliest + latest) / 2
        return latest


Fit = tuple[float, float, list[int]]  # W at least, W at most, each bracket's k


def lattice_window(
    brackets: list[tuple[float, float]], floor: float, most: int = 1000
) -> Fit | None:
    """The range of the longest window length W (at least ``floor``) for which each bracket
    ``(after, at)``, in time order, holds one boundary ``B + kW`` of a single fixed-window
    lattice, k rising, and each bracket's k; None with fewer than two brackets, or when
    none fits."""
    if len(brackets) < 2:
        return None
    first_after, first_at = brackets[0]
    last_after, last_at = brackets[-1]
    # m windows from the first boundary to the last: the fewest first, so the longest W
    for m in range(len(brackets) - 1, most + 1):
        hi = (last_at - first_after) / m
        if hi < floor:
            return None
        lo = max(floor, (last_after - first_at) / m)
        fit = _fit(brackets, [0], lo, hi, m, [2000])
        if fit is not None:
            return fit
    return None


def _fit(
    brackets: list[tuple[float, float]],
    ks: list[int],
    lo: float,
    hi: float,
    m: int,
    budget: list[int],
) -> Fit | None:
    """A range of W that fits every bracket, the first ``len(ks)`` at multiples ``ks`` of it
    after the first and the last at ``m``; a depth-first search, ``budget`` steps at most."""
    index = len(ks)
    if index == len(brackets):
        return lo, hi, ks
    budget[0] -= 1
    if budget[0] < 0:
        return None
    after, at = brackets[index]
    left = len(brackets) - 1 - index  # brackets still to place, each at least one window on
    first = max(ks[-1] + 1, math.ceil((after - brackets[0][1]) / hi - 1e-9))
    last = min(m - left, math.floor((at - brackets[0][0]) / lo + 1e-9))
    if left == 0:
        first, last = max(first, m), min(last, m)
    for k in range(first, last + 1):
        k_lo, k_hi = lo, hi
        for (was_after, was_at), was_k in zip(brackets, ks, strict=False):
            k_lo = max(k_lo, (after - was_at) / (k - was_k))
            k_hi = min(k_hi, (at - was_after) / (k - was_k))
        if k_lo <= k_hi:
            fit = _fit(brackets, [*ks, k], k_lo, k_hi, m, budget)
            if fit is not None:
                return fit
    return None
