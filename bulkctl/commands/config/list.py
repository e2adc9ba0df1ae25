"""``bulkctl config list``: every setting in force, masked where secret, with its source."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.auth import unknown_profile
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import JsonObjectOption
from bulkctl.config import SETTINGS, shown
from bulkctl.context import Context
from bulkctl.output.render import RenderOptions, render_record


@dataclass
class ConfigListOptions:
    as_json: bool = False


def parse(ctx: Context, *, json_flag: bool = False) -> ConfigListOptions:
    """The arguments of ``config list``."""
    return ConfigListOptions(as_json=json_flag)


def run(ctx: Context, options: ConfigListOptions) -> int:
    """Write each setting, its value (secrets masked) and where it comes from."""
    settings = ctx.settings()
    if not settings.known:  # a mistyped profile: not the defaults under its name
        raise unknown_profile(settings)
    rows = []
    for name in SETTINGS:
        value = shown(name, settings.get(name))  # secrets masked, a store's password hidden
        rows.append({"setting": name, "value": value, "source": settings.sources[name]})
    if options.as_json:
        render_record(
            {"profile": settings.profile, "settings": rows},
            RenderOptions(fmt="json", fields=(), whole_objects=True),
            ctx.stdout,
        )
        return 0
    print(f"# profile {settings.profile} ({ctx.store.path})", file=ctx.stdout)
    for row in rows:
        print(f"{row['setting']:<16} {row['value'] or '-':<40} {row['source']}", file=ctx.stdout)
    return 0


def command(ctx: typer.Context, json_flag: JsonObjectOption = False) -> None:
    """Every setting of the profile in force, its value (secrets masked) and where it comes from."""
    invoke(ctx, lambda c: parse(c, json_flag=json_flag), run)
