"""The ``assembly-async`` command line.

Commands, one module each: ``demo`` (the embedded fake server, synced twice),
``sync`` (schools from a token store into a sink), ``status``, and ``token``
(OAuth helpers; ``add``/``list``/``remove`` on the token store). With the
distributed extra, ``worker``, ``sync --queue`` and ``status --queue`` run a
sync on many machines (``_queue_cmd.py``).

Results go to stdout (tables, or one JSON document with ``--json``);
progress, narration and log lines to stderr, through one formatted handler
(``-v`` for INFO, ``-vv`` for DEBUG). Options that name files and hosts also
read environment variables (``ASSEMBLY_TOKEN_STORE``, ``ASSEMBLY_SINK``,
``ASSEMBLY_STATE``, ``ASSEMBLY_API_URL``, ``ASSEMBLY_OAUTH_URL``), next to the
credentials (``ASSEMBLY_CLIENT_ID``, ``ASSEMBLY_CLIENT_SECRET``,
``ASSEMBLY_ENVIRONMENT``).

Exit codes: 0 done; 1 some school (or token) failed; 2 bad input or
configuration (one line on stderr); 3 the API or OAuth host cannot be reached
at all (one line, after a single probe); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

from .._core.errors import AssemblyError, ConfigurationError
from .._core.logs import LOGGER
from .._core.version import __version__
from . import _demo, _queue_cmd, _status_cmd, _sync_cmd, _token_cmd
from ._common import CLIError, Unreachable
from ._logsetup import setup_logging
from ._ui import UI, make_ui

__all__ = ["CLIError", "build_parser", "main"]

PROG = "assembly-async"

#: Command name -> the coroutine that runs it.
COMMANDS: dict[str, Callable[[argparse.Namespace, UI], Coroutine[Any, Any, int]]] = {
    "demo": _demo.run,
    "sync": _queue_cmd.or_queue(_sync_cmd.run, _queue_cmd.run_queue_sync),
    "status": _queue_cmd.or_queue(_status_cmd.run, _queue_cmd.run_queue_status),
    "token": _token_cmd.run,
    "worker": _queue_cmd.run_worker,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CLIError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Bulk sync for the Assembly Platform API. "
                     "Credentials: ASSEMBLY_CLIENT_ID, ASSEMBLY_CLIENT_SECRET, "
                     "ASSEMBLY_ENVIRONMENT (sandbox|production).",
                     epilog="Exit codes: 0 done, 1 a school failed, 2 bad input, "
                     "3 host unreachable.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}",
                        help="print the version and exit")
    parser.add_argument("--plain", action="store_true",
                        help="plain text output, no rich tables or progress bars")
    parser.add_argument("--json", action="store_true",
                        help="print the result as one JSON document on stdout")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log lines on stderr: -v INFO (retries), -vv DEBUG "
                        "(every request)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for module in (_demo, _sync_cmd, _status_cmd, _token_cmd, _queue_cmd):
        module.register(sub)
    return parser


def _fail(message: str, code: int, ui: UI | None, args: argparse.Namespace | None) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    if ui is not None and ui.json:
        command = " ".join(c for c in (getattr(args, "command", None),
                                       getattr(args, "token_command", None)) if c)
        ui.emit({"command": command, "ok": False, "exit_code": code, "error": text})
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    ui: UI | None = None
    args: argparse.Namespace | None = None
    logger = logging.getLogger(LOGGER)
    handlers, level = list(logger.handlers), logger.level
    try:
        args = build_parser().parse_args(argv)
        ui = make_ui(plain=args.plain, json=args.json)
        setup_logging(ui, args.verbose)
        return asyncio.run(COMMANDS[args.command](args, ui))
    except (CLIError, Unreachable) as exc:
        return _fail(str(exc), exc.exit_code, ui, args)
    except (ConfigurationError, ValueError) as exc:
        return _fail(str(exc), 2, ui, args)
    except AssemblyError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1, ui, args)
    except (OSError, sqlite3.Error) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 2, ui, args)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, ui, args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    finally:
        # The command's handler goes; whatever was configured before comes back.
        logger.handlers[:] = handlers
        logger.setLevel(level)
