"""Facts the emulator takes from the published API spec, kept apart from the client's own.

Nothing here is imported from ``bulkctl.api``: if the client gets a constant wrong, the
emulator (which answers from these) catches it.
"""

from __future__ import annotations

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
