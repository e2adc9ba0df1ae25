"""The emulator's login routes and its check of every other request's credentials: the demo's
API key, password login (multi), access tokens (backoffice), logout, idle expiry."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from bulkctl.emulator.messages import Request, Response, json_answer, syntax_error
from bulkctl.emulator.spec import MULTI_TOKEN_IDLE_SECONDS
from bulkctl.emulator.state import EmulatorState, TokenInfo

DEMO_API_KEY = "demo-api-key-7f3a"
DEMO_TOKEN = "demo-token-never-expires"
DEMO_EMAIL = "demo@bulkctl.example"
DEMO_PASSWORD = "Demo-Passw0rd!"


def served_identities(count: int) -> tuple[tuple[str, str], ...]:
    """The first ``count`` identities an emulator serves, each with its own bulks: corporates
    1001, 1002, ... and consumers 2001, 2002, ... in turn (corporate:1001 first: the one the
    password login and the demo token stand for)."""
    return tuple(
        ("CORPORATE", str(1001 + i // 2)) if i % 2 == 0 else ("CONSUMER", str(2001 + i // 2))
        for i in range(count)
    )


DEMO_IDENTITIES = served_identities(3)

DIGITS = re.compile(r"[0-9]+")


class AuthRoutes:
    """The login routes and the credentials check, for ``Emulator`` (which holds the state)."""

    state: EmulatorState
    clock: Callable[[], float]
    violations: list[str]
    identities: tuple[tuple[str, str], ...]
    # the state of the identity the request in hand acts for (set by ``_authenticate``)
    serving: EmulatorState
    _identity_states: dict[tuple[str, str], EmulatorState]
    # identities another session is acting for, to rehearse the 409 ALREADY_IMPERSONATED of
    # POST /access_token (a test or a script sets them on the emulator; none by default)
    impersonated_elsewhere: frozenset[tuple[str, str]] = frozenset()

    def identity_state(self, identity: tuple[str, str] | None) -> EmulatorState:
        """The bulks of one identity (None or the first: ``state``); the others are seeded on
        first use, each from its own seed, with as many bulks as the first began with."""
        if identity is None or identity == self.identities[0]:
            return self.state
        found = self._identity_states.get(identity)
        if found is None:
            found = self._identity_states.setdefault(identity, self._seeded(identity))
        return found

    def _seeded(self, identity: tuple[str, str]) -> EmulatorState:
        first = self.state
        seeded = EmulatorState(
            bulks=first.size,
            seed=first.seed + self.identities.index(identity),
            now=first.epoch,
            pace=first.pace,
        )
        seeded.advance(self.clock())
        return seeded

    def seed_outside_the_lock(self, request: Request) -> None:
        """Seed the bulks of the identity a request's token names before the request takes
        the lock (tens of milliseconds that would hold every other request back)."""
        token = request.headers.get("authorization", "").partition(" ")[2]
        info = self.state.tokens.get(token)
        identity = info.identity if info is not None else None
        if identity is not None and identity not in self._identity_states:
            self.identity_state(identity)

    def _authenticate(self, api: str, request: Request) -> Response | None:
        if request.headers.get("api-key") != DEMO_API_KEY:
            return Response(401)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        info = self.state.tokens.get(token) if scheme.lower() == "bearer" else None
        now = self.clock()
        if info is None or info.api not in (api, "any"):
            return Response(401)
        if info.expires_when_idle and now - info.last_used > MULTI_TOKEN_IDLE_SECONDS:
            del self.state.tokens[token]
            return Response(401)
        info.last_used = now
        self.serving = self.identity_state(info.identity)
        return None

    def _read_json(self, request: Request) -> Any:
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError:
            return None

    def _login(self, request: Request) -> Response:
        if request.headers.get("api-key") != DEMO_API_KEY:
            return Response(401)
        body = self._read_json(request)
        if not isinstance(body, dict):
            self.violations.append("login_with_password without a JSON object body")
            return syntax_error("email", "REQUIRED", [])
        email = body.get("email")
        password = body.get("password")
        if not isinstance(email, str) or not email:
            self.violations.append("login_with_password without email")
            return syntax_error("email", "REQUIRED", [])
        if not isinstance(password, dict) or not isinstance(password.get("value"), str):
            self.violations.append("login_with_password without password.value")
            return syntax_error("password.value", "REQUIRED", [])
        if email != DEMO_EMAIL or password["value"] != DEMO_PASSWORD:
            return Response(403)
        token = "mt-" + secrets.token_urlsafe(24)
        self.state.tokens[token] = TokenInfo("multi", self.clock(), expires_when_idle=True)
        return json_answer(
            200,
            {
                "token": token,
                "tokenType": "AUTH",
                "identity": {"type": "CORPORATE", "id": DEMO_IDENTITIES[0][1]},
                "credentials": {"type": "ROOT", "id": "3001"},
            },
        )

    def _access_token(self, request: Request) -> Response:
        if request.headers.get("api-key") != DEMO_API_KEY:
            return Response(401)
        body = self._read_json(request)
        identity = body.get("identity") if isinstance(body, dict) else None
        if not isinstance(identity, dict):
            self.violations.append("access_token without identity")
            return json_answer(
                400,
                {
                    "message": "identity is required",
                    "validationErrors": [{"fieldName": "identity", "error": "REQUIRED"}],
                },
            )
        kind, ident = identity.get("type"), identity.get("id")
        if kind not in ("CORPORATE", "CONSUMER") or not (
            isinstance(ident, str) and DIGITS.fullmatch(ident)
        ):
            self.violations.append(f"access_token with a malformed identity {identity!r}")
            return json_answer(
                400,
                {
                    "message": "identity is invalid",
                    "validationErrors": [
                        {"fieldName": "identity", "error": "INVALID_TYPE_OR_VALUE"}
                    ],
                },
            )
        if (kind, ident) not in self.identities:
            return json_answer(409, {"errorCode": "UNRESOLVED_IDENTITY"})
        if (kind, ident) in self.impersonated_elsewhere:
            return json_answer(409, {"errorCode": "ALREADY_IMPERSONATED"})
        token = "bo-" + secrets.token_urlsafe(24)
        self.state.tokens[token] = TokenInfo(
            "backoffice", self.clock(), expires_when_idle=False, identity=(kind, ident)
        )
        return json_answer(
            200,
            {
                "token": {"token": token},
                "identity": {"type": kind, "id": ident},
                "credentials": {"type": "API_CLIENT", "id": "4001"},
            },
        )

    def _logout(self, request: Request) -> Response:
        denied = self._authenticate("multi", request)
        if denied is not None:
            return denied
        token = request.headers.get("authorization", "").partition(" ")[2]
        if token != DEMO_TOKEN:
            self.state.tokens.pop(token, None)
        return Response(204)
