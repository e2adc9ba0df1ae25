"""``bulkctl pause``: pause RUNNING bulks. The checks and the confirmation are in ``bulkctl.actions``."""

from bulkctl.actions.command import ActionOptions, change_command, run

__all__ = ["ActionOptions", "command", "parse", "run"]

parse, command = change_command("pause", "Pause one or more RUNNING bulks (asks first).")
