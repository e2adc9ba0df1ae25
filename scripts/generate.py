"""Regenerate what is generated from the CLI itself: completions/, the README's exit code
table, a page per command in docs/commands/ (a page no command has is removed) and docs/ui.svg.

python scripts/generate.py          # write the files
python scripts/generate.py --check  # exit 1 when a committed file is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulkctl.cli.app import root_command  # noqa: E402
from bulkctl.cli.completion import SHELLS, script  # noqa: E402
from bulkctl.cli.reference import (  # noqa: E402
    PAGES_FOLDER,
    command_pages,
    committed_pages,
    update_readme,
)

FILES = {"bash": "bulkctl.bash", "zsh": "_bulkctl", "fish": "bulkctl.fish"}


def wanted() -> dict[Path, str]:
    root = root_command()  # the generators load every command of the lazy registry
    files = {ROOT / "completions" / FILES[shell]: script(shell, root) for shell in SHELLS}
    readme = ROOT / "README.md"
    files[readme] = update_readme(readme.read_text(encoding="utf-8"))
    files.update({ROOT / PAGES_FOLDER / name: text for name, text in command_pages().items()})
    files.update(ui_screens())
    return files


def ui_screens() -> dict[Path, str]:
    """docs/ui.svg, the ui on the fixed demo (skipped without the ui extra)."""
    from bulkctl.ui.command import textual_available

    if not textual_available():
        print("skipped docs/ui.svg: the ui extra is not installed", file=sys.stderr)
        return {}
    import asyncio

    from bulkctl.ui.demo import screenshot

    return {ROOT / "docs" / "ui.svg": asyncio.run(screenshot())}


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Regenerate completions, command pages, exit codes."
    )
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args()
    stale = []
    files = wanted()
    for name in committed_pages(ROOT / PAGES_FOLDER):  # a page no command has any more
        extra = ROOT / PAGES_FOLDER / name
        if extra not in files:
            stale.append(extra.relative_to(ROOT))
            if not args.check:
                extra.unlink()
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote or removed'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
