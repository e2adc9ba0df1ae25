"""The command line's frame: the root app and its lazy registry (``app``), the shared options
(``options``), the one way a command runs (``invoke``), completion scripts and the generated
reference. Commands import ``options`` and ``invoke``; only ``__main__`` and ``reference``
import ``app``."""
