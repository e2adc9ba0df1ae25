"""``bulkctl emulator``: the built-in emulator over real HTTP."""
