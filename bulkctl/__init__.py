"""bulkctl: watch and manage Weavr bulk processes."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client (click, rich's console and syntax, pygments) when
# those packages are installed, as typer's and rich's are here; bulkctl never runs it, and it
# is about a third of what `import httpx` costs. A None in sys.modules makes that one import
# fail, which httpx expects (it then defines a `main` that says the CLI is missing).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
