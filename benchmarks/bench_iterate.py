"""Iterating a large list into models over loopback: SDK vs raw aiohttp + orjson.

Run ``python benchmarks/bench_iterate.py`` (``--help`` for options). A local
aiohttp server on 127.0.0.1 serves pre-rendered pages of realistic students
(v1.1 paging headers, per_page 1500). In one run it times, best of ``--repeat``:

(a) raw: aiohttp GET of every page in sequence + ``orjson.loads`` (dicts, no models);
(b) sdk: ``async for s in school.students.list()`` (typed ``Student`` models,
    pages fetched ``--concurrency`` at a time), printing the ratio a/b as
    "speed relative to raw" (goal >= 0.8).

Then the memory check: streaming ``--stream`` records through the SDK while
tracemalloc records the peak of Python allocations above the baseline taken
just before the loop (records are dropped as they are read). tracemalloc is
used, not RSS: it counts the SDK's and the decoder's allocations only, not the
server half running in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import sys
import time
import tracemalloc
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from _records import students  # noqa: E402

import assembly_async as aa  # noqa: E402

PER_PAGE = 1500


def render_pages(n: int) -> list[bytes]:
    pages = []
    for start in range(0, n, PER_PAGE):
        pages.append(orjson.dumps(students(min(PER_PAGE, n - start), seed=start,
                                           first_id=start + 1)))
    return pages


async def serve(pages: list[bytes], total: int) -> tuple[web.AppRunner, str]:
    count = len(pages)

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        body = pages[page - 1] if 1 <= page <= count else b"[]"
        headers = {"Page": str(page), "Per-Page": str(PER_PAGE), "Total": str(total),
                   "Total-Pages": str(count), "Next-Page": str(page + 1) if page < count else "",
                   "Prev-Page": str(page - 1) if page > 1 else ""}
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/students", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def split_records(n: int) -> list[tuple[int, bytes, bytes]]:
    """``n`` students rendered once, each split around its ``"id"``: a stream
    server can then hand every cycle of pages fresh ids (a walk drops records it
    has already seen) without holding every page in memory."""
    out = []
    for start in range(0, n, PER_PAGE):
        for rec in students(min(PER_PAGE, n - start), seed=start, first_id=start + 1):
            body = orjson.dumps(rec)
            marker = b'"id":%d' % rec["id"]
            cut = body.index(marker)
            out.append((rec["id"], body[:cut], body[cut + len(marker):]))
    return out


async def serve_stream(records: list[tuple[int, bytes, bytes]], total: int
                       ) -> tuple[web.AppRunner, str]:
    """``total`` distinct students in pages of 1500, cycling through ``records``
    with ids shifted every cycle; written in small chunks, so the server half
    holds next to nothing while the client streams."""
    count = math.ceil(total / PER_PAGE)

    async def handler(request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "1"))
        first = (page - 1) * PER_PAGE
        size = max(0, min(PER_PAGE, total - first))
        headers = {"Page": str(page), "Per-Page": str(PER_PAGE), "Total": str(total),
                   "Total-Pages": str(count), "Next-Page": str(page + 1) if page < count else "",
                   "Prev-Page": str(page - 1) if page > 1 else ""}
        resp = web.StreamResponse(headers=headers)
        resp.content_type = "application/json"
        await resp.prepare(request)
        await resp.write(b"[")
        for batch in range(first, first + size, 100):
            chunk = []
            for i in range(batch, min(batch + 100, first + size)):
                rid, head, tail = records[i % len(records)]
                rid += (i // len(records)) * len(records)
                chunk.append(head + b'"id":%d' % rid + tail)
            await resp.write((b"," if batch > first else b"") + b",".join(chunk))
        await resp.write(b"]")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/students", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def raw_walk(url: str, pages: int) -> int:
    n = 0
    async with aiohttp.ClientSession() as http:
        for page in range(1, pages + 1):
            async with http.get(f"{url}/students", params={"page": page, "per_page": PER_PAGE},
                                headers={"Authorization": "Bearer t"}) as resp:
                n += len(orjson.loads(await resp.read()))
    return n


async def sdk_walk(url: str, concurrency: int) -> int:
    n = 0
    async with aa.AssemblyClient(api_url=url) as client:
        school = client.school(1, access_token="t")
        async for _student in school.students.list().concurrent(concurrency):
            n += 1
    return n


async def timed(coro_fn: object, repeat: int) -> tuple[float, int]:
    best, count = math.inf, 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = await coro_fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best, count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--stream", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=aa.DEFAULT_CONCURRENCY)
    args = parser.parse_args()

    pages = render_pages(args.records)
    runner, url = await serve(pages, args.records)
    try:
        raw_t, raw_n = await timed(lambda: raw_walk(url, len(pages)), args.repeat)
        sdk_t, sdk_n = await timed(lambda: sdk_walk(url, args.concurrency), args.repeat)
        assert raw_n == sdk_n == args.records, (raw_n, sdk_n)
        print(f"records={args.records} pages={len(pages)} per_page={PER_PAGE} "
              f"({sum(map(len, pages)) / 1e6:.1f} MB JSON)")
        print(f"raw aiohttp+orjson (dicts): {raw_t * 1000:8.1f} ms  "
              f"{args.records / raw_t:9.0f} rec/s")
        print(f"sdk models (c={args.concurrency}):      {sdk_t * 1000:8.1f} ms  "
              f"{args.records / sdk_t:9.0f} rec/s")
        print(f"ratio sdk/raw speed: {raw_t / sdk_t:.2f}x (goal >= 0.8)")
        # Building ~60 objects per student makes the cyclic GC run often; show its share.
        gc.disable()
        try:
            raw_g, _ = await timed(lambda: raw_walk(url, len(pages)), args.repeat)
            sdk_g, _ = await timed(lambda: sdk_walk(url, args.concurrency), args.repeat)
        finally:
            gc.enable()
        print(f"same with gc disabled: raw {raw_g * 1000:.1f} ms, sdk {sdk_g * 1000:.1f} ms, "
              f"ratio {raw_g / sdk_g:.2f}x")
    finally:
        await runner.cleanup()

    # Memory: a 100k-record stream from a server holding 15,000 records rendered
    # (10 pages' worth, served in a cycle with fresh ids).
    records = split_records(min(args.stream, 15_000))
    runner, url = await serve_stream(records, args.stream)
    try:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        streamed = await sdk_walk(url, args.concurrency)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        print(f"streamed {streamed} records (c={args.concurrency}): peak "
              f"{peak / 2**20:.1f} MiB above baseline (tracemalloc; goal < 30 MB)")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
