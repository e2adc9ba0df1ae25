"""A failure during an automatic login keeps its own exit code: only answers that need a
person are 3. Each row of the table is checked with no stored token (the login before the
first request) and with a stored token the API rejects (the re-login after a 401)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bulkctl.emulator.app import DEMO_API_KEY, Faults, Scripted
from bulkctl.errors import BulkctlError, ExitCode
from tests.conftest import in_process, make_emulator, run_bulkctl, serving
from tests.test_api_client import answer

Answer = Callable[[httpx.Request], httpx.Response]
TOKEN_TEXT = '{"token": "REALTOKENabcdef0123456789"}'


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def fixed(response: httpx.Response) -> Answer:
    return lambda request: response


CAUSES: dict[str, tuple[Answer, ExitCode]] = {
    "connection refused": (refused, ExitCode.NETWORK),
    "quota used up": (fixed(answer(429, headers={"Retry-After": "3600"})), ExitCode.ERROR),
    "503 to every attempt": (fixed(answer(503)), ExitCode.ERROR),
    "not JSON": (
        fixed(httpx.Response(200, text=TOKEN_TEXT, headers={"content-type": "text/plain"})),
        ExitCode.ERROR,
    ),
    "JSON then garbage": (
        fixed(httpx.Response(200, text=TOKEN_TEXT + "}}", headers={"content-type": "json"})),
        ExitCode.ERROR,
    ),
    "401 key refused": (fixed(answer(401)), ExitCode.AUTH),
    "403 credentials refused": (fixed(answer(403)), ExitCode.AUTH),
    "409 password expired": (fixed(answer(409, {"token": "temporary"})), ExitCode.AUTH),
    "410 gone": (fixed(answer(410)), ExitCode.AUTH),
    "423 locked": (fixed(answer(423)), ExitCode.AUTH),
}


def outcome(tmp_path: Path, login: Answer, *, stored: bool) -> tuple[int, str]:
    """The exit code and text of one listing whose automatic login gets ``login``."""
    env = {
        "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_EMAIL": "ops@example.com",
        "BULKCTL_PASSWORD": "secret-password",
    }
    run = in_process(tmp_path, env=env)
    ctx = run.ctx
    if not stored:
        ctx.env = {k: v for k, v in ctx.env.items() if k != "BULKCTL_AUTH_TOKEN"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login_with_password"):
            return login(request)
        return answer(401)  # the stored token is rejected

    ctx.transport = httpx.MockTransport(handler)
    try:
        ctx.client().list_bulks(offset=0, limit=1)
    except BulkctlError as exc:
        return exc.exit_code, "\n".join(exc.lines())
    finally:
        ctx.close()
    raise AssertionError("the listing succeeded")


@pytest.mark.parametrize("stored", [False, True], ids=["no stored token", "stored token"])
@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_login_failure_keeps_the_exit_code_of_its_cause(
    tmp_path: Path, cause: str, stored: bool
) -> None:
    login, code = CAUSES[cause]
    got, text = outcome(tmp_path, login, stored=stored)
    assert got == code, text
    assert "REALTOKEN" not in text  # no excerpt of a login answer, ever
    if code != ExitCode.AUTH:
        assert "auth login" not in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ci_env(base_url: str, **extra: str) -> dict[str, str]:
    """The CI setup of the README and docs/ci.md: a key and an identity in the environment, no token."""
    return {
        "BULKCTL_BASE_URL": base_url,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_IDENTITY": "corporate:1001",
        "HTTPS_PROXY": "",
        "ALL_PROXY": "",
        "https_proxy": "",
        "all_proxy": "",
        **extra,
    }


@pytest.mark.parametrize(
    ("cause", "base_url"),
    [
        ("connection refused", f"http://127.0.0.1:{free_port()}/multi/backoffice"),
        ("unknown host", "https://bulkctl-test.invalid/multi/backoffice"),
    ],
)
def test_a_real_wait_whose_login_cannot_connect_exits_6(cause: str, base_url: str) -> None:
    result = run_bulkctl("wait", "123", "--timeout", "5s", env=ci_env(base_url))
    assert result.code == ExitCode.NETWORK, result.stderr
    assert "auth login" not in result.stderr and "Traceback" not in result.stderr


def test_a_real_list_whose_login_meets_tls_on_a_plain_port_exits_6() -> None:
    emulator, _ = make_emulator(bulks=5)
    with serving(emulator) as root:
        tls = root.replace("http://", "https://") + "/multi/backoffice"
        result = run_bulkctl("list", "-n", "1", env=ci_env(tls))
    assert result.code == ExitCode.NETWORK, result.stderr
    assert "TLS" in result.stderr or "SSL" in result.stderr


def test_a_real_list_whose_login_finds_the_quota_used_up_exits_1() -> None:
    faults = Faults(
        scripted=(Scripted("POST /access_token", 429, headers=(("Retry-After", "3600"),)),)
    )
    emulator, _ = make_emulator(bulks=5, faults=faults)
    with serving(emulator) as root:
        result = run_bulkctl("list", "-n", "1", env=ci_env(root + "/multi/backoffice"))
    assert result.code == ExitCode.ERROR, result.stderr
    assert emulator.route_counts["POST /multi/backoffice/access_token"] == 1
    assert "quota_wait" in result.stderr and "not logged in" not in result.stderr


def test_a_503_to_the_login_mid_wait_is_ridden_out_until_the_timeout(tmp_path: Path) -> None:
    faults = Faults(
        scripted=(
            Scripted("POST /access_token", 503, skip=1),  # the first login works, then 503
            Scripted("GET /bulks/{bulk_id}", 401, skip=1),  # then the token is rejected
            Scripted("GET /bulks", 401, skip=0),
        )
    )
    emulator, clock = make_emulator(bulks=5, faults=faults)
    bulk_id = emulator.state.insert_submitted(clock(), 1)[0]
    report = tmp_path / "r.xml"
    with serving(emulator) as root:
        result = run_bulkctl(
            "wait",
            bulk_id,
            "--timeout",
            "4s",
            "--interval",
            "1s",
            "--junit",
            str(report),
            env=ci_env(root + "/multi/backoffice"),
        )
    assert result.code == ExitCode.TIMEOUT, result.stderr
    assert emulator.route_counts["POST /multi/backoffice/access_token"] >= 2
    assert report.exists()
    assert "not logged in" not in result.stderr
