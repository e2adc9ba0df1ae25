"""The emulator's data and state machine: bulk processes, their operations, and tokens.

A bulk's operations are never stored one by one. They are derived from three facts:
``cursor`` (how many have been processed), the sorted ``fails`` (which sequences fail
when processed) and the bulk's status. That keeps 100,000 bulks cheap and makes the
counts add up to ``submittedItemsCount`` at every instant by construction.

Time only moves forward through ``advance(now)``: every read and action first brings
RUNNING bulks up to ``now`` at their pace (operations per second). The caller owns the
clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass, field
from typing import Any

from bulkctl.emulator.spec import FINAL_STATUSES, SUBMISSION_MAX_ITEMS, SubmissionKind
from bulkctl.emulator.submissions import FAILURE_CODES, StoredOperation, failure_message

SEED = 20261128
BULK_ID_BASE = 1_100_000_000_000_000

# (operation path as the bulk shows it, method, weight)
OPERATION_KINDS: tuple[tuple[str, str, int], ...] = (
    ("/transfers", "POST", 5),
    ("/sends", "POST", 4),
    ("/outgoing_wire_transfers", "POST", 3),
    ("/users", "POST", 2),
    ("/managed_cards/{id}/block", "POST", 2),
    ("/managed_cards/{id}/unblock", "POST", 1),
)

STATUS_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("COMPLETED", 40),
    ("PARTIALLY_COMPLETED", 10),
    ("FAILED", 6),
    ("CANCELLED", 6),
    ("RUNNING", 16),
    ("PAUSED", 6),
    ("SUBMITTED", 16),
)

FINAL = FINAL_STATUSES


class InvalidState(Exception):
    """An action not allowed from the bulk's current status (answered 409 INVALID_STATE)."""


@dataclass
class Bulk:
    bulk_id: str
    created: float  # epoch seconds
    operation: str
    method: str
    items: int
    seed: int
    fail_rate: float
    status: str = "SUBMITTED"
    mode: str | None = None
    cursor: int = 0
    start_ms: int | None = None
    finish_ms: int | None = None
    pace: float = 2.0  # operations per second while RUNNING
    anchor_time: float = 0.0
    anchor_cursor: int = 0
    stopped_early: bool = False
    forced_fails: tuple[int, ...] = ()
    stored: list[StoredOperation] | None = field(default=None, repr=False)  # submitted bulks
    _fails: list[int] | None = field(default=None, repr=False)
    _json: tuple[tuple[Any, ...], str] | None = field(default=None, repr=False)

    def api_json(self) -> str:
        """``to_api()`` as JSON text, cached until a field it shows changes (pages are joins)."""
        key = (self.status, self.mode, self.start_ms, self.finish_ms, self.items, self.operation)
        if self._json is None or self._json[0] != key:
            self._json = (key, json.dumps(self.to_api()))
        return self._json[1]

    @property
    def fails(self) -> list[int]:
        """Sorted 0-based positions of the operations that fail when processed."""
        if self._fails is None and self.stored is not None:
            self._fails = [i for i, op in enumerate(self.stored) if op.fail_code is not None]
        if self._fails is None:
            rng = random.Random(self.seed)
            rate = self.fail_rate
            chosen = set(self.forced_fails)
            if rate >= 1.0:
                chosen.update(range(self.items))
            elif rate > 0:
                chosen.update(i for i in range(self.items) if rng.random() < rate)
            self._fails = sorted(chosen)
        return self._fails

    def failed_before(self, position: int) -> int:
        return bisect.bisect_left(self.fails, position)

    # -- counts and records -------------------------------------------------------------

    def operation_counts(self) -> dict[str, int]:
        failed = self.failed_before(self.cursor)
        completed = self.cursor - failed
        running = 1 if self.status == "RUNNING" and self.cursor < self.items else 0
        rest = self.items - self.cursor - running
        rest_status = (
            "CANCELLED" if self.status == "CANCELLED" or self.stopped_early else "SUBMITTED"
        )
        counts = dict.fromkeys(("SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"), 0)
        counts["COMPLETED"] = completed
        counts["FAILED"] = failed
        counts["RUNNING"] = running
        counts[rest_status] += rest
        return counts

    def operation_status(self, position: int) -> str:
        if position < self.cursor:
            i = bisect.bisect_left(self.fails, position)
            return "FAILED" if i < len(self.fails) and self.fails[i] == position else "COMPLETED"
        if self.status == "RUNNING" and position == self.cursor:
            return "RUNNING"
        if self.status == "CANCELLED" or self.stopped_early:
            return "CANCELLED"
        return "SUBMITTED"

    def to_api(self, details: bool = False) -> dict[str, Any]:
        """The BulkProcess (or BulkProcessDetails) object as the API answers it."""
        out: dict[str, Any] = {
            "bulkId": self.bulk_id,
            "status": self.status,
            "submittedItemsCount": self.items,
            "operation": self.operation,
        }
        if self.start_ms is not None:
            out["executionStart"] = self.start_ms
        if self.finish_ms is not None:
            out["executionFinish"] = self.finish_ms
        if self.mode is not None:
            out["mode"] = self.mode
        if details:
            out["operationStatusCounts"] = [
                {"status": status, "count": count}
                for status, count in self.operation_counts().items()
            ]
        return out

    def operation_record(self, position: int) -> dict[str, Any]:
        """The BulkProcessOperation at 0-based ``position`` (its sequence is position + 1)."""
        rng = random.Random(self.seed * 1_000_003 + position)
        status = self.operation_status(position)
        fail_code: str | None = None
        if self.stored is not None:
            stored = self.stored[position]
            path, payload, fail_code = stored.path, stored.request_payload, stored.fail_code
        else:
            target_id = str(rng.randrange(10**17, 10**18))
            path = self.operation.replace("{id}", target_id)
            payload = json.dumps(_request_payload(self.operation, rng), sort_keys=True)
        record: dict[str, Any] = {
            "operationId": str(int(self.bulk_id) * 10_000 + position + 1),
            "sequence": position + 1,
            "method": self.method,
            "path": path,
            "status": status,
            "requestPayload": payload,
        }
        if status == "COMPLETED":
            record["responsePayload"] = json.dumps(
                {"id": str(rng.randrange(10**17, 10**18)), "state": "COMPLETED"}
            )
        elif status == "FAILED":
            if fail_code is None:
                codes = FAILURE_CODES.get(self.operation, ("VALIDATION_FAILED",))
                fail_code = codes[rng.randrange(len(codes))]
            record["responsePayload"] = json.dumps(
                {"errorCode": fail_code, "message": failure_message(fail_code)}
            )
        return record

    # -- state machine --------------------------------------------------------------------

    def advance(self, now: float) -> bool:
        """Process what a RUNNING bulk would have processed by ``now``. True if status changed."""
        if self.status != "RUNNING" or self.pace <= 0:
            return False
        target = self.anchor_cursor + int((now - self.anchor_time) * self.pace)
        target = max(self.cursor, min(target, self.items))
        if target == self.cursor and self.cursor < self.items:
            return False
        stop_at: int | None = None
        if self.mode == "ON_FAILURE_STOP":
            i = bisect.bisect_left(self.fails, self.cursor)
            if i < len(self.fails) and self.fails[i] < target:
                stop_at = self.fails[i] + 1
        if stop_at is not None:
            self.cursor = stop_at
            self.stopped_early = stop_at < self.items
            self._finish(self._time_of(stop_at))
            return True
        self.cursor = target
        if self.cursor >= self.items:
            self._finish(self._time_of(self.items))
            return True
        return False

    def _time_of(self, cursor: int) -> float:
        return self.anchor_time + (cursor - self.anchor_cursor) / self.pace

    def _finish(self, when: float) -> None:
        failed = self.failed_before(self.cursor)
        completed = self.cursor - failed
        if failed == 0:
            self.status = "COMPLETED"
        elif completed == 0:
            self.status = "FAILED"
        else:
            self.status = "PARTIALLY_COMPLETED"
        self.finish_ms = max(int(when * 1000), self.start_ms or 0)

    def execute(self, now: float, mode: str) -> None:
        if self.status != "SUBMITTED":
            raise InvalidState(self.status)
        self.status = "RUNNING"
        self.mode = mode
        self.start_ms = int(now * 1000)
        self.anchor_time, self.anchor_cursor = now, self.cursor
        if self.items == 0:
            self._finish(now)

    def pause(self, now: float) -> None:
        if self.status != "RUNNING":
            raise InvalidState(self.status)
        self.status = "PAUSED"

    def resume(self, now: float) -> None:
        if self.status != "PAUSED":
            raise InvalidState(self.status)
        self.status = "RUNNING"
        self.anchor_time, self.anchor_cursor = now, self.cursor

    def cancel(self, now: float) -> None:
        if self.status not in ("RUNNING", "PAUSED"):
            raise InvalidState(self.status)
        self.status = "CANCELLED"
        self.finish_ms = max(int(now * 1000), self.start_ms or 0)


def _request_payload(operation: str, rng: random.Random) -> dict[str, Any]:
    amount = {"currency": rng.choice(("EUR", "GBP", "USD")), "amount": rng.randrange(100, 500_000)}
    account = str(rng.randrange(10**17, 10**18))
    if operation in ("/transfers", "/sends"):
        return {
            "profileId": str(rng.randrange(10**17, 10**18)),
            "tag": f"payout-{rng.randrange(10_000)}",
            "source": {"type": "managed_accounts", "id": account},
            "destination": {"type": "managed_accounts", "id": str(rng.randrange(10**17, 10**18))},
            "destinationAmount": amount,
        }
    if operation == "/outgoing_wire_transfers":
        return {
            "profileId": str(rng.randrange(10**17, 10**18)),
            "sourceInstrument": {"type": "managed_accounts", "id": account},
            "transferAmount": amount,
            "destinationBeneficiary": {
                "name": rng.choice(("Ada Lovelace", "Grace Hopper", "Alan Turing")),
                "bankAccountDetails": {"iban": f"MT{rng.randrange(10**20, 10**21)}"},
            },
        }
    if operation == "/users":
        n = rng.randrange(100_000)
        return {"name": "User", "surname": f"N{n}", "email": f"user{n}@example.com"}
    return {}


@dataclass
class TokenInfo:
    api: str  # "multi" or "backoffice"
    last_used: float
    expires_when_idle: bool
    identity: tuple[str, str] | None = None  # (type, id) it acts for; None: the first identity


class EmulatorState:
    """All bulks, newest first, and the tokens issued. Not thread-safe: the app holds a lock."""

    def __init__(
        self,
        *,
        bulks: int = 300,
        seed: int = SEED,
        now: float,
        pace: float = 2.0,
    ) -> None:
        self.epoch = now
        self.size = bulks  # how many were seeded
        self.seed = seed
        self.pace = pace
        self.rng = random.Random(seed)
        self.bulks: dict[str, Bulk] = {}
        self.order: list[str] = []  # newest first
        self.running: set[str] = set()
        self.tokens: dict[str, TokenInfo] = {}
        # (api, idempotency-ref) -> (what was sent, the 201 answer's body, when)
        self.idempotency: dict[tuple[str, str], tuple[str, bytes, float]] = {}
        self._version = 0
        self._by_status: dict[str | None, list[str]] = {}
        self._by_status_version = -1
        self._next_index = 0
        for _ in range(bulks):
            self._seed_bulk(now, bulks)
        self.order.reverse()  # seeded oldest first; the API answers newest first

    # -- seeding --------------------------------------------------------------------------

    def _new_bulk(self, created: float) -> Bulk:
        rng = self.rng
        index = self._next_index
        self._next_index += 1
        bulk_id = str(BULK_ID_BASE + index * 1000 + rng.randrange(1000))
        path, method, _ = rng.choices(OPERATION_KINDS, weights=[k[2] for k in OPERATION_KINDS])[0]
        items = int(10 ** rng.uniform(0.5, 3.7))  # 3 .. ~5,000, mostly small
        return Bulk(
            bulk_id=bulk_id,
            created=created,
            operation=path,
            method=method,
            items=max(1, items),
            seed=rng.randrange(2**31),
            fail_rate=0.0,
            pace=self.pace,
        )

    def _seed_bulk(self, now: float, total: int) -> None:
        rng = self.rng
        index = self._next_index
        recent = index >= total * 3 // 4
        if recent:  # the newest quarter spans the last 8 hours and holds the in-flight bulks
            span, first = 8 * 3600.0, total * 3 // 4
            created = now - span + (index - first) * span / max(1, total - first)
        else:  # the rest spans the 30 days before that
            span = 30 * 86400.0
            created = now - 8 * 3600 - span + index * span / max(1, total * 3 // 4)
        bulk = self._new_bulk(created)
        pool = STATUS_WEIGHTS if recent else [sw for sw in STATUS_WEIGHTS if sw[0] in FINAL]
        status = rng.choices([s for s, _ in pool], weights=[w for _, w in pool])[0]
        start = min(created + rng.uniform(5, 120), now - 2)
        bulk.mode = rng.choice(("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"))
        n = bulk.items
        if status == "SUBMITTED":
            bulk.mode = None
            bulk.fail_rate = rng.choice((0.0, 0.0, 0.02, 0.1))
        elif status == "COMPLETED":
            bulk.cursor = n
        elif status == "PARTIALLY_COMPLETED":
            n = bulk.items = max(2, n)
            bulk.mode = "ON_FAILURE_CONTINUE"
            bulk.fail_rate = rng.choice((0.01, 0.05, 0.2))
            bulk.forced_fails = (rng.randrange(1, n),)
            bulk.cursor = n
            if n <= 10 and bulk.failed_before(n) == n:
                bulk.forced_fails, bulk._fails = (1,), [1]
        elif status == "FAILED":
            bulk.fail_rate = 1.0
            bulk.cursor = 1 if bulk.mode == "ON_FAILURE_STOP" else n
            bulk.stopped_early = bulk.cursor < n
        else:  # RUNNING, PAUSED, CANCELLED stop somewhere in the middle
            bulk.fail_rate = rng.choice((0.0, 0.01, 0.03))
            if bulk.mode == "ON_FAILURE_STOP":
                bulk.fail_rate = 0.0
            bulk.cursor = rng.randrange(0, n)
        bulk.status = status
        if status != "SUBMITTED":
            bulk.start_ms = int(start * 1000)
        if status in FINAL:
            duration = max(1.0, bulk.cursor / max(bulk.pace, 0.1)) * rng.uniform(0.5, 2)
            bulk.finish_ms = int(max(start, min(start + duration, now - 1)) * 1000)
        if status == "RUNNING":
            # seeded running bulks keep RUNNING for 2-6 hours, yet fast enough (up to about one
            # operation a second) for `watch` to show them moving
            duration = rng.uniform(2 * 3600, 6 * 3600)
            own = random.Random(bulk.seed ^ 0x5EED)  # the shared stream stays as it was
            remaining = int(duration * own.uniform(0.05, 1.0))
            bulk.items = max(n, min(SUBMISSION_MAX_ITEMS, bulk.cursor + remaining))
            bulk.pace = max(1, bulk.items - bulk.cursor) / duration
            bulk.anchor_time, bulk.anchor_cursor = now, bulk.cursor
            self.running.add(bulk.bulk_id)
        self.bulks[bulk.bulk_id] = bulk
        self.order.append(bulk.bulk_id)

    def insert_submitted(self, now: float, count: int = 1) -> list[str]:
        """Add ``count`` new SUBMITTED bulks at the top of the list (the churn fault)."""
        added = []
        for _ in range(count):
            bulk = self._new_bulk(now)
            bulk.fail_rate = 0.02
            self.bulks[bulk.bulk_id] = bulk
            self.order.insert(0, bulk.bulk_id)
            added.append(bulk.bulk_id)
        self._version += 1
        return added

    def submit(self, now: float, kind: SubmissionKind, operations: list[StoredOperation]) -> Bulk:
        """A new SUBMITTED bulk of ``operations`` at the top of the list."""
        bulk = self._new_bulk(now)
        bulk.operation, bulk.method = kind.operation, kind.method
        bulk.items, bulk.fail_rate, bulk.stored = len(operations), 0.0, operations
        self.bulks[bulk.bulk_id] = bulk
        self.order.insert(0, bulk.bulk_id)
        self._version += 1
        return bulk

    # -- time -------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        changed = False
        for bulk_id in list(self.running):
            bulk = self.bulks[bulk_id]
            if bulk.advance(now):
                changed = True
            if bulk.status != "RUNNING":
                self.running.discard(bulk_id)
        if changed:
            self._version += 1

    # -- queries ----------------------------------------------------------------------------

    def listing(self, status: str | None) -> list[str]:
        """Ids matching ``status`` (None: all), newest first."""
        if self._by_status_version != self._version:
            index: dict[str | None, list[str]] = {None: self.order}
            for bulk_id in self.order:
                index.setdefault(self.bulks[bulk_id].status, []).append(bulk_id)
            self._by_status = index
            self._by_status_version = self._version
        return self._by_status.get(status, [])

    # -- actions ----------------------------------------------------------------------------

    def act(self, bulk_id: str, action: str, now: float, mode: str | None = None) -> None:
        """Apply execute / pause / resume / cancel. Raises KeyError or InvalidState."""
        self.advance(now)
        bulk = self.bulks[bulk_id]
        if action == "execute":
            bulk.execute(now, mode or "ON_FAILURE_STOP")
        elif action == "pause":
            bulk.pause(now)
        elif action == "resume":
            bulk.resume(now)
        elif action == "cancel":
            bulk.cancel(now)
        else:
            raise ValueError(action)
        if bulk.status == "RUNNING":
            self.running.add(bulk_id)
        else:
            self.running.discard(bulk_id)
        self._version += 1
