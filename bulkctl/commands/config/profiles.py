"""``bulkctl config profiles``: the profile names (the shells' completion asks this)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.config import DEMO_PROFILE
from bulkctl.context import Context


@dataclass
class ProfilesOptions:
    pass


def parse(ctx: Context) -> ProfilesOptions:
    """``config profiles`` takes no arguments."""
    return ProfilesOptions()


def run(ctx: Context, options: ProfilesOptions) -> int:
    """Print the profile names, demo first."""
    names = [DEMO_PROFILE, *[n for n in ctx.store.profile_names() if n != DEMO_PROFILE]]
    print("\n".join(names), file=ctx.stdout)
    return 0


def command(ctx: typer.Context) -> None:
    """Print the profile names, one a line (demo is built in)."""
    invoke(ctx, parse, run)
