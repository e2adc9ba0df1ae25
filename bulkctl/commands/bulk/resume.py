"""``bulkctl resume``: resume PAUSED bulks. The checks and the confirmation are in ``bulkctl.actions``."""

from bulkctl.actions.command import ActionOptions, change_command, run

__all__ = ["ActionOptions", "command", "parse", "run"]

parse, command = change_command(
    "resume", "Resume one or more PAUSED bulks (asks first; moves money)."
)
