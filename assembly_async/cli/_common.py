"""What the commands share: bad input, options backed by environment variables,
the token store, the client, and the one probe that tells an unreachable host
from a failing school."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._client.client import AssemblyClient
from .._core.errors import TransportError
from ..auth import TokenStore

__all__ = [
    "ENV",
    "CLIError",
    "Unreachable",
    "add_api_options",
    "add_store_option",
    "env_option",
    "environment",
    "make_client",
    "parse_school_ids",
    "probe",
    "require",
    "stored_school_ids",
]

#: Option destination -> the environment variable that gives its default.
ENV = {
    "token_store": "ASSEMBLY_TOKEN_STORE",
    "sink": "ASSEMBLY_SINK",
    "state": "ASSEMBLY_STATE",
    "api_url": "ASSEMBLY_API_URL",
    "oauth_url": "ASSEMBLY_OAUTH_URL",
}


class CLIError(Exception):
    """Bad input or configuration: one line on stderr, exit code 2."""

    exit_code = 2


class Unreachable(Exception):
    """The API (or OAuth) host cannot be reached at all: one line, exit code 3."""

    exit_code = 3


def env_option(parser: argparse.ArgumentParser, flag: str, *, help: str,
               metavar: str | None = None) -> None:
    """An option whose default comes from its environment variable (``ENV``)."""
    dest = flag.lstrip("-").replace("-", "_")
    var = ENV[dest]
    parser.add_argument(flag, dest=dest, metavar=metavar, default=os.environ.get(var) or None,
                        help=f"{help} (env: {var})")


def require(args: argparse.Namespace, dest: str) -> str:
    """The value of a required option that may also come from the environment."""
    value: str | None = getattr(args, dest, None)
    if not value:
        flag = "--" + dest.replace("_", "-")
        raise CLIError(f"{flag} is required (or set {ENV[dest]})")
    return value


def add_api_options(parser: argparse.ArgumentParser) -> None:
    env_option(parser, "--api-url", metavar="URL",
               help="API host, instead of the one of ASSEMBLY_ENVIRONMENT")
    env_option(parser, "--oauth-url", metavar="URL",
               help="OAuth host, instead of the one of ASSEMBLY_ENVIRONMENT")


def add_store_option(parser: argparse.ArgumentParser) -> None:
    env_option(parser, "--token-store", metavar="PATH|URL",
               help="token store: an SQLite file (created by `token exchange` or `token "
               "add`), or a redis://, rediss:// or unix:// URL (the redis extra)")


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


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise CLIError(f"{name} is not set in the environment")
    return value


def environment() -> Any:
    value = os.environ.get("ASSEMBLY_ENVIRONMENT", "sandbox").strip() or "sandbox"
    if value not in ("sandbox", "production"):
        raise CLIError(f"ASSEMBLY_ENVIRONMENT must be 'sandbox' or 'production', got {value!r}")
    return value


def make_client(args: argparse.Namespace, store: TokenStore, *,
                need_secret: bool = True) -> AssemblyClient:
    client_id = env("ASSEMBLY_CLIENT_ID")
    secret = env("ASSEMBLY_CLIENT_SECRET") if need_secret else os.environ.get(
        "ASSEMBLY_CLIENT_SECRET", "unused")
    return AssemblyClient(environment=environment(), api_url=args.api_url,
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


async def probe(client: AssemblyClient, *, oauth: bool = False) -> None:
    """One request to the host before any school's: if it cannot be reached at
    all, say so in one line instead of retrying every job of every school."""
    try:
        await client.ping(oauth=oauth)
    except TransportError as exc:
        which = "OAuth" if oauth else "API"
        where = str(client.config.oauth_url if oauth else client.config.api_url).rstrip("/")
        raise Unreachable(f"cannot reach the {which} host {where}: {exc}") from None
