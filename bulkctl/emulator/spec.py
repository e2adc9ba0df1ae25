"""Facts the emulator takes from the published API spec, kept apart from the client's own.

Nothing here is imported from ``bulkctl.api``: if the client gets a constant wrong, the
emulator (which answers from these) catches it.
"""

from __future__ import annotations

from dataclasses import dataclass

# API prefixes: the Multi API and the Back Office API, longest first for matching.
PREFIXES = ("/multi/backoffice", "/multi")

BULK_STATUSES: tuple[str, ...] = (
    "SUBMITTED",
    "RUNNING",
    "PARTIALLY_COMPLETED",
    "COMPLETED",
    "FAILED",
    "PAUSED",
    "CANCELLED",
)
OPERATION_STATUSES: tuple[str, ...] = ("SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
MODES: tuple[str, ...] = ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE")
FINAL_STATUSES = frozenset({"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"})

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
PAGE_LIMIT_MAX = 100  # "Limit is always capped at 100"
SUBMISSION_MAX_ITEMS = 10_000  # maxItems of every submission array
SUBMISSION_MIN_ITEMS = 1
ID_PATTERN = r"[0-9]+"

# BulkProcessConflictErrorCode
CONFLICT_CODES: tuple[str, ...] = (
    "VALIDATION_FAILED",
    "USER_VALIDATION_FAILED",
    "ALREADY_SUBMITTED",
    "DUPLICATE_OPERATION_TYPE",
    "NO_CONFIG_FOUND",
    "INVALID_STATE",
    "TOO_MANY_REQUESTS",
)
# SyntaxError.invalidFields[].error
SYNTAX_ERRORS: tuple[str, ...] = (
    "REQUIRED",
    "HAS_TEXT",
    "REQUIRES",
    "SIZE",
    "RANGE",
    "IN",
    "NOT_IN",
    "REGEX",
    "EXACTLY",
    "AT_LEAST",
    "AT_MOST",
    "ALL_OR_NONE",
)

MULTI_TOKEN_IDLE_SECONDS = 300.0  # "valid for 5 minutes from last activity"

IDEMPOTENCY_REF_MAX = 8000  # Weavr's documentation: a longer ref is 413
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600.0  # uniqueness "for at least 24 hours"


@dataclass(frozen=True)
class SubmissionKind:
    """One bulk submission endpoint: where it is and the single operation it creates."""

    name: str  # as bulkctl calls it on its command line
    method: str
    path: str  # under the API prefix; _id_ and _user_id_ are literal segments
    operation: str  # the single endpoint's template, as the bulk's `operation` shows it
    path_param: str | None  # the item's pathParams key that fills the template
    has_body: bool
    idempotent: bool  # documents the idempotency-ref header
    apis: frozenset[str]


_BOTH = frozenset({"multi", "backoffice"})
_MULTI = frozenset({"multi"})

SUBMISSION_KINDS: tuple[SubmissionKind, ...] = (
    SubmissionKind("users", "POST", "/bulks/users", "/users", None, True, True, _MULTI),
    SubmissionKind(
        "user-invites",
        "POST",
        "/bulks/users/_user_id_/invite",
        "/users/{user_id}/invite",
        "_user_id_",
        False,
        True,
        _MULTI,
    ),
    SubmissionKind(
        "card-blocks",
        "POST",
        "/bulks/managed_cards/_id_/block",
        "/managed_cards/{id}/block",
        "_id_",
        False,
        True,
        _MULTI,
    ),
    SubmissionKind(
        "card-unblocks",
        "POST",
        "/bulks/managed_cards/_id_/unblock",
        "/managed_cards/{id}/unblock",
        "_id_",
        False,
        True,
        _MULTI,
    ),
    SubmissionKind(
        "card-removals",
        "POST",
        "/bulks/managed_cards/_id_/remove",
        "/managed_cards/{id}/remove",
        "_id_",
        False,
        False,
        _MULTI,
    ),
    SubmissionKind(
        "card-spend-rules",
        "PATCH",
        "/bulks/managed_cards/_id_/spend_rules",
        "/managed_cards/{id}/spend_rules",
        "_id_",
        True,
        True,
        _BOTH,
    ),
    SubmissionKind("transfers", "POST", "/bulks/transfers", "/transfers", None, True, True, _BOTH),
    SubmissionKind("sends", "POST", "/bulks/sends", "/sends", None, True, True, _MULTI),
    SubmissionKind(
        "wire-transfers",
        "POST",
        "/bulks/outgoing_wire_transfers",
        "/outgoing_wire_transfers",
        None,
        True,
        True,
        _MULTI,
    ),
)
SUBMISSIONS_BY_PATH = {kind.path: kind for kind in SUBMISSION_KINDS}
SUBMISSIONS_BY_NAME = {kind.name: kind for kind in SUBMISSION_KINDS}
