"""The SDK's logging switch: ``ASSEMBLY_LOG=debug`` (or ``info``) turns it on
without code, as ``OPENAI_LOG`` does for openai-python.

The SDK logs under ``assembly_async`` (``assembly_async.http`` every attempt
and retry, ``assembly_async.auth`` refreshes, ``assembly_async.sync``
watermarks, ...) and, like any library, installs no handler by default. The
variable is read once, when ``assembly_async`` is imported; in code, call
:func:`enable_logging`. Nothing the SDK logs holds a token, a secret or a
pupil's data (URLs are redacted).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from .errors import ConfigurationError

__all__ = ["ENV_VAR", "LEVELS", "LOGGER", "configure_from_env", "enable_logging"]

LOGGER = "assembly_async"
ENV_VAR = "ASSEMBLY_LOG"
LEVELS: dict[str, int] = {"debug": logging.DEBUG, "info": logging.INFO,
                          "warning": logging.WARNING, "error": logging.ERROR}
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to whatever ``sys.stderr`` is at the time
    (so redirections made after it was installed are honoured)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)  # sets self.stream (sys.stderr when None) ...
        self._fixed = stream  # ... so keep only a stream given explicitly

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._fixed = value


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"log level must be one of {', '.join(LEVELS)}, got {level!r}") from None


def enable_logging(level: str | int = "debug", *, handler: logging.Handler | None = None
                   ) -> logging.Handler:
    """Show the SDK's log records at ``level`` and above on stderr (or through
    ``handler``), formatted one per line. Calling it again replaces the handler
    it installed before, so there is always at most one."""
    number = _level(level)  # a bad level fails before anything changes
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if getattr(h, "_assembly_async", False)]:
        logger.removeHandler(old)
    if handler is None:
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
    handler._assembly_async = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(number)
    return handler


def configure_from_env(environ: Mapping[str, str] = os.environ) -> logging.Handler | None:
    """Apply ``ASSEMBLY_LOG`` if set: ``debug``, ``info``, ``warning`` or ``error``."""
    value = environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    if value not in LEVELS:
        logging.getLogger(LOGGER).warning("%s=%r is not one of %s; SDK logging stays off",
                                          ENV_VAR, value, ", ".join(LEVELS))
        return None
    return enable_logging(value)
