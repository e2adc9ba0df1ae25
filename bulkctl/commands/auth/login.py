"""``bulkctl auth login``: log in with either flow and store the token in the profile.

Secrets are never taken from flags (they leak into ``ps`` and shell history): the API key
and password come from a hidden prompt on a terminal, or from the first lines of stdin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from bulkctl.auth import login, login_command
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import ENVIRONMENT_VALUES, IDENTITY_VALUES, option
from bulkctl.config import DEMO_PROFILE, SETTINGS, parse_identity, validate_value
from bulkctl.context import Context
from bulkctl.errors import StorageError, UsageError


@dataclass
class LoginOptions:
    email: str | None
    identity: str | None
    environment: str | None


def parse(
    ctx: Context,
    *,
    email: str | None = None,
    identity: str | None = None,
    environment: str | None = None,
) -> LoginOptions:
    """The arguments of ``auth login``, checked."""
    if email is not None and identity is not None:
        raise UsageError("give --email (Multi API) or --identity (Back Office API), not both")
    if identity is not None:
        parse_identity(identity)
    if environment is not None:
        environment = validate_value("environment", environment)
    return LoginOptions(email=email, identity=identity, environment=environment)


def _read_line(ctx: Context, label: str, secret: bool) -> str:
    if ctx.stdin_tty:
        if ctx.options.no_input:
            raise UsageError(
                f"{label} needed, and --no-input forbids asking",
                hint="pipe it on stdin, or set it in the environment",
            )
        value = ctx.secret(label) if secret else ctx.ask(label)
    else:
        value = ctx.stdin.readline()
    value = value.strip()
    if not value:
        raise UsageError(
            f"no {label.lower()} given", hint="type it at the prompt, or pipe it on stdin"
        )
    return value


def run(ctx: Context, options: LoginOptions) -> int:
    """Get a token with the flow the options and the profile name, and store it."""
    settings = ctx.settings()
    if settings.profile == DEMO_PROFILE:
        raise UsageError("the demo profile needs no login", hint="try: bulkctl --profile demo list")
    if options.environment is not None:
        settings.values["environment"] = options.environment
        settings.sources["environment"] = "flag --environment"
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
    who = identity or email
    try:
        ctx.store.set_values(settings.profile, stored)
    except StorageError as exc:  # the server issued a token: say plainly it was not kept
        raise StorageError(
            f"logged in as {who}, but the token was not saved: {exc.cause}",
            hint="nothing was stored; free space or fix the folder's permissions, then run "
            f"{login_command(settings, email=email, identity=identity)} again",
        ) from exc
    ctx.note(f"Logged in to {settings.where()} as {who}; token saved in {ctx.store.path}")
    return 0


def command(
    ctx: typer.Context,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="Multi API: log in with this email and a password.", metavar="EMAIL"
        ),
    ] = None,
    identity: Annotated[
        str | None,
        option(
            "--identity",
            help="Back Office API: get an access token for TYPE:ID (corporate:123 or consumer:456).",
            metavar="TYPE:ID",
            values=IDENTITY_VALUES,
        ),
    ] = None,
    environment: Annotated[
        str | None,
        option(
            "--environment",
            help="sandbox or production; saved in the profile.",
            metavar="ENV",
            values=ENVIRONMENT_VALUES,
        ),
    ] = None,
) -> None:
    """Log in and store the token (never the password) in the profile.

    The API key, and for the Multi API the password, are read from a hidden prompt on a
    terminal, or from the first lines of stdin (key, then password). Values already in
    BULKCTL_API_KEY or BULKCTL_PASSWORD are not asked for.
    """
    invoke(ctx, lambda c: parse(c, email=email, identity=identity, environment=environment), run)
