"""``bulkctl auth token``: print the token in force, for scripts."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.auth import not_logged_in, unknown_profile
from bulkctl.cli.invoke import invoke
from bulkctl.context import Context


@dataclass
class TokenOptions:
    pass


def parse(ctx: Context) -> TokenOptions:
    """``auth token`` takes no arguments."""
    return TokenOptions()


def run(ctx: Context, options: TokenOptions) -> int:
    """Print the token; not logged in is exit 3."""
    settings = ctx.settings()
    if not settings.known:  # a mistyped profile, whatever token the environment holds
        raise unknown_profile(settings)
    token = settings.get("auth_token")
    if not token:
        raise not_logged_in(settings)
    print(token, file=ctx.stdout)
    return 0


def command(ctx: typer.Context) -> None:
    """Print the token in force, for scripts (the only command that shows a secret)."""
    invoke(ctx, parse, run)
