"""The ``assembly-async`` command line.

``demo`` (the embedded fake server, synced twice), ``sync`` (schools from a
token store into a sink), ``token`` (OAuth helpers) and ``status``. Bad input
gives one line on stderr and exit code 2; a sync in which some school failed
exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._core.errors import AssemblyError, ConfigurationError
from ._commands import CLIError, cmd_status, cmd_sync, cmd_token
from ._ui import make_ui

__all__ = ["CLIError", "build_parser", "main"]

PROG = "assembly-async"
STORE_HELP = ("token store: an SQLite file, or a redis://, rediss:// or unix:// URL"
              " (needs the redis extra)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CLIError(message)


def _add_api(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", help="override the API host (default from ASSEMBLY_ENVIRONMENT)")
    p.add_argument("--oauth-url", help="override the OAuth host")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Bulk sync for the Assembly Platform API. "
                     "Credentials: ASSEMBLY_CLIENT_ID, ASSEMBLY_CLIENT_SECRET, "
                     "ASSEMBLY_ENVIRONMENT (sandbox|production).")
    parser.add_argument("--plain", action="store_true", help="plain text output, no rich")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="sync an embedded fake server into SQLite, twice")
    demo.add_argument("--schools", type=int, default=20, help="number of fake schools (20)")
    demo.add_argument("--db", help="SQLite file to keep (default: a temporary file)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--concurrency", type=int, default=16)

    sync = sub.add_parser("sync", help="sync schools from a token store into a sink")
    sync.add_argument("--token-store", required=True, help=STORE_HELP)
    sync.add_argument("--sink", required=True,
                      help="postgresql://user@host/db: PostgreSQL (sync state in the same "
                      "database); *.db: SQLite sink; any other path: directory of JSON Lines files")
    sync.add_argument("--resources", default="students,staff_members")
    sync.add_argument("--schools", help="comma-separated school ids (default: all in the store)")
    sync.add_argument("--state", help="sync state: an SQLite file or a redis:// URL (default: "
                      "the PostgreSQL database, or a file next to the sink)")
    sync.add_argument("--concurrency", type=int, default=16)
    _add_api(sync)

    token = sub.add_parser("token", help="OAuth helpers (results go to the token store)")
    tsub = token.add_subparsers(dest="token_command", required=True, parser_class=_Parser)
    url = tsub.add_parser("authorize-url", help="print the URL a school admin must visit")
    url.add_argument("--redirect-uri", required=True)
    url.add_argument("--scopes", required=True, help="space or comma separated scopes")
    url.add_argument("--state", help="state to embed (default: random)")
    exch = tsub.add_parser("exchange", help="trade an authorization code for a school token")
    exch.add_argument("--code", required=True)
    exch.add_argument("--redirect-uri", required=True)
    ref = tsub.add_parser("refresh", help="refresh stored school tokens now")
    ref.add_argument("--schools", help="comma-separated school ids (default: all)")
    tsub.add_parser("client-credentials", help="get and store an app token")
    for p in (url, exch, ref, tsub.choices["client-credentials"]):
        _add_api(p)
        if p is not url:
            p.add_argument("--token-store", required=True, help=STORE_HELP)

    status = sub.add_parser("status", help="API sync status and our last local sync per school")
    status.add_argument("--token-store", required=True, help=STORE_HELP)
    status.add_argument("--sink", help="sink (path or postgresql:// URL) whose sync_runs to show")
    status.add_argument("--schools", help="comma-separated school ids (default: all)")
    _add_api(status)
    return parser


async def _dispatch(args: argparse.Namespace) -> int:
    ui = make_ui(plain=args.plain)
    if args.command == "demo":
        if args.schools < 1 or args.schools > 1000:
            raise CLIError("--schools must be between 1 and 1000")
        if args.concurrency < 1:
            raise CLIError("--concurrency must be >= 1")
        from ._demo import run_demo

        return await run_demo(ui, schools=args.schools, db=args.db, seed=args.seed,
                              concurrency=args.concurrency)
    if args.command == "sync":
        return await cmd_sync(args, ui)
    if args.command == "token":
        return await cmd_token(args, ui)
    return await cmd_status(args, ui)


def _fail(message: str, code: int) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    try:
        args = build_parser().parse_args(argv)
        return asyncio.run(_dispatch(args))
    except CLIError as exc:
        return _fail(str(exc), 2)
    except (ConfigurationError, ValueError) as exc:
        return _fail(str(exc), 2)
    except AssemblyError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    except (OSError, sqlite3.Error) as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
