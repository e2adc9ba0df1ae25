"""``bulkctl config set KEY [VALUE]``: change a setting of the profile in force.

Secrets (api_key, auth_token, a store URL with a password) are never taken from the command
line: their value is read from a hidden prompt or stdin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import SettingArgument
from bulkctl.config import DEMO_PROFILE, profile_name, setting_named, shown, validate_value
from bulkctl.context import Context
from bulkctl.errors import UsageError


@dataclass
class SetOptions:
    key: str
    value: str | None  # None: read it (a secret) from a hidden prompt or stdin


def parse(ctx: Context, *, key: str, value: str | None = None) -> SetOptions:
    """The setting's name, and a value unless it is a secret."""
    setting = setting_named(key)
    if setting.secret:
        if value is not None:
            raise UsageError(
                f"{key} is a secret: it is not taken from the command line (it would leak into ps "
                "and shell history); type it after the command below, or pipe it on stdin",
                hint="run:",
                suggest=("config", "set", key),
            )
    elif value is not None and setting.kind == "store" and shown(key, value) != value:
        raise UsageError(
            f"{key} holds a password: it is not taken from the command line (it would leak into "
            "ps and shell history); type the URL after the command below, or pipe it on stdin",
            hint="run:",
            suggest=("config", "set", key),
        )
    elif value is None and setting.kind != "store":
        raise UsageError(f"give a value: bulkctl config set {key} VALUE")
    return SetOptions(key=key, value=value)


def run(ctx: Context, options: SetOptions) -> int:
    """Check the value and store it in the profile in force (never in the demo)."""
    key, value = options.key, options.value
    if value is None:
        if ctx.stdin_tty and not ctx.options.no_input:
            value = ctx.secret(key)
        else:
            value = ctx.stdin.readline().strip()
    checked = validate_value(key, value)
    profile = profile_name(ctx.options.profile, ctx.env, ctx.store)
    if profile == DEMO_PROFILE:
        raise UsageError("the demo profile is built in and cannot be changed")
    ctx.store.set_values(profile, {key: checked})
    ctx.note(f"{key} set in profile {profile}")
    return 0


def command(
    ctx: typer.Context,
    key: SettingArgument,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value. Not for secrets: they are read from a hidden prompt or stdin.",
            metavar="VALUE",
        ),
    ] = None,
) -> None:
    """Set a setting in the profile in force."""
    invoke(ctx, lambda c: parse(c, key=key, value=value), run)
