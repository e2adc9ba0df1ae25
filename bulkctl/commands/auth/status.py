"""``bulkctl auth status``: the profile, where each credential comes from, and whether the
token works now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bulkctl.auth import unknown_profile
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import JsonObjectOption
from bulkctl.config import SETTINGS, mask
from bulkctl.context import Context
from bulkctl.errors import BulkctlError, ExitCode
from bulkctl.output.render import RenderOptions, render_record


@dataclass
class StatusOptions:
    as_json: bool = False
    check: bool = True  # one small request to see whether the token works


def parse(ctx: Context, *, json_flag: bool = False, offline: bool = False) -> StatusOptions:
    """The arguments of ``auth status``."""
    return StatusOptions(as_json=json_flag, check=not offline)


def run(ctx: Context, options: StatusOptions) -> int:
    """Write the status; 3 when the token does not work."""
    settings = ctx.settings()
    if not settings.known:  # a mistyped profile, even --offline: not the defaults under its name
        raise unknown_profile(settings)
    works: bool | None = None
    failed = ExitCode.AUTH
    problem = ""
    if options.check:
        try:
            ctx.client().list_bulks(offset=0, limit=1)
            works = True
        except BulkctlError as exc:
            works = False
            failed = exc.exit_code  # 3 for a token that fails; 6 when the network is down
            problem = exc.message
    env_name = settings.environment  # the verdict every confirmation and the ui show
    credentials: dict[str, dict[str, Any]] = {
        name: {
            "value": mask(settings.get(name)) if SETTINGS[name].secret else settings.get(name),
            "source": settings.sources[name],
        }
        for name in ("api_key", "auth_token", "email", "identity")
    }
    info: dict[str, Any] = {
        "profile": settings.profile,
        "profileSource": settings.profile_source,
        "environment": "demo (in-process emulator)" if settings.in_process else env_name,
        "api": settings.api,
        "baseUrl": settings.base_url,
        "production": settings.is_production,
        "credentials": credentials,
        "tokenWorks": works,
    }
    if problem:
        info["problem"] = problem
    if options.as_json:
        render_record(info, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout)
    else:
        lines = [
            f"profile      {settings.profile}   ({settings.profile_source})",
            f"environment  {info['environment']}"
            + ("   <-- PRODUCTION" if settings.is_production else ""),
            f"api          {settings.api}",
            f"base URL     {settings.base_url}",
        ]
        for name, entry in credentials.items():
            value = entry["value"] or "-"
            lines.append(f"{name:<12} {value}   ({entry['source']})")
        if works is not None:
            verdict = "does NOT work" if failed == ExitCode.AUTH else "could not be checked"
            lines.append("token        " + ("works" if works else f"{verdict}: {problem}"))
        print("\n".join(lines), file=ctx.stdout)
    return ExitCode.OK if works is not False else failed


def command(
    ctx: typer.Context,
    json_flag: JsonObjectOption = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not check the token with a request.")
    ] = False,
) -> None:
    """Show the profile (and why it is in force), environment, base URL, where each
    credential comes from (masked), and whether the token works now (one small request).
    Exit 3 when it does not, 6 when the network fails."""
    invoke(ctx, lambda c: parse(c, json_flag=json_flag, offline=offline), run)
