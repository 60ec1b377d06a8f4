"""The token endpoint: grant parameters in the body, retries that cannot burn a
grant, answers that cannot crash us; loopback decided by parsing the host."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from _hostile import HostileServer, Reply
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

import assembly_async as aa
from assembly_async._core.config import ClientConfig, is_loopback
from assembly_async._core.paging import paging_from_envelope
from assembly_async._core.requests import check_token_destination
from assembly_async._http import retry as _retry
from assembly_async.auth import OAuthHosts, Token, grant_surely_unused, read_token_response

FRESH = {"access_token": "new-SECRET-access", "token_type": "bearer", "level": "school",
         "expires_in": 3600, "school_id": 1}
HTML_502 = Reply(502, {"Content-Type": "text/html"}, b"<html><h1>502 Bad Gateway</h1></html>")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as srv:
        yield srv


def expired(school_id: int = 1) -> Token:
    return Token(access_token="old-SECRET-access", refresh_token="SECRET-refresh",
                 token_type="bearer", level="school", expires_at=time.time() - 10,
                 school_id=school_id)


def client_for(server: HostileServer, **kw: Any) -> aa.AssemblyClient:
    return aa.AssemblyClient(api_url=server.url, oauth_url=server.url, client_id="app",
                             client_secret="SECRET-client", **kw)


def token_requests(server: HostileServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["path"] == "/oauth/token"]


# ------------------------------------------------------------ where params go


async def test_grant_parameters_go_in_the_form_body_by_default(server: HostileServer) -> None:
    server.serve(token=[Reply.json(FRESH)])
    async with client_for(server) as client:
        await client.add_token(expired())
        await client.refresh_school_token(1)
    (sent,) = token_requests(server)
    assert sent["query"] == ""
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent["body"].decode()) == {"grant_type": ["refresh_token"],
                                               "refresh_token": ["SECRET-refresh"]}


async def test_the_query_form_stays_selectable(server: HostileServer) -> None:
    server.serve(token=[Reply.json({**FRESH, "school_id": 2})])
    async with client_for(server, grant_params="query") as client:
        token = await client.exchange_code("SECRET-code", redirect_uri="https://app.example/cb")
    assert token.school_id == 2
    (sent,) = token_requests(server)
    assert parse_qs(sent["query"]) == {"grant_type": ["authorization_code"],
                                       "code": ["SECRET-code"],
                                       "redirect_uri": ["https://app.example/cb"]}
    assert sent["body"] == b""
    with pytest.raises(aa.ConfigurationError):
        client_for(server, grant_params="json")


async def test_the_fake_server_accepts_the_body_form() -> None:
    from assembly_async.testing import FakeAssembly

    async with FakeAssembly(schools=1) as fake:
        for params in ("body", "query"):
            async with aa.AssemblyClient(api_url=str(fake.api_url), oauth_url=str(fake.oauth_url),
                                         client_id=fake.client_id,
                                         client_secret=fake.client_secret,
                                         grant_params=params) as client:  # type: ignore[arg-type]
                app = await client.client_credentials()
                assert app.level == "app"


# ------------------------------------------------------------------- retries


@pytest.mark.parametrize("failure", [
    Reply.json({"error": "unavailable"}, 503),
    Reply(504, {}, b""),
    HTML_502,
    Reply(200, {"Content-Type": "text/html"}, b"<html>captive portal</html>"),
    Reply(500, {"Content-Type": "text/html"}, b"<html>proxy error</html>"),
    Reply.json({"error": "slow down"}, 429, **{"Retry-After": "0"}),
], ids=["503", "504", "html502", "html200", "html500", "429"])
async def test_a_failure_that_did_not_use_the_grant_is_retried(
    server: HostileServer, failure: Reply
) -> None:
    server.serve(token=[failure, Reply.json(FRESH)], api=[Reply.json({"name": "x"})])
    async with client_for(server) as client:
        await client.add_token(expired())
        await client.school(1).details.get()
        assert client.token_manager(1).refresh_count == 1
    assert len(token_requests(server)) == 2


@pytest.mark.parametrize("failure", [
    Reply.json({"error": "server_error"}, 500),  # the platform itself: it may have used it
    Reply.json({"error": "invalid_client"}, 401),
    Reply(action="reset"),  # the request was sent: it may have been used
], ids=["json500", "invalid_client", "reset"])
async def test_a_failure_that_may_have_used_the_grant_is_not_retried(
    server: HostileServer, failure: Reply
) -> None:
    server.serve(token=[failure, Reply.json(FRESH)])
    async with client_for(server) as client:
        await client.add_token(expired())
        with pytest.raises(aa.AssemblyError) as info:
            await client.school(1).details.get()
    assert len(token_requests(server)) == 1 and info.value.attempts == 1


async def test_invalid_grant_revokes_at_once(server: HostileServer) -> None:
    server.serve(token=[Reply.json({"error": "invalid_grant"}, 400), Reply.json(FRESH)])
    async with client_for(server) as client:
        await client.add_token(expired())
        with pytest.raises(aa.SchoolAuthRevoked):
            await client.school(1).details.get()
    assert len(token_requests(server)) == 1


async def test_connection_refused_is_retried_within_the_attempts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with aa.AssemblyClient(oauth_url=f"http://127.0.0.1:{port}", client_id="app",
                                 client_secret="SECRET-client", retries=2) as client:
        with pytest.raises(aa.ConnectionFailed) as info:
            await client.client_credentials()
    err = info.value
    assert not err.request_sent and err.attempts == 3
    assert [type(e) for e in err.retry_history] == [aa.ConnectionFailed] * 2


async def test_the_last_error_carries_the_history(server: HostileServer) -> None:
    server.serve(token=[HTML_502, Reply.json({"error": "busy"}, 503), HTML_502, HTML_502])
    async with client_for(server, retries=3) as client:
        with pytest.raises(aa.OAuthError) as info:
            await client.client_credentials()
    assert info.value.status == 502 and info.value.attempts == 4
    assert [e.status for e in info.value.retry_history] == [502, 503, 502]  # type: ignore[attr-defined]


def test_grant_surely_unused() -> None:
    json = b'{"error": "x"}'
    assert grant_surely_unused(503, {}, json) and grant_surely_unused(429, {}, json)
    assert grant_surely_unused(502, {}, b"") and grant_surely_unused(504, {}, b"<html>")
    assert grant_surely_unused(200, {}, b"<html>") and grant_surely_unused(500, {}, b"oops")
    assert not grant_surely_unused(500, {}, json)
    assert not grant_surely_unused(400, {}, b"<html>")  # a 4xx page will not change
    assert not grant_surely_unused(401, {}, json) and not grant_surely_unused(200, {}, b"")


# ------------------------------------------------------- hostile token answers


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from(["²", "١٢", "12", " 7 ", "9" * 5000, "inf", "1e999", "-5"]),
                    st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
                    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
_fields = ["access_token", "refresh_token", "token_type", "level", "expires_in",
           "school_id", "scopes", "scope", "error", "error_description", "message"]


@given(st.integers(min_value=100, max_value=599),
       st.dictionaries(st.sampled_from(_fields), _values, max_size=8),
       st.sampled_from(["body", "query"]))
def test_any_token_answer_is_a_token_or_an_auth_error(status: int, body: dict[str, Any],
                                                     params_in: str) -> None:
    import orjson

    from assembly_async.auth import refresh_grant

    request = refresh_grant(oauth_base="https://platform.example", client_id="app",
                            client_secret="SECRET-client", refresh_token="SECRET-refresh",
                            params_in=params_in)  # type: ignore[arg-type]
    try:
        raw = orjson.dumps(body)
    except TypeError:
        return
    try:
        token = read_token_response(status, {}, raw, now=1e9, previous=expired(),
                                    school_id=1, request=request)
    except aa.AuthError as exc:
        assert "SECRET" not in str(exc)
    else:
        assert isinstance(token, Token)


def test_a_superscript_school_id_is_an_oauth_error_not_a_value_error() -> None:
    with pytest.raises(aa.OAuthError, match="school_id"):
        Token.from_response({"access_token": "a", "school_id": "²"}, now=0)
    assert Token.from_response({"access_token": "a", "school_id": " 12 "}, now=0).school_id == 12


def test_v1_paging_ignores_a_superscript_page_number() -> None:
    info = paging_from_envelope({"current_page": "²", "total_pages": "3", "total_count": "²",
                                 "next_page": "٢"}, 1)
    assert info.page == 1 and info.total_pages == 3 and info.total is None


# ------------------------------------------------------------------ loopback


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost",
                                 "http://LOCALHOST:9", "http://[::1]:8080"])
def test_loopback_hosts(url: str) -> None:
    assert is_loopback(URL(url))
    ClientConfig.create(api_url=url, oauth_url=url)
    OAuthHosts(url)


@pytest.mark.parametrize("url", ["http://127.attacker.example", "http://127.0.0.1.nip.io",
                                 "http://localhost.attacker.example", "http://128.0.0.1",
                                 "http://[::2]", "http://2130706433", "http://127.1",
                                 "http://0x7f000001", "http://[::ffff:8.8.8.8]",
                                 "http://example.com"])
def test_names_that_only_look_like_loopback_are_refused(url: str) -> None:
    assert not is_loopback(URL(url))
    with pytest.raises(aa.ConfigurationError, match=r"(?i)https"):
        ClientConfig.create(api_url=url)
    with pytest.raises(aa.ConfigurationError):
        ClientConfig.create(oauth_url=url)
    with pytest.raises(aa.ConfigurationError):
        OAuthHosts(url)
    with pytest.raises(aa.ConfigurationError):
        check_token_destination(URL(url) / "students", URL(url))
