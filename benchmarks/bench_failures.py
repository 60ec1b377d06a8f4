"""Failures are bounded: time to a typed error for each wait case, and peak memory
for a decompression bomb.

One command prints both parts::

    python benchmarks/bench_failures.py            # both
    python benchmarks/bench_failures.py waits      # (a) only
    python benchmarks/bench_failures.py bomb       # (b) only (--raw adds raw aiohttp)

(a) With ``deadline=5`` and the client's defaults otherwise, the time from the
    call to its typed error when the server answers 429 with ``period: 3600``,
    answers 429 with ``Retry-After: inf``, when the school's budget is spent,
    and when the token endpoint never answers. The floor is one successful
    call to the same server in the same run. Goal: every case well inside the
    deadline (the first three fail fast: the error is known at once).
(b) Peak RSS of a fresh client process that fetches a 1 MiB gzip body which
    inflates to 1 GiB (the issue measured 2.1 GB), against the same process
    fetching a 1 KiB body (the floor). The server runs in this process, so its
    memory is not counted. Goal: the bomb costs at most ~2x ``max_body`` (64 MiB)
    above the floor, and ends in ResponseTooLarge.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import zlib
from typing import Any

from aiohttp import web

import assembly_async as aa
from assembly_async.auth import Token

DEADLINE = 5.0
SCHOOL = b'{"object": "school", "name": "Bench School", "urn": "123456"}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bomb(size: int = 1 << 30) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    return b"".join([*(c.compress(chunk) for _ in range(size >> 20)), c.flush()])


async def _serve(port: int) -> tuple[web.AppRunner, asyncio.Event]:
    stop = asyncio.Event()
    bomb = _bomb()

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        path = request.path
        if path == "/oauth/token":
            await stop.wait()  # never answers (until the benchmark ends)
            return web.Response(status=503)
        if path == "/period":
            return web.json_response({"error": "too many requests",
                                      "data": {"count": 601, "period": 3600, "limit": 600}},
                                     status=429)
        if path == "/inf":
            return web.json_response({"error": "too many requests"}, status=429,
                                     headers={"Retry-After": "inf"})
        if path == "/bomb":
            return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                    "Content-Type": "application/json"})
        if path == "/small":
            return web.Response(body=b"[" + b"0," * 500 + b"0]", content_type="application/json")
        return web.Response(body=SCHOOL, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, stop


# ---------------------------------------------------------------------- waits


async def _timed(call: Any) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        await call()
        outcome = "ok"
    except aa.AssemblyError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t0, outcome


async def waits() -> None:
    port = _free_port()
    runner, stop = await _serve(port)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aa.AssemblyClient(api_url=url, oauth_url=url, client_id="bench",
                                     client_secret="bench-secret", deadline=DEADLINE) as client:
            school = client.school(1, access_token="bench-token")
            await school.details.get()  # warm the connection
            floor, _ = await _timed(school.details.get)
            runner_api = school.runner

            async def get(path: str, school_id: int) -> Any:
                from assembly_async._core.requests import Request

                request = Request("GET", client.config.api_url.with_path(path),
                                  {"Accept": "application/vnd.assembly+json; version=1.1"})
                return await runner_api.core.pipeline.send(
                    request, auth=aa.StaticToken("bench-token"),
                    timeouts=client.config.timeouts, school_id=school_id)

            cases: list[tuple[str, Any]] = [
                ("429 with period 3600", lambda: get("/period", 2)),
                ("429 with Retry-After: inf", lambda: get("/inf", 3)),
            ]
            results = [(name, *await _timed(call)) for name, call in cases]

        async with aa.AssemblyClient(api_url=url, rate_limit=600, rate_window=300,
                                     deadline=DEADLINE) as client:
            school = client.school(4, access_token="bench-token")
            await asyncio.gather(*(school.details.get() for _ in range(600)))
            results.append(("budget exhausted (600 in 5 min)",
                            *await _timed(school.details.get)))

        async with aa.AssemblyClient(api_url=url, oauth_url=url, client_id="bench",
                                     client_secret="bench-secret", deadline=DEADLINE) as client:
            await client.add_token(Token(access_token="old", refresh_token="r",
                                         token_type="bearer", level="school",
                                         expires_at=time.time() - 1, school_id=5))
            results.append(("token endpoint never answers",
                            *await _timed(client.school(5).details.get)))
    finally:
        stop.set()
        await runner.cleanup()

    print(f"(a) time to a typed error, deadline={DEADLINE:g}s "
          f"(floor: one successful call, {floor * 1000:.2f} ms)")
    for name, elapsed, outcome in results:
        ok = "ok" if elapsed < DEADLINE * 1.1 else "OVER"
        print(f"  {name:34s} {elapsed:7.3f} s  ({elapsed / floor:7.0f}x floor)  [{ok}]")
        print(f"  {'':34s} -> {outcome[:110]}")


# ----------------------------------------------------------------------- bomb

_CHILD = r"""
import asyncio, json, resource, sys, time
import assembly_async as aa
import aiohttp

async def main(url, mode):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    outcome = "ok"
    if mode == "raw":
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            outcome = f"ok, {len(await r.read())} bytes"
    else:
        async with aa.AssemblyClient(api_url=url.rsplit("/", 1)[0]) as client:
            path = "/" + url.rsplit("/", 1)[1]
            from assembly_async._core.requests import Request
            req = Request("GET", client.config.api_url.with_path(path), {})
            try:
                resp = await client._core.pipeline.send(
                    req, auth=None, timeouts=client.config.timeouts)
                outcome = f"ok, {len(resp.body)} bytes"
            except aa.AssemblyError as exc:
                outcome = f"{type(exc).__name__}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before": before, "peak": peak, "outcome": outcome,
                      "seconds": time.perf_counter() - t0}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _child(url: str, mode: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _CHILD, url, mode], capture_output=True,
                         text=True, check=True, timeout=600)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def bomb(raw: bool) -> None:
    port = _free_port()
    runner, stop = await _serve(port)
    url = f"http://127.0.0.1:{port}"
    try:
        floor = await asyncio.to_thread(_child, f"{url}/small", "sdk")
        sdk = await asyncio.to_thread(_child, f"{url}/bomb", "sdk")
        rawr = await asyncio.to_thread(_child, f"{url}/bomb", "raw") if raw else None
    finally:
        stop.set()
        await runner.cleanup()
    mib = 1024.0  # ru_maxrss is KiB on Linux
    print("(b) peak RSS of a client process fetching a 1 MiB gzip body that inflates to 1 GiB")
    print(f"  floor (1 KiB body)      {floor['peak'] / mib:7.1f} MiB")
    print(f"  SDK, gzip bomb          {sdk['peak'] / mib:7.1f} MiB  "
          f"(+{(sdk['peak'] - floor['peak']) / mib:.1f} MiB over the floor, "
          f"{sdk['seconds']:.2f} s) -> {sdk['outcome']}")
    if rawr is not None:
        print(f"  raw aiohttp read()      {rawr['peak'] / mib:7.1f} MiB  -> {rawr['outcome']}")


def main() -> None:
    args = sys.argv[1:]
    which = [a for a in args if a in ("waits", "bomb")] or ["waits", "bomb"]
    if "waits" in which:
        asyncio.run(waits())
    if "bomb" in which:
        asyncio.run(bomb("--raw" in args))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
