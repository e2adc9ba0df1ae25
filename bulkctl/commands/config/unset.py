"""``bulkctl config unset KEY``: remove a setting from the profile in force."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import SettingArgument
from bulkctl.config import profile_name, setting_named
from bulkctl.context import Context


@dataclass
class UnsetOptions:
    key: str


def parse(ctx: Context, *, key: str) -> UnsetOptions:
    """The setting's name, checked."""
    setting_named(key)
    return UnsetOptions(key=key)


def run(ctx: Context, options: UnsetOptions) -> int:
    """Remove the setting from the profile in force."""
    profile = profile_name(ctx.options.profile, ctx.env, ctx.store)
    ctx.store.set_values(profile, {options.key: None})
    ctx.note(f"{options.key} removed from profile {profile}")
    return 0


def command(ctx: typer.Context, key: SettingArgument) -> None:
    """Remove a setting from the profile in force."""
    invoke(ctx, lambda c: parse(c, key=key), run)
