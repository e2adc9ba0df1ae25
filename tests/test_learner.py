"""The learner on its own: what header-less quota answers teach about a server's fixed
window, driven as the pacer drives it (start, answer or refusal, hold), with no pacer, file
or clock; and the pacer asking whatever learner it is given."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bulkctl.pacing.learner import PROBE_CAP, PROBE_FIRST, Learner, QuotaLearner
from bulkctl.pacing.pacer import Pacer, QuotaWaitTooLong
from tests.test_pacer import SharedFakeClock


@dataclass
class FixedWindowServer:
    """A server allowing ``limit`` requests in each fixed window of ``seconds``, the windows
    starting ``offset`` seconds before time 0."""

    limit: int
    seconds: float
    offset: float = 7.0
    counts: dict[int, int] = field(default_factory=dict)

    def window(self, t: float) -> int:
        return int((t + self.offset) // self.seconds)

    def take(self, t: float) -> bool:
        used = self.counts.get(self.window(t), 0)
        if used >= self.limit:
            return False
        self.counts[self.window(t)] = used + 1
        return True


def drive(
    learner: Learner, server: FixedWindowServer, answers: int, gap: float = 0.1
) -> list[float]:
    """Send requests ``gap`` apart, as the pacer would let them start, until ``answers`` were
    answered; the start times of the refused ones."""
    t, probe, answered, refused = 0.0, 0.0, 0, []
    while answered < answers:
        held = learner.hold(t)
        if held is not None and held > t:
            t = held
        learner.started(t)
        if server.take(t):
            learner.answered(t, told=False)
            answered, probe, t = answered + 1, 0.0, t + gap
        else:
            refused.append(t)
            probe = min(PROBE_CAP, probe * 2 or PROBE_FIRST)
            t = learner.refused(t, t, True, t + probe)
    return refused


def test_nothing_is_learned_before_any_refusal() -> None:
    learner = Learner()
    refused = drive(learner, FixedWindowServer(limit=1000, seconds=60), answers=50)
    assert refused == []
    assert learner.limit is None and learner.describe() is None
    assert learner.hold(100.0) is None  # nothing held back


def test_a_fixed_window_is_learned_from_refusals_alone() -> None:
    learner = Learner()
    drive(learner, FixedWindowServer(limit=10, seconds=60), answers=100)
    assert learner.limit == 10
    assert learner.w_lo <= 60 <= learner.w_hi <= 66  # bracketed within a tenth
    assert (learner.describe() or "").startswith("10 requests a window of")


def test_once_learned_each_window_sees_one_probe_at_most() -> None:
    server = FixedWindowServer(limit=10, seconds=60)
    refused = drive(Learner(), server, answers=200)
    later = [server.window(t) for t in refused if server.window(t) >= 3]
    assert later, "the learner still probes for each window's start"
    assert len(later) == len(set(later))  # never a burst of refusals in one window
    assert len(refused) <= 20  # one refusal a window at most, over 20 windows


def test_a_refusal_that_was_no_window_costs_one_short_wait() -> None:
    """Six answers, one refusal (no window: the next request is answered at once) leave a
    guess of six; the next run is held at it, and an answer at once drops the guess."""
    learner = Learner()
    for i in range(6):
        learner.started(float(i))
        learner.answered(float(i), told=False)
    learner.started(6.0)
    probe = learner.refused(6.0, 6.0, True, 6.0 + PROBE_FIRST)
    learner.started(probe)
    assert learner.answered(probe, told=False)  # the wait ended at its first probe
    assert learner.guess == 6 and learner.limit is None
    t = probe
    for _ in range(5):
        t += 0.1
        assert learner.hold(t) is None
        learner.started(t)
        learner.answered(t, told=False)
    held = learner.hold(t + 0.1)  # six starts in this run: held back at the guess
    assert held == pytest.approx(t + 0.1 + PROBE_FIRST)
    learner.started(held)
    assert learner.answered(held, told=False)  # answered at once: the guess was no limit
    assert learner.guess is None and learner.limit is None
    assert learner.hold(held + 0.1) is None


class HoldingLearner:
    """A learner that holds every request back until ``until`` and records what it hears."""

    def __init__(self, until: float) -> None:
        self.until = until
        self.calls: list[str] = []

    @property
    def waiting(self) -> bool:
        return False

    def started(self, now: float) -> None:
        self.calls.append("started")

    def hold(self, now: float) -> float | None:
        return self.until if now < self.until else None

    def refused(self, started: float, now: float, fresh: bool, fallback: float) -> float:
        self.calls.append("refused")
        return fallback

    def answered(self, started: float, *, told: bool) -> bool:
        self.calls.append("answered")
        return False

    def describe(self) -> str | None:
        return None


def test_the_pacer_holds_requests_back_as_its_learner_says() -> None:
    clock = SharedFakeClock()
    learner = HoldingLearner(until=clock.now() + 30)
    as_protocol: QuotaLearner = learner  # the pacer needs nothing more than the interface
    pacer = Pacer((), clock=clock, learner=as_protocol)
    with pytest.raises(QuotaWaitTooLong) as caught:
        pacer.acquire(10)
    assert caught.value.blocked and caught.value.wait == pytest.approx(30)
    started = pacer.acquire(60)  # waits the 30 s out
    assert started == pytest.approx(learner.until)
    pacer.success(started)
    assert learner.calls == ["started", "answered"]
