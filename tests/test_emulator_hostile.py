"""The emulator against odd clients (issue 20): every method gets a JSON answer, ``null`` is
no object, and the whole int64 range is a sequence."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from bulkctl.emulator.server import running
from tests.conftest import make_emulator
from tests.test_emulator_submissions import AUTH, TRANSFER, make, submit


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "HEAD", "PUT", "PROPFIND", "BREW"])
def test_every_method_gets_a_json_answer_never_the_html_501_page(method: str) -> None:
    emulator, _clock = make_emulator(bulks=3)
    with running(emulator) as root:
        where = urlsplit(root)
        connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
        try:
            connection.request(method, "/multi/bulks/1", headers=AUTH)
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
    assert answer.status == 405
    assert answer.getheader("content-type") == "application/json"
    if method == "HEAD":
        assert body == b""
    else:
        assert json.loads(body)["code"] == "METHOD_NOT_ALLOWED"


def test_a_malformed_request_line_gets_a_json_answer() -> None:
    emulator, _clock = make_emulator(bulks=3)
    with running(emulator) as root:
        where = urlsplit(root)
        connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
        try:
            connection.putrequest("GET", "/multi/bulks", skip_host=True)
            connection._output(b"x" * 70000)  # a header line over the server's limit
            connection.endheaders()
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
    assert answer.status >= 400
    assert answer.getheader("content-type") == "application/json"
    assert "message" in json.loads(body)


@pytest.mark.parametrize(
    ("kind", "item"),
    [
        ("transfers", {"pathParams": None, "requestBody": TRANSFER}),
        ("card-blocks", {"pathParams": None}),
    ],
)
def test_null_path_params_are_refused_where_the_spec_has_an_object(
    kind: str, item: dict[str, object]
) -> None:
    emulator, _clock = make()
    status, body = submit(emulator, kind, [item])
    assert status == 400
    fields = body["syntaxErrors"]["invalidFields"]
    assert {"fieldName": "[0].pathParams", "error": "IN", "params": ["object"]} in fields


@pytest.mark.parametrize("sequence", ["-9223372036854775808", "9223372036854775807", "0"])
def test_a_sequence_anywhere_in_the_int64_range_is_accepted(sequence: str) -> None:
    from bulkctl.emulator.app import Request

    emulator, _clock = make()
    bulk_id = next(iter(emulator.state.bulks))
    answer = emulator.handle(
        Request("GET", f"/multi/bulks/{bulk_id}/operations?sequence={sequence}", dict(AUTH))
    )
    assert answer.status == 200, answer.body


@pytest.mark.parametrize("sequence", ["-9223372036854775809", "9223372036854775808", "9" * 5000])
def test_a_sequence_beyond_int64_is_a_range_error(sequence: str) -> None:
    from bulkctl.emulator.app import Request

    emulator, _clock = make()
    bulk_id = next(iter(emulator.state.bulks))
    answer = emulator.handle(
        Request("GET", f"/multi/bulks/{bulk_id}/operations?sequence={sequence}", dict(AUTH))
    )
    assert answer.status == 400
    assert json.loads(answer.body or b"")["syntaxErrors"]["invalidFields"][0]["error"] == "RANGE"
