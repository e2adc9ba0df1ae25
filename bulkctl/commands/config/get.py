"""``bulkctl config get KEY``: one setting's value in force."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.auth import unknown_profile
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import SettingArgument
from bulkctl.config import setting_named, shown
from bulkctl.context import Context
from bulkctl.errors import ExitCode


@dataclass
class GetOptions:
    key: str


def parse(ctx: Context, *, key: str) -> GetOptions:
    """The setting's name, checked."""
    setting_named(key)
    return GetOptions(key=key)


def run(ctx: Context, options: GetOptions) -> int:
    """Print the value (masked when secret); exit 1 when it is not set."""
    settings = ctx.settings()
    if not settings.known:  # a mistyped profile: not the defaults under its name
        raise unknown_profile(settings)
    value = settings.get(options.key)
    if value is None:
        return ExitCode.ERROR
    print(shown(options.key, value), file=ctx.stdout)
    return 0


def command(ctx: typer.Context, key: SettingArgument) -> None:
    """Print one setting's value in force (secrets masked; see 'auth token')."""
    invoke(ctx, lambda c: parse(c, key=key), run)
