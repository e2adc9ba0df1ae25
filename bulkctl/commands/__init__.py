"""The commands, one a file (``<noun>/<verb>.py`` where there is a noun), each with an Options
dataclass, ``parse(ctx, ...)`` that builds it, ``run(ctx, options)`` that does the work and a
thin typer function ``command`` that calls ``bulkctl.cli.invoke.invoke``. ``bulkctl.cli.app`` lists
them; a command never imports another one."""
