"""The real ``bulkctl ui`` process: in a pseudo-terminal against ``emulator serve``, and its
refusals where it cannot run (no terminal, TERM=dumb, --no-input, no extra)."""

from __future__ import annotations

import os
import re
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


class Terminal:
    """The real ``bulkctl ui`` in a pseudo-terminal, its output drawn by a terminal emulator
    (pyte): what the operator would see, cell by cell."""

    def __init__(self, served: Served, *args: str, size: tuple[int, int] = (80, 24)) -> None:
        import pexpect
        import pyte

        self.served = served
        self.screen = pyte.Screen(*size)
        self.stream = pyte.Stream(self.screen)
        command = bulkctl_command()
        self.child = pexpect.spawn(
            command[0],
            [*command[1:], "ui", *args],
            env={**os.environ, **served.env(), "TERM": "xterm-256color"},
            dimensions=(size[1], size[0]),
            encoding="utf-8",
            timeout=30,
        )

    def read(self, seconds: float = 0.1) -> None:
        import pexpect

        try:
            while True:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=seconds))
        except (pexpect.TIMEOUT, pexpect.EOF):
            return

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, words: str, seconds: float = 20.0) -> str:
        """Read until ``words`` are on the screen (and it stopped changing); the screen."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.read()
            if words in self.text():
                self.read(0.3)  # what follows in the same frame
                return self.text()
        raise AssertionError(f"{words!r} never showed; the screen:\n{self.text()}")

    def press(self, keys: str) -> None:
        self.child.send(keys)

    def resize(self, columns: int, rows: int) -> None:
        self.screen.resize(rows, columns)
        self.child.setwinsize(rows, columns)

    def quit(self) -> int:
        import pexpect

        self.child.send("q")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus)

    def gets(self) -> list[str]:
        return [url for method, url in self.served.emulator.requests if method == "GET"]


def ids_in(served: Served, status: str) -> list[str]:
    """The emulator's bulks in ``status``, newest first."""
    state = served.emulator.state
    return [i for i in state.order if state.bulks[i].status == status]


def rows_of(screen: str, status: str) -> list[str]:
    return re.findall(rf"^\s*(\d{{16}})\s+{status}\b", screen, re.MULTILINE)


@needs_textual
def test_bulkctl_ui_id_opens_on_that_bulk_and_esc_goes_to_the_list(served: Served) -> None:
    oldest = ids_in(served, "COMPLETED")[-1]  # far past the first page
    term = Terminal(served, oldest)
    screen = term.wait_for(f"bulk {oldest}")
    assert "COMPLETED" in screen.splitlines()[0]
    term.wait_for("operations(all)")
    term.press("\x1b")
    time.sleep(0.2)  # a lone Escape is only a key once no sequence follows it
    assert "newest 100 of 300" in term.wait_for("newest")
    assert term.quit() == 0
    assert any(url.endswith(f"/bulks/{oldest}") for url in term.gets())


@needs_textual
@pytest.mark.parametrize("key", [":", "/"])
def test_colon_or_slash_then_an_id_goes_to_that_bulk_reading_it(served: Served, key: str) -> None:
    oldest = ids_in(served, "FAILED")[-1]
    term = Terminal(served)
    term.wait_for("newest 100")
    assert oldest not in term.text()
    term.press(key)
    term.wait_for("bulk id")
    term.press(oldest + "\r")
    screen = term.wait_for(f"bulk {oldest}")
    assert "FAILED" in screen.splitlines()[0]
    assert term.quit() == 0
    assert any(url.endswith(f"/bulks/{oldest}") for url in term.gets())


@needs_textual
def test_a_partially_completed_bulk_opens_on_its_failed_operations_named(served: Served) -> None:
    term = Terminal(served, "--status", "partially_completed")
    screen = term.wait_for("(PARTIALLY_COMPLETED)")
    assert "newest 39 of 39 (PARTIALLY_COMPLETED)" in screen
    first = rows_of(screen, "PARTIALLY_COMPLETED")[0]
    term.press("\r")
    screen = term.wait_for("operations(FAILED)")
    bulk = served.emulator.state.bulks[first]
    count = bulk.operation_counts()["FAILED"]
    assert f"operations(FAILED)[{count} of {count}]" in screen
    assert "ERROR CODE" in screen
    lines = screen.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if "SEQ" in line) + 1 :]
    statuses = [line.split()[1] for line in table if re.match(r"^\s*\d+\s+[A-Z]+\s", line)]
    assert statuses and set(statuses) == {"FAILED"}
    assert term.quit() == 0


@needs_textual
def test_the_list_pages_past_100_on_scroll_and_with_n(served: Served) -> None:
    completed = ids_in(served, "COMPLETED")
    assert len(completed) == 172
    term = Terminal(served, "--status", "COMPLETED")
    screen = term.wait_for("newest 100 of 172 (COMPLETED) · n more")
    assert "4 COMPL 172" in screen
    term.press("\x1b[1;5F")  # Ctrl+End: the cursor on the last row reads the next page
    term.wait_for("newest 172 of 172 (COMPLETED)")
    term.press("\x1b[1;5F")
    term.wait_for(completed[-1])  # the oldest is reachable
    term.press("n")
    term.wait_for("all 172 loaded")
    assert term.quit() == 0
    pages = [u for u in term.gets() if "/bulks?" in u and "status=COMPLETED" in u]
    assert len([u for u in pages if "offset=100&" in u]) == 1  # the one page more, once
    assert not [u for u in pages if "offset=200" in u]


@needs_textual
def test_question_mark_shows_every_key(served: Served) -> None:
    term = Terminal(served)
    screen = term.wait_for("newest")
    assert "m act" in screen and "? keys" in screen  # the footer
    term.press("?")
    screen = term.wait_for("these keys")
    for words in ("go to a bulk by id", "m switches the mode", "sort by", "next operation"):
        assert words in screen
    term.press("\x1b")
    time.sleep(0.2)
    assert "these keys" not in term.wait_for("newest")
    assert term.quit() == 0


@needs_textual
def test_after_a_pause_the_header_counts_the_rows_shown(served: Served) -> None:
    paused = len(ids_in(served, "PAUSED"))
    term = Terminal(served, "--status", "RUNNING")
    screen = term.wait_for("(RUNNING)")
    target = rows_of(screen, "RUNNING")[0]
    term.press("p")
    term.wait_for("Yes")
    term.press("y")
    running = len(rows_of(screen, "RUNNING"))
    screen = term.wait_for(f"newest {running - 1} of {running - 1} (RUNNING)")
    assert target not in rows_of(screen, "RUNNING")
    assert f"6 PAUSE {paused + 1} " in screen  # counted at once, not a minute later
    term.press("2")  # all statuses
    term.wait_for("(all statuses)")
    term.press("6")  # PAUSED only
    screen = term.wait_for("(PAUSED)")
    rows = rows_of(screen, "PAUSED")
    assert target in rows and len(rows) == paused + 1
    assert f"6 PAUSE {paused + 1} " in screen + " "
    assert term.quit() == 0


@needs_textual
def test_a_resize_below_60x15_says_so_and_the_screen_comes_back(served: Served) -> None:
    term = Terminal(served)
    term.wait_for("newest")
    term.resize(59, 15)
    screen = term.wait_for("needs at least 60×15")
    assert "this terminal is 59×15" in screen
    term.resize(80, 24)
    screen = term.wait_for("newest")
    assert "needs at least" not in screen
    term.press("\r")
    term.wait_for("failed by errorCode")
    term.resize(59, 15)
    term.wait_for("needs at least 60×15")
    term.resize(80, 24)
    assert "needs at least" not in term.wait_for("failed by errorCode")
    assert term.quit() == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("ui", "12a"), "invalid bulk id '12a': a bulk id is digits only (0-9)"),
        (("ui", "--status", "paused,faild"), "unknown status 'faild'; did you mean FAILED?"),
    ],
)
def test_a_bad_id_or_status_is_refused_before_anything_else(
    served: Served, args: tuple[str, ...], words: str
) -> None:
    result = run_bulkctl(*args, env=served.env())
    assert result.code == 2
    assert result.stderr.splitlines()[0] == f"bulkctl: error: {words}"
    assert not served.emulator.requests
