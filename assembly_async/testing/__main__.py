"""``python -m assembly_async.testing --schools K --port N [--seed S] [--time-scale X]``.

With ``--token-store PATH`` every school's token also goes into an SQLite token
store (or, given a ``redis://``, ``rediss://`` or ``unix://`` URL, a Redis token
store: the ``redis`` extra), and the banner prints the ``export`` line that points the
``assembly-async`` command at the fake: two terminals, and the whole CLI runs
without an Assembly account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
from collections.abc import Sequence

from .._core.redact import hide_secrets
from .server import FakeAssembly


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m assembly_async.testing",
                                description="Serve a fake Assembly Platform API on 127.0.0.1.")
    p.add_argument("--schools", type=int, default=3, help="number of schools (3)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (0)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="speeds up the rate-limit window (100 -> 300 s lasts 3 s)")
    p.add_argument("--students", type=int, default=200, help="students per school")
    p.add_argument("--staff", type=int, default=40, help="staff per school")
    p.add_argument("--rate-limit", type=int, default=600, help="requests per window (600)")
    p.add_argument("--rate-window", type=float, default=300.0,
                   help="the rate-limit window in seconds (300)")
    p.add_argument("--access-token-ttl", type=int, default=86400,
                   help="school access tokens' lifetime in seconds (86400)")
    p.add_argument("--rotate-refresh-tokens", action="store_true",
                   help="issue a new refresh token with every refresh")
    p.add_argument("--token-store", metavar="PATH|URL",
                   help="also write every school's token into this token store: an SQLite "
                        "file, or a redis://, rediss:// or unix:// URL (the redis extra)")
    p.add_argument("--oddities", action="store_true",
                   help="serve real-world oddities on some records (2015-02-31, numbers as text)")
    return p.parse_args(argv)


def banner(fake: FakeAssembly) -> str:
    lines = [
        f"Fake Assembly API listening on {fake.url}",
        f"  api_url:       {fake.api_url}",
        f"  oauth_url:     {fake.oauth_url}  (POST /oauth/token, GET /oauth/authorize)",
        f"  control:       {fake.url}/_control/info",
        f"  client_id:     {fake.client_id}",
        f"  client_secret: {fake.client_secret}",
        f"  app_token:     {fake.app_token}",
    ]
    for sid in fake.school_ids:
        pair = fake.school_token(sid)
        lines.append(f"  school {sid}: access_token={pair.access_token} "
                     f"refresh_token={pair.refresh_token}")
    lines.append("For the assembly-async command:")
    lines.append(f"  export ASSEMBLY_API_URL={fake.api_url} ASSEMBLY_OAUTH_URL={fake.oauth_url} "
                 f"ASSEMBLY_CLIENT_ID={fake.client_id} "
                 f"ASSEMBLY_CLIENT_SECRET={fake.client_secret}")
    return "\n".join(lines)


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


async def write_store(fake: FakeAssembly, path: str) -> str:
    """Every school's token into the token store at ``path``: an SQLite file,
    or Redis when ``path`` is a Redis URL (shown without its password)."""
    from ._sdk_tokens import store_school_tokens

    if path.startswith(_REDIS_SCHEMES):
        try:
            from ..redis import RedisTokenStore
        except ImportError:
            raise SystemExit('a Redis token store needs the redis extra: '
                             'pip install "assembly-async[redis]"') from None
        async with RedisTokenStore(path) as redis_store:
            ids = await store_school_tokens(fake, redis_store)
    else:
        from ..auth import SQLiteTokenStore

        async with SQLiteTokenStore(path) as sqlite_store:
            ids = await store_school_tokens(fake, sqlite_store)
    shown = hide_secrets(path)
    if shown != path:
        # Never print a password; the line to copy names the URL it came from.
        export = "  export ASSEMBLY_TOKEN_STORE='<the --token-store URL, password included>'"
    else:
        export = f"  export ASSEMBLY_TOKEN_STORE={shlex.quote(path)}"
    return f"Stored the tokens of schools {', '.join(map(str, ids))} in {shown}\n{export}"


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with FakeAssembly(schools=args.schools, port=args.port, seed=args.seed,
                            time_scale=args.time_scale, students_per_school=args.students,
                            staff_per_school=args.staff, rate_limit=args.rate_limit,
                            rate_window=args.rate_window, access_token_ttl=args.access_token_ttl,
                            rotate_refresh_tokens=args.rotate_refresh_tokens,
                            oddities=args.oddities) as fake:
        print(banner(fake), flush=True)
        if args.token_store:
            print(await write_store(fake, args.token_store), flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
