"""Iterating a large list into models over loopback: SDK vs raw aiohttp + orjson.

Run ``python benchmarks/bench_iterate.py`` (``--help`` for options). Local
aiohttp servers on 127.0.0.1 serve pre-rendered pages of realistic students
(v1.1 paging headers, per_page 1500) in three shapes (``_records.py``: as the
documentation shows them, every date a full date-time, with real-world
oddities). In one run, interleaved, it times, best of ``--repeat``:

(a) raw: aiohttp GET of every page in sequence + ``orjson.loads`` (dicts, no models);
(b) sdk: ``async for s in school.students.list()`` (typed ``Student`` models,
    pages fetched ``--concurrency`` at a time, bad values reported, not raised),
    printing the ratio a/b as "speed relative to raw". Goal >= 1.0 on the
    documented shapes; the run exits 1 below the 0.8 floor.

Times are CPU seconds of the process (client and server share it): the same
as wall time on an idle machine, and steadier on a shared one.

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
import logging
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

from _records import SHAPES, students  # noqa: E402

import assembly_async as aa  # noqa: E402

PER_PAGE = 1500
#: The goal for sdk/raw on the documented shapes, and the floor that fails the run.
GOAL, FLOOR = 1.0, 0.8


def render_pages(n: int, shape: str = "documented") -> list[bytes]:
    pages = []
    for start in range(0, n, PER_PAGE):
        pages.append(orjson.dumps(students(min(PER_PAGE, n - start), seed=start,
                                           first_id=start + 1, shape=shape)))
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


async def timed(coro_fn: object) -> tuple[float, int]:
    """CPU seconds of this process for one walk (server and client both run in
    it, single-threaded): on a shared machine wall time also counts the time
    other processes hold the CPU, CPU time does not."""
    gc.collect()
    start = time.process_time()
    count = await coro_fn()  # type: ignore[operator]
    return time.process_time() - start, count


async def compare(urls: dict[str, tuple[str, int]], records: int, repeat: int,
                  concurrency: int) -> dict[tuple[str, str], float]:
    """Best wall time of raw and sdk walks per shape, runs interleaved."""
    best = {(shape, kind): math.inf for shape in urls for kind in ("raw", "sdk")}
    for _ in range(repeat):
        for shape, (url, pages) in urls.items():
            raw_t, raw_n = await timed(lambda u=url, p=pages: raw_walk(u, p))
            sdk_t, sdk_n = await timed(lambda u=url: sdk_walk(u, concurrency))
            assert raw_n == sdk_n == records, (shape, raw_n, sdk_n)
            best[(shape, "raw")] = min(best[(shape, "raw")], raw_t)
            best[(shape, "sdk")] = min(best[(shape, "sdk")], sdk_t)
    return best


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--stream", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=aa.DEFAULT_CONCURRENCY)
    args = parser.parse_args()
    # Oddity pages report decode problems to this logger; a handler keeps them off stderr.
    logging.getLogger("assembly_async").addHandler(logging.NullHandler())

    runners, urls = [], {}
    try:
        for shape in SHAPES:
            pages = render_pages(args.records, shape)
            runner, url = await serve(pages, args.records)
            runners.append(runner)
            urls[shape] = (url, len(pages))
        size = sum(map(len, render_pages(args.records))) / 1e6
        print(f"records={args.records} pages={urls['documented'][1]} per_page={PER_PAGE} "
              f"({size:.1f} MB JSON documented), c={args.concurrency}, best of {args.repeat}")
        best = await compare(urls, args.records, args.repeat, args.concurrency)
        ratios = {}
        for shape in SHAPES:
            raw_t, sdk_t = best[(shape, "raw")], best[(shape, "sdk")]
            ratios[shape] = raw_t / sdk_t
            print(f"{shape:<10} raw aiohttp+orjson {raw_t * 1000:7.1f} ms CPU "
                  f"{args.records / raw_t:8.0f} rec/s | sdk models {sdk_t * 1000:7.1f} ms CPU "
                  f"{args.records / sdk_t:8.0f} rec/s | ratio {ratios[shape]:.2f}x")
        # Building ~60 objects per student makes the cyclic GC run often; show its share.
        gc.disable()
        try:
            nogc = await compare({"documented": urls["documented"]}, args.records,
                                 args.repeat, args.concurrency)
        finally:
            gc.enable()
        print(f"documented with gc disabled: raw {nogc[('documented', 'raw')] * 1000:.1f} ms, "
              f"sdk {nogc[('documented', 'sdk')] * 1000:.1f} ms, ratio "
              f"{nogc[('documented', 'raw')] / nogc[('documented', 'sdk')]:.2f}x")
        summary = ", ".join(f"{shape} {ratio:.2f}x" for shape, ratio in ratios.items())
        print(f"SDK/raw: {summary} (goal >= {GOAL} documented, floor {FLOOR})")
    finally:
        for runner in runners:
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
    return 0 if ratios["documented"] >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
