"""Reading many bulks or operations: offset/limit paging (``paging``), client-side filters
(``filters``) and the status streams behind ``list`` and ``summary`` (``matching``)."""
