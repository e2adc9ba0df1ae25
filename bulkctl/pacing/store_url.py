"""A store's URL (``rate_limit_store``): checked, and shown with its password hidden. Apart
from the store itself, so that reading the settings costs no more than this."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("redis", "rediss")


def check_store_url(url: str) -> str:
    """The URL of a Redis store, checked; ValueError (the URL shown masked) when it is not one."""
    shown = shown_url(url)
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # .port raises ValueError when it is not a number
            raise ValueError
    except ValueError:
        raise ValueError(f"{shown} is not a URL such as redis://HOST:6379/0") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"{shown} must start with redis:// or rediss:// (TLS)")
    if not parts.hostname:
        raise ValueError(f"{shown} names no host: write redis://HOST:6379/0")
    database = parts.path.strip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(f"{shown} must end with a database number, such as /0")
    return url


def shown_url(url: str) -> str:
    """``url`` with its password (and a user's name beside it kept) replaced by ``****``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is not None and "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:****@{host}" if has_password else f"****@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    # not a URL at all: whatever stands between '//' and the last '@' may be a password
    return re.sub(r"(?<=//)[^/]*@", "****@", url)
