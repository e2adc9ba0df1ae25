"""Profiles and settings: the settings table, where each value comes from, and hints built
from parts.

Precedence, highest first: command-line flag > environment variable > profile > default.
The file itself (read, and written safely under a lock) is ``bulkctl.config_file``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

from bulkctl.api.wire import (
    check_base_url,
    check_credential,
    credential_problem,
    is_loopback,
    request_host,
    shown_masked,
)
from bulkctl.config_file import ConfigStore as ConfigStore  # importers take it from here too
from bulkctl.demo import DEMO_API_KEY, DEMO_BASE_URL, DEMO_TOKEN
from bulkctl.errors import UsageError
from bulkctl.pacing.store_url import check_store_url, shown_url

DEFAULT_PROFILE = "default"
DEMO_PROFILE = "demo"

ENVIRONMENTS: dict[str, str] = {
    "sandbox": "https://sandbox.weavr.io",
    "production": "https://api.weavr.io",
}
APIS: dict[str, str] = {"multi": "/multi", "backoffice": "/multi/backoffice"}
IDENTITY_TYPES = ("corporate", "consumer")


class Setting(msgspec.Struct, frozen=True):
    name: str
    help: str
    env: str | None = None
    secret: bool = False
    default: str | None = None
    choices: tuple[str, ...] | None = None
    kind: str = "text"  # text, int, float, seconds, rate, url, identity, path, store


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "environment",
            "sandbox or production",
            None,
            False,
            "sandbox",
            ("sandbox", "production"),
        ),
        Setting(
            "api",
            "multi (login with password) or backoffice (access token)",
            None,
            False,
            "multi",
            ("multi", "backoffice"),
        ),
        Setting(
            "base_url",
            "full API root; overrides environment and api",
            "BULKCTL_BASE_URL",
            kind="url",
        ),
        Setting("api_key", "the api-key header", "BULKCTL_API_KEY", secret=True),
        Setting(
            "auth_token", "the Bearer token from the last login", "BULKCTL_AUTH_TOKEN", secret=True
        ),
        Setting("email", "login email (Multi API)", "BULKCTL_EMAIL"),
        Setting(
            "identity",
            "TYPE:ID for the Back Office API, e.g. corporate:123",
            "BULKCTL_IDENTITY",
            kind="identity",
        ),
        Setting(
            "ca_bundle", "PEM file of CA certificates to trust", "BULKCTL_CA_BUNDLE", kind="path"
        ),
        Setting(
            "connect_timeout",
            "seconds to wait for a connection",
            "BULKCTL_CONNECT_TIMEOUT",
            default="5",
            kind="float",
        ),
        Setting(
            "read_timeout",
            "seconds to wait for an answer",
            "BULKCTL_READ_TIMEOUT",
            default="30",
            kind="float",
        ),
        Setting(
            "retries",
            "attempts per request, first included (1 = no retry)",
            "BULKCTL_RETRIES",
            default="4",
            kind="int",
        ),
        Setting(
            "concurrency",
            "requests in flight while paging (1 = sequential)",
            "BULKCTL_CONCURRENCY",
            default="8",
            kind="int",
        ),
        Setting(
            "request_timeout",
            "seconds one request may take in all: connect, send and the whole answer",
            "BULKCTL_REQUEST_TIMEOUT",
            default="60",
            kind="float",
        ),
        Setting(
            "rate_limit",
            "requests allowed, N/WINDOW[,N/WINDOW...]; a bare N is N a minute; 0 is no pacing",
            "BULKCTL_RATE_LIMIT",
            default="100/60s,1000/3600s",
            kind="rate",
        ),
        Setting(
            "rate_limit_store",
            "redis://HOST:6379/0 (or rediss://): the pacer's record shared by every machine; "
            "unset: the state folder",
            "BULKCTL_RATE_LIMIT_STORE",
            kind="store",
        ),
        Setting(
            "quota_wait",
            "seconds a request may wait for the API's quota (0 = fail at once)",
            "BULKCTL_QUOTA_WAIT",
            default="600",
            kind="seconds",
        ),
    )
}
# the grammar bulkctl.pacing.pacer.parse_rate_limit reads (windows up to a day)
RATE_LIMIT = re.compile(
    r"0|[1-9]\d{0,5}(/(\d+(\.\d+)?)[smhd]?)?(,[1-9]\d{0,5}(/(\d+(\.\d+)?)[smhd]?)?)*"
)
PASSWORD_ENV = "BULKCTL_PASSWORD"
PROFILE_ENV = "BULKCTL_PROFILE"


def mask(secret: str | None) -> str:
    """All but the last 4 characters hidden (all of a short secret), control characters escaped."""
    return shown_masked(secret) if secret else ""


def shown(name: str, value: str | None) -> str:
    """A setting's value as messages and ``config get/list`` show it: a secret masked, a
    store URL with its password hidden."""
    setting = SETTINGS.get(name)
    if setting is not None and setting.secret:
        return mask(value)
    if setting is not None and setting.kind == "store" and value:
        return shown_url(value)
    return value or ""


def setting_named(name: str) -> Setting:
    """The setting called ``name``, or a UsageError listing the real ones."""
    setting = SETTINGS.get(name)
    if setting is None:
        raise UsageError(f"unknown setting {name!r}", hint=f"settings are: {', '.join(SETTINGS)}")
    return setting


def validate_value(name: str, value: str) -> str:
    """Check one setting's value; returns it normalised or raises UsageError."""
    setting = setting_named(name)
    value = value.strip()
    problem = credential_problem(value, header=name != "email") if name in CREDENTIALS else None
    if problem is not None and value:  # the value is not repeated: it may be a secret
        raise UsageError(f"{name} holds {problem}, so it could never be sent in a request")
    if setting.choices is not None:
        lowered = value.lower()
        if lowered not in setting.choices:
            raise UsageError(f"{name} must be one of: {', '.join(setting.choices)} (got {value!r})")
        return lowered
    if setting.kind == "store" and value:
        try:
            return check_store_url(value)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
    if setting.kind == "url":
        check_base_url(value)
        return value.rstrip("/")
    if setting.kind == "identity":
        parse_identity(value)
        return value.lower()
    if setting.kind == "int" and (
        not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 64
    ):
        raise UsageError(f"{name} must be a whole number from 1 to 64 (got {value!r})")
    if setting.kind == "float":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1
        if not 0 < seconds <= 3600:
            raise UsageError(
                f"{name} must be a number of seconds above 0, at most 3600 (an hour) "
                f"(got {value!r})"
            )
    if setting.kind == "seconds":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1
        if not 0 <= seconds <= 86400:
            raise UsageError(
                f"{name} must be a number of seconds from 0 to 86400 (a day) (got {value!r})"
            )
    if setting.kind == "rate":
        value = value.replace(" ", "").lower()
        if not RATE_LIMIT.fullmatch(value):
            raise UsageError(
                f"{name} must be N/WINDOW[,N/WINDOW...] such as 100/60s,1000/1h, a bare N "
                f"(N a minute) or 0 (got {value!r})"
            )
    if not value:
        raise UsageError(f"{name} cannot be empty")
    return value


def parse_identity(value: str) -> tuple[str, str]:
    """'corporate:123' -> ('CORPORATE', '123')."""
    kind, sep, ident = value.strip().partition(":")
    kind = kind.strip().lower()
    ident = ident.strip()
    if not sep or kind not in IDENTITY_TYPES or not (ident.isascii() and ident.isdigit()):
        raise UsageError(
            f"invalid identity {value!r}",
            hint="write it as corporate:ID or consumer:ID, with ID in digits",
        )
    return kind.upper(), ident


CREDENTIALS = ("api_key", "auth_token", "email", "identity")
HIDDEN = "<hidden>"


@dataclass(repr=False)
class Resolved:
    """The settings in force for one command, each with where it came from."""

    profile: str
    values: dict[str, str | None]
    sources: dict[str, str]
    password: str | None = None
    demo: bool = False
    known_profiles: tuple[str, ...] = ()  # the built-in demo, then the file's profiles
    known: bool = True  # False: a profile named by --profile or the env but in no file
    profile_given: bool = True  # False: the default profile, named by neither flag nor env
    profile_source: str = "built-in default"  # why this profile: see profile_choice

    def command(self, rest: str) -> str:
        """A bulkctl command to suggest, from words written in the code (split on spaces):
        ``bulkctl --profile ops REST``. Anything from outside goes through ``suggest``."""
        return self.suggest(*rest.split())

    def suggest(self, *words: str) -> str:
        """One suggested command, built from its parts and the options in force: the
        profile (unless it is the default one by default), a ``--base-url`` flag, an
        ``--environment`` flag (``auth login``'s); every part shlex-quoted, on one line."""
        return suggested_command(self, *words)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def base_url(self) -> str:
        explicit = self.values.get("base_url")
        if explicit:
            return explicit
        env = self.values.get("environment") or "sandbox"
        api = self.values.get("api") or "multi"
        return ENVIRONMENTS[env] + APIS[api]

    @property
    def in_process(self) -> bool:
        """The demo profile without --base-url: the emulator runs inside this process."""
        return self.demo and self.sources.get("base_url", "").startswith("built-in")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def request_host(self) -> str:
        """The host requests really reach: IDNA-mapped, lower-cased, no trailing dot."""
        return request_host(self.base_url)

    @property
    def environment(self) -> str:
        """The one verdict every confirmation, ``auth status`` and the ui header show:
        demo, loopback, sandbox or production.

        Decided from the host requests really reach. An explicit ``environment =
        production`` (a profile's, or one from the environment or a flag) always makes it
        production, loopback included: an SSH tunnel to production is still production.
        A host that is neither the sandbox, nor loopback, nor the demo (a company gateway,
        say) is production, unless this profile sets ``environment = sandbox`` itself."""
        host = self.request_host
        said = self.sources.get("environment", "unset") not in ("unset", "default")
        if said and self.values.get("environment") == "production":
            return "production"
        if self.demo and host == request_host(DEMO_BASE_URL):
            return "demo"
        if is_loopback(host):
            return "loopback"
        if host == request_host(ENVIRONMENTS["sandbox"]):
            return "sandbox"
        if host == request_host(ENVIRONMENTS["production"]):
            return "production"
        explicit = self.sources.get("environment") == f"profile {self.profile}"
        if explicit and self.values.get("environment") == "sandbox":
            return "sandbox"
        return "production"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def api(self) -> str:
        explicit = self.values.get("base_url")
        if explicit and urlsplit(explicit).path.rstrip("/").endswith("/backoffice"):
            return "backoffice"
        return self.values.get("api") or "multi"

    def where(self) -> str:
        """'production (api.weavr.io, profile live)': for prompts and status lines."""
        if self.demo:
            return "the built-in demo emulator (profile demo)"
        env = self.environment
        if env == "loopback":
            env = "custom base URL"
        return f"{env} ({self.host}, profile {self.profile})"

    def __repr__(self) -> str:
        values = {
            name: HIDDEN if value and name in SETTINGS and SETTINGS[name].secret else value
            for name, value in self.values.items()
        }
        if values.get("rate_limit_store"):
            values["rate_limit_store"] = shown("rate_limit_store", values["rate_limit_store"])
        return (
            f"Resolved(profile={self.profile!r}, values={values!r}, sources={self.sources!r}, "
            f"password={HIDDEN if self.password else None}, demo={self.demo!r})"
        )

    def check_credentials(self) -> None:
        """Before any request: every credential in force can go in one (else exit 3, masked)."""
        for name in CREDENTIALS:
            value = self.values.get(name)
            if value:
                check_credential(
                    f"{name} ({self.sources.get(name, 'unset')})",
                    value,
                    secret=SETTINGS[name].secret,
                    header=name != "email",
                )

    def may_store_token(self, used: tuple[str, ...]) -> bool:
        """True when a token got with the credentials ``used`` may be written to the profile.

        Only when each of them came from this profile and the base URL is the profile's own:
        a token got with anything from the environment or a flag lives for the command only.
        """
        own = f"profile {self.profile}"
        if self.demo or any(self.sources.get(name) != own for name in used):
            return False
        return self.sources.get("base_url") in (own, "unset")


def profile_name(
    profile_flag: str | None, env: Mapping[str, str], store: ConfigStore | None = None
) -> str:
    """The profile in force: --profile, else BULKCTL_PROFILE, else the config file's
    default_profile (when ``store`` is given), else 'default'."""
    return profile_choice(profile_flag, env, store)[0]


def profile_choice(
    profile_flag: str | None, env: Mapping[str, str], store: ConfigStore | None
) -> tuple[str, str]:
    """The profile in force and why: --profile, else BULKCTL_PROFILE, else the config file's
    default_profile (``bulkctl config use``), else the built-in 'default'."""
    if profile_flag:
        return profile_flag, "from --profile"
    if env.get(PROFILE_ENV):
        return env[PROFILE_ENV], f"from {PROFILE_ENV}"
    chosen = store.default_profile() if store is not None else None
    if chosen:
        return chosen, f"default_profile in {store.path if store is not None else 'the config'}"
    return DEFAULT_PROFILE, "built-in default"


def suggested_command(settings: Resolved | None, *words: str, profile: str | None = None) -> str:
    """``bulkctl [--profile P] [--base-url U] WORDS...`` [``--environment E``]: the one way a
    hint names a command. Each part is shlex-quoted and the result is one line, so a hint
    printed and run as it is reaches the same profile and host."""
    import shlex

    parts = ["bulkctl"]
    if settings is not None and (settings.profile_given or settings.profile != DEFAULT_PROFILE):
        parts += ["--profile", settings.profile]
    elif settings is None and profile is not None and profile != DEFAULT_PROFILE:
        parts += ["--profile", profile]
    if settings is not None and settings.sources.get("base_url", "").startswith("flag"):
        parts += ["--base-url", settings.get("base_url") or ""]
    parts += words
    login = tuple(words[:2]) == ("auth", "login")  # the one command that takes --environment
    if (
        login
        and settings is not None
        and settings.sources.get("environment", "").startswith("flag")
    ):
        parts += ["--environment", settings.get("environment") or ""]
    return " ".join(shlex.quote(" ".join(part.splitlines())) for part in parts)


def resolve(
    store: ConfigStore,
    env: Mapping[str, str],
    *,
    profile_flag: str | None = None,
    base_url_flag: str | None = None,
) -> Resolved:
    """The settings in force: flag > environment > profile > default."""
    profile, why = profile_choice(profile_flag, env, store)
    demo = profile == DEMO_PROFILE
    stored = {} if demo else store.profile(profile)
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name, setting in SETTINGS.items():
        value: str | None = None
        source = "unset"
        if name == "base_url" and base_url_flag:
            value, source = base_url_flag, "flag --base-url"
        elif setting.env and env.get(setting.env) and not demo:
            value, source = env[setting.env], f"env {setting.env}"
        elif stored.get(name) is not None and str(stored[name]).strip():
            value, source = str(stored[name]), f"profile {profile}"  # blank: the default
        elif setting.default is not None:
            value, source = setting.default, "default"
        header_unsafe = (
            name in CREDENTIALS
            and value is not None
            and credential_problem(value.strip(), header=name != "email")
        )
        if header_unsafe:
            pass  # left as it is, refused (exit 3, masked) before any request: check_credentials
        elif value is not None and source != "default":
            try:
                value = validate_value(name, value)
            except UsageError as exc:
                raise UsageError(f"{source}: {exc.message}", hint=exc.hint) from exc
        values[name] = value
        sources[name] = source
    if demo:
        values.update(api_key=DEMO_API_KEY, auth_token=DEMO_TOKEN)
        sources.update(api_key="built-in demo", auth_token="built-in demo")
        if not base_url_flag:
            values["base_url"] = DEMO_BASE_URL
            sources["base_url"] = "built-in demo (in-process)"
    password = None if demo else env.get(PASSWORD_ENV) or None
    names = tuple(store.profile_names()) if not demo else ()
    return Resolved(
        profile=profile,
        values=values,
        sources=sources,
        password=password,
        demo=demo,
        known_profiles=(DEMO_PROFILE, *(n for n in names if n != DEMO_PROFILE)),
        known=demo or profile == DEFAULT_PROFILE or profile in names,
        profile_given=bool(profile_flag or env.get(PROFILE_ENV)),
        profile_source=why,
    )
