"""No secret and no pupil's data reaches a log, an exception, an event or a stored error.

Every failure path runs at DEBUG (every logger of every library: the SDK,
aiohttp, aiosqlite, asyncio), with the grant parameters in the form body and
in the query string. Then each secret (client secret, Basic credentials, the
school's access and refresh tokens, a newly issued token, an authorisation
code, the app token) and a pupil's name are searched for in:

* every log record: the formatted line with its traceback, the raw message
  and the raw arguments;
* every exception raised: ``str``, ``repr``, its attributes, the formatted
  traceback, and the same for everything in its chain (``__cause__``,
  ``__context__``) and in its ``retry_history``, recursively;
* every hook event (``repr``, and its ``error`` as above);
* every stored error text: the SQLite sink's ``sync_runs.error`` and the sync
  report's errors and progress events.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import sqlite3
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from _hostile import HostileServer, Reply, gzip_bomb

import assembly_async as aa
from assembly_async._http import retry as _retry
from assembly_async.auth import SQLiteTokenStore, Token
from assembly_async.sinks import SQLiteSink

CLIENT_ID = "app-id"
CLIENT_SECRET = "s3cr3tCLIENTzq"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
SCHOOL_ACCESS = "acc3ssSCHOOLqx"
SCHOOL_REFRESH = "r3freshSCHOOLqx"
NEW_ACCESS = "n3wACCESSqx"
CODE = "authC0DEqx"
APP_TOKEN = "appT0KENqx"
PUPIL = "Ottoline-Quarrington"
SECRETS = [CLIENT_SECRET, BASIC, SCHOOL_ACCESS, SCHOOL_REFRESH, NEW_ACCESS, CODE, APP_TOKEN,
           PUPIL]
NEEDLES = sorted({v for s in SECRETS for v in (s, quote(s, safe=""), quote_plus(s))})

HTML = {"Content-Type": "text/html"}
JSON = {"Content-Type": "application/json"}


class Evidence:
    """Everything the test searches, as text, with where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.records: list[logging.LogRecord] = []
        self.events: list[aa.Event] = []
        self.errors: list[BaseException] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def exception(self, exc: BaseException, where: str, seen: set[int] | None = None) -> None:
        seen = set() if seen is None else seen
        if id(exc) in seen:
            return
        seen.add(id(exc))
        self.texts.append((f"{where}: str", str(exc)))
        self.texts.append((f"{where}: repr", repr(exc)))
        self.texts.append((f"{where}: args", repr(exc.args)))
        self.texts.append((f"{where}: attributes", repr(vars(exc))))
        self.texts.append((f"{where}: traceback", "".join(traceback.format_exception(exc))))
        for name in ("__cause__", "__context__"):
            linked = getattr(exc, name)
            if linked is not None:
                self.exception(linked, f"{where}.{name}", seen)
        for i, earlier in enumerate(getattr(exc, "retry_history", ())):
            self.exception(earlier, f"{where}.retry_history[{i}]", seen)

    def collect(self) -> None:
        for record in self.records:
            where = f"log {record.name}:{record.levelname}"
            self.texts.append((where, self.formatter.format(record)))
            self.texts.append((where + " msg", str(record.msg)))
            self.texts.append((where + " args", repr(record.args)))
            if record.exc_info and record.exc_info[1] is not None:
                self.exception(record.exc_info[1], where + " exc_info")
        for event in self.events:
            self.texts.append((f"event {event.kind}", repr(event)))
            if event.error is not None:
                self.exception(event.error, f"event {event.kind}.error")
        for i, exc in enumerate(self.errors):
            self.exception(exc, f"error[{i}] {type(exc).__name__}")

    def leaks(self) -> list[str]:
        return [f"{needle!r} in {where}: {text[:300]!r}"
                for where, text in self.texts for needle in NEEDLES if needle in text]


class Capture(logging.Handler):
    def __init__(self, evidence: Evidence) -> None:
        super().__init__(logging.DEBUG)
        self.evidence = evidence

    def emit(self, record: logging.LogRecord) -> None:
        self.evidence.records.append(record)


@pytest.fixture
def evidence() -> Any:
    ev = Evidence()
    handler = Capture(ev)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    noisy = [logging.getLogger(n) for n in ("aiosqlite", "aiohttp", "asyncio", "assembly_async")]
    old = [lg.level for lg in noisy]
    for lg in noisy:
        lg.setLevel(logging.DEBUG)
    try:
        yield ev
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg, level in zip(noisy, old, strict=True):
            lg.setLevel(level)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as srv:
        yield srv


def expired(school_id: int) -> Token:
    return Token(access_token=SCHOOL_ACCESS, refresh_token=SCHOOL_REFRESH, token_type="bearer",
                 level="school", expires_at=time.time() - 10, school_id=school_id)


def valid(school_id: int) -> Token:
    return Token(access_token=SCHOOL_ACCESS, refresh_token=SCHOOL_REFRESH, token_type="bearer",
                 level="school", expires_at=time.time() + 3600, school_id=school_id)


def raw(status_line: bytes, *headers: bytes, body: bytes = b"") -> Reply:
    return Reply(action="raw", body=status_line + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
                 + b"\r\n" + body)


def echo(text: str, *carried: str) -> bytes:
    """An error body that echoes back the secrets its request carried (a careless
    proxy): the client credentials, and the grant's code or refresh token. (It
    cannot echo what it never received.)"""
    shown = " ".join(f"got={s}" for s in (CLIENT_SECRET, f"Basic {BASIC}", *carried))
    return (f'{{"error": "temporarily_unavailable", '
            f'"error_description": "{text} {shown}"}}').encode()


#: Token endpoint answers, each failing a refresh in its own way.
TOKEN_FAILURES: dict[str, list[Reply]] = {
    "html200": [Reply(200, HTML, b"<html>captive portal</html>")] * 4,
    "truncated200": [Reply(200, JSON, f'{{"access_token": "{NEW_ACCESS}", "refre'.encode())],
    "html502": [Reply(502, HTML, f"<html>502 for {SCHOOL_REFRESH}</html>".encode())] * 4,
    "echo503": [Reply(503, JSON, echo("busy", SCHOOL_REFRESH))] * 4,
    "echo400": [Reply(400, JSON, echo("bad", SCHOOL_REFRESH))],
    "invalid_grant": [Reply(400, JSON, b'{"error": "invalid_grant", "error_description": "'
                            + SCHOOL_REFRESH.encode() + b' was revoked"}')],
    "invalid_client": [Reply(401, {"WWW-Authenticate": f'Basic error="{BASIC}"'}, b"")],
    "reset": [Reply(action="reset")],
    "bad-status-line": [raw(b"HTTP/1.1 9999 WAT")],
    "short-body": [raw(b"HTTP/1.1 200 OK", b"Content-Type: application/json",
                       b"Content-Length: 500", body=f'{{"access_token": "{NEW_ACCESS}'.encode())],
    "bad-gzip": [raw(b"HTTP/1.1 200 OK", b"Content-Encoding: gzip", b"Content-Length: 5",
                     body=b"xxxxx")],
    "bomb": [Reply(200, {**JSON, "Content-Encoding": "gzip"}, gzip_bomb(4 << 20))],
    "other-school": [Reply.json({"access_token": NEW_ACCESS, "school_id": 999,
                                "level": "school"})],
}

#: API answers to a school call made with a valid token.
API_FAILURES: dict[str, list[Reply]] = {
    "503": [Reply.json({"error": "boom"}, 503)] * 4,
    "429": [Reply.json({"error": "too many", "data": {"period": 3600}}, 429)] * 4,
    "reset": [Reply(action="reset")] * 4,
    "html502": [Reply(502, HTML, b"<html>bad gateway</html>")] * 4,
    "truncated": [Reply(200, JSON, f'[{{"object": "student", "id": 1, "first_name": "{PUPIL}", '
                        f'"last_name": "{PUPIL}"'.encode())] * 4,
    "bad-status-line": [raw(b"HTTP/1.1 9999 WAT")] * 4,
    "short-body": [raw(b"HTTP/1.1 200 OK", b"Content-Length: 900",
                       body=f'[{{"first_name": "{PUPIL}"'.encode())] * 4,
    "too-large": [Reply(200, JSON, b"[" + f'{{"id": 1, "first_name": "{PUPIL}"}},'.encode()
                        * 20000 + b"{}]")],
    "bomb": [Reply(200, {**JSON, "Content-Encoding": "gzip"}, gzip_bomb(4 << 20))],
    "wrong-type": [Reply(200, {"Content-Type": "text/plain"},
                         f'[{{"first_name": "{PUPIL}"}}]'.encode())] * 4,
    "deep": [Reply(200, JSON, b'{"object": "list", "total_count": ' + b"[" * 5000 + b"1"
                   + b"]" * 5000 + b', "data": []}')] * 4,
    "superscript": [Reply(200, JSON, b'{"object": "list", "current_page": "\xc2\xb2", '
                          b'"total_pages": "\xc2\xb2", "data": []}')],
    "bad-record": [Reply(200, JSON, f'[{{"object": "student", "id": "x", "dob": 12, '
                         f'"first_name": ["{PUPIL}"]}}]'.encode())] * 4,
    "hang": [Reply(action="hang")],
    "invalid_token-then-refresh-fails": [Reply.json({"error": "invalid_token"}, 401)],
}


async def _attempt(evidence: Evidence, call: Callable[[], Awaitable[Any]]) -> None:
    try:
        await call()
    except Exception as exc:
        evidence.errors.append(exc)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("grant_params", ["body", "query"])
async def test_no_failure_path_leaks_a_secret(
    grant_params: str, server: HostileServer, evidence: Evidence, tmp_path: Path,
) -> None:
    hooks = aa.Hooks(on_event=evidence.events.append)

    def client(**kw: Any) -> aa.AssemblyClient:
        options: dict[str, Any] = {
            "api_url": server.url, "oauth_url": server.url, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "grant_params": grant_params, "hooks": hooks,
            "deadline": 2.0, "timeout": 0.5, "max_body": 256 * 1024, "retries": 3,
            "max_retry_after": 0.05, **kw}
        return aa.AssemblyClient(**options)

    # -- refreshes that fail, each way, through an API call (SQLite token store at DEBUG)
    async with SQLiteTokenStore(tmp_path / "tokens.db") as store:
        for name, replies in TOKEN_FAILURES.items():
            server.serve(token=replies, api=[Reply.json({"name": "School"})])
            async with client(token_store=store) as c:
                await c.add_token(expired(1))
                await _attempt(evidence, lambda c=c: c.school(1).details.get())  # type: ignore[misc]
            assert evidence.errors, name

        # -- the code exchange and client credentials, failing
        for name in ("echo", "reset", "bad-status-line", "short-body"):
            replies = ([Reply(400, JSON, echo("bad", CODE))] if name == "echo"
                       else TOKEN_FAILURES[name])
            server.serve(token=replies)
            async with client(token_store=store) as c:
                await _attempt(evidence, lambda c=c: c.exchange_code(  # type: ignore[misc]
                    CODE, redirect_uri="https://app.example/cb"))
            if name == "echo":
                replies = [Reply(500, JSON, echo("broken"))]
            server.serve(token=replies, api=[Reply.json({"name": "x"})])
            async with client(token_store=store) as c:
                await _attempt(evidence, lambda c=c: c.app().me())  # type: ignore[misc]

        # -- a token endpoint that never answers, then one that does not exist
        server.serve(token=[Reply(action="hang")])
        async with client(token_store=store, deadline=0.3) as c:
            await c.add_token(expired(1))
            await _attempt(evidence, lambda: c.school(1).details.get())
        async with client(token_store=store, oauth_url=f"http://127.0.0.1:{_closed_port()}") as c:
            await c.add_token(expired(1))
            await _attempt(evidence, lambda: c.school(1).details.get())
            await _attempt(evidence, c.client_credentials)

        # -- API failures with a valid token, in both versions
        for version in ("1.1", "1"):
            for replies in API_FAILURES.values():
                token_replies = [Reply(502, HTML, b"<html>proxy</html>")] * 4
                server.serve(api=replies, token=token_replies)
                async with client(token_store=store, api_version=version) as c:
                    await c.add_token(valid(1))
                    await _attempt(evidence, lambda c=c: c.school(1).students.list().all())  # type: ignore[misc]
                    server.serve(api=replies, token=token_replies)
                    await _attempt(evidence, lambda c=c: c.school(1).students.get(1))  # type: ignore[misc]
                    static = c.app(access_token=APP_TOKEN)
                    server.serve(api=replies)
                    await _attempt(evidence, static.me)
        async with client(token_store=store, api_url=f"http://127.0.0.1:{_closed_port()}") as c:
            await c.add_token(valid(1))
            await _attempt(evidence, lambda: c.school(1).details.request_sync())

    # -- a corrupted token store
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database " * 100)
    await _attempt(evidence, lambda: SQLiteTokenStore(broken).open())

    # -- a bulk sync into SQLite: its stored errors, its report, its progress events
    progress: list[aa.ProgressEvent] = []
    async with SQLiteTokenStore(tmp_path / "sync-tokens.db") as store, \
            SQLiteSink(tmp_path / "schools.db") as sink:
        await sink.write(9, "students", [{"id": 1, "first_name": PUPIL}])
        server.serve(
            token=[*TOKEN_FAILURES["html502"], *TOKEN_FAILURES["invalid_grant"]],
            api=[*API_FAILURES["503"], *API_FAILURES["truncated"], *API_FAILURES["wrong-type"]])
        async with client(token_store=store) as c:
            await c.add_token(expired(1))
            for sid in (2, 3, 4):
                await c.add_token(valid(sid))
            await c.add_token(expired(5))
            engine = aa.SyncEngine(c, sink, resources=["students"], concurrency=1,
                                   on_progress=progress.append)
            report = await engine.run([1, 2, 3, 4, 5])
        runs = await sink.last_runs()
    stored = [run.error for run in runs.values() if run.error]
    assert len(stored) == 5, runs  # every school failed, each with a stored error text
    with sqlite3.connect(tmp_path / "schools.db") as db:
        column = [row[0] for row in db.execute("SELECT error FROM sync_runs") if row[0]]
    evidence.texts += [("sync_runs.error", text) for text in column]
    for school in report.schools.values():
        evidence.texts += [(f"report school {school.school_id}", e) for e in school.errors]
        for res in school.resources.values():
            if res.error is not None:
                evidence.exception(res.error, f"report {school.school_id}.{res.resource}")
    evidence.texts += [("progress", repr(p)) for p in progress]

    await asyncio.sleep(0)
    evidence.collect()
    kinds = {type(e).__name__ for e in evidence.errors}
    # The paths really ran: these are the failures they end in.
    assert {"OAuthError", "SchoolAuthRevoked", "ConnectionFailed", "RequestTimeout",
            "ResponseTooLarge", "ServerError", "DecodeError", "UnexpectedContentType",
            "RateLimited", "StorageError", "InvalidToken"} <= kinds, kinds
    assert len(evidence.records) > 100 and any(
        r.name == "aiosqlite" for r in evidence.records)
    assert len(evidence.events) > 50
    leaks = evidence.leaks()
    assert leaks == [], "\n".join(leaks[:20])


def test_decode_errors_quote_no_pupil_data() -> None:
    from assembly_async.models import Student
    from assembly_async.models._decode import ModelDecoder

    decoder = ModelDecoder()
    texts = []
    for body in (f'[{{"object": "student", "id": 1, "first_name": "{PUPIL}",,}}]',
                 f'[{{"object": "student", "id": 1, "dob": "{PUPIL}"}}]'):
        with pytest.raises(aa.DecodeError) as info:
            decoder.decode_list(Student, body.encode(), url="https://api.example/students")
        texts.append(str(info.value))
    assert not [t for t in texts if PUPIL in t]
