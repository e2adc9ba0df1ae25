"""The README is a front door and docs/ the manual: the README stays small and keeps its quick
start, and every relative link in either reaches a file (and a heading, when it names one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 12_288
QUICK_START = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
    "bulkctl --profile demo list --status RUNNING",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest",
)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose(text: str) -> str:
    """The text outside code blocks and code spans, where a link is a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a page: `Which change asks what` ->
    which-change-asks-what, a heading in backticks read as its text."""
    found = set()
    for line in FENCE.sub("", text).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower().replace("`", "")
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def broken_links(root: Path) -> list[str]:
    """Each relative link of the README and docs/ whose file, or heading, does not exist."""
    broken = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(prose(text)):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:: not this repository's
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(root)}: {target}"
            if not linked.exists():
                broken.append(f"{where} (no such file)")
            elif (
                anchor
                and linked.suffix == ".md"
                and anchor not in anchors(linked.read_text(encoding="utf-8"))
            ):
                broken.append(f"{where} (no such heading)")
    return broken


def test_the_readme_is_under_12_kb() -> None:
    assert len((ROOT / "README.md").read_bytes()) < README_LIMIT


def test_the_readme_keeps_its_two_quick_start_lines_byte_for_byte() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    for line in QUICK_START:
        assert line in lines


def test_every_relative_link_of_the_readme_and_the_manual_exists() -> None:
    assert broken_links(ROOT) == []


def test_the_manual_has_an_index_that_links_every_guide() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    linked = {Path(target.partition("#")[0]).name for target in LINK.findall(prose(index))}
    guides = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert sorted(guides - linked) == []


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("[gone](docs/gone.md)", "README.md: docs/gone.md (no such file)"),
        ("[here](#nowhere)", "README.md: #nowhere (no such heading)"),
        ("[there](docs/guide.md#nowhere)", "README.md: docs/guide.md#nowhere (no such heading)"),
    ],
)
def test_a_broken_link_is_named(tmp_path: Path, link: str, problem: str) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## A part\n", encoding="utf-8")
    good = "[guide](docs/guide.md#a-part) [top](#front) `[not a link](x.md)`"
    (tmp_path / "README.md").write_text(f"# Front\n\n{good} {link}\n", encoding="utf-8")
    assert broken_links(tmp_path) == [problem]
