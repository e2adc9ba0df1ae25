"""What passes through the emulator: a request, an answer, and the misbehaviour to rehearse
against (faults, scripted answers); and the API's error bodies, built one way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bulkctl.emulator.quota import Window


@dataclass
class Request:
    method: str
    url: str  # path and query
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0  # seconds to wait before answering
    trickle: float = 0.0  # served mode: seconds between the body's bytes


@dataclass(frozen=True)
class Scripted:
    """One answer to rehearse against, given instead of the emulator's own to requests of
    one route (``"POST /bulks/{bulk_id}/execute"``, ``"POST /access_token"``: the path
    after the API's prefix): after ``skip`` such requests, ``times`` times (None: always)."""

    route: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    skip: int = 0
    times: int | None = None


@dataclass
class Faults:
    """Misbehaviour to rehearse against; every rate is a probability per request."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0  # 503 with Retry-After
    throttle_rate: float = 0.0  # 429 or 409 TOO_MANY_REQUESTS, alternately
    drop_rate: float = 0.0  # connection closed without an answer
    churn: int = 0  # new bulks inserted before each list request
    retry_after: int = 1
    seed: int = 7
    quota: tuple[Window, ...] = ()  # fixed windows (see quota.parse_quota); empty: unlimited
    quota_headers: bool = False  # send x-ratelimit-limit / -reset with quota answers
    quota_answer: str = "spec"  # "spec": 409 TOO_MANY_REQUESTS where documented, else 429
    slow_body: float = 0.0  # served mode: seconds between the bytes of each answer body
    scripted: tuple[Scripted, ...] = ()  # answers given instead of the emulator's own


def json_answer(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode())


def error_answer(status: int, code: str, message: str) -> Response:
    return json_answer(status, {"code": code, "message": message})


def syntax_error(field_name: str, error: str, params: list[str]) -> Response:
    return json_answer(
        400,
        {
            "message": f"{field_name} is invalid",
            "syntaxErrors": {
                "invalidFields": [{"fieldName": field_name, "error": error, "params": params}]
            },
        },
    )
