"""``bulkctl config``: read and change profile settings, and find the file.

Secrets (api_key, auth_token) are never shown in full and never taken from the command
line: ``config set api_key`` reads the value from a hidden prompt or stdin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bulkctl.context import Context

app = typer.Typer(help="Read and change settings of a profile.", no_args_is_help=True)

KEY_HELP = "Setting name: environment, api, base_url, api_key, auth_token, email, identity, ca_bundle, connect_timeout, read_timeout, retries, concurrency, request_timeout, rate_limit, quota_wait."


def _context(ctx: typer.Context) -> Context:
    from bulkctl.context import Context

    return Context.from_process(ctx.obj)


@app.command("path")
def path_command(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet)."""
    command_ctx = _context(ctx)
    print(command_ctx.store.path, file=command_ctx.stdout)


@app.command("list")
def list_command(
    ctx: typer.Context,
    json_flag: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Every setting of the profile in force, its value (secrets masked) and where it comes from."""
    from bulkctl.config import SETTINGS, mask

    command_ctx = _context(ctx)
    settings = command_ctx.settings()
    rows = []
    for name, setting in SETTINGS.items():
        value = settings.get(name)
        shown = mask(value) if setting.secret else (value or "")
        rows.append({"setting": name, "value": shown, "source": settings.sources[name]})
    if json_flag:
        print(
            json.dumps({"profile": settings.profile, "settings": rows}, indent=2),
            file=command_ctx.stdout,
        )
        return
    print(f"# profile {settings.profile} ({command_ctx.store.path})", file=command_ctx.stdout)
    for row in rows:
        print(
            f"{row['setting']:<16} {row['value'] or '-':<40} {row['source']}",
            file=command_ctx.stdout,
        )


@app.command("get")
def get_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=KEY_HELP, metavar="KEY")],
) -> None:
    """Print one setting's value in force (secrets masked; see 'auth token')."""
    from bulkctl.config import mask, setting_named

    command_ctx = _context(ctx)
    setting = setting_named(key)
    value = command_ctx.settings().get(key)
    if value is None:
        raise typer.Exit(1)
    print(mask(value) if setting.secret else value, file=command_ctx.stdout)


@app.command("set")
def set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=KEY_HELP, metavar="KEY")],
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value. Not for secrets: they are read from a hidden prompt or stdin.",
            metavar="VALUE",
        ),
    ] = None,
) -> None:
    """Set a setting in the profile in force."""
    from bulkctl.config import DEMO_PROFILE, profile_name, setting_named, validate_value
    from bulkctl.errors import UsageError

    command_ctx = _context(ctx)
    setting = setting_named(key)
    if setting.secret:
        if value is not None:
            raise UsageError(
                f"{key} is a secret: it is not taken from the command line (it would leak into ps and shell history)",
                hint=f"run: bulkctl config set {key}   (then type it), or pipe it on stdin",
            )
        if command_ctx.stdin_tty and not command_ctx.options.no_input:
            value = command_ctx.secret(key)
        else:
            value = command_ctx.stdin.readline().strip()
    elif value is None:
        raise UsageError(f"give a value: bulkctl config set {key} VALUE")
    checked = validate_value(key, value)
    profile = profile_name(command_ctx.options.profile, command_ctx.env)
    if profile == DEMO_PROFILE:
        raise UsageError("the demo profile is built in and cannot be changed")
    command_ctx.store.set_values(profile, {key: checked})
    command_ctx.note(f"{key} set in profile {profile}")


@app.command("unset")
def unset_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=KEY_HELP, metavar="KEY")],
) -> None:
    """Remove a setting from the profile in force."""
    from bulkctl.config import profile_name, setting_named

    command_ctx = _context(ctx)
    setting_named(key)
    profile = profile_name(command_ctx.options.profile, command_ctx.env)
    command_ctx.store.set_values(profile, {key: None})
    command_ctx.note(f"{key} removed from profile {profile}")


@app.command("profiles")
def profiles_command(ctx: typer.Context) -> None:
    """Print the profile names, one a line (demo is built in)."""
    command_ctx = _context(ctx)
    names = ["demo", *[n for n in command_ctx.store.profile_names() if n != "demo"]]
    print("\n".join(names), file=command_ctx.stdout)
