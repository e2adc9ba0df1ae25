"""``bulkctl config use PROFILE``: the profile used when neither --profile nor
BULKCTL_PROFILE names one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import PROFILE_VALUES, argument
from bulkctl.config import DEFAULT_PROFILE, DEMO_PROFILE, PROFILE_ENV
from bulkctl.context import Context
from bulkctl.errors import UsageError, closest, plain_command


@dataclass
class UseOptions:
    profile: str


def parse(ctx: Context, *, profile: str) -> UseOptions:
    """The profile's name: the demo, the built-in default, or one in the config file."""
    name = profile.strip()
    known = [DEMO_PROFILE, *(n for n in ctx.store.profile_names() if n != DEMO_PROFILE)]
    if name != DEFAULT_PROFILE and name not in known:
        near = closest(name, [*known, DEFAULT_PROFILE])
        guess = f"did you mean {near}? " if near else ""
        raise UsageError(
            f"unknown profile {profile!r} (known: {', '.join([*known, DEFAULT_PROFILE])})",
            hint=f"{guess}a profile is made by logging in with it: "
            + plain_command("--profile", name, "auth", "login"),
        )
    return UseOptions(profile=name)


def run(ctx: Context, options: UseOptions) -> int:
    """Write default_profile (the built-in default removes it) and say what still wins."""
    name = options.profile
    ctx.store.use_profile(None if name == DEFAULT_PROFILE else name)
    ctx.note(f"profile {name} is now used by default ({ctx.store.path})")
    if ctx.options.profile or ctx.env.get(PROFILE_ENV):
        by = "--profile" if ctx.options.profile else PROFILE_ENV
        ctx.note(f"{by} still wins over it, as here")
    return 0


def command(
    ctx: typer.Context,
    name: Annotated[  # not "profile": the hidden global --profile after the command is that
        str,
        argument(
            help="A profile's name (see config profiles).",
            metavar="PROFILE",
            values=PROFILE_VALUES,
        ),
    ],
) -> None:
    """Use PROFILE when neither --profile nor BULKCTL_PROFILE names one (sets
    default_profile; 'default' goes back to the built-in default)."""
    invoke(ctx, lambda c: parse(c, profile=name), run)
