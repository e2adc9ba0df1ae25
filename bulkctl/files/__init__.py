"""Files of items for ``submit`` and ``rerun``: streamed reading (``reading``), checks against
the spec (``validation``), chunks, refs and rerun plans (``submission``), and the journal of
which chunk became which bulk (``journal``)."""
