"""Options shared by several commands, each declared once with its help and what completes
its value, and the parsing they share: status lists, output choice, paging bounds, durations.

Everything here turns raw argument strings into checked values or raises ``UsageError``
(exit 2) before any request is sent. A command's own options live in its file, declared
the same way (``option(..., values=...)``), so the completion scripts find every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec
import typer

from bulkctl.api.kinds import KIND_NAMES, MAX_ITEMS
from bulkctl.api.records import BULK_STATUSES, INT32_MAX, OPERATION_STATUSES
from bulkctl.cli.durations import check_interval as check_interval
from bulkctl.cli.durations import parse_duration as parse_duration
from bulkctl.cli.durations import parse_wait as parse_wait
from bulkctl.config import ENVIRONMENTS, SETTINGS
from bulkctl.errors import UsageError, closest
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    FORMATS,
    OPERATION_ALL_FIELDS,
    TABLE_FORMATS,
    Field,
    RenderOptions,
    check_format,
    pick_fields,
    terminal_width,
)
from bulkctl.output.values import MODE_SHORT

if TYPE_CHECKING:
    from bulkctl.context import Context

DEFAULT_LIMIT = 20
SHELLS = ("bash", "zsh", "fish")


class Values(msgspec.Struct, frozen=True):
    """What Tab offers for an option's or argument's value; the completion scripts are
    generated from these. Given to typer as the parameter's parser, it passes text through
    unchanged, so the click parameter itself carries its completion values."""

    __name__: ClassVar[str] = "TEXT"  # click names a parser's type after it

    kind: str  # the name the scripts use: bulk_status, format, profile, file, ...
    words: tuple[str, ...] = ()  # empty for kinds the shell fills in (profile, file)
    csv: bool = False  # comma-separated: complete the part after the last comma

    def __call__(self, value: str) -> str:
        return value

    @property
    def spec(self) -> str:
        return f"csv:{self.kind}" if self.csv else self.kind


BULK_STATUS_VALUES = Values("bulk_status", tuple(BULK_STATUSES), csv=True)
OPERATION_STATUS_VALUES = Values("operation_status", tuple(OPERATION_STATUSES), csv=True)
FORMAT_VALUES = Values("format", tuple(FORMATS))
MODE_VALUES = Values("mode", ("on-failure-stop", "on-failure-continue"))
ENVIRONMENT_VALUES = Values("environment", tuple(ENVIRONMENTS))
IDENTITY_VALUES = Values("identity", ("corporate:", "consumer:"))
SETTING_VALUES = Values("setting", tuple(SETTINGS))
BULK_FIELD_VALUES = Values("bulk_field", tuple(f.name for f in BULK_ALL_FIELDS), csv=True)
OPERATION_FIELD_VALUES = Values(
    "operation_field", tuple(f.name for f in OPERATION_ALL_FIELDS), csv=True
)
SHELL_VALUES = Values("shell", SHELLS)
PROGRESS_VALUES = Values("progress", ("live", "plain", "none"))
PROFILE_VALUES = Values("profile")  # asked of `bulkctl config profiles` at Tab time
FILE_VALUES = Values("file")


def option(*names: str, values: Values | None = None, **settings: Any) -> Any:
    """A typer option; ``values`` says what completes its value."""
    return typer.Option(*names, parser=values, **settings)


def argument(*, values: Values | None = None, **settings: Any) -> Any:
    """A typer argument; ``values`` says what completes it."""
    return typer.Argument(parser=values, **settings)


def completion_values(param: Any) -> Values | None:
    """The values a click parameter declared with ``option``/``argument`` completes to."""
    func = getattr(getattr(param, "type", None), "func", None)
    return func if isinstance(func, Values) else None


def parse_statuses(
    values: Sequence[str] | None, allowed: Sequence[str], what: str = "status"
) -> list[str]:
    """Repeatable, comma-separated, case-insensitive; unknown values are a usage error."""
    chosen: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip().upper().replace("-", "_")
            if not name:
                continue
            if name not in allowed:
                near = near_miss(name, allowed)
                raise UsageError(
                    f"unknown {what} {part.strip()!r}"
                    + (f"; did you mean {near}?" if near else ""),
                    hint=f"valid values: {', '.join(allowed)}",
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def near_miss(name: str, allowed: Sequence[str]) -> str | None:
    """The one allowed value ``name`` was most likely meant to be (``CANCELED`` ->
    ``CANCELLED``, ``FAIL`` -> ``FAILED``), or None when nothing is close."""
    import difflib

    starting = [value for value in allowed if value.startswith(name)]
    if len(starting) == 1:
        return starting[0]
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.7)
    return close[0] if close else None


def parse_mode(value: str) -> str:
    """'on-failure-stop', 'ON_FAILURE_STOP' or the tables' 'stop', any case -> 'ON_FAILURE_STOP';
    a near miss is named in the hint."""
    name = value.strip().upper().replace("-", "_")
    name = {short: mode for mode, short in MODE_SHORT.items()}.get(name, name)
    if name not in MODE_SHORT:
        valid = "valid modes: stop (on-failure-stop), continue (on-failure-continue)"
        near = closest(name, [*MODE_SHORT, *MODE_SHORT.values()])
        if near is not None:
            near = near.lower().replace("_", "-")
        hint = f"did you mean {near}? {valid}" if near else valid
        raise UsageError(f"unknown mode {value!r}", hint=hint)
    return name


class OutputChoice(msgspec.Struct):
    fmt: str
    fields: list[Field]
    header: bool
    whole_objects: bool

    def render_options(self, ctx: Context, *, full_payloads: bool = False) -> RenderOptions:
        return RenderOptions(
            fmt=self.fmt,
            fields=self.fields,
            header=self.header,
            color=ctx.color,
            whole_objects=self.whole_objects,
            now=ctx.clock.now(),
            full_payloads=full_payloads,
            terminal=ctx.stdout_tty,
            width=terminal_width(ctx.stdout, ctx.env) if ctx.stdout_tty else None,
        )


def choose_output(
    *,
    output: str | None,
    json_flag: bool,
    jsonl_flag: bool,
    fields_spec: str | None,
    header: bool,
    stdout_tty: bool,
    available: Sequence[Field],
    default_fields: Sequence[Field],
    table_fields: Sequence[Field] | None = None,
) -> OutputChoice:
    """-o/--output, --json, --jsonl and --fields into one checked choice."""
    picked = [name for name, on in (("json", json_flag), ("jsonl", jsonl_flag)) if on]
    if output is not None:
        picked.append(check_format(output))
    if len(set(picked)) > 1:
        raise UsageError(f"choose one output format, not {' and '.join(sorted(set(picked)))}")
    fmt = picked[0] if picked else ("table" if stdout_tty else "plain")
    default = table_fields if fmt in TABLE_FORMATS and table_fields is not None else default_fields
    fields = pick_fields(fields_spec, available, default)
    whole = fmt in ("json", "jsonl") and not fields_spec
    return OutputChoice(fmt=fmt, fields=fields, header=header, whole_objects=whole)


def check_paging(limit: int | None, offset: int, all_records: bool) -> int | None:
    """The number of rows wanted (None: all), or a usage error."""
    if offset < 0 or offset > INT32_MAX:
        raise UsageError(f"--offset must be from 0 to {INT32_MAX} (got {offset})")
    if all_records:
        if limit is not None:
            raise UsageError("--all and --limit do not go together")
        return None
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise UsageError(f"--limit must be 1 or more (got {limit})", hint="or use --all")
    return limit


def check_concurrency(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 64:
        raise UsageError(f"--concurrency must be from 1 to 64 (got {value})")
    return value


FORMAT_HELP = f"Output format: {', '.join(FORMATS)} (default: table on a terminal, plain otherwise; wide: the table with every column, uncut)."
STATUS_HELP = f"Only bulks in this status; repeat or comma-separate for several ({', '.join(BULK_STATUSES)}; any case)."
OPERATION_STATUS_HELP = f"Only operations in this status; repeat or comma-separate ({', '.join(OPERATION_STATUSES)}; any case)."
FIELDS_HELP = "Comma-separated API field names to show, in this order."
PROGRESS_HELP = "How a read that lasts over 2 s shows its progress on stderr: live (one line redrawn on a terminal), plain (a line at least every 10 s) or none. Default: live on a terminal, plain when CI is set, stderr is not a terminal or TERM is dumb; none with --quiet."


# options that several commands take, declared once so their names and help never drift
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit", "-n", help="Rows wanted in all (default 20); fetched 100 a request.", metavar="N"
    ),
]
OffsetOption = Annotated[int, typer.Option("--offset", help="Skip the first N rows.", metavar="N")]
AllOption = Annotated[bool, typer.Option("--all", "-a", help="Every matching record.")]
OutputOption = Annotated[
    str | None,
    option("--output", "-o", help=FORMAT_HELP, metavar="FORMAT", values=FORMAT_VALUES),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Shorthand for --output json: one JSON array, written when complete."
    ),
]
JsonlOption = Annotated[
    bool,
    typer.Option(
        "--jsonl", help="Shorthand for --output jsonl: one object a line, as pages arrive."
    ),
]
JsonObjectOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]
FieldsOption = Annotated[
    str | None,
    option("--fields", help=FIELDS_HELP, metavar="F1,F2", values=BULK_FIELD_VALUES),
]
OperationFieldsOption = Annotated[
    str | None,
    option("--fields", help=FIELDS_HELP, metavar="F1,F2", values=OPERATION_FIELD_VALUES),
]
NoHeaderOption = Annotated[
    bool, typer.Option("--no-header", help="No header row (plain, csv, table).")
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        help="Requests in flight while paging (default 8; 1 = one after another).",
        metavar="N",
    ),
]


class PagingFlags(msgspec.Struct, frozen=True):
    """How many rows, ``list``'s and ``operations``': ``check_paging(**asdict(paging))``."""

    limit: LimitOption = None
    offset: OffsetOption = 0
    all_records: AllOption = False


class FormatFlags(msgspec.Struct, frozen=True):
    """Which format, ``list``'s and ``operations``': ``choose_output(**asdict(format), ...)``."""

    output: OutputOption = None
    json_flag: JsonOption = False
    jsonl_flag: JsonlOption = False


NO_PAGING, NO_FORMAT = PagingFlags(), FormatFlags()


class FleetFlags(msgspec.Struct, frozen=True):
    """Which profiles and identities, ``list``'s, ``summary``'s and ``watch``'s:
    ``parse_fleet(ctx, **asdict(fleet))`` (``bulkctl.lists.fleet``)."""

    all_profiles: Annotated[
        bool,
        typer.Option(
            "--all-profiles",
            "-A",
            help="Every profile with credentials (not the demo), read at once; a PROFILE column "
            "first. Never prompts.",
        ),
    ] = False
    profiles: Annotated[
        str | None,
        option(
            "--profiles",
            help="These profiles, comma-separated (the demo too when named); a PROFILE column first.",
            metavar="P1,P2",
            values=PROFILE_VALUES,
        ),
    ] = None
    identities: Annotated[
        str | None,
        option(
            "--identities",
            help="Back Office API: these identities, with a token each from the API key: "
            "corporate:ID,consumer:ID,... or @FILE (one a line, # comments); an IDENTITY column first.",
            metavar="LIST|@FILE",
            values=IDENTITY_VALUES,
        ),
    ] = None


NO_FLEET = FleetFlags()

# which bulks: list, watch and summary
StatusOption = Annotated[
    list[str] | None,
    option("--status", "-s", help=STATUS_HELP, metavar="STATUS", values=BULK_STATUS_VALUES),
]
OperationOption = Annotated[
    str | None,
    typer.Option(
        "--operation",
        help="Only bulks whose operation path contains this text, or matches this glob (e.g. '/managed_cards/*'); any case.",
        metavar="PATTERN",
    ),
]
ModeOption = Annotated[
    str | None,
    option(
        "--mode",
        help="Only bulks executed in this mode: on-failure-stop or on-failure-continue, or stop or continue as tables show them (any case).",
        metavar="MODE",
        values=MODE_VALUES,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only bulks whose latest timestamp (finish, else start) is at or after WHEN: an ISO date/time (local unless it has an offset), an age such as 2h, 3d, or today or yesterday (from local midnight). Never-started bulks are left out.",
        metavar="WHEN",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only bulks whose latest timestamp (finish, else start) is before WHEN (same forms as --since). Never-started bulks are left out.",
        metavar="WHEN",
    ),
]
ProgressOption = Annotated[  # list, operations, summary, rerun, watch (wait has its own)
    str | None, option("--progress", help=PROGRESS_HELP, metavar="MODE", values=PROGRESS_VALUES)
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="Exit 1 when the list shrank while paging (records may be missing)."
    ),
]

# polling: wait and watch (without --interval the pause adapts: polling.poll_interval)
AutoIntervalOption = Annotated[
    str | None,
    typer.Option(
        "--interval",
        help="Time between polls, at least 1s. Default: 3s at first, growing to 30s as bulks run.",
        metavar="DURATION",
    ),
]

# one bulk, or several
BulkIdArgument = Annotated[str, typer.Argument(help="The bulk id (digits).", metavar="BULK_ID")]
BulkIdsArgument = Annotated[
    list[str], typer.Argument(help="One or more bulk ids (digits).", metavar="BULK_ID...")
]

# the state changes: execute, pause, resume, cancel
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


class ActionFlags(msgspec.Struct, frozen=True):
    """The options every change of state takes (``bound`` spreads them into a command)."""

    yes: YesOption = False
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Read each bulk and print the request that would be sent; send no change (needs credentials).",
        ),
    ] = False
    json_flag: Annotated[
        bool, typer.Option("--json", help="Results as a JSON array on stdout.")
    ] = False


NO_ACTION_FLAGS = ActionFlags()  # a change as typed with no option


# config get, set and unset
KEY_HELP = "Setting name: environment, api, base_url, api_key, auth_token, email, identity, ca_bundle, connect_timeout, read_timeout, retries, concurrency, request_timeout, rate_limit, rate_limit_store, quota_wait."
SettingArgument = Annotated[str, argument(help=KEY_HELP, metavar="KEY", values=SETTING_VALUES)]

# submit and rerun: what to send, and what follows
KIND_VALUES = Values("kind", KIND_NAMES)
INPUT_FORMAT_VALUES = Values("input_format", ("jsonl", "json", "csv"))  # submission.FORMATS
TimeoutOption = Annotated[
    str,
    typer.Option(
        "--timeout", help="Give up after this long: 90s, 5m, 2h (exit 124).", metavar="DURATION"
    ),
]
JunitOption = Annotated[
    str | None,
    option(
        "--junit",
        help="Write a JUnit XML report on every exit (outcome, timeout, signal, error): per bulk a case for its outcome, one counting its completed operations, one per failed operation.",
        metavar="FILE",
        values=FILE_VALUES,
    ),
]


class SendFlags(msgspec.Struct, frozen=True):
    """The options ``submit`` and ``rerun`` share, as typed: each declared here once, and
    ``bound`` spreads them into both commands. ``actions.sending.send_options`` checks them."""

    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size",
            help=f"Items per bulk, 1 to {MAX_ITEMS:,}; more items become several bulks, in order.",
            metavar="N",
        ),
    ] = MAX_ITEMS
    new: Annotated[
        bool,
        typer.Option(
            "--new",
            help="Fresh idempotency refs: a deliberate second bulk of items already submitted.",
        ),
    ] = False
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate and show what would be sent (counts, chunks, first item)."
        ),
    ] = False
    json_flag: Annotated[
        bool,
        typer.Option(
            "--json",
            help="The new bulks as a JSON array: bulkId, operationCount, path, chunk, items.",
        ),
    ] = False
    execute: Annotated[
        bool,
        typer.Option(
            "--execute", help="Execute the new bulks after one confirmation covering them all."
        ),
    ] = False
    mode: Annotated[
        str,
        option(
            "--mode",
            help="With --execute: on-failure-stop (default) or on-failure-continue.",
            metavar="MODE",
            values=MODE_VALUES,
        ),
    ] = "on-failure-stop"
    yes: YesOption = False
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="With --execute: wait until every new bulk is final (wait's exit codes)."
        ),
    ] = False
    timeout: TimeoutOption = "30m"
    interval: AutoIntervalOption = None
    junit: JunitOption = None


NO_FLAGS = SendFlags()  # submit and rerun as typed with no option
