"""``bulkctl emulator serve``: the built-in emulator over real HTTP, for rehearsing scripts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

from bulkctl.cli.invoke import bound, invoke
from bulkctl.context import Context
from bulkctl.errors import UsageError

if TYPE_CHECKING:
    from bulkctl.emulator.quota import Window


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    bulks: int = 300
    identities: int = 3
    seed: int = 20261128
    pace: float = 2.0
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    churn: int = 0
    retry_after: int = 1
    quota: tuple[Window, ...] = ()
    quota_headers: bool = False
    slow_body: float = 0.0
    log: bool = False


class ServeFlags(msgspec.Struct, frozen=True):
    """``emulator serve``'s options, as typed (``bound`` makes each a typer option)."""

    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1"
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = (
        8080
    )
    bulks: Annotated[
        int, typer.Option("--bulks", help="How many seeded bulk processes (each identity's).")
    ] = 300
    identities: Annotated[
        int,
        typer.Option(
            "--identities",
            help="How many identities, each with its own bulks: corporate:1001, consumer:2001, "
            "corporate:1002, ... in turn.",
            metavar="N",
        ),
    ] = 3
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 20261128
    pace: Annotated[
        float, typer.Option("--pace", help="Operations per second of an executed bulk.")
    ] = 2.0
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", help="Added latency per request.")
    ] = 0.0
    fail_rate: Annotated[
        float, typer.Option("--fail-rate", help="Share of requests answered 503 with Retry-After.")
    ] = 0.0
    throttle_rate: Annotated[
        float,
        typer.Option(
            "--throttle-rate", help="Share answered as throttled (429, or 409 TOO_MANY_REQUESTS)."
        ),
    ] = 0.0
    drop_rate: Annotated[
        float, typer.Option("--drop-rate", help="Share of connections closed without an answer.")
    ] = 0.0
    churn: Annotated[
        int, typer.Option("--churn", help="New bulks inserted at the top before each list request.")
    ] = 0
    retry_after: Annotated[
        int,
        typer.Option(
            "--retry-after", help="Seconds in Retry-After / x-ratelimit-reset of fault answers."
        ),
    ] = 1
    quota: Annotated[
        str,
        typer.Option(
            "--quota",
            help="Fixed request windows, N/WINDOW[,N/WINDOW...], e.g. 100/60s,1000/3600s.",
        ),
    ] = ""
    quota_headers: Annotated[
        bool,
        typer.Option("--quota-headers", help="Send x-ratelimit-limit/-reset with quota answers."),
    ] = False
    slow_body: Annotated[
        float, typer.Option("--slow-body", help="Seconds between the bytes of each answer body.")
    ] = 0.0
    log: Annotated[bool, typer.Option("--log", help="Log each request to stderr.")] = False


NO_SERVE_FLAGS = ServeFlags()
MAX_IDENTITIES = 100_000


def parse(ctx: Context, *, flags: ServeFlags = NO_SERVE_FLAGS) -> ServeOptions:
    """The arguments of ``emulator serve``, checked."""
    from bulkctl.emulator.quota import parse_quota

    try:
        windows = parse_quota(flags.quota) if flags.quota else ()
    except ValueError as exc:
        raise UsageError(f"--quota: {exc}") from exc
    if flags.slow_body < 0:
        raise UsageError(f"--slow-body cannot be negative (got {flags.slow_body})")
    options = ServeOptions(**{**msgspec.structs.asdict(flags), "quota": windows})
    for name, rate in (
        ("--fail-rate", options.fail_rate),
        ("--throttle-rate", options.throttle_rate),
        ("--drop-rate", options.drop_rate),
    ):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"{name} must be from 0 to 1 (got {rate})")
    if min(options.bulks, options.churn, options.latency_ms, options.pace, options.retry_after) < 0:
        raise UsageError(
            "--bulks, --churn, --latency-ms, --pace and --retry-after cannot be negative"
        )
    if not 1 <= options.identities <= MAX_IDENTITIES:
        raise UsageError(
            f"--identities must be from 1 to {MAX_IDENTITIES} (got {options.identities})"
        )
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535 (got {options.port})")
    return options


def run(ctx: Context, options: ServeOptions) -> int:
    """Serve until Ctrl-C; prints the base URLs and the demo credentials first."""
    # the emulator is imported only here: this command and bulkctl.demo are its only users
    from bulkctl.emulator.app import DEMO_API_KEY, DEMO_EMAIL, DEMO_PASSWORD, Emulator, Faults
    from bulkctl.emulator.server import EmulatorHTTPServer
    from bulkctl.emulator.state import EmulatorState

    faults = Faults(
        latency_ms=options.latency_ms,
        fail_rate=options.fail_rate,
        throttle_rate=options.throttle_rate,
        drop_rate=options.drop_rate,
        churn=options.churn,
        retry_after=options.retry_after,
        quota=options.quota,
        quota_headers=options.quota_headers,
        slow_body=options.slow_body,
    )
    emulator = Emulator(
        EmulatorState(bulks=options.bulks, seed=options.seed, now=time.time(), pace=options.pace),
        faults=faults,
        identities=options.identities,
    )
    logger = ctx.say if options.log else None  # whole lines: requests are served at once
    try:
        server = EmulatorHTTPServer(emulator, options.host, options.port, log=logger)
    except OSError as exc:
        raise UsageError(f"cannot listen on {options.host}:{options.port}: {exc.strerror}") from exc
    root = server.root_url
    kind, ident = emulator.identities[0]
    named = [f"{k.lower()}:{i}" for k, i in emulator.identities[:3]]
    more = len(emulator.identities) - len(named)
    served = ", ".join(named) + (f", ... ({more:,} more)" if more else "")
    print(
        f"bulkctl emulator listening on {root}\n"
        f"  Multi API:       {root}/multi\n"
        f"  Back Office API: {root}/multi/backoffice\n"
        f"  api key:  {DEMO_API_KEY}\n"
        f"  email:    {DEMO_EMAIL}   password: {DEMO_PASSWORD}\n"
        f"  identities: {served}\n"
        "Try (each command on a line of its own, to copy whole):\n"
        f"bulkctl --profile emu --base-url {root}/multi/backoffice auth login"
        f" --identity {kind.lower()}:{ident}\n"
        "bulkctl --profile emu list\n"
        "Press Ctrl-C to stop.",
        file=ctx.stdout,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


@bound
def command(ctx: typer.Context, flags: ServeFlags = NO_SERVE_FLAGS) -> None:
    """Serve the emulator on HOST:PORT until Ctrl-C; prints its base URLs and demo credentials."""
    invoke(ctx, lambda c: parse(c, flags=flags), run)
