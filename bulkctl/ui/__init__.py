"""``bulkctl ui``: a live, keyboard-driven view of the bulks, built with Textual.

Only this package imports textual, and only ``app`` does: ``command`` checks the terminal
and the extra first, so ``bulkctl ui --help`` and a refusal stay light.
"""
