"""``bulkctl cancel``: cancel RUNNING or PAUSED bulks; asks first, since it is final. The checks and the confirmation are in ``bulkctl.actions``."""

from bulkctl.actions.command import ActionOptions, change_command, run

__all__ = ["ActionOptions", "command", "parse", "run"]

parse, command = change_command(
    "cancel", "Cancel one or more RUNNING or PAUSED bulks (asks first; final)."
)
