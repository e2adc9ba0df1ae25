"""``bulkctl auth logout``: drop the stored token (the API key stays)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.context import Context


@dataclass
class LogoutOptions:
    pass


def parse(ctx: Context) -> LogoutOptions:
    """``auth logout`` takes no arguments."""
    return LogoutOptions()


def run(ctx: Context, options: LogoutOptions) -> int:
    """Remove the token from the profile in force."""
    settings = ctx.settings()
    ctx.store.set_values(settings.profile, {"auth_token": None})
    ctx.note(f"Token removed from profile {settings.profile}.")
    return 0


def command(ctx: typer.Context) -> None:
    """Drop the stored token from the profile (the API key stays)."""
    invoke(ctx, parse, run)
