"""``sync``, ``token`` and ``status``: the commands that talk to the real API."""

from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .._client.client import AssemblyClient
from .._core.errors import AssemblyError, StorageError
from .._sync.engine import SyncEngine
from ..auth import SQLiteTokenStore, TokenStore
from ..sinks import PostgresSink, SQLiteSink, SyncRun, is_dsn, sink_for_path
from ._ui import UI

__all__ = ["CLIError", "cmd_status", "cmd_sync", "cmd_token", "known_resources"]


class CLIError(Exception):
    """Bad input: printed as one line on stderr, exit code 2."""


def known_resources() -> list[str]:
    """Resources ``sync`` accepts: conditional school lists with a flat name."""
    from .._client.delta import CHANGE_OPERATIONS

    return [name for name in CHANGE_OPERATIONS if "." not in name]


def parse_resources(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CLIError("--resources is empty")
    known = known_resources()
    for name in names:
        if name not in known:
            raise CLIError(f"unknown resource {name!r}; choose from: {', '.join(known)}")
    return names


def parse_school_ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        ids = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CLIError(f"--schools must be comma-separated integers, got {text!r}") from None
    if not ids or any(i < 1 for i in ids):
        raise CLIError(f"--schools must be comma-separated positive integers, got {text!r}")
    return ids


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise CLIError(f"{name} is not set in the environment")
    return value


def _environment() -> Any:
    env = os.environ.get("ASSEMBLY_ENVIRONMENT", "sandbox").strip() or "sandbox"
    if env not in ("sandbox", "production"):
        raise CLIError(f"ASSEMBLY_ENVIRONMENT must be 'sandbox' or 'production', got {env!r}")
    return env


def _check_store_path(path: str, create: bool) -> Path:
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"token store {path!r} is a directory, not an SQLite file")
    if not create and not p.is_file():
        raise CLIError(f"token store {path!r} does not exist "
                       "(create it with `assembly-async token exchange`)")
    if create and not p.parent.is_dir():
        raise CLIError(f"directory of token store {path!r} does not exist")
    return p


def _check_sink_path(text: str) -> Path:
    sink_path = Path(text)
    if not sink_path.parent.is_dir():
        raise CLIError(f"directory of --sink {text!r} does not exist")
    is_db = isinstance(sink_for_path(sink_path), SQLiteSink)
    if sink_path.exists() and sink_path.is_dir() == is_db:
        raise CLIError(f"--sink {text!r}: a .db path must be a file, anything else a directory")
    return sink_path


def _check_existing_sink(text: str) -> Path:
    sink_path = Path(text)
    if not sink_path.exists():
        raise CLIError(f"--sink {text!r} does not exist")
    if isinstance(sink_for_path(sink_path), SQLiteSink) and not sink_path.is_file():
        raise CLIError(f"--sink {text!r} is not a file")
    return sink_path


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(text: str) -> bool:
    """A ``redis://``, ``rediss://`` or ``unix://`` URL (else a file path)."""
    return text.startswith(REDIS_SCHEMES)


def shown(text: str) -> str:
    """``text`` fit to print: a URL's password replaced by ``***``."""
    if not is_redis_url(text):
        return text
    from yarl import URL

    url = URL(text)
    return str(url.with_password("***")) if url.password else text


def _redis() -> Any:
    try:
        from .. import redis
    except ImportError:
        raise CLIError('Redis URLs need the redis extra: pip install "assembly-async[redis]"'
                       ) from None
    return redis


@asynccontextmanager
async def open_store(path: str, *, create: bool) -> AsyncIterator[TokenStore]:
    """The token store at ``path`` (an SQLite file, or a Redis URL); a file must
    exist unless ``create``."""
    store: Any
    if is_redis_url(path):
        store = _redis().RedisTokenStore(path)
        try:
            await store.open()
        except AssemblyError as exc:
            await store.close()
            raise CLIError(f"cannot reach the token store {shown(path)!r}: {exc}") from None
    else:
        store = SQLiteTokenStore(_check_store_path(path, create))
        try:
            await store.open()
            await store.keys()
        except (StorageError, sqlite3.DatabaseError, OSError) as exc:
            await store.close()
            raise CLIError(f"cannot read token store {path!r}: {exc}") from None
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_state(text: str | None, sink_path: Path | None, *, sink: Any = None
                     ) -> AsyncIterator[Any]:
    """The sync state: a Redis URL, an SQLite file; by default the sink's own
    database for PostgreSQL (each job's records and watermark then commit
    together) and a file next to the sink otherwise."""
    if text is None and isinstance(sink, PostgresSink):
        yield sink.sync_state()
        return
    if text is not None and is_redis_url(text):
        state = _redis().RedisSyncState(text)
        try:
            await state.open()
        except AssemblyError as exc:
            await state.close()
            raise CLIError(f"cannot reach the sync state {shown(text)!r}: {exc}") from None
        try:
            yield state
        finally:
            await state.close()
        return
    from .._sync.sqlite_state import SQLiteSyncState

    path = Path(text) if text else _state_path(sink_path or Path("."))
    async with SQLiteSyncState(path) as sqlite_state:
        yield sqlite_state


def make_client(args: argparse.Namespace, store: Any, *, need_secret: bool = True
                ) -> AssemblyClient:
    client_id = _env("ASSEMBLY_CLIENT_ID")
    secret = _env("ASSEMBLY_CLIENT_SECRET") if need_secret else os.environ.get(
        "ASSEMBLY_CLIENT_SECRET", "unused")
    return AssemblyClient(environment=_environment(), api_url=args.api_url,
                          oauth_url=args.oauth_url, client_id=client_id,
                          client_secret=secret, token_store=store)


async def stored_school_ids(store: TokenStore) -> list[int]:
    ids = []
    for key in await store.keys():
        if key.startswith("school:"):
            try:
                ids.append(int(key.split(":", 1)[1]))
            except ValueError:
                continue
    return sorted(ids)


def _state_path(sink_path: Path) -> Path:
    if sink_path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        return sink_path.with_name(sink_path.name + ".state")
    return sink_path / "_sync_state.db"


async def cmd_sync(args: argparse.Namespace, ui: UI) -> int:
    resources = parse_resources(args.resources)
    wanted = parse_school_ids(args.schools)
    postgres = is_dsn(args.sink)
    sink_path = None if postgres else _check_sink_path(args.sink)
    if args.concurrency < 1:
        raise CLIError("--concurrency must be >= 1")
    async with open_store(args.token_store, create=False) as store:
        client = make_client(args, store)
        ids = wanted if wanted is not None else await stored_school_ids(store)
        if not ids:
            raise CLIError(f"no school tokens in {shown(args.token_store)!r}")
        # A sync job holds a connection from its first write to its commit.
        sink: Any = (PostgresSink(args.sink, pool_size=args.concurrency + 2) if postgres
                     else sink_for_path(sink_path or Path(".")))
        async with client:
            await sink.open()
            try:
                async with open_state(args.state, sink_path, sink=sink) as state:
                    engine = SyncEngine(client, sink, state, resources=resources,
                                        concurrency=args.concurrency)
                    with ui.progress(ids, resources) as progress:
                        engine.on_progress = progress.event
                        report = await engine.run(ids)
            finally:
                await sink.close()
    where = sink.dsn if postgres else args.sink
    ui.report_table(f"Sync into {where}", report)
    return 0 if report.ok else 1


async def cmd_token(args: argparse.Namespace, ui: UI) -> int:
    if args.token_command == "authorize-url":
        from .._core.config import ClientConfig
        from ..auth import authorization_url, make_state

        config = ClientConfig.create(environment=_environment(), api_url=args.api_url,
                                     oauth_url=args.oauth_url)
        scopes = [s for s in args.scopes.replace(",", " ").split() if s]
        if not scopes:
            raise CLIError("--scopes is empty")
        state = args.state or make_state()
        url = authorization_url(oauth_base=str(config.oauth_url),
                                client_id=_env("ASSEMBLY_CLIENT_ID"),
                                redirect_uri=args.redirect_uri, scopes=scopes, state=state)
        ui.line(url)
        ui.line(f"state: {state}")
        return 0
    async with open_store(args.token_store, create=args.token_command != "refresh") as store:
        client = make_client(args, store)
        async with client:
            if args.token_command == "exchange":
                token = await client.exchange_code(args.code, redirect_uri=args.redirect_uri)
                ui.line(f"stored the token of school {token.school_id} "
                        f"({len(token.scopes)} scopes) in {shown(args.token_store)}")
            elif args.token_command == "refresh":
                ids = parse_school_ids(args.schools) or await stored_school_ids(store)
                if not ids:
                    raise CLIError(f"no school tokens in {shown(args.token_store)!r}")
                failed = 0
                for sid in ids:
                    try:
                        await client.refresh_school_token(sid)
                        ui.line(f"school {sid}: refreshed")
                    except AssemblyError as exc:
                        failed += 1
                        ui.line(f"school {sid}: {type(exc).__name__}: {exc}")
                return 1 if failed else 0
            else:  # client-credentials
                await client.client_credentials()
                ui.line(f"stored the app token in {shown(args.token_store)}")
    return 0


def _when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        import datetime as _dt

        value = _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
    return str(value.strftime("%Y-%m-%d %H:%M:%S"))


async def cmd_status(args: argparse.Namespace, ui: UI) -> int:
    wanted = parse_school_ids(args.schools)
    runs: dict[int, SyncRun] = {}
    if args.sink:
        sink: Any = (PostgresSink(args.sink, pool_size=2) if is_dsn(args.sink)
                     else sink_for_path(_check_existing_sink(args.sink)))
        try:
            await sink.open()
            runs = await sink.last_runs()
        except (StorageError, sqlite3.DatabaseError) as exc:
            raise CLIError(f"cannot read --sink {args.sink!r}: {exc}") from None
        finally:
            await sink.close()
    async with open_store(args.token_store, create=False) as store:
        client = make_client(args, store)
        ids = wanted if wanted is not None else await stored_school_ids(store)
        rows = []
        failed = 0
        async with client:
            for sid in ids:
                try:
                    st = await client.school(sid).details.status()
                    api = [_when(st.last_sync_at), st.last_sync_status or "-",
                           _when(st.last_changes_at)]
                except AssemblyError as exc:
                    failed += 1
                    api = ["-", f"{type(exc).__name__}", "-"]
                run = runs.get(sid)
                local = (["-", "-", "-"] if run is None else
                         [_when(run.finished_at), run.records, "ok" if run.ok else "failed"])
                rows.append([sid, *api, *local])
    ui.table("School status", ["school", "API last sync", "status", "last changes",
                               "local last sync", "records", "local status"], rows)
    return 1 if failed else 0
