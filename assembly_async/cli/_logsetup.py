"""One formatted log handler on stderr for the whole command.

Warnings and errors always show (a 429 pause, a record that did not decode);
``-v`` adds INFO (every retry), ``-vv`` DEBUG (every attempt). ``ASSEMBLY_LOG``
raises the level the same way. With rich on a terminal the handler prints
through the same console as the progress bars, so log lines appear above the
bars instead of inside them.
"""

from __future__ import annotations

import logging
import os

from .._core.logs import LEVELS, enable_logging
from ._ui import UI

__all__ = ["setup_logging"]

PLAIN_FORMAT = "assembly-async: %(levelname)s %(name)s: %(message)s"


def _level(verbosity: int) -> int:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    from_env = LEVELS.get(os.environ.get("ASSEMBLY_LOG", "").strip().lower())
    return min(level, from_env) if from_env is not None else level


def setup_logging(ui: UI, verbosity: int) -> logging.Handler:
    """Install the command's handler on the ``assembly_async`` logger."""
    handler: logging.Handler
    if ui.use_rich and ui.err_is_terminal():
        from rich.logging import RichHandler

        handler = RichHandler(console=ui.err_console(), show_path=False, markup=False,
                              rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(ui.err)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    return enable_logging(_level(verbosity), handler=handler)
