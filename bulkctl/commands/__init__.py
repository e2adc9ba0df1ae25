"""One module per command group; each parses options and hands them to a run_* function."""
