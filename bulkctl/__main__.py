"""Run bulkctl as ``python -m bulkctl``."""

from bulkctl.cli import main

if __name__ == "__main__":
    main()
