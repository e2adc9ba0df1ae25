"""Error types and the exit codes they map to.

Exit codes are part of bulkctl's interface: scripts and CI jobs branch on them.
Every error bulkctl raises on purpose is a ``BulkctlError`` carrying its code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any

from bulkctl.safetext import safe_text

ERROR_PREFIX = "bulkctl: error: "


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    ERROR = 1  # API or server error, malformed answer, throttled, local I/O failure
    USAGE = 2  # invalid usage or input
    AUTH = 3  # not authenticated or not allowed
    NOT_FOUND = 4
    CONFLICT = 5  # 409 other than throttling
    NETWORK = 6  # connect, timeout, TLS
    DECLINED = 8  # a question before a change was answered no: nothing sent
    CHECK_FAILED = 9  # summary --fail-on matched
    CANCELLED = 10  # wait: worst bulk was CANCELLED
    PARTIALLY_COMPLETED = 11
    FAILED = 12
    TIMEOUT = 124  # wait: timeout passed first
    INTERRUPTED = 130
    TERMINATED = 143  # SIGTERM, handled like Ctrl-C


EXIT_CODE_MEANINGS: dict[int, str] = {
    ExitCode.OK: "success; nothing matching is success too",
    ExitCode.ERROR: "API or server error (a 4xx the spec does not list is named, with the server's message), malformed answer, throttled (the quota's wait is longer than quota_wait allows), list changed under --strict; local I/O failure (a file could not be read or saved); the same during an automatic login",
    ExitCode.USAGE: "invalid usage or input (an unknown profile too), checked before any request is sent (submit names every bad line; rerun of a bulk not final or with nothing to rerun); the API answered 400",
    ExitCode.AUTH: "not authenticated or not allowed (401, 403, missing credentials); a login that needs a person: credentials refused (401, 403), password expired (409), 410, account locked (423)",
    ExitCode.NOT_FOUND: "not found (404)",
    ExitCode.CONFLICT: "conflict (409 other than throttling), e.g. a bulk in the wrong status",
    ExitCode.NETWORK: "network failure: connect, unknown host, timeout, TLS, connection dropped, during an automatic login too; a card-removals submission whose answer was lost (unknown outcome)",
    ExitCode.DECLINED: "declined: the question before a change (execute, pause, resume, cancel, submit, rerun) was answered no; nothing was sent",
    ExitCode.CHECK_FAILED: "summary --fail-on: a named status has bulks",
    ExitCode.CANCELLED: "wait / watch / --wait of submit and rerun: the worst bulk ended CANCELLED",
    ExitCode.PARTIALLY_COMPLETED: "wait / watch / --wait: the worst bulk ended PARTIALLY_COMPLETED",
    ExitCode.FAILED: "wait / watch / --wait: the worst bulk ended FAILED",
    ExitCode.TIMEOUT: "wait, and --wait of submit and rerun: the timeout passed before every bulk was final, or a wait the API names (or the rate limit) ends past it, said at once with the time",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); `bulkctl ui` is the exception: q and Ctrl-C exit 0",
    141: "the reader of stdout went away (e.g. `| head`), as for any Unix tool",
    ExitCode.TERMINATED: "stopped by SIGTERM (a cancelled CI job), handled like Ctrl-C: `wait --junit` writes its report first; `bulkctl ui` restores the terminal first",
}


class BulkctlError(Exception):
    """An error with a message for people and an exit code for scripts."""

    exit_code: ExitCode = ExitCode.ERROR
    # the words of a bulkctl command the hint suggests, after the hint's text; it is built
    # when printed, with the profile and options in force (Context.suggest), never rewritten
    suggest: tuple[str, ...] = ()

    def __init__(
        self, message: str, hint: str | None = None, *, suggest: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if suggest:
            self.suggest = tuple(suggest)

    def lines(self, command: Callable[..., str] | None = None) -> list[str]:
        """The one or two lines printed on stderr; ``command`` builds the suggested command
        from its words (default: ``bulkctl WORDS``, each shlex-quoted)."""
        hint = self.hint_text(command)
        return [self.message, *([hint] if hint else [])]

    def hint_text(self, command: Callable[..., str] | None = None) -> str:
        """The hint, with the command it suggests built from its words (see ``lines``)."""
        hint = self.hint or ""
        if self.suggest:
            built = (command or plain_command)(*self.suggest)
            hint = f"{hint} {built}" if hint else built
        return hint


def plain_command(*words: str) -> str:
    """``bulkctl WORDS`` with each word shlex-quoted: a suggestion with no options in force."""
    import shlex

    return " ".join(shlex.quote(word) for word in ("bulkctl", *words))


class UsageError(BulkctlError):
    exit_code = ExitCode.USAGE


class ConfigError(BulkctlError):
    exit_code = ExitCode.USAGE


class UnsafePath(ConfigError):
    """A config or state file or folder bulkctl will not trust: another owner, a symlink."""


class StorageError(BulkctlError):
    """A local file could not be read or saved (full disk, read-only folder, permissions)."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None, *, cause: str = "") -> None:
        super().__init__(message, hint)
        # what went wrong, without what was lost: "cannot write PATH: Read-only file system"
        self.cause = cause or message


class NotAuthenticated(BulkctlError):
    exit_code = ExitCode.AUTH


class DeadlineReached(BulkctlError):
    """The command's own deadline (e.g. ``wait --timeout``) came before an answer."""

    exit_code = ExitCode.TIMEOUT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the entry point's handler: it unwinds like
    Ctrl-C (reports are written, the terminal restored) and exits 143."""


class ReaderGone(BaseException):
    """The pager left (``q``) while the command was still writing into it: the rest is not
    wanted, so the command stops where it is and exits 0. A BaseException, as Ctrl-C is,
    so that no handler of errors takes it for one."""


class SigtermHold:
    """A SIGTERM that comes while a command starts (imports, options, the ``--junit`` path)
    is held, and raised as ``Terminated`` where the command is ready for it: a command that
    writes reports releases it once its report can be written, any other before it runs."""

    def __init__(self) -> None:
        self.held = False
        self.pending = False

    def hold(self) -> None:
        self.held = True

    def signalled(self) -> None:
        """The entry point's handler: raise now, or keep it for ``release``."""
        if self.held:
            self.pending = True
            return
        raise Terminated

    def release(self) -> None:
        """Stop holding; a SIGTERM that came meanwhile is raised here."""
        self.held = False
        if self.pending:
            self.pending = False
            raise Terminated


SIGTERM_HOLD = SigtermHold()


class NetworkError(BulkctlError):
    """No complete answer came back: connection refused, reset, timeout, TLS."""

    exit_code = ExitCode.NETWORK

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        sent: bool = False,
        reason: str = "",
    ) -> None:
        super().__init__(message, hint)
        # True when the request may have reached the server (read timeout, reset after send).
        self.sent = sent
        # a connection that never opened, in a few words ("connection refused"): said once
        # while it is retried, the whole message at the end
        self.reason = reason


class ApiError(BulkctlError):
    """The API answered with an error status, or with something that is not a valid answer."""

    exit_code = ExitCode.ERROR

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        request_ref: str | None = None,
        api_message: str | None = None,
        error_code: str | None = None,
        invalid_fields: list[dict[str, Any]] | None = None,
        body_excerpt: str | None = None,
        suggest: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint, suggest=suggest)
        self.status = status
        self.request_ref = request_ref
        self.api_message = api_message
        self.error_code = error_code
        self.invalid_fields = invalid_fields or []
        self.body_excerpt = body_excerpt

    def lines(self, command: Callable[..., str] | None = None) -> list[str]:
        details: list[str] = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.error_code:
            details.append(f"errorCode {self.error_code}")
        if self.api_message and self.api_message not in self.message:
            details.append(f"message: {self.api_message}")
        for field in self.invalid_fields[:5]:
            name = field.get("fieldName", "?")
            err = field.get("error", "?")
            params = field.get("params")
            extra = f" {params}" if params else ""
            details.append(f"{name}: {err}{extra}")
        if self.body_excerpt is not None:
            details.append(f"body starts {self.body_excerpt!r}")
        if self.request_ref:
            details.append(f"request-ref {self.request_ref}")
        first = self.message
        if details:
            first = f"{first} ({'; '.join(details)})"
        hint = self.hint_text(command)
        return [safe_text(first)] + ([safe_text(hint)] if hint else [])


class BadRequest(ApiError):
    exit_code = ExitCode.USAGE


class Unauthorized(ApiError):
    exit_code = ExitCode.AUTH


class Forbidden(ApiError):
    exit_code = ExitCode.AUTH


class AccountState(ApiError):
    """A login answered with a state of the account that a person must resolve (password
    expired, locked, gone): never retried, exit 3 like refused credentials."""

    exit_code = ExitCode.AUTH


class NotFound(ApiError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(ApiError):
    exit_code = ExitCode.CONFLICT


# POST /access_token's two 409s (the spec's ImpersonateIdentityLoginConflict): what each
# means, and its fix when one identity logs in (a fleet's --identities names its own fix)
IDENTITY_CONFLICTS: dict[str, tuple[str, str]] = {
    "UNRESOLVED_IDENTITY": (
        "the API key cannot impersonate {identity}",
        "check the identity's type (corporate or consumer) and id, and log in as one "
        "the API key may impersonate:",
    ),
    "ALREADY_IMPERSONATED": (
        "{identity} is impersonated already",
        "another session is acting for this identity: try again once it has ended",
    ),
}


class Throttled(ApiError):
    """429, or 409 with errorCode TOO_MANY_REQUESTS: how the spec throttles."""

    exit_code = ExitCode.ERROR

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx and any undocumented status."""

    exit_code = ExitCode.ERROR

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class MalformedResponse(ApiError):
    """A 2xx answer that is not the JSON the spec describes."""

    exit_code = ExitCode.ERROR


class OutcomeUnknown(NetworkError):
    """A state change was sent but no answer came: it may or may not have happened."""


# errors that may pass by themselves: commands that poll note them and try again
TRANSIENT_ERRORS: tuple[type[ApiError | NetworkError], ...] = (
    NetworkError,
    ServerError,
    Throttled,
    MalformedResponse,
)


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice nearest ``word`` (any case), for a "did you mean": None when none is near."""
    import difflib

    folded = {choice.casefold(): choice for choice in choices}
    found = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[found[0]] if found else None


# where a command to copy starts: ``bulkctl ...`` or an option after "run: ", "next: ",
# "... with: "; or the "   (or ...)" that follows one
_COMMAND_START = re.compile(r"(?<=: )(?=bulkctl |--[a-z])|(?<=\S)(?=   \()")


def fit_commands(line: str, width: int) -> list[str]:
    """``line`` for a terminal ``width`` columns wide, so that no command to copy is cut by
    its edge: where a line does not fit, each command starts a line of its own and is kept
    whole, even past the edge (the terminal may fold it there, but never breaks it in two
    lines of ours, and nothing but it is on its lines)."""
    if width <= 0 or len(line) <= width:
        return [line]
    prefixes = ("", ERROR_PREFIX.strip(), "warning:")  # a message of its own, not a hint
    cuts = [
        m.start()
        for m in _COMMAND_START.finditer(line)
        if line[: m.start()].strip() not in prefixes
    ]
    if not cuts:
        return [line]
    pieces = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True)]
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines[-1] = lines[-1].rstrip()
            lines.append(piece.lstrip())
    return [text for text in lines if text.strip()]


def error_text(lines: Sequence[str]) -> str:
    """An error for stderr: the first line after ``bulkctl: error:``, the rest indented.

    Messages quote the server, so every line is made safe for a terminal here."""
    first, *rest = (safe_text(line) for line in lines)
    return "\n".join([ERROR_PREFIX + first, *(f"  {line}" for line in rest)])
