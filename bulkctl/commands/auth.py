"""``bulkctl auth``: log in (either flow), see where credentials come from, log out, print the token.

Secrets are never taken from flags (they leak into ``ps`` and shell history): the API key
and password come from a hidden prompt on a terminal, or from the first lines of stdin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bulkctl.context import Context

app = typer.Typer(help="Log in, check and drop credentials.", no_args_is_help=True)


@dataclass
class LoginOptions:
    email: str | None
    identity: str | None
    environment: str | None


@app.command("login")
def login_command(
    ctx: typer.Context,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="Multi API: log in with this email and a password.", metavar="EMAIL"
        ),
    ] = None,
    identity: Annotated[
        str | None,
        typer.Option(
            "--identity",
            help="Back Office API: get an access token for TYPE:ID (corporate:123 or consumer:456).",
            metavar="TYPE:ID",
        ),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment", help="sandbox or production; saved in the profile.", metavar="ENV"
        ),
    ] = None,
) -> None:
    """Log in and store the token (never the password) in the profile.

    The API key, and for the Multi API the password, are read from a hidden prompt on a
    terminal, or from the first lines of stdin (key, then password). Values already in
    BULKCTL_API_KEY or BULKCTL_PASSWORD are not asked for.
    """
    from bulkctl.config import parse_identity, validate_value
    from bulkctl.context import Context
    from bulkctl.errors import UsageError

    if email is not None and identity is not None:
        raise UsageError("give --email (Multi API) or --identity (Back Office API), not both")
    if identity is not None:
        parse_identity(identity)
    if environment is not None:
        environment = validate_value("environment", environment)
    command_ctx = Context.from_process(ctx.obj)
    try:
        run_login(
            command_ctx, LoginOptions(email=email, identity=identity, environment=environment)
        )
    finally:
        command_ctx.close()


def _read_line(ctx: Context, label: str, secret: bool) -> str:
    if ctx.stdin_tty:
        if ctx.options.no_input:
            from bulkctl.errors import UsageError

            raise UsageError(
                f"{label} needed, and --no-input forbids asking",
                hint="pipe it on stdin, or set it in the environment",
            )
        value = ctx.secret(label) if secret else ctx.ask(label)
    else:
        value = ctx.stdin.readline()
    value = value.strip()
    if not value:
        from bulkctl.errors import UsageError

        raise UsageError(
            f"no {label.lower()} given", hint="type it at the prompt, or pipe it on stdin"
        )
    return value


def run_login(ctx: Context, options: LoginOptions) -> None:
    from bulkctl.auth import login
    from bulkctl.config import DEMO_PROFILE, SETTINGS
    from bulkctl.errors import UsageError

    settings = ctx.settings()
    if settings.profile == DEMO_PROFILE:
        raise UsageError("the demo profile needs no login", hint="try: bulkctl --profile demo list")
    if options.environment is not None:
        settings.values["environment"] = options.environment
    identity = options.identity
    email = options.email
    if identity is None and email is None:
        if settings.get("identity") and (settings.api == "backoffice" or not settings.get("email")):
            identity = settings.get("identity")
        else:
            email = settings.get("email")
    if identity is not None:
        settings.values["api"] = "backoffice"
    elif email is None:
        if not ctx.stdin_tty or ctx.options.no_input:
            raise UsageError(
                "no email to log in with",
                hint="pass --email EMAIL, or --identity TYPE:ID for the Back Office API",
            )
        email = ctx.ask("Email").strip()
    if identity is None:
        settings.values["api"] = "multi"
    api_key = ctx.env.get(SETTINGS["api_key"].env or "") or _read_line(ctx, "API key", secret=True)
    password: str | None = None
    if identity is None:
        password = settings.password or _read_line(ctx, "Password", secret=True)
    token = login(ctx, settings, api_key=api_key, email=email, password=password, identity=identity)
    stored: dict[str, str | None] = {
        "api": settings.values["api"],
        "api_key": api_key,
        "auth_token": token,
        "email": email if identity is None else None,
        "identity": identity.lower() if identity else None,
    }
    if options.environment is not None:
        stored["environment"] = options.environment
    if settings.sources.get("base_url", "").startswith(("flag", "env")):
        stored["base_url"] = settings.get("base_url")
    ctx.store.set_values(settings.profile, stored)
    who = identity or email
    ctx.note(f"Logged in to {settings.where()} as {who}; token saved in {ctx.store.path}")


@app.command("status")
def status_command(
    ctx: typer.Context,
    json_flag: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not check the token with a request.")
    ] = False,
) -> None:
    """Show the profile, environment, base URL, where each credential comes from (masked),
    and whether the token works now (one small request). Exit 3 when it does not, 6 when the
    network fails."""
    from bulkctl.context import Context

    command_ctx = Context.from_process(ctx.obj)
    try:
        code = run_status(command_ctx, as_json=json_flag, check=not offline)
    finally:
        command_ctx.close()
    raise typer.Exit(code)


def run_status(ctx: Context, *, as_json: bool, check: bool) -> int:
    from bulkctl.config import SETTINGS, mask
    from bulkctl.errors import BulkctlError, ExitCode

    settings = ctx.settings()
    works: bool | None = None
    problem = ""
    failed = ExitCode.AUTH
    if check:
        try:
            ctx.client().list_bulks(offset=0, limit=1)
            works = True
        except BulkctlError as exc:
            works = False
            problem = exc.message
            failed = exc.exit_code  # 3 for a token that fails; 6 when the network is down
    env_name = "production" if settings.is_production else settings.get("environment")
    info: dict[str, object] = {
        "profile": settings.profile,
        "environment": "demo (in-process emulator)" if settings.in_process else env_name,
        "api": settings.api,
        "baseUrl": settings.base_url,
        "production": settings.is_production,
        "credentials": {
            name: {
                "value": mask(settings.get(name)) if SETTINGS[name].secret else settings.get(name),
                "source": settings.sources[name],
            }
            for name in ("api_key", "auth_token", "email", "identity")
        },
        "tokenWorks": works,
    }
    if problem:
        info["problem"] = problem
    if as_json:
        print(json.dumps(info, indent=2), file=ctx.stdout)
    else:
        lines = [
            f"profile      {settings.profile}",
            f"environment  {info['environment']}"
            + ("   <-- PRODUCTION" if settings.is_production else ""),
            f"api          {settings.api}",
            f"base URL     {settings.base_url}",
        ]
        creds = info["credentials"]
        assert isinstance(creds, dict)
        for name, entry in creds.items():
            value = entry["value"] or "-"
            lines.append(f"{name:<12} {value}   ({entry['source']})")
        if works is not None:
            verdict = "does NOT work" if failed == ExitCode.AUTH else "could not be checked"
            lines.append("token        " + ("works" if works else f"{verdict}: {problem}"))
        print("\n".join(lines), file=ctx.stdout)
    return ExitCode.OK if works is not False else failed


@app.command("logout")
def logout_command(ctx: typer.Context) -> None:
    """Drop the stored token from the profile (the API key stays)."""
    from bulkctl.context import Context

    command_ctx = Context.from_process(ctx.obj)
    settings = command_ctx.settings()
    command_ctx.store.set_values(settings.profile, {"auth_token": None})
    command_ctx.note(f"Token removed from profile {settings.profile}.")


@app.command("token")
def token_command(ctx: typer.Context) -> None:
    """Print the token in force, for scripts (the only command that shows a secret)."""
    from bulkctl.context import Context, not_logged_in

    command_ctx = Context.from_process(ctx.obj)
    settings = command_ctx.settings()
    token = settings.get("auth_token")
    if not token:
        raise not_logged_in(settings)
    print(token, file=command_ctx.stdout)
