"""The commands, one a file (``<noun>/<verb>.py`` where there is a noun), each with an Options
dataclass, ``parse(ctx, ...)`` that builds it, ``run(ctx, options)`` that does the work and a
thin typer function ``command`` that calls ``bulkctl.invoke.invoke``. ``bulkctl.cli`` lists
them; a command never imports another one."""
