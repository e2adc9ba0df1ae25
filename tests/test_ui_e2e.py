"""The real ``bulkctl ui`` process: in a pseudo-terminal against ``emulator serve``, and its
refusals where it cannot run (no terminal, TERM=dumb, --no-input, no extra)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import Served, bulkctl_command, run_bulkctl
from tests.test_startup import imported_after

needs_textual = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import textual"], capture_output=True).returncode != 0,
    reason="bulkctl ui needs the 'ui' extra: pip install '.[ui]'",
)


def spawn_ui(served: Served, *args: str, **env: str) -> object:
    import pexpect

    command = bulkctl_command()
    return pexpect.spawn(
        command[0],
        [*command[1:], *args, "ui"],
        env={**os.environ, **served.env(), "TERM": "xterm-256color", **env},
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
    )


@needs_textual
def test_open_a_bulk_go_back_and_quit_with_q(served: Served) -> None:
    import pexpect

    newest = served.state.order[0]
    child = spawn_ui(served)
    child.expect(newest)  # type: ignore[attr-defined]
    child.send("\r")  # type: ignore[attr-defined]
    child.expect("failed by errorCode")  # type: ignore[attr-defined]
    child.send("\x1b")  # type: ignore[attr-defined]
    time.sleep(0.2)  # a lone Escape is only a key once no sequence follows it
    child.expect("newest")  # type: ignore[attr-defined]
    child.send("q")  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 0  # type: ignore[attr-defined]
    gets = [url for method, url in served.emulator.requests if method == "GET"]
    assert any(url.endswith(f"/bulks/{newest}") for url in gets)
    assert not [url for method, url in served.emulator.requests if method == "POST"]


@needs_textual
def test_ctrl_c_exits_0_and_sigterm_exits_143(served: Served) -> None:
    import pexpect

    newest = served.state.order[0]
    child = spawn_ui(served)
    child.expect(newest)  # type: ignore[attr-defined]
    child.sendcontrol("c")  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 0  # type: ignore[attr-defined]

    child = spawn_ui(served)
    child.expect(newest)  # type: ignore[attr-defined]
    child.kill(signal.SIGTERM)  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 143  # type: ignore[attr-defined]


def test_without_a_terminal_it_refuses_with_one_line(served: Served) -> None:
    result = run_bulkctl("ui", env=served.env())
    if "'ui' extra" in result.stderr:
        pytest.skip("the ui extra is not installed")
    assert result.code == 2
    assert result.stderr == (
        "bulkctl: error: bulkctl ui needs a terminal on stdin and stdout (try: bulkctl list)\n"
    )
    assert result.stdout == ""
    assert not served.emulator.requests


@needs_textual
@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        ((), {"TERM": "dumb"}, "cannot draw on TERM=dumb"),
        (("--no-input",), {}, "--no-input (or BULKCTL_NO_INPUT) forbids it"),
        ((), {"BULKCTL_NO_INPUT": "1"}, "--no-input (or BULKCTL_NO_INPUT) forbids it"),
    ],
)
def test_on_a_terminal_it_still_refuses_dumb_terminals_and_no_input(
    served: Served, args: tuple[str, ...], env: dict[str, str], words: str
) -> None:
    import pexpect

    child = spawn_ui(served, *args, **env)
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    output = child.before  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 2  # type: ignore[attr-defined]
    assert words in output and len(output.strip().splitlines()) == 1
    assert not served.emulator.requests


BLOCKED = """
import sys
sys.modules["textual"] = None  # as if the ui extra were not installed
sys.argv = ["bulkctl", "ui"]
from bulkctl.__main__ import main
main()
"""


def test_without_the_extra_it_says_how_to_install_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "bulkctl: error: bulkctl ui needs the optional 'ui' extra (Textual)",
        "  install it with: pip install 'bulkctl[ui]'   (from a clone: pip install '.[ui]')",
    ]


@pytest.mark.parametrize(
    "args", [["ui", "--help"], ["--help"], ["list", "--help"], ["--profile", "demo", "list"]]
)
def test_only_the_ui_imports_textual(args: list[str]) -> None:
    assert not [m for m in imported_after(args) if m.startswith("textual")]


def test_no_module_outside_bulkctl_ui_imports_textual() -> None:
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "bulkctl"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "ui" not in path.relative_to(package).parts[:1]
        and ("import textual" in path.read_text() or "from textual" in path.read_text())
    ]
    assert offenders == []
