"""--identities read (``corporate:1,consumer:2`` or ``@FILE``), checked against the profile's
API, and each identity's token from the API key, a refusal ending in the fix for a fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bulkctl.config import parse_identity
from bulkctl.context import Context
from bulkctl.errors import Conflict, Forbidden, Unauthorized, UsageError


def check_backoffice(ctx: Context) -> None:
    """--identities on the one profile in force: a usage error, before any output or
    request, unless its API is the Back Office API (the demo serves one of its own)."""
    settings = ctx.settings()
    if settings.in_process or settings.api == "backoffice":
        return
    raise UsageError(
        f"--identities needs the Back Office API; {settings.where()} uses the Multi API",
        hint=BACKOFFICE_HINT,
    )


BACKOFFICE_HINT = "set the profile's api = backoffice, or a base_url ending in /multi/backoffice"


def read_identities(value: str) -> tuple[tuple[str, str], ...]:
    """``corporate:1,consumer:2`` or ``@FILE`` (one a line, ``#`` comments) -> identities;
    a wrong one is a usage error naming it (and its line)."""
    parts: list[tuple[str | None, str]]
    if not value.startswith("@"):
        parts = [(None, p) for p in value.split(",") if p.strip()]
    else:
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read identities file {path}: {_why(exc)}",
                hint="check the path after @; the file holds one TYPE:ID a line, "
                "e.g. corporate:1001 (# starts a comment)",
            ) from exc
        lines = (line.partition("#")[0].strip() for line in text.splitlines())
        parts = [(f"{path} line {n}", line) for n, line in enumerate(lines, 1) if line]
    found: list[tuple[str, str]] = []
    for where, part in parts:
        try:
            found.append(parse_identity(part))
        except UsageError as exc:
            exc.message = f"--identities: {where + ': ' if where else ''}{exc.message}"
            raise
    if not found:
        raise UsageError("--identities names no identity", hint="e.g. corporate:1001,consumer:2001")
    return tuple(dict.fromkeys(found))


def _why(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file cannot be read, in a few words."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return (exc.strerror or str(exc)).lower()


def identity_token(client: Any, identity: tuple[str, str], source: str) -> str:
    """The token of one identity of a fleet; a 409 that refuses the identity says where
    to fix it (``source``: ``--identities`` or ``--identities @FILE``), the same words for
    every identity refused alike, so the fix is said once."""
    try:
        return str(client.access_token(*identity))
    except Unauthorized as exc:  # the token asked for is not yet sent: the key is the cause
        exc.message = "access token: the API key was rejected"
        exc.hint = "check the API key (BULKCTL_API_KEY), or type it again:"
        exc.suggest = ("auth", "login", "--identity", "TYPE:ID")
        raise
    except (Conflict, Forbidden) as exc:  # a 403 refuses the identity, as auth login says
        if isinstance(exc, Forbidden) or exc.error_code == "UNRESOLVED_IDENTITY":
            exc.hint = (
                f"check the type and id in {source}: the API key must be able to impersonate it"
            )
            exc.suggest = ()
        raise
