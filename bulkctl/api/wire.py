"""What bulkctl lets onto the wire: where credentials may travel, and what a header may hold.

Base URLs: the host must be written in plain ASCII (a host with ``。`` or ``．`` for dots, or
any other letter outside ASCII, is refused naming the ASCII form the HTTP layer would reach);
https anywhere; plain http only to a literal loopback address (127.0.0.0/8, ::1) or the
name ``localhost``, which never go through a proxy. ``*.localhost`` names are not special:
they are looked up in DNS like any other name. A base URL never carries a user name or
password, and one that does is never echoed.

Credentials (API key, token, email, identity) must be printable ASCII without spaces, what
an HTTP header value allows and a real credential holds, checked before any request; a bad
one is named with its source and shown masked. Imports nothing but ``bulkctl.errors``.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from bulkctl.errors import NotAuthenticated, UsageError
from bulkctl.safetext import safe_text

LOOPBACK_NAME = "localhost"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses; never for other names."""
    import ipaddress

    host = host.strip("[]").lower()
    if host == LOOPBACK_NAME:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.version == 4:
        return address in ipaddress.IPv4Network("127.0.0.0/8")
    return address == ipaddress.IPv6Address("::1")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def check_base_url(url: str) -> None:
    """Raise UsageError unless ``url`` is a base URL credentials may be sent to.

    A URL holding ``user:pass@`` is refused without being repeated, since it holds a secret.
    """
    parts = _split(url)
    if "@" in url or (parts is not None and (parts.username or parts.password)):
        raise UsageError(
            "the base URL holds a user name or password (user:pass@HOST); bulkctl refuses it "
            "and does not repeat it",
            hint="remove the part before @; the API key goes in the api_key setting",
        )
    host = parts.hostname if parts is not None else None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"invalid base URL {url!r}", hint="use https://HOST[/PATH]")
    if not host.isascii():
        ascii_form = ascii_host(host)
        raise UsageError(
            f"the base URL's host {safe_text(host)!r} is not plain ASCII; requests would go to "
            + (f"{ascii_form}" if ascii_form else "a host it does not name plainly"),
            hint=f"write the host as {ascii_form}" if ascii_form else "write the host in ASCII",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise UsageError(
            f"refusing plain http:// to {host}: the API key would travel in clear",
            hint="use https://, or http:// only to 127.0.0.1, ::1 or localhost",
        )


def ascii_host(host: str) -> str | None:
    """``host`` as the HTTP layer sends it: IDNA-mapped (UTS 46, as browsers and httpx map
    ``。`` ``．`` ``｡`` to dots), lower-cased, without a trailing dot; None when it cannot be."""
    text = host.strip("[]")
    if text.isascii():
        return text.lower().rstrip(".")
    try:
        import idna  # httpx's own dependency, so the mapping is the one the request gets

        mapped = idna.encode(text, uts46=True).decode("ascii")
    except (ImportError, UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        try:
            mapped = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return mapped.lower().rstrip(".")


def request_host(url: str) -> str:
    """The host a request to ``url`` really reaches, in the form production is decided on:
    ASCII, lower-cased, no trailing dot ('' when the URL has none)."""
    parts = _split(url)
    host = parts.hostname if parts is not None else None
    return (ascii_host(host) or "") if host else ""


def goes_direct(url: str) -> bool:
    """True when requests to ``url`` must bypass any proxy: its host is loopback."""
    parts = _split(url)
    return parts is not None and is_loopback(parts.hostname or "")


MAX_CREDENTIAL = 4096  # longer than any real key or token; a longer one is not plausible


def credential_problem(value: str, *, header: bool = True) -> str | None:
    """Why ``value`` cannot be sent as a credential, or None when it can.

    ``header`` False is for a value sent in a JSON body (an email): only control
    characters and the length count there.
    """
    if not value:
        return "nothing"
    if any(c in "\r\n" for c in value):
        return "a line break (CR or LF)"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        return "a control character"
    if header and not value.isascii():
        return "a character outside ASCII"
    if header and " " in value:
        return "a space"
    if len(value) > MAX_CREDENTIAL:
        return f"more than {MAX_CREDENTIAL} characters"
    return None


def shown_masked(secret: str) -> str:
    """The secret masked as ``config list`` shows it, with any control character escaped."""
    shown = "*" * len(secret) if len(secret) <= 8 else "*" * (len(secret) - 4) + secret[-4:]
    return safe_text(shown)


def check_credential(label: str, value: str, *, secret: bool = True, header: bool = True) -> None:
    """Raise NotAuthenticated (exit 3) when ``value`` cannot go in a request.

    ``label`` names the credential and its source, e.g. "api_key (env BULKCTL_API_KEY)".
    A secret is shown masked; nothing is ever sent with it.
    """
    problem = credential_problem(value, header=header)
    if problem is None:
        return
    shown = shown_masked(value) if secret else repr(value)[1:-1]
    raise NotAuthenticated(
        f"{label} holds {problem}, so it cannot be sent in a request (value {shown}); "
        "nothing was sent",
        hint="fix where it comes from, or set it again:",
        suggest=("auth", "login"),
    )
