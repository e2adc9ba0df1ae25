"""An httpx transport that answers from an in-process ``Emulator`` (the ``demo`` profile)."""

from __future__ import annotations

import time

import httpx

from bulkctl.emulator.app import Emulator, Request


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.raw_path.decode("ascii")
        answer = self.emulator.handle(
            Request(
                method=request.method,
                url=url,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
        )
        if answer.delay > 0:
            time.sleep(answer.delay)
        if answer.drop:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body or b"", request=request
        )
