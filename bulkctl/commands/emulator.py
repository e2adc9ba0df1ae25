"""``bulkctl emulator serve``: the built-in emulator over real HTTP, for rehearsing scripts."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Run the built-in emulator of the Weavr bulk endpoints.", no_args_is_help=True
)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).")
    ] = 8080,
    bulks: Annotated[int, typer.Option("--bulks", help="How many seeded bulk processes.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 20261128,
    pace: Annotated[
        float, typer.Option("--pace", help="Operations per second of an executed bulk.")
    ] = 2.0,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", help="Added latency per request.")
    ] = 0.0,
    fail_rate: Annotated[
        float, typer.Option("--fail-rate", help="Share of requests answered 503 with Retry-After.")
    ] = 0.0,
    throttle_rate: Annotated[
        float,
        typer.Option(
            "--throttle-rate", help="Share answered as throttled (429, or 409 TOO_MANY_REQUESTS)."
        ),
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option("--drop-rate", help="Share of connections closed without an answer.")
    ] = 0.0,
    churn: Annotated[
        int, typer.Option("--churn", help="New bulks inserted at the top before each list request.")
    ] = 0,
    retry_after: Annotated[
        int,
        typer.Option(
            "--retry-after", help="Seconds in Retry-After / x-ratelimit-reset of fault answers."
        ),
    ] = 1,
    quota: Annotated[
        str,
        typer.Option(
            "--quota",
            help="Fixed request windows, N/WINDOW[,N/WINDOW...], e.g. 100/60s,1000/3600s.",
        ),
    ] = "",
    quota_headers: Annotated[
        bool,
        typer.Option("--quota-headers", help="Send x-ratelimit-limit/-reset with quota answers."),
    ] = False,
    slow_body: Annotated[
        float, typer.Option("--slow-body", help="Seconds between the bytes of each answer body.")
    ] = 0.0,
    log: Annotated[bool, typer.Option("--log", help="Log each request to stderr.")] = False,
) -> None:
    """Serve the emulator on HOST:PORT until Ctrl-C; prints its base URLs and demo credentials."""
    import sys
    import time

    from bulkctl.emulator.app import (
        DEMO_API_KEY,
        DEMO_EMAIL,
        DEMO_IDENTITIES,
        DEMO_PASSWORD,
        Emulator,
        Faults,
    )
    from bulkctl.emulator.quota import parse_quota
    from bulkctl.emulator.server import EmulatorHTTPServer
    from bulkctl.emulator.state import EmulatorState
    from bulkctl.errors import UsageError

    for name, rate in (
        ("--fail-rate", fail_rate),
        ("--throttle-rate", throttle_rate),
        ("--drop-rate", drop_rate),
    ):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"{name} must be from 0 to 1 (got {rate})")
    if bulks < 0 or churn < 0 or latency_ms < 0 or pace < 0 or retry_after < 0:
        raise UsageError(
            "--bulks, --churn, --latency-ms, --pace and --retry-after cannot be negative"
        )
    try:
        windows = parse_quota(quota) if quota else ()
    except ValueError as exc:
        raise UsageError(f"--quota: {exc}") from exc
    if slow_body < 0:
        raise UsageError(f"--slow-body cannot be negative (got {slow_body})")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535 (got {port})")
    faults = Faults(
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        throttle_rate=throttle_rate,
        drop_rate=drop_rate,
        churn=churn,
        retry_after=retry_after,
        quota=windows,
        quota_headers=quota_headers,
        slow_body=slow_body,
    )
    emulator = Emulator(
        EmulatorState(bulks=bulks, seed=seed, now=time.time(), pace=pace), faults=faults
    )
    logger = (lambda line: print(line, file=sys.stderr, flush=True)) if log else None
    try:
        server = EmulatorHTTPServer(emulator, host, port, log=logger)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    root = server.root_url
    kind, ident = DEMO_IDENTITIES[0]
    print(
        f"bulkctl emulator listening on {root}\n"
        f"  Multi API:       {root}/multi\n"
        f"  Back Office API: {root}/multi/backoffice\n"
        f"  api key:  {DEMO_API_KEY}\n"
        f"  email:    {DEMO_EMAIL}   password: {DEMO_PASSWORD}\n"
        f"  identity: {kind.lower()}:{ident}\n"
        f"Try: bulkctl --profile emu --base-url {root}/multi/backoffice auth login"
        f" --identity {kind.lower()}:{ident}\n"
        "     bulkctl --profile emu list\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
