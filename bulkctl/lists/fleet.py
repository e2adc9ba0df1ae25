"""Fleet runs: one reading across profiles (``-A``, ``--profiles``) and identities
(``--identities``), for ``list``, ``summary`` and ``watch``.

Profiles are read concurrently, each through a Context of its own: its host, its credentials,
its pacing, and never a prompt. The identities of one profile share its client, so every
request passes the one pacer of its API key; each identity's token comes from the API key
alone (``POST /access_token``) and is kept in memory for the command. A member (a profile,
an identity, or one identity of one profile) that fails gets its error line on stderr
(and the error's fix under it) and the others go on; the command's exit code is
``worst_exit_code`` of the failures.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from bulkctl.auth import Reauthenticator
from bulkctl.cli.options import OutputChoice
from bulkctl.config import (
    CREDENTIALS,
    DEMO_PROFILE,
    PASSWORD_ENV,
    PROFILE_ENV,
    SETTINGS,
)
from bulkctl.context import Context
from bulkctl.errors import (
    BulkctlError,
    ExitCode,
    NotAuthenticated,
    UsageError,
)
from bulkctl.lists.identities import (
    BACKOFFICE_HINT,
    check_backoffice,
    identity_token,
    read_identities,
)
from bulkctl.lists.matching import BulkSelection, matching_bulks
from bulkctl.lists.progress import ReadProgress, read_progress
from bulkctl.output.render import RenderOptions, render, render_record

T = TypeVar("T")
R = TypeVar("R")

# the order in which a fleet's exit codes win, worst first: a check the command was asked
# to make (summary --fail-on), then a login a person must fix, a network failure, any other
# error of the API or the server, then the rest by their number
WORST_FIRST: tuple[int, ...] = (
    ExitCode.CHECK_FAILED,
    ExitCode.AUTH,
    ExitCode.NETWORK,
    ExitCode.ERROR,
    ExitCode.CONFLICT,
    ExitCode.NOT_FOUND,
    ExitCode.USAGE,
)

# the settings that name one profile's host and credentials: with -A or --profiles each
# profile uses its own, whatever the environment says
PER_PROFILE_ENV = frozenset(
    {
        *(SETTINGS[name].env or "" for name in (*CREDENTIALS, "base_url")),
        PASSWORD_ENV,
        PROFILE_ENV,
    }
    - {""}
)


def _each(workers: int, task: Callable[[Any], R], items: Sequence[Any]) -> list[R]:
    """``task`` of each item in worker threads, the results in order. On an error or Ctrl-C
    the workers are left behind: the process exits without waiting for them."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bulkctl-fleet")
    try:
        results = list(pool.map(task, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def worst_exit_code(codes: Iterable[int]) -> int:
    """The fleet's exit code: the first of ``WORST_FIRST`` among ``codes``, else the highest
    other code, else 0."""
    present = {int(c) for c in codes if c}
    for code in WORST_FIRST:
        if code in present:
            return code
    return max(present, default=ExitCode.OK)


class Kept(msgspec.Struct):
    """What one command keeps across its runs of a fleet (watch's polls): the fixes said,
    and each identity's token, kept in memory for the command as issue 23 asks."""

    said: set[str] = msgspec.field(default_factory=set)
    tokens: dict[tuple[str | None, str, str], str] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class Fleet:
    """Which profiles and identities a command reads; empty: the one profile in force."""

    all_profiles: bool = False
    profiles: tuple[str, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()  # ("CORPORATE", "1001")
    identities_file: str = ""  # --identities @FILE: where a refused identity is to be fixed
    kept: Kept = field(default_factory=Kept, compare=False, hash=False)

    @property
    def active(self) -> bool:
        return self.all_profiles or bool(self.profiles) or bool(self.identities)

    def __bool__(self) -> bool:  # a fleet is true when it names any profile or identity
        return self.active

    @property
    def by_profile(self) -> bool:
        return self.all_profiles or bool(self.profiles)


def parse_fleet(
    ctx: Context, *, all_profiles: bool, profiles: str | None, identities: str | None
) -> Fleet:
    """-A, --profiles and --identities checked, every identity before any request."""
    names = tuple(dict.fromkeys(p.strip() for p in (profiles or "").split(",") if p.strip()))
    if profiles is not None and not names:
        raise UsageError("--profiles names no profile", hint="e.g. --profiles sandbox,live")
    if all_profiles and names:
        raise UsageError(
            "choose -A/--all-profiles or --profiles, not both",
            hint="-A reads every profile with credentials; --profiles only those it names",
        )
    if (all_profiles or names) and (ctx.options.profile or ctx.options.base_url):
        flag = "--profile" if ctx.options.profile else "--base-url"
        raise UsageError(
            f"{flag} names one profile; -A and --profiles name their own",
            hint=f"drop {flag}, or name its profile in --profiles",
        )
    fleet = Fleet(
        all_profiles,
        names,
        read_identities(identities) if identities is not None else (),
        identities if identities and identities.startswith("@") else "",
    )
    if fleet.identities and not fleet.by_profile:
        check_backoffice(ctx)
    return fleet


class Member(msgspec.Struct, frozen=True):
    """One reading of a fleet: a profile, an identity, or an identity of a profile."""

    profile: str | None = None
    identity: str | None = None  # corporate:1001

    def label(self) -> str:
        parts = [f"profile {self.profile}" if self.profile else "", self.identity or ""]
        return ", ".join(p for p in parts if p)

    def tags(self) -> dict[str, str]:
        """The fields a record of this member carries first: profile, identity."""
        out = {"profile": self.profile, "identity": self.identity}
        return {k: v for k, v in out.items() if v is not None}


class Failure(msgspec.Struct):
    member: Member
    exit_code: int
    message: str
    hint: str = ""  # the fix, the single-profile error's second line

    @classmethod
    def of(
        cls, member: Member, exc: BulkctlError, command: Callable[..., str] | None = None
    ) -> Failure:
        """``command`` builds a command the fix suggests: the member's profile's own."""
        first, *rest = exc.lines(command)
        return cls(member, exc.exit_code, first, rest[0] if rest else "")

    def as_record(self) -> dict[str, Any]:
        return {
            "profile": self.member.profile,
            "identity": self.member.identity,
            "exit_code": self.exit_code,
            "message": self.message,
        }


class Outcome(msgspec.Struct, Generic[T]):
    """What a fleet run read (member, result) in the fleet's order, and what failed."""

    results: list[tuple[Member, T]] = msgspec.field(default_factory=list)
    failures: list[Failure] = msgspec.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return worst_exit_code(f.exit_code for f in self.failures)

    def errors(self) -> list[dict[str, Any]]:
        return [f.as_record() for f in self.failures]


def member_context(ctx: Context, name: str | None) -> Context:
    """A Context of its own for profile ``name`` (None: the one in force): its settings,
    client and pacing; never a prompt, and quiet (a member's trouble is its one line)."""
    if name is None:
        options = msgspec.structs.replace(ctx.options, no_input=True, quiet=True)
        return dataclasses.replace(ctx, options=options, _client=None)
    env = {k: v for k, v in ctx.env.items() if k not in PER_PROFILE_ENV}
    options = msgspec.structs.replace(
        ctx.options, profile=name, base_url=None, no_input=True, quiet=True
    )
    return dataclasses.replace(ctx, env=env, options=options, _resolved=None, _client=None)


def chosen_profiles(ctx: Context, fleet: Fleet) -> list[str | None]:
    """The profiles to read, in order (None: the one in force); the demo only when named."""
    if not fleet.by_profile:
        return [None]
    known = [DEMO_PROFILE, *ctx.store.profile_names()]
    if fleet.all_profiles:
        return [p for p in known if p != DEMO_PROFILE]
    unknown = [p for p in fleet.profiles if p not in known]
    if unknown:
        raise UsageError(
            f"--profiles: unknown profile {unknown[0]!r} (known: {', '.join(known)})",
            hint="list them: bulkctl config profiles",
        )
    return list(fleet.profiles)


def run_fleet(
    ctx: Context, fleet: Fleet, read: Callable[[Context], T], progress_mode: str | None = None
) -> Outcome[T]:
    """``read`` for every member of ``fleet``, profiles concurrently; failures reported.
    Identities are counted by list's progress line (``progress_mode``: --progress)."""
    names = chosen_profiles(ctx, fleet)
    shared = [k for k in PER_PROFILE_ENV if ctx.env.get(k)]
    if fleet.by_profile and shared:
        ctx.note(f"{', '.join(sorted(shared))} ignored: each profile uses its own settings")
    ctx.options.no_input = True  # a fleet never asks: what would need a prompt is reported
    members = len(names) * len(fleet.identities)
    with read_progress(ctx, "identities", mode=progress_mode, members=members) as progress:
        reports = _Reports(progress, fleet.kept.said)
        parts = _each(
            min(len(names), 8), lambda n: _read_profile(ctx, n, fleet, read, reports), names
        )
    outcome: Outcome[T] = Outcome()
    for part in parts:
        outcome.results += part.results
        outcome.failures += part.failures
    if fleet.all_profiles and not outcome.results and not outcome.failures:
        raise NotAuthenticated(
            "no profile has credentials", hint="log in first: bulkctl --profile NAME auth login"
        )
    return outcome


def _read_profile(
    ctx: Context,
    name: str | None,
    fleet: Fleet,
    read: Callable[[Context], T],
    reports: _Reports,
) -> Outcome[T]:
    outcome: Outcome[T] = Outcome()
    sub = member_context(ctx, name)
    member = Member(profile=name)
    try:
        settings = sub.settings()
        credentials = settings.get("api_key") or settings.get("auth_token")
        if name is not None and not credentials and fleet.all_profiles:
            ctx.note(f"profile {name}: no credentials, skipped")
            return outcome
        if fleet.identities:
            return _read_identities(sub, name, fleet, read, reports)
        if name is not None and Reauthenticator(sub, settings).means() is None:
            _check_no_prompt(settings)
        outcome.results.append((member, read(sub)))
    except BulkctlError as exc:
        outcome.failures.append(Failure.of(member, exc, sub.suggest))
        reports.failed(outcome.failures[-1])
    finally:
        sub.close()
    return outcome


def _check_no_prompt(settings: Any) -> None:
    """A profile that has no token and would need a password typed is reported, not asked."""
    if not settings.get("auth_token") and settings.get("email") and settings.get("api_key"):
        raise NotAuthenticated(
            "a login would need a password typed at a prompt, and a fleet never asks; "
            f"log in first: bulkctl --profile {settings.profile} auth login"
        )


class _Reports(msgspec.Struct):
    """A fleet's failures on stderr, a line each as they come (a transient progress line is
    cleared first); a fix, indented under the first failure it fixes, is said once however
    many members share it."""

    progress: ReadProgress
    said: set[str] = msgspec.field(default_factory=set)
    lock: threading.Lock = msgspec.field(default_factory=threading.Lock)

    def failed(self, failure: Failure) -> None:
        with self.lock:
            new = bool(failure.hint) and failure.hint not in self.said
            self.said.add(failure.hint)
        hint = [failure.hint] if new else []
        label = failure.member.label()  # none for the one profile in force, read alone
        self.progress.ctx.error(
            [f"{label}: {failure.message}" if label else failure.message, *hint]
        )


def _read_identities(
    sub: Context,
    profile: str | None,
    fleet: Fleet,
    read: Callable[[Context], T],
    reports: _Reports,
) -> Outcome[T]:
    """Each identity through the profile's one client (one pacer), with a token of its own,
    asked once for the command (``fleet.kept``) and again only when it is refused."""
    settings = sub.settings()
    if settings.in_process and settings.api != "backoffice":  # the demo's Back Office API
        settings.values["base_url"] = (settings.get("base_url") or "") + "/backoffice"
    if settings.api != "backoffice":
        raise UsageError(
            f"--identities needs the Back Office API; {settings.where()} is the Multi API",
            hint=BACKOFFICE_HINT,
        )
    if not settings.get("api_key"):  # each token comes from the API key alone
        raise NotAuthenticated(
            f"--identities needs an API key, and {settings.where()} has none",
            hint="give it once, with an identity it may impersonate:",
            suggest=("auth", "login", "--identity", "TYPE:ID"),
        )
    client = sub.client(require_token=False)
    source = f"--identities {fleet.identities_file}".rstrip()
    identities, tokens = fleet.identities, fleet.kept.tokens
    outcome: Outcome[T] = Outcome()
    lock = threading.Lock()

    def one(identity: tuple[str, str]) -> None:
        member = Member(profile, f"{identity[0].lower()}:{identity[1]}")
        key = (profile, *identity)

        def fresh() -> str:
            token = tokens[key] = identity_token(client, identity, source)
            return token

        try:
            view = copy.copy(client)  # the same pacer, connections and limits; its own token
            view.token = tokens.get(key) or fresh()
            view.reauth = fresh
            result = read(dataclasses.replace(sub, _client=view))
            with lock:
                outcome.results.append((member, result))
        except BulkctlError as exc:
            failure = Failure.of(member, exc, sub.suggest)
            with lock:
                outcome.failures.append(failure)
            reports.failed(failure)
        reports.progress.step()

    _each(sub.concurrency(), one, identities)
    order = {f"{k.lower()}:{i}": n for n, (k, i) in enumerate(identities)}
    outcome.results.sort(key=lambda r: order[r[0].identity or ""])
    outcome.failures.sort(key=lambda f: order[f.member.identity or ""])
    return outcome


def list_fleet(
    ctx: Context,
    fleet: Fleet,
    selection: BulkSelection,
    output: OutputChoice,
    progress_mode: str | None = None,
) -> int:
    """``list`` across a fleet: every member's bulks, each record with its ``profile`` and
    ``identity`` first; ``--json`` is ``{"bulks": [...], "errors": [...]}``; jsonl, csv and
    the others carry records only (errors are on stderr). Returns the worst exit code."""

    def read(member_ctx: Context) -> tuple[list[dict[str, Any]], str | None]:
        with matching_bulks(member_ctx, selection) as (bulks, pager):
            rows = [b.raw for b in bulks]
        cut = not selection.filters.active and selection.wanted
        return rows, pager.report.more_shown(len(rows), selection.offset) if cut else None

    outcome = run_fleet(ctx, fleet, read, progress_mode)
    records = [{**m.tags(), **raw} for m, (rows, _) in outcome.results for raw in rows]
    options = output.render_options(ctx)
    if options.fmt == "json":
        bulks = records
        if not options.whole_objects:
            bulks = [{f.name: f.value(r, options.now) for f in options.fields} for r in records]
        document = {"bulks": bulks, "errors": outcome.errors()}
        render_record(
            document, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout
        )
    else:
        render(records, options, ctx.stdout)
    if not records and outcome.results:  # as list says it of one profile
        filtered = selection.statuses or selection.filters.active
        ctx.note("no bulks match" if filtered else "no bulks found")
    more = more_note([(member, note) for member, (_, note) in outcome.results])
    if more:
        ctx.note(more)
    return outcome.exit_code


def more_note(cut: Sequence[tuple[Member, str | None]], each: int = 3) -> str | None:
    """'profile e1: 20 of 33 shown; profile e2: 20 of 27 shown: --all for every one' when
    --limit left rows unread in some members; past ``each`` members, how many more."""
    said = [f"{member.label()}: {note}" for member, note in cut if note]
    if not said:
        return None
    rest = f"; and {len(said) - each} more" if len(said) > each else ""
    return f"{'; '.join(said[:each])}{rest}: use --limit N, or --all for every one"
