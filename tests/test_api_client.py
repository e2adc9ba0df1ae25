"""The API layer with a scripted transport: requests on the wire, error mapping, retries."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkctl import __version__
from bulkctl.api import changes
from bulkctl.api.client import ApiClient, RetryPolicy, parse_retry_after
from bulkctl.api.records import ShapeError, parse_bulk_page, parse_operation_page, parse_token
from bulkctl.errors import (
    ApiError,
    BadRequest,
    Conflict,
    DeadlineReached,
    ExitCode,
    Forbidden,
    MalformedResponse,
    NetworkError,
    NotFound,
    OutcomeUnknown,
    ServerError,
    Throttled,
    Unauthorized,
    UsageError,
)
from bulkctl.pacing.pacer import Pacer, Window

PAGE = {"count": 1, "responseCount": 1, "bulkProcesses": [{"bulkId": "1", "status": "RUNNING"}]}


class Script:
    """A transport that answers from a list and checks every answer was used."""

    def __init__(
        self, answers: list[Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception]
    ) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def verify(self) -> None:
        assert self.answers == [], "not every scripted answer was used"


class FakeClock:
    """Time that moves only by sleeping; every sleep is recorded."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


def client_for(
    script: Script, windows: tuple[Window, ...] = (), **kwargs: object
) -> tuple[ApiClient, list[float], list[str]]:
    clock = FakeClock()
    notes: list[str] = []
    policy = RetryPolicy(
        attempts=4, sleep=clock.sleep, monotonic=clock.monotonic, rng=random.Random(1)
    )
    client = ApiClient(
        base_url="https://api.example.com/multi",
        api_key="key-123456789",
        token="tok-123456789",
        transport=httpx.MockTransport(script),
        retry=policy,
        on_retry=notes.append,
        pacer=Pacer(windows, clock=clock, note=notes.append),
        **kwargs,  # type: ignore[arg-type]
    )
    return client, clock.slept, notes


def answer(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    hdrs = {
        "request-ref": "ref-42",
        **({"content-type": "application/json"} if body is not None else {}),
        **(headers or {}),
    }
    return httpx.Response(status, content=content, headers=hdrs)


def test_list_sends_the_spec_headers_and_params() -> None:
    script = Script([answer(200, PAGE)])
    client, _, _ = client_for(script)
    page = client.list_bulks(offset=0, limit=100, status="RUNNING")
    request = script.requests[0]
    assert request.url.path == "/multi/bulks"
    assert dict(request.url.params) == {"limit": "100", "status": "RUNNING"}
    assert request.headers["api-key"] == "key-123456789"
    assert request.headers["authorization"] == "Bearer tok-123456789"
    assert request.headers["user-agent"] == f"bulkctl/{__version__}"
    assert page.count == 1 and page.records[0].bulk_id == "1"
    script.verify()


def test_execute_sends_its_body_and_pause_sends_none() -> None:
    script = Script([httpx.Response(204), httpx.Response(204)])
    client, _, _ = client_for(script)
    changes.act(client, "123", "execute", {"mode": "ON_FAILURE_STOP"})
    changes.act(client, "123", "pause")
    assert json.loads(script.requests[0].content) == {"mode": "ON_FAILURE_STOP"}
    assert script.requests[1].content == b""
    assert script.requests[1].url.path == "/multi/bulks/123/pause"
    script.verify()


@pytest.mark.parametrize("bad", ["12a", " 12", "１２", "", "12\n", "-1", "1.0", "٣"])
def test_path_ids_must_be_ascii_digits(bad: str) -> None:
    script = Script([])
    client, _, _ = client_for(script)
    with pytest.raises(UsageError):
        client.get_bulk(bad)
    assert script.requests == []


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            {
                "message": "bad",
                "syntaxErrors": {
                    "invalidFields": [
                        {"fieldName": "limit", "error": "RANGE", "params": ["1", "100"]}
                    ]
                },
            },
            BadRequest,
            ExitCode.USAGE,
        ),
        (401, None, Unauthorized, ExitCode.AUTH),
        (403, {"errorCode": "INSUFFICIENT_PERMISSIONS"}, Forbidden, ExitCode.AUTH),
        (404, {"code": "NOT_FOUND", "message": "nope"}, NotFound, ExitCode.NOT_FOUND),
        (409, {"errorCode": "INVALID_STATE"}, Conflict, ExitCode.CONFLICT),
        (500, None, ServerError, ExitCode.ERROR),
        (418, {"code": "TEAPOT", "message": "short and stout"}, ApiError, ExitCode.ERROR),
    ],
)
def test_every_documented_answer_maps_to_a_typed_error(
    status: int, body: object, error: type[ApiError], code: ExitCode
) -> None:
    script = Script([answer(status, body)])
    client, slept, _ = client_for(script)
    with pytest.raises(error) as caught:
        client.list_bulks(offset=0, limit=10)
    assert caught.value.exit_code == code
    assert caught.value.status == status
    assert caught.value.request_ref == "ref-42"
    assert slept == []  # none of these is retried
    text = " ".join(caught.value.lines())
    assert f"HTTP {status}" in text and "ref-42" in text
    if status == 400:
        assert caught.value.invalid_fields[0]["fieldName"] == "limit"
        assert "limit: RANGE" in text
    if status in (403, 409):
        assert caught.value.error_code in text
    script.verify()


THROTTLES = [answer(429), answer(409, {"errorCode": "TOO_MANY_REQUESTS"})]


@pytest.mark.parametrize("throttle", THROTTLES, ids=["429", "409"])
def test_quota_answers_without_headers_are_probed_with_growing_delays_and_use_no_attempt(
    throttle: httpx.Response,
) -> None:
    script = Script([throttle] * 6 + [answer(200, PAGE)])
    client, slept, notes = client_for(script, concurrency=8)
    client.list_bulks(offset=0, limit=1)
    assert len(script.requests) == 7  # six quota answers, more than the 4 attempts
    assert slept == [1, 2, 4, 8, 16, 32]
    assert client.limiter.limit == 1
    assert len(notes) == 2  # one when waiting starts, one when it ends; none per probe
    assert "quota is used up" in notes[0] and "allows requests again" in notes[1]
    script.verify()


def test_probe_delays_stop_growing_at_60s() -> None:
    script = Script([answer(429)] * 9 + [answer(200, PAGE)])
    client, slept, _ = client_for(script, quota_wait=3600)
    client.list_bulks(offset=0, limit=1)
    assert slept == [1, 2, 4, 8, 16, 32, 60, 60, 60]


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30),
        ({"x-ratelimit-reset": "12", "x-ratelimit-limit": "100;w=60, 1000;w=3600"}, 12),
        ({"Retry-After": "5", "x-ratelimit-reset": "40"}, 5),
    ],
)
def test_quota_answers_wait_as_long_as_the_server_says(headers: dict[str, str], wait: int) -> None:
    script = Script([answer(429, headers=headers), answer(200, PAGE)])
    client, slept, _ = client_for(script)
    client.list_bulks(offset=0, limit=1)
    assert slept == [wait]
    script.verify()


def test_the_windows_a_quota_answer_names_are_paced_until_the_window_after_the_reset() -> None:
    limit = {"x-ratelimit-reset": "3", "x-ratelimit-limit": "5, 5;w=10, 1000;w=3600"}
    script = Script([answer(429, headers=limit)] + [answer(200, PAGE)] * 7)
    client, slept, _ = client_for(script)
    for _ in range(5):
        client.list_bulks(offset=0, limit=1)
    assert client.pace_usage(10).limit == 5
    assert client.pace_usage(3600).limit == 1000
    client.list_bulks(offset=0, limit=1)  # the 6th in the window waits for it to pass ...
    assert slept[0] == 3 and slept[1] == pytest.approx(10, abs=0.01)
    client.list_bulks(offset=0, limit=1)  # ... and then the learned window has ended
    assert len(slept) == 2
    assert client.pace_usage(10).limit is None
    assert len(script.requests) == 8  # no second quota answer
    script.verify()


def test_a_server_that_keeps_saying_try_now_is_probed_not_hammered() -> None:
    now = {"Retry-After": "0"}
    script = Script([answer(429, headers=now)] * 4 + [answer(200, PAGE)])
    client, slept, _ = client_for(script)
    client.list_bulks(offset=0, limit=1)
    assert slept == [1, 2, 4]  # "0" is believed once, then the delays grow
    script.verify()


def test_quota_waits_do_not_use_up_retry_attempts() -> None:
    script = Script(
        [
            answer(503),
            answer(429),
            answer(409, {"errorCode": "TOO_MANY_REQUESTS"}),
            answer(503),
            answer(429, headers={"Retry-After": "2"}),
            answer(503),
            answer(200, PAGE),
        ]
    )
    client, _, notes = client_for(script)
    client.list_bulks(offset=0, limit=1)
    assert [n for n in notes if "retrying" in n][-1].endswith("(attempt 4 of 4)")
    script.verify()


def test_a_quota_wait_past_quota_wait_fails_with_the_numbers() -> None:
    script = Script([answer(429)] * 4)
    client, slept, _ = client_for(script, quota_wait=10)
    with pytest.raises(Throttled) as caught:
        client.list_bulks(offset=0, limit=1)
    assert slept == [1, 2, 4]  # the next probe (8 s) would end past the 10 s allowed
    assert "in 8s" in caught.value.message and "3s left" in caught.value.message
    assert "quota_wait" in (caught.value.hint or "")
    assert caught.value.exit_code == ExitCode.ERROR
    script.verify()


def test_quota_wait_0_fails_at_once() -> None:
    script = Script([answer(429, headers={"Retry-After": "1"})])
    client, slept, _ = client_for(script, quota_wait=0)
    with pytest.raises(Throttled):
        client.list_bulks(offset=0, limit=1)
    assert slept == []
    script.verify()


def test_the_commands_deadline_bounds_a_quota_wait() -> None:
    script = Script([answer(429, headers={"Retry-After": "30"})])
    client, slept, _ = client_for(script)
    client.deadline = client.retry.monotonic() + 5
    with pytest.raises(DeadlineReached) as caught:
        client.list_bulks(offset=0, limit=1)
    assert caught.value.exit_code == ExitCode.TIMEOUT
    assert slept == []
    script.verify()


def test_a_paced_listing_slows_down_and_says_so_once() -> None:
    script = Script([answer(200, PAGE)] * 7)
    client, slept, notes = client_for(script, windows=(Window(60.0, 3),))
    for _ in range(7):
        client.list_bulks(offset=0, limit=1)
    assert len(slept) == 2 and all(59 < s <= 60.01 for s in slept)
    assert len(notes) == 1 and "3 requests per 1m" in notes[0]
    script.verify()


def test_pacing_past_quota_wait_fails_before_sending() -> None:
    script = Script([answer(200, PAGE)])
    client, _, _ = client_for(script, windows=(Window(3600.0, 1),), quota_wait=600)
    client.list_bulks(offset=0, limit=1)
    with pytest.raises(Throttled) as caught:
        client.list_bulks(offset=0, limit=1)
    assert "rate limit 1 requests per 1h reached" in caught.value.message
    assert "could start in 1h" in caught.value.message and "10m left" in caught.value.message
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_reads(status: int) -> None:
    script = Script([answer(status), answer(200, PAGE)])
    client, slept, _ = client_for(script)
    client.list_bulks(offset=0, limit=1)
    assert len(slept) == 1
    script.verify()


def test_500_is_not_retried() -> None:
    script = Script([answer(500)])
    client, slept, _ = client_for(script)
    with pytest.raises(ServerError):
        client.list_bulks(offset=0, limit=1)
    assert slept == []


def test_retry_after_seconds_and_dates_are_honoured() -> None:
    # a date is read against the command's clock (FakeClock's), not the machine's
    later = format_datetime(datetime.fromtimestamp(1_000_000 + 30, UTC), usegmt=True)
    script = Script(
        [
            answer(503, headers={"Retry-After": "7"}),
            answer(503, headers={"Retry-After": later}),
            answer(503, headers={"Retry-After": "garbage"}),
            answer(200, PAGE),
        ]
    )
    client, slept, _ = client_for(script)
    client.list_bulks(offset=0, limit=1)
    assert slept[0] == 7
    assert 20 < slept[1] <= 30
    assert 0 <= slept[2] <= 2.0  # garbled: full-jitter backoff, base 0.5 s, third attempt
    script.verify()


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(rng=random.Random(3))
    waits = [policy.backoff(attempt, None) for attempt in range(1, 30)]
    assert all(0 <= w <= 8.0 for w in waits)
    assert max(waits) > 2.0
    assert policy.backoff(1, 1000.0) == 60.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after("") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None  # in the past
    assert parse_retry_after("soon") is None


def test_connection_refused_is_retried_then_a_network_error() -> None:
    script = Script([httpx.ConnectError("refused")] * 4)
    client, slept, _ = client_for(script)
    with pytest.raises(NetworkError) as caught:
        client.list_bulks(offset=0, limit=1)
    assert caught.value.exit_code == ExitCode.NETWORK
    assert len(slept) == 3


def test_a_state_change_is_retried_when_the_connection_was_never_made() -> None:
    script = Script([httpx.ConnectError("refused"), httpx.Response(204)])
    client, slept, _ = client_for(script)
    changes.act(client, "5", "pause")
    assert len(slept) == 1
    script.verify()


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed")]
)
def test_a_state_change_without_an_answer_is_outcome_unknown_and_not_repeated(
    failure: Exception,
) -> None:
    script = Script([failure])
    client, slept, _ = client_for(script)
    with pytest.raises(OutcomeUnknown) as caught:
        changes.act(client, "5", "cancel")
    assert "may or may not" in caught.value.message
    assert "bulkctl show" in (caught.value.hint or "")
    assert slept == []
    script.verify()


def test_a_state_change_that_got_503_is_not_repeated() -> None:
    script = Script([answer(503)])
    client, slept, _ = client_for(script)
    with pytest.raises(ServerError):
        changes.act(client, "5", "execute", {"mode": "ON_FAILURE_STOP"})
    assert slept == []


def test_a_state_change_is_retried_when_throttled() -> None:
    script = Script([answer(409, {"errorCode": "TOO_MANY_REQUESTS"}), httpx.Response(204)])
    client, slept, _ = client_for(script)
    changes.act(client, "5", "resume")
    assert len(slept) == 1
    script.verify()


def test_one_reauth_on_401_then_the_request_is_repeated_once() -> None:
    calls: list[int] = []

    def reauth() -> str:
        calls.append(1)
        return "fresh-token"

    script = Script([answer(401), answer(200, PAGE)])
    client, _, _ = client_for(script, reauth=reauth)
    client.list_bulks(offset=0, limit=1)
    assert calls == [1]
    assert script.requests[1].headers["authorization"] == "Bearer fresh-token"
    script2 = Script([answer(401), answer(401)])
    client2, _, _ = client_for(script2, reauth=reauth)
    with pytest.raises(Unauthorized):
        client2.list_bulks(offset=0, limit=1)
    assert len(calls) == 2  # once more for the second client, never a loop
    script2.verify()


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            200,
            content=b"<html><body>proxy login</body></html>",
            headers={"content-type": "text/html"},
        ),
        httpx.Response(
            200, content=b'{"count": 3, "bulkProc', headers={"content-type": "application/json"}
        ),
        httpx.Response(200, content=b"[1, 2, 3]", headers={"content-type": "application/json"}),
        httpx.Response(
            200, content=b'{"bulkProcesses": "many"}', headers={"content-type": "application/json"}
        ),
        httpx.Response(
            200, content=b'{"bulkProcesses": [1]}', headers={"content-type": "application/json"}
        ),
        httpx.Response(200, content=b"", headers={"content-type": "application/json"}),
    ],
)
def test_malformed_answers_are_one_clear_error(response: httpx.Response) -> None:
    script = Script([response])
    client, _, _ = client_for(script)
    with pytest.raises(MalformedResponse) as caught:
        client.list_bulks(offset=0, limit=1)
    assert caught.value.exit_code == ExitCode.ERROR
    assert len(caught.value.lines()) <= 2
    assert "HTTP 200" in caught.value.lines()[0]


def test_redirects_are_not_followed_so_credentials_stay_home() -> None:
    script = Script([httpx.Response(302, headers={"location": "https://elsewhere.example.net/"})])
    client, _, _ = client_for(script)
    with pytest.raises(ServerError, match="not followed"):
        client.list_bulks(offset=0, limit=1)
    assert len(script.requests) == 1


def test_text_is_read_tolerantly_and_numbers_strictly() -> None:
    page = parse_bulk_page(
        {
            "count": 7,
            "unknown": {"x": 1},
            "bulkProcesses": [
                {
                    "bulkId": 12345,
                    "status": "EXPLODED",
                    "submittedItemsCount": 10**15,
                    "executionStart": -1,
                    "executionFinish": None,
                    "mode": "SIDEWAYS",
                    "extra": [1, 2],
                },
                {},
            ],
        }
    )
    assert page.count == 7
    first, second = page.records
    assert first.bulk_id == "12345" and first.status == "EXPLODED"
    assert first.submitted_items_count == 10**15 and first.execution_start == -1
    assert second.bulk_id is None and second.status is None
    with pytest.raises(ShapeError, match="'count'"):
        parse_bulk_page({"count": -5, "bulkProcesses": []})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("submittedItemsCount", True),
        ("submittedItemsCount", 5.0),
        ("submittedItemsCount", -1),
        ("executionStart", "1700000000000"),
        ("executionFinish", 10**20),
        ("executionFinish", False),
    ],
)
def test_the_record_with_a_bad_number_is_named_by_its_place_in_the_page(
    field: str, value: object
) -> None:
    # the usual types are taken on a fast path: the unusual ones must still be refused,
    # naming the record that holds one (not the first of the page)
    good = {"bulkId": "9", "status": "RUNNING", "submittedItemsCount": 3, "executionStart": 1}
    records = [good, dict(good), {**good, field: value}, dict(good)]
    with pytest.raises(ShapeError, match=re.escape(f"bulkProcesses[2]: '{field}'")):
        parse_bulk_page({"count": 4, "bulkProcesses": records})


def test_tokens_of_both_login_shapes_are_read() -> None:
    assert parse_token({"token": "abc"}) == "abc"
    assert parse_token({"token": {"token": "def"}}) == "def"
    with pytest.raises(ShapeError):
        parse_token({"token": {"nope": 1}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


BULK_TEXT = ("bulkId", "status", "operation", "mode")
BULK_INTS = ("submittedItemsCount", "executionStart", "executionFinish")
field_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)
record_like = st.fixed_dictionaries(
    {}, optional={name: field_values for name in (*BULK_TEXT, *BULK_INTS, "operationId")}
)
answer_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "count": field_values,
            "bulkProcesses": st.one_of(field_values, st.lists(record_like, max_size=4)),
            "operations": st.one_of(field_values, st.lists(record_like, max_size=4)),
            "token": st.one_of(field_values, st.fixed_dictionaries({"token": field_values})),
        },
    ),
)


def well_shaped(value: object, key: str) -> bool:
    """The spec's page: an object whose ``key`` is absent, null, or a list of objects."""
    if not isinstance(value, dict):
        return False
    items = value.get(key)
    return items is None or (isinstance(items, list) and all(isinstance(i, dict) for i in items))


def plain_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


INT32_MAX = 2**31 - 1
BULK_BOUNDS = {  # the spec's formats: counts never negative, timestamps within a date
    "submittedItemsCount": (0, 2**63 - 1),
    "executionStart": (-62_135_510_400_000, 253_402_128_000_000),
    "executionFinish": (-62_135_510_400_000, 253_402_128_000_000),
}


def within(value: object, low: int, high: int) -> bool:
    return value is None or (plain_int(value) and low <= value <= high)  # type: ignore[operator]


def numbers_in_spec(value: dict[str, object], key: str) -> bool:
    """The page's counts, and each bulk's numbers, as the spec's formats allow."""
    if not all(within(value.get(n), 0, INT32_MAX) for n in ("count", "responseCount")):
        return False
    if key != "bulkProcesses":
        return True
    items = value.get(key) or []
    assert isinstance(items, list)
    return all(within(i.get(n), *b) for i in items for n, b in BULK_BOUNDS.items())


@given(answer_like)
@settings(max_examples=300, deadline=None)
def test_the_answer_parsers_return_records_or_raise_their_own_error(value: object) -> None:
    for parse, key in ((parse_bulk_page, "bulkProcesses"), (parse_operation_page, "operations")):
        if not well_shaped(value, key):
            with pytest.raises(ShapeError):
                parse(value)
            continue
        assert isinstance(value, dict)
        if not numbers_in_spec(value, key):
            with pytest.raises(ShapeError):
                parse(value)
            continue
        page = parse(value)
        items = value.get(key) or []
        assert [r.raw for r in page.records] == items  # every object, in order, as sent
        assert page.count == value.get("count")
        if key == "bulkProcesses":
            for record, item in zip(page.records, items, strict=True):
                for name, attr in zip(
                    BULK_TEXT, ("bulk_id", "status", "operation", "mode"), strict=True
                ):
                    if isinstance(item.get(name), str) or item.get(name) is None:
                        assert getattr(record, attr) == item.get(name), name
                for name, attr in zip(
                    BULK_INTS,
                    ("submitted_items_count", "execution_start", "execution_finish"),
                    strict=True,
                ):
                    if plain_int(item.get(name)) or item.get(name) is None:
                        assert getattr(record, attr) == item.get(name), name
    token = value.get("token") if isinstance(value, dict) else None
    if isinstance(token, dict):
        token = token.get("token")
    # a plausible token: what a header can carry, printable ASCII without spaces, bounded
    plausible = (
        isinstance(token, str) and 0 < len(token) <= 4096 and all("!" <= c <= "~" for c in token)
    )
    if plausible:
        assert parse_token(value) == token
    else:
        with pytest.raises(ShapeError):
            parse_token(value)


def not_finite(value: object) -> bool:
    """Whether NaN or an infinity is anywhere in ``value``: a body holding one is not JSON."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(not_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(not_finite(v) for v in value)
    return False


@given(
    st.dictionaries(
        st.sampled_from(["count", "responseCount", "bulkProcesses", "x"]),
        st.one_of(field_values, st.lists(record_like, max_size=4)),
        max_size=4,
    )
)
@settings(max_examples=300, deadline=None)
def test_the_client_turns_any_json_answer_into_records_or_a_bulkctl_error(
    body: dict[str, object],
) -> None:
    content = json.dumps(body).encode()
    script = Script(
        [httpx.Response(200, content=content, headers={"content-type": "application/json"})]
    )
    client, _, _ = client_for(script)
    sent = json.loads(content)  # Python's reader takes NaN and Infinity; JSON has neither
    if (
        not_finite(sent)
        or not well_shaped(sent, "bulkProcesses")
        or not numbers_in_spec(sent, "bulkProcesses")
    ):
        with pytest.raises(MalformedResponse):
            client.list_bulks(offset=0, limit=5)
        return
    page = client.list_bulks(offset=0, limit=5)
    assert [r.raw for r in page.records] == (json.loads(content).get("bulkProcesses") or [])


def test_a_state_change_answered_2xx_with_any_body_is_accepted() -> None:
    script = Script(
        [httpx.Response(200, content=b"<html>ok</html>", headers={"content-type": "text/html"})]
    )
    client, _, _ = client_for(script)
    changes.act(client, "5", "pause")
    script.verify()


def test_json_nested_deep_enough_to_recurse_is_a_malformed_answer() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    script = Script(
        [httpx.Response(200, content=deep, headers={"content-type": "application/json"})]
    )
    client, _, _ = client_for(script)
    with pytest.raises(MalformedResponse):
        client.list_bulks(offset=0, limit=1)


def test_a_closed_client_never_retries_nor_says_it_will() -> None:
    script = Script([httpx.ConnectError("[Errno 9] Bad file descriptor")])
    client, slept, notes = client_for(script)
    client.close()
    with pytest.raises(NetworkError):
        client.list_bulks(offset=0, limit=1)
    assert slept == [] and notes == []
