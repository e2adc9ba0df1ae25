"""The commands on one bulk: show, operations, and the state changes (users type them without a noun)."""
