"""The gate on a real terminal, against a server bulkctl takes for production.

bulkctl is run with the base URL ``https://api.weavr.io/multi`` itself, so the production
check sees the real host. ``HTTPS_PROXY`` points at a CONNECT proxy on loopback that
answers the tunnel with TLS (a certificate for api.weavr.io from a test CA, trusted through
``ca_bundle``) and hands the decrypted requests to the emulator on 127.0.0.1. Nothing
leaves the machine, and the host check, the TLS check and the proxy are the real ones.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN
from tests.conftest import Served, bulkctl_command

pexpect = pytest.importorskip("pexpect")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PRODUCTION = "https://api.weavr.io/multi"
WORD_PROMPT = "Type 'production' to go ahead"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA and a certificate it signed for api.weavr.io, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=bulkctl test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "host.key", "-out", "host.csr",
        "-subj", "/CN=api.weavr.io",
    )  # fmt: skip
    (folder / "host.ext").write_text(
        # the name as written too: TLS matches "api.weavr.io." literally
        "subjectAltName=DNS:api.weavr.io,DNS:api.weavr.io.\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    openssl(
        "x509", "-req", "-in", "host.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "host.pem", "-days", "2", "-extfile", "host.ext",
    )  # fmt: skip
    return Certificates(folder / "ca.pem", folder / "host.pem", folder / "host.key")


@dataclass
class TlsTunnel:
    """A CONNECT proxy that ends the tunnel's TLS itself and forwards to the emulator.
    ``release`` cleared holds each CONNECT unanswered, so a test knows that bulkctl is
    still reading and no question can be on the screen yet."""

    upstream: int
    certificates: Certificates
    connects: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.release.set()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.certificates.cert, self.certificates.key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        self.connects.append(head.split(b"\r\n", 1)[0].decode())
        self.release.wait(30)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            secured = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        try:
            _pump(secured, upstream)
        finally:
            secured.close()
            upstream.close()

    def env(self) -> dict[str, str]:
        return {
            "HTTPS_PROXY": self.url,
            "https_proxy": self.url,
            "BULKCTL_CA_BUNDLE": str(self.certificates.ca),
            "BULKCTL_RETRIES": "1",
        }


def _pump(secured: ssl.SSLSocket, plain: socket.socket) -> None:
    while True:
        ready, _, _ = select.select([secured, plain], [], [], 30)
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
                while isinstance(sock, ssl.SSLSocket) and sock.pending():
                    data += sock.recv(sock.pending())
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            (plain if sock is secured else secured).sendall(data)


@pytest.fixture
def tunnel(served: Served, certificates: Certificates) -> Iterator[TlsTunnel]:
    port = int(served.root.rsplit(":", 1)[1])
    made = TlsTunnel(port, certificates)
    yield made
    made.release.set()
    made.sock.close()


def spawn(served: Served, tunnel: TlsTunnel, *args: str, base_url: str = PRODUCTION) -> Any:
    command = bulkctl_command()
    env = dict(
        os.environ,
        BULKCTL_BASE_URL=base_url,
        BULKCTL_API_KEY=DEMO_API_KEY,
        BULKCTL_AUTH_TOKEN=DEMO_TOKEN,
        **tunnel.env(),
    )
    return pexpect.spawn(command[0], [*command[1:], *args], env=env, timeout=30, encoding="utf-8")


def posts(served: Served) -> list[str]:
    return [path for method, path, *_ in served.emulator.requests if method == "POST"]


def finish(child: Any) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


ACTIONS = [("execute", "SUBMITTED"), ("resume", "PAUSED"), ("cancel", "RUNNING")]
NOT_THE_WORD = ["y", "prod", "PRODUCTION", "\x1b"]  # a key, wrong words, Esc


def bulk_in(served: Served, status: str) -> str:
    return served.state.listing(status)[0]


@pytest.mark.parametrize(("action", "status"), ACTIONS)
def test_on_production_only_the_typed_word_sends_exactly_one_request(
    served: Served, tunnel: TlsTunnel, action: str, status: str
) -> None:
    bulk_id = bulk_in(served, status)
    for answer in NOT_THE_WORD:
        child = spawn(served, tunnel, action, bulk_id)
        child.expect_exact(WORD_PROMPT)
        assert f"{action} bulk {bulk_id} on PRODUCTION (api.weavr.io, profile default)" in (
            child.before
        )
        child.send(answer + "\r")
        assert finish(child) == 8  # declined
        assert posts(served) == [], (action, answer)
    assert tunnel.connects, "the requests went through the TLS tunnel"
    assert all(c == "CONNECT api.weavr.io:443 HTTP/1.1" for c in tunnel.connects)
    child = spawn(served, tunnel, action, bulk_id)
    child.expect_exact(WORD_PROMPT)
    child.send("production\r")
    assert finish(child) == 0
    assert posts(served) == [f"/multi/bulks/{bulk_id}/{action}"]


def test_submit_execute_on_production_sends_nothing_without_the_word(
    served: Served, tunnel: TlsTunnel
) -> None:
    source = str(EXAMPLES / "transfers.jsonl")
    for answer in NOT_THE_WORD:
        child = spawn(served, tunnel, "submit", "transfers", source, "--execute")
        child.expect_exact(WORD_PROMPT)
        assert "submit and execute 3 × transfers in 1 bulk on PRODUCTION" in child.before
        child.send(answer + "\r")
        assert finish(child) == 8  # declined
        assert posts(served) == [], answer
    child = spawn(served, tunnel, "submit", "transfers", source, "--execute")
    child.expect_exact(WORD_PROMPT)
    child.send("production\r")
    assert finish(child) == 0
    sent = posts(served)
    assert len(sent) == 2 and sent[0] == "/multi/bulks/transfers"
    assert sent[1].endswith("/execute"), "exactly one execute request"


@pytest.mark.parametrize("dot", ["\u3002", "\uff0e", "\uff61"])
@pytest.mark.parametrize("action", ["execute", "resume", "cancel"])
def test_a_host_spelled_with_other_dots_exits_2_naming_the_ascii_host_before_any_request(
    served: Served, tunnel: TlsTunnel, dot: str, action: str
) -> None:
    base_url = f"https://api{dot}weavr{dot}io/multi"
    child = spawn(served, tunnel, action, bulk_in(served, "SUBMITTED"), base_url=base_url)
    assert finish(child) == 2
    assert "api.weavr.io" in (child.before or "")
    assert tunnel.connects == [] and served.emulator.request_count == 0


def test_a_trailing_dot_is_production_and_asks_for_the_word(
    served: Served, tunnel: TlsTunnel
) -> None:
    bulk_id = bulk_in(served, "SUBMITTED")
    child = spawn(served, tunnel, "execute", bulk_id, base_url="https://api.weavr.io./multi")
    child.expect_exact(WORD_PROMPT)
    child.send("y\r")
    assert finish(child) == 8  # declined: y is not the word
    assert posts(served) == []


@pytest.mark.parametrize(("action", "status"), ACTIONS)
def test_the_word_typed_before_the_question_appears_sends_nothing(
    served: Served, tunnel: TlsTunnel, action: str, status: str
) -> None:
    bulk_id = bulk_in(served, status)
    tunnel.release.clear()  # the bulk's read waits: no question can be on screen yet
    child = spawn(served, tunnel, action, bulk_id)
    for _ in range(600):
        if tunnel.connects:
            break
        threading.Event().wait(0.05)
    assert tunnel.connects, "bulkctl never reached the proxy"
    child.send("production\r")  # typed ahead, while the bulk is still being read
    threading.Event().wait(0.2)
    tunnel.release.set()
    child.expect_exact(WORD_PROMPT)
    child.send("\x1b\r")
    assert finish(child) == 8  # declined
    assert posts(served) == []


# -- the ui's keys, the same gate ------------------------------------------------------------


def spawn_ui(served: Served, tunnel: TlsTunnel) -> Any:
    pytest.importorskip("textual")
    command = bulkctl_command()
    env = dict(
        os.environ,
        BULKCTL_BASE_URL=PRODUCTION,
        BULKCTL_API_KEY=DEMO_API_KEY,
        BULKCTL_AUTH_TOKEN=DEMO_TOKEN,
        TERM="xterm-256color",
        **tunnel.env(),
    )
    return pexpect.spawn(
        command[0],
        [*command[1:], "ui"],
        env=env,
        dimensions=(30, 120),
        encoding="utf-8",
        timeout=30,
    )


def newest_is(served: Served, status: str) -> str:
    """Put a bulk in ``status`` first in the listing, so the ui's cursor starts on it."""
    state = served.state
    bulk_id = state.listing(status)[0]
    state.order.remove(bulk_id)
    state.order.insert(0, bulk_id)
    state._version += 1
    return bulk_id


UI_WORD = "type production, then Enter"


def settle() -> None:
    threading.Event().wait(0.4)  # the question is drawn before keys are taken as answers


@pytest.mark.parametrize(
    ("key", "action", "status"), [("x", *ACTIONS[0]), ("r", *ACTIONS[1]), ("c", *ACTIONS[2])]
)
def test_the_uis_keys_on_production_send_only_after_the_typed_word(
    served: Served, tunnel: TlsTunnel, key: str, action: str, status: str
) -> None:
    bulk_id = newest_is(served, status)
    child = spawn_ui(served, tunnel)
    child.expect_exact("PRODUCTION")
    child.expect_exact(bulk_id)
    settle()
    for answer in ("y\r", "prod\r", "\x1b"):
        child.send(key)
        child.expect_exact(UI_WORD)
        settle()
        child.send(answer)
        child.expect_exact("skipped")
        settle()
        assert posts(served) == [], answer
    child.send(key)
    child.expect_exact(UI_WORD)
    settle()
    child.send("production\r")
    child.expect_exact("accepted")
    settle()
    child.send("q")
    child.expect(pexpect.EOF)
    assert posts(served) == [f"/multi/bulks/{bulk_id}/{action}"]


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "transfers", str(EXAMPLES / "transfers.jsonl")),
        ("rerun", "1100000000000001", "--failed"),
        ("resume", "PAUSED"),
        ("pause", "RUNNING"),
    ],
)
def test_in_a_pipe_on_production_a_change_that_asks_needs_yes_before_any_request(
    served: Served, tunnel: TlsTunnel, args: tuple[str, ...]
) -> None:
    from tests.conftest import run_bulkctl

    env = {
        "BULKCTL_BASE_URL": PRODUCTION,
        "BULKCTL_API_KEY": DEMO_API_KEY,
        "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
        **tunnel.env(),
    }
    if args[0] in ("resume", "pause"):  # read first: the status speaks before --yes does
        args = (args[0], bulk_in(served, args[1]))
    result = run_bulkctl(*args, env=env)
    assert result.code == 2, result.stderr
    assert "pass --yes" in result.stderr
    if args[0] in ("submit", "rerun"):  # refused before the file or the operations are read
        assert tunnel.connects == [] and served.emulator.request_count == 0
    assert posts(served) == []


def test_an_explicit_production_on_loopback_is_production_everywhere(served: Served) -> None:
    """An SSH tunnel to production reaches it through loopback: the profile's word holds."""
    from tests.conftest import run_bulkctl

    for setting in (("base_url", served.backoffice), ("environment", "production")):
        assert run_bulkctl("--profile", "tunnel", "config", "set", *setting).code == 0
    status = run_bulkctl("--profile", "tunnel", "auth", "status", "--offline")
    assert "environment  production" in status.stdout and "PRODUCTION" in status.stdout
    bulk_id = bulk_in(served, "SUBMITTED")
    command = bulkctl_command()
    env = dict(os.environ, BULKCTL_API_KEY=DEMO_API_KEY, BULKCTL_AUTH_TOKEN=DEMO_TOKEN)
    sent_execute = [f"/multi/backoffice/bulks/{bulk_id}/execute"]
    for answer, sent, code in (("y", [], 8), ("production", sent_execute, 0)):
        child = pexpect.spawn(
            command[0],
            [*command[1:], "--profile", "tunnel", "execute", bulk_id],
            env=env,
            timeout=30,
            encoding="utf-8",
        )
        child.expect_exact(WORD_PROMPT)
        assert f"execute bulk {bulk_id} on PRODUCTION (127.0.0.1:" in child.before
        child.send(answer + "\r")
        assert finish(child) == code  # 8: declined
        assert posts(served) == sent, answer
