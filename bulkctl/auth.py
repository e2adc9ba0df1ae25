"""Getting a token: the two login flows, and the one automatic re-login after a 401.

Multi API: POST /login_with_password with the api-key, email and password.
Back Office API: POST /access_token with the api-key and an identity (no password),
the natural flow for CI. Either way the token (never the password) is stored in the profile,
by an automatic re-login only when every credential used came from that profile (and the
base URL is the profile's own); otherwise it lives for the command only.

A login fails with its own cause: only answers that need a person (credentials refused, an
account whose password expired, locked or gone) are "not logged in" (exit 3); a network
failure, a quota, a server error or a malformed answer keep their own exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bulkctl.api.wire import check_credential
from bulkctl.config import Resolved, parse_identity
from bulkctl.errors import (
    IDENTITY_CONFLICTS,
    AccountState,
    ApiError,
    BulkctlError,
    Forbidden,
    NotAuthenticated,
    Throttled,
    Unauthorized,
    UsageError,
)

if TYPE_CHECKING:
    from bulkctl.context import Context

# login answers that need a person, beyond 401 and 403: the account states the spec
# documents for /login_with_password
ACCOUNT_STATES = {
    409: "the password has expired; set a new one where you signed up",
    410: "the login is gone (expired)",
    423: "the account is locked after failed logins; the API says to try again in 30 minutes",
}


def unknown_profile(settings: Resolved) -> UsageError:
    """The error for a profile named by --profile or BULKCTL_PROFILE that is in no file, with
    the known ones (a mistyped name: usage, exit 2)."""
    known = ", ".join(settings.known_profiles)
    why = "" if settings.profile_given else f", {settings.profile_source}"  # config use's
    return UsageError(
        f"unknown profile {settings.profile!r}{why} (known: {known})",
        hint=f"create it: {settings.suggest('auth', 'login')}   (or pick one of those)",
    )


def not_logged_in(settings: Resolved) -> BulkctlError:
    """The error for a profile without a token or the means to get one; a profile that is in
    no file is named as unknown (see ``unknown_profile``)."""
    if not settings.known:
        return unknown_profile(settings)
    return NotAuthenticated(
        f"not logged in (profile {settings.profile}, {settings.host})",
        hint=f"run: {settings.suggest('auth', 'login')}   "
        "or try the demo: bulkctl --profile demo list",  # no ")" to copy with it
    )


def login_command(settings: Resolved, *, email: str | None, identity: str | None) -> str:
    """The ``auth login`` to run again, with the profile, an environment or base URL given
    as a flag, and the email or identity just used: ``bulkctl --profile ops auth login --email a@b.c``
    (global options are taken after the command too)."""
    words = ["auth", "login"]
    if identity:
        words += ["--identity", identity]
    elif email:
        words += ["--email", email]
    return settings.suggest(*words)  # the profile, a --base-url or --environment flag


def login(
    ctx: Context,
    settings: Resolved,
    *,
    api_key: str,
    email: str | None = None,
    password: str | None = None,
    identity: str | None = None,
) -> str:
    """Obtain a token with whichever flow the arguments name; raises the API's error."""
    check_credential("the API key", api_key)
    if email:
        check_credential("the email", email, secret=False, header=False)
    if identity:
        check_credential("the identity", identity, secret=False)
    client = ctx.build_client(settings, api_key=api_key, token=None, reauth=None)
    try:
        if identity:
            kind, ident = parse_identity(identity)
            return client.access_token(kind, ident)
        if email and password is not None:
            return client.login_with_password(email, password)
        raise NotAuthenticated("nothing to log in with: give an email or an identity")
    except Unauthorized as exc:  # the login endpoints answer 401 to the api-key header alone
        exc.message = f"login: the API key was rejected ({settings.where()})"
        exc.hint = "check the key for this environment (BULKCTL_API_KEY, or type it again); run:"
        raise
    except Forbidden as exc:
        if identity:
            exc.message = f"login: the identity {identity} was refused ({settings.where()})"
            exc.hint = "check the identity type and id, and that the API key may use it"
        else:
            exc.message = f"login: wrong email or password for {email} ({settings.where()})"
            exc.hint = f"try again: {login_command(settings, email=email, identity=None)}"
        raise
    except ApiError as exc:
        conflict = IDENTITY_CONFLICTS.get(exc.error_code or "") if exc.status == 409 else None
        if identity and conflict is not None:  # the identity named, as for a 403 above
            exc.message = f"login: {conflict[0].format(identity=identity)} ({settings.where()})"
        state = ACCOUNT_STATES.get(exc.status or 0)
        if state is None or isinstance(exc, Throttled) or (identity and exc.status == 409):
            raise  # access_token's 409 is about the identity asked for (a conflict, exit 5)
        raise AccountState(
            f"login: {state} ({settings.where()})",
            hint=f"once that is sorted: {login_command(settings, email=email, identity=identity)}",
            status=exc.status,
            request_ref=exc.request_ref,
            error_code=exc.error_code,
        ) from None
    finally:
        client.close()


class Reauthenticator:
    """Fetches a new token when the means are at hand, and stores it in the profile."""

    def __init__(self, ctx: Context, settings: Resolved) -> None:
        self.ctx = ctx
        self.settings = settings

    def means(self) -> str | None:
        """'identity', 'password' or 'prompt' when a token can be had without the user; else None."""
        s = self.settings
        if not s.get("api_key"):
            return None
        if s.get("identity") and (s.api == "backoffice" or not s.get("email")):
            return "identity"
        if s.get("email") and s.password:
            return "password"
        if s.get("email") and self.ctx.can_prompt:
            return "prompt"
        return None

    def ensure_token(self) -> None:
        """Before the first request: a token, or the means to get one, or a clear error."""
        s = self.settings
        if s.get("auth_token") and s.get("api_key"):
            return
        how = self.means()
        if how is None:
            raise not_logged_in(s)
        # the login's own error, whatever it is: refused credentials exit 3, a network
        # failure 6, a quota or a server error 1
        s.values["auth_token"] = self._login(how, first=True)

    def refresh(self) -> str | None:
        """A new token, stored in the profile; None when there are no means to get one, or
        when the login needs a person (credentials refused, the account's state). Any other
        failure (network, quota, server, malformed answer) is raised with its own class."""
        how = self.means()
        if how is None:
            return None
        try:
            return self._login(how, first=False)
        except (Unauthorized, Forbidden, AccountState, NotAuthenticated) as exc:
            self.ctx.note(f"automatic login failed: {exc.message}")
            return None

    def _login(self, how: str, *, first: bool) -> str:
        s = self.settings
        api_key = s.get("api_key") or ""
        password = s.password
        if how == "prompt":
            if not first:
                self.ctx.note(f"The token for {s.get('email')} on {s.where()} has expired.")
            password = self.ctx.secret("Password")
        if how == "identity":
            token = login(self.ctx, s, api_key=api_key, identity=s.get("identity"))
        else:
            token = login(self.ctx, s, api_key=api_key, email=s.get("email"), password=password)
        again = "" if first else " again"
        self.ctx.note(f"logged in{again} as {s.get('identity') or s.get('email')} ({s.where()})")
        used = ("api_key", "identity") if how == "identity" else ("api_key", "email")
        # BULKCTL_PASSWORD is the environment's; a password typed at the prompt is the user's
        if how != "password" and s.may_store_token(used):
            try:
                self.ctx.store.set_values(s.profile, {"auth_token": token})
            except BulkctlError as exc:
                self.ctx.note(f"note: {exc.message}; it is used for this command only")
        else:
            self.ctx.debug("the new token is kept for this command only (not from the profile)")
        return token
