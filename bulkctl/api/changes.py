"""The requests that change state: a bulk's execute, pause, resume and cancel, and a new bulk
from a submission. Only ``bulkctl.actions`` may import this module (an import-linter
contract in pyproject.toml), so every change passes the gate there: read, refuse, ask, send.

The HTTP itself (pacing, retries, errors) is ``ApiClient``'s; these only say what to send.
"""

from __future__ import annotations

from typing import Any

from bulkctl.api.client import (
    SUBMIT_RETRY_STATUSES,
    SUBMIT_SECONDS_PER_ITEM,
    ApiClient,
    check_bulk_id,
)
from bulkctl.api.kinds import MAX_ITEMS, Kind
from bulkctl.api.records import BulkSubmitted, parse_bulk_submitted
from bulkctl.errors import OutcomeUnknown, UsageError

ACTION_PATHS = ("execute", "pause", "resume", "cancel")


def act(
    client: ApiClient,
    bulk_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    *,
    deadline: float | None = None,
) -> None:
    """POST /bulks/{id}/execute|pause|resume|cancel; only execute carries a body."""
    check_bulk_id(bulk_id)
    if action not in ACTION_PATHS:
        raise UsageError(f"no such action: {action}")
    client._call(  # the client's one way to send; this module is its door for changes
        "POST",
        f"/bulks/{bulk_id}/{action}",
        json_body=body,
        what=f"{action} bulk {bulk_id}",
        state_change=True,
        expect_body=False,  # the spec answers 204; any 2xx means it was accepted
        deadline=deadline,
    )


def submit_bulk(
    client: ApiClient,
    kind: Kind,
    items: list[dict[str, Any]],
    idempotency_ref: str | None,
    *,
    deadline: float | None = None,
) -> BulkSubmitted:
    """Submit one chunk of 1..10,000 validated items ``{pathParams[, requestBody]}`` as a
    new SUBMITTED bulk of ``kind``.

    With an ``idempotency_ref`` (only for kinds whose endpoint documents one) the request
    is repeated like a read after transport errors and 5xx: the same ref and payload name
    the same bulk. Without one (card-removals) it is never repeated, and a lost answer
    raises ``OutcomeUnknown``. Its request deadline grows with its size. A 201 answer whose
    bulkId is not digits only is malformed (exit 1).
    """
    if not 1 <= len(items) <= MAX_ITEMS:
        raise UsageError(f"a bulk holds 1 to {MAX_ITEMS} items, not {len(items)}")
    headers: dict[str, str] = {}
    if idempotency_ref is not None:
        if not kind.idempotent:
            raise UsageError(f"{kind.name}: the API documents no idempotency-ref")
        headers["idempotency-ref"] = idempotency_ref
    what = f"submit {len(items)} {kind.name}"
    try:
        body = client._call(
            kind.method,
            kind.path,
            json_body=items,
            what=what,
            state_change=True,
            # with a ref a repeat names the same bulk: retried like a read, 500 included
            idempotent=idempotency_ref is not None,
            retry_statuses=SUBMIT_RETRY_STATUSES,
            headers=headers,
            timeout=client.request_timeout + len(items) * SUBMIT_SECONDS_PER_ITEM,
            deadline=deadline,
        )
    except OutcomeUnknown as exc:
        exc.hint = "check before sending again:"
        exc.suggest = ("list", "--operation", kind.operation)
        raise
    return client._decode(parse_bulk_submitted, body, what)
