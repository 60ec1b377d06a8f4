"""Bodies are capped after decompression and read in chunks (ResponseTooLarge above the cap).

The peak memory of a 1 MiB gzip body inflating to 1 GiB is measured by
``benchmarks/bench_failures.py``; here the behaviour: the typed error, for
every way a server can send too much, on the API and the token endpoint.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
import pytest
from _hostile import HostileServer, Reply, gzip_bomb

import assembly_async as aa
from assembly_async._http import retry as _retry
from assembly_async.auth import Token

LIMIT = 256 * 1024
TOKEN = "tok-SECRET-body"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as srv:
        yield srv


def students(n: int) -> bytes:
    return orjson.dumps([{"object": "student", "id": i, "first_name": "x" * 40}
                         for i in range(n)])


@pytest.mark.parametrize("reply", [
    # 8 MiB of zeros in ~8 KiB of gzip (a bomb), claimed JSON
    Reply(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
          gzip_bomb(8 << 20)),
    # plainly too long, with a Content-Length: refused before reading
    Reply(200, {"Content-Type": "application/json"}, students(5000)),
    # compressed for real: the cap counts the inflated bytes
    Reply(200, {"Content-Type": "application/json"}, students(5000), encoding="deflate"),
    # an error page that is too long is refused the same way
    Reply(502, {"Content-Type": "text/html"}, b"<p>" * 200_000),
], ids=["gzip-bomb", "content-length", "deflate", "error-page"])
async def test_a_body_over_the_cap_is_a_typed_error(server: HostileServer, reply: Reply) -> None:
    server.serve(api=[reply] * 4)
    async with aa.AssemblyClient(api_url=server.url, max_body=LIMIT) as client:
        with pytest.raises(aa.ResponseTooLarge) as info:
            await client.school(1, access_token=TOKEN).students.list().page(1)
    err = info.value
    assert err.limit == LIMIT and err.status == reply.status and err.method == "GET"
    assert "/students" in err.url and "max_body" in str(err)
    assert err.attempts == 1 and len(server.requests) == 1  # the same body again: not retried


async def test_a_chunked_body_without_length_is_cut_at_the_cap(server: HostileServer) -> None:
    raw = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           + b"".join(b"%x\r\n%s\r\n" % (65536, b" " * 65536) for _ in range(8))
           + b"0\r\n\r\n")
    server.serve(api=[Reply(action="raw", body=raw)])
    async with aa.AssemblyClient(api_url=server.url, max_body=LIMIT, retries=0) as client:
        with pytest.raises(aa.ResponseTooLarge):
            await client.school(1, access_token=TOKEN).details.get()


async def test_a_body_at_the_cap_is_read(server: HostileServer) -> None:
    body = students(1500)
    server.serve(api=[Reply(200, {"Content-Type": "application/json"}, body, encoding="gzip")])
    async with aa.AssemblyClient(api_url=server.url, max_body=len(body)) as client:
        page = await client.school(1, access_token=TOKEN).students.list().page(1)
    assert len(page) == 1500


async def test_the_token_endpoint_is_capped_too(server: HostileServer) -> None:
    bomb = Reply(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                 gzip_bomb(4 << 20))
    server.serve(token=[bomb])
    async with aa.AssemblyClient(api_url=server.url, oauth_url=server.url, client_id="app",
                                 client_secret="SECRET-client", max_body=LIMIT) as client:
        await client.add_token(Token(access_token="a-SECRET", refresh_token="r-SECRET",
                                     token_type="bearer", level="school",
                                     expires_at=time.time() - 1, school_id=1))
        with pytest.raises(aa.ResponseTooLarge) as info:
            await client.school(1).details.get()
    assert "/oauth/token" in info.value.url


def test_max_body_is_validated() -> None:
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(aa.ConfigurationError):
            aa.AssemblyClient(max_body=bad)  # type: ignore[arg-type]
