"""The root app: global options, and the registry of commands.

The registry names each command's module and its one-line help, so ``bulkctl --help`` and
a run of one command import no other command's module (click's lazy-loading group
pattern, on typer's own group class). Adding a command is one file under ``commands/``
and one line in ``COMMANDS``. ``bulkctl.__main__`` holds the entry point.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.models import CommandInfo

from bulkctl import __version__
from bulkctl.cli.options import PROFILE_VALUES, Values, option
from bulkctl.context import GlobalOptions


class Lazy(msgspec.Struct, frozen=True):
    """A command known by its module (which defines ``command``) and its one-line help: the
    first paragraph of that function's docstring, on one line (a test keeps them equal)."""

    module: str
    help: str

    def load(self, name: str) -> Any:
        """Import the module and build its click command (which also takes the global
        options, hidden, so ``bulkctl list --profile demo`` works as a person types it)."""
        callback = importlib.import_module(self.module).command
        command = typer.main.get_command_from_info(
            CommandInfo(name=name, callback=callback),
            pretty_exceptions_short=True,
            rich_markup_mode=None,
        )
        command.params.extend(global_options_after_command())
        return command


def _set_global(ctx: Any, param: Any, value: Any) -> None:
    """A global option given after the command: it overrides the one given before."""
    if value is None or value is False:
        return
    options = ctx.find_root().obj
    if isinstance(options, GlobalOptions):
        setattr(options, param.name, value)


def global_options_after_command() -> list[Any]:
    """The root's options that a command also accepts after its name (hidden from its help;
    the root's --help documents them once)."""

    def flag(*names: str, name: str) -> TyperOption:
        return TyperOption(
            param_decls=[name, *names],
            is_flag=True,
            default=False,
            hidden=True,
            expose_value=False,
            callback=_set_global,
        )

    from typer.main import get_click_type
    from typer.models import ParameterInfo

    def valued(*names: str, name: str, metavar: str, values: Values | None = None) -> TyperOption:
        parsed = get_click_type(annotation=str, parameter_info=ParameterInfo(parser=values))
        return TyperOption(
            param_decls=[name, *names],
            type=parsed,
            metavar=metavar,
            hidden=True,
            expose_value=False,
            callback=_set_global,
        )

    return [
        valued("--profile", name="profile", metavar="NAME", values=PROFILE_VALUES),
        valued("--base-url", name="base_url", metavar="URL"),
        flag("--debug", name="debug"),
        flag("--quiet", "-q", name="quiet"),
        flag("--no-input", name="no_input"),
        flag("--no-pager", name="no_pager"),
    ]


class LazyGroup(TyperGroup):
    """A group that imports a command's module only when that command is wanted."""

    registry: Mapping[str, Lazy | TyperGroup] = {}

    def __init__(self, *, entries: Mapping[str, Lazy | TyperGroup] | None = None, **attrs: Any):
        super().__init__(**attrs)
        self.entries: Mapping[str, Lazy | TyperGroup] = (
            entries if entries is not None else self.registry
        )

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.entries, *(name for name in self.commands if name not in self.entries)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            entry = self.entries.get(cmd_name)
            if entry is None:
                return None
            self.commands[cmd_name] = entry.load(cmd_name) if isinstance(entry, Lazy) else entry
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of commands from the registry's one-line help: nothing is imported."""
        rows = []
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        for name in names:
            entry = self.commands.get(name) or self.entries[name]
            if isinstance(entry, Lazy):
                entry = TyperCommand(name=name, help=entry.help)
            if not entry.hidden:
                rows.append((name, entry.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except typer.TyperException as exc:  # click's UsageError: no such command
            # typer would suggest from the commands built so far; suggest from the registry
            message = getattr(exc, "message", None)
            if self.suggest_commands and isinstance(message, str) and args:
                matches = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{m!r}" for m in matches)
                    exc.message = f"{message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def load_all(self, ctx: Any) -> dict[str, Any]:
        """Every command, built (for the completion and reference generators)."""
        return {name: self.get_command(ctx, name) for name in self.list_commands(ctx)}


def lazy_group(name: str, help: str, entries: Mapping[str, Lazy]) -> LazyGroup:
    """A sub-group (``auth``, ``config``, ...): a name, its help, and its lazy commands."""
    return LazyGroup(
        name=name, help=help, no_args_is_help=True, rich_markup_mode=None, entries=entries
    )


# the registry: one line a command
COMMANDS: dict[str, Lazy | TyperGroup] = {
    "list": Lazy("bulkctl.commands.list", "List bulk processes, newest first."),
    "show": Lazy(
        "bulkctl.commands.bulk.show",
        "Show one bulk: its status, progress by outcome and failures first, then its fields.",
    ),
    "operations": Lazy(
        "bulkctl.commands.bulk.operations", "List the operations of one bulk, in sequence."
    ),
    "execute": Lazy(
        "bulkctl.commands.bulk.execute",
        "Start one or more SUBMITTED bulks (asks first; moves money).",
    ),
    "submit": Lazy(
        "bulkctl.commands.bulk.submit",
        "Submit new bulks of KIND from FILE (checked first; nothing sent if any item is wrong).",
    ),
    "rerun": Lazy(
        "bulkctl.commands.bulk.rerun",
        "Submit a new bulk of the same kind from a finished bulk's failed operations.",
    ),
    "pause": Lazy("bulkctl.commands.bulk.pause", "Pause one or more RUNNING bulks (asks first)."),
    "resume": Lazy(
        "bulkctl.commands.bulk.resume", "Resume one or more PAUSED bulks (asks first; moves money)."
    ),
    "cancel": Lazy(
        "bulkctl.commands.bulk.cancel",
        "Cancel one or more RUNNING or PAUSED bulks (asks first; final).",
    ),
    "wait": Lazy(
        "bulkctl.commands.wait",
        "Wait until every bulk is final (COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED).",
    ),
    "watch": Lazy(
        "bulkctl.commands.watch",
        "Watch bulks live: a refreshing table (until Ctrl-C), or one bulk's progress.",
    ),
    "summary": Lazy(
        "bulkctl.commands.summary",
        "Count bulks per status (all seven unless --status narrows it).",
    ),
    "completion": Lazy(
        "bulkctl.commands.completion",
        "Print the completion script for SHELL (the same as completions/ in the repository).",
    ),
    "ui": Lazy(
        "bulkctl.commands.ui", "A live, keyboard-driven view of the bulks (needs the 'ui' extra)."
    ),
    "auth": lazy_group(
        "auth",
        "Log in, check and drop credentials.",
        {
            "login": Lazy(
                "bulkctl.commands.auth.login",
                "Log in and store the token (never the password) in the profile.",
            ),
            "status": Lazy(
                "bulkctl.commands.auth.status",
                "Show the profile (and why it is in force), environment, base URL, where each "
                "credential comes from "
                "(masked), and whether the token works now (one small request). Exit 3 when it "
                "does not, 6 when the network fails.",
            ),
            "logout": Lazy(
                "bulkctl.commands.auth.logout",
                "Drop the stored token from the profile (the API key stays).",
            ),
            "token": Lazy(
                "bulkctl.commands.auth.token",
                "Print the token in force, for scripts (the only command that shows a secret).",
            ),
        },
    ),
    "config": lazy_group(
        "config",
        "Read and change settings of a profile.",
        {
            "path": Lazy(
                "bulkctl.commands.config.path",
                "Print the config file's path (it may not exist yet).",
            ),
            "list": Lazy(
                "bulkctl.commands.config.list",
                "Every setting of the profile in force, its value (secrets masked) and where it "
                "comes from.",
            ),
            "get": Lazy(
                "bulkctl.commands.config.get",
                "Print one setting's value in force (secrets masked; see 'auth token').",
            ),
            "set": Lazy("bulkctl.commands.config.set", "Set a setting in the profile in force."),
            "unset": Lazy(
                "bulkctl.commands.config.unset", "Remove a setting from the profile in force."
            ),
            "use": Lazy(
                "bulkctl.commands.config.use",
                "Use PROFILE when neither --profile nor BULKCTL_PROFILE names one (sets "
                "default_profile; 'default' goes back to the built-in default).",
            ),
            "profiles": Lazy(
                "bulkctl.commands.config.profiles",
                "Print the profile names, one a line (demo is built in).",
            ),
            "reset-limits": Lazy(
                "bulkctl.commands.config.reset_limits",
                "Forget the request windows and quota waits learned from the API's answers "
                "(every host and key); the rate_limit setting stays.",
            ),
        },
    ),
    "emulator": lazy_group(
        "emulator",
        "Run the built-in emulator of the Weavr bulk endpoints.",
        {
            "serve": Lazy(
                "bulkctl.commands.emulator.serve",
                "Serve the emulator on HOST:PORT until Ctrl-C; prints its base URLs and demo "
                "credentials.",
            ),
        },
    ),
}


class RootGroup(LazyGroup):
    registry = COMMANDS


app = typer.Typer(
    name="bulkctl",
    cls=RootGroup,
    help="Watch and manage bulk processes on the Weavr Multi API.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bulkctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        option(
            "--profile",
            help="Profile to use (env BULKCTL_PROFILE; 'demo' is built in).",
            metavar="NAME",
            values=PROFILE_VALUES,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API root URL; overrides the profile's environment and API.",
            metavar="URL",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Log each request to stderr (secrets redacted); show tracebacks."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No notes on stderr; errors still show.")
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt (also env BULKCTL_NO_INPUT=1).")
    ] = False,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Never page long output on a terminal (else $BULKCTL_PAGER, $PAGER or less -FRX).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Watch and manage bulk processes on the Weavr Multi API."""
    ctx.obj = GlobalOptions(
        profile=profile,
        base_url=base_url,
        debug=debug,
        quiet=quiet,
        no_input=no_input,
        no_pager=no_pager,
    )


def root_command() -> Any:
    """The root click group, built from the app."""
    return typer.main.get_command(app)
