"""Pipeline benchmarks: CPU per request against raw aiohttp, and rate-budget use.

One command runs both and prints the ratios::

    python benchmarks/bench_pipeline.py            # both
    python benchmarks/bench_pipeline.py cpu        # (a) only
    python benchmarks/bench_pipeline.py budget     # (b) only (own server, then FakeAssembly)

(a) CPU time (``time.process_time`` of the client process; the server runs in
    a subprocess) per tiny GET on loopback: raw aiohttp vs ``Pipeline.send``
    (budget off) vs a full SDK call (``school.details.get()``, decoding
    included). Goal: pipeline <= 1.5x raw.
(b) Rate budget against a server with a fixed window per token of LIMIT
    requests per WINDOW seconds (time-scaled from 600 / 300 s): several
    concurrent workers per school for a whole number of windows. Prints the
    fraction of the allowed rate achieved (goal >= 95%) and the 429s the server
    sent (goal 0).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

import assembly_async as aa
from assembly_async._core.requests import Request

TOKEN = "bench-token-SECRET"
LIMIT = 60
WINDOW = 3.0


# --------------------------------------------------------------------- server


def _server_app(limit: int, window: float) -> web.Application:
    windows: dict[str, list[float]] = {}  # token -> [start, count]
    counts = {"429": 0, "ok": 0}
    body = b'{"object": "school", "name": "Bench School", "urn": "123456"}'

    async def school(request: web.Request) -> web.Response:
        if limit:
            token = request.headers.get("Authorization", "")
            now = time.monotonic()
            w = windows.get(token)
            if w is None or now - w[0] >= window:
                w = windows[token] = [now, 0]
            w[1] += 1
            if w[1] > limit:
                counts["429"] += 1
                period = round(w[0] + window - now, 3)
                return web.json_response(
                    {"error": "too many requests",
                     "data": {"count": int(w[1]), "period": period, "limit": limit}},
                    status=429)
        counts["ok"] += 1
        return web.Response(body=body, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_get("/school", school)
    app.router.add_get("/_stats", stats)
    return app


def _serve(port: int, limit: int, window: float) -> None:
    web.run_app(_server_app(limit, window), host="127.0.0.1", port=port, print=None,
                access_log=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The benchmark server in a subprocess (so its CPU is not counted)."""

    def __init__(self, limit: int = 0, window: float = 1.0) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", str(self.port), str(limit),
             str(window)])

    async def __aenter__(self) -> Server:
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(5)

    async def stats(self) -> dict[str, int]:
        async with aiohttp.ClientSession() as s, s.get(self.url + "/_stats") as r:
            data: dict[str, int] = await r.json()
            return data


# ------------------------------------------------------------------ (a) CPU


async def _time(n: int, one: Any) -> float:
    t0 = time.process_time()
    for _ in range(n):
        await one()
    return (time.process_time() - t0) / n


async def bench_cpu(n: int = 1000, rounds: int = 7) -> dict[str, float]:
    print(f"(a) CPU per tiny GET on loopback: best of {rounds} interleaved rounds "
          f"of {n} sequential requests")
    async with Server() as server, aiohttp.ClientSession() as session, \
            aa.AssemblyClient(api_url=server.url, rate_limit=None) as plain, \
            aa.AssemblyClient(api_url=server.url, rate_limit=10**9) as budgeted:
        headers = {"Accept": "application/vnd.assembly+json; version=1.1",
                   "User-Agent": "bench", "Authorization": f"Bearer {TOKEN}"}
        url = server.url + "/school"
        request = Request("GET", plain.config.api_url.with_path("/school"),
                          {"Accept": headers["Accept"], "User-Agent": "bench"},
                          operation_id="findSchool")
        timeouts = plain.config.timeouts

        async def raw() -> None:
            async with session.get(url, headers=headers) as resp:
                await resp.read()

        def via(client: aa.AssemblyClient) -> Any:
            pipeline = client._core.pipeline
            provider = aa.StaticToken(TOKEN)

            async def one() -> None:
                await pipeline.send(request, auth=provider, timeouts=timeouts, school_id=1)

            return one

        school = plain.school(1, access_token=TOKEN)

        async def full() -> None:
            await school.details.get()

        variants = {"raw aiohttp": raw, "Pipeline.send (no budget)": via(plain),
                    "Pipeline.send (huge budget)": via(budgeted),
                    "school.details.get()": full}
        for one in variants.values():  # warm up connections and caches
            await _time(200, one)
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(rounds):
            for label, one in variants.items():
                best[label] = min(best[label], await _time(n, one))
    for label, per in best.items():
        print(f"  {label:<28} {per * 1e6:8.1f} us CPU/request")
    raw_t = best["raw aiohttp"]
    ratios = {"pipeline": best["Pipeline.send (no budget)"] / raw_t,
              "pipeline_budget": best["Pipeline.send (huge budget)"] / raw_t,
              "full_call": best["school.details.get()"] / raw_t}
    print(f"  ratio pipeline/raw          {ratios['pipeline']:.2f}x  (goal <= 1.5x)")
    print(f"  ratio pipeline+budget/raw   {ratios['pipeline_budget']:.2f}x")
    print(f"  ratio full call/raw         {ratios['full_call']:.2f}x  (decoding included)")
    return ratios


# --------------------------------------------------------------- (b) budget


async def bench_budget(windows: int = 4, schools: int = 2, workers: int = 8) -> dict[str, float]:
    print(f"(b) rate budget: server allows {LIMIT} per {WINDOW:g}s per token; "
          f"{schools} schools x {workers} workers for {windows} windows")
    async with Server(limit=LIMIT, window=WINDOW) as server:
        async with aa.AssemblyClient(api_url=server.url, rate_limit=LIMIT,
                                     rate_window=WINDOW) as client:
            done = [0] * schools
            stop_at = 0.0

            async def worker(i: int) -> None:
                school = client.school(access_token=f"{TOKEN}-{i}")
                while time.monotonic() < stop_at:
                    await school.details.get()
                    if time.monotonic() <= stop_at:
                        done[i] += 1

            start = time.monotonic()
            stop_at = start + windows * WINDOW - 0.05
            await asyncio.gather(*(worker(i) for i in range(schools) for _ in range(workers)))
            elapsed = time.monotonic() - start
        stats = await server.stats()
    allowed = LIMIT * windows * schools
    fraction = sum(done) / allowed
    print(f"  completed {sum(done)} of {allowed} allowed in {windows * WINDOW:g}s "
          f"(ran {elapsed:.2f}s): {fraction:.1%} of the allowed rate (goal >= 95%)")
    print(f"  429s the budget should have prevented: {stats['429']} (goal 0)")
    return {"fraction": fraction, "429": float(stats["429"])}


async def bench_budget_fake(windows: int = 3, workers: int = 8) -> dict[str, float]:
    """(b) against the shipped fake server: 60 per 300 s at time_scale 100 (= 60 per 3 s)."""
    from assembly_async.testing import FakeAssembly

    print(f"(b) rate budget vs FakeAssembly: {LIMIT} per 300s at time_scale 100 "
          f"(= {LIMIT} per {WINDOW:g}s real), 2 schools x {workers} workers, {windows} windows")
    async with FakeAssembly(schools=2, students_per_school=20, rate_limit=LIMIT,
                            rate_window=300.0, time_scale=100.0) as fake:
        ids = fake.school_ids
        async with aa.AssemblyClient(api_url=fake.api_url, rate_limit=LIMIT,
                                     rate_window=WINDOW) as client:
            done = dict.fromkeys(ids, 0)
            stop_at = time.monotonic() + windows * WINDOW - 0.05

            async def worker(school_id: int) -> None:
                token = fake.school_token(school_id).access_token
                school = client.school(school_id, access_token=token)
                while time.monotonic() < stop_at:
                    await school.details.get()
                    if time.monotonic() <= stop_at:
                        done[school_id] += 1

            await asyncio.gather(*(worker(i) for i in ids for _ in range(workers)))
            limited = sum(client.stats(i).rate_limited for i in ids)
    allowed = LIMIT * windows * len(ids)
    fraction = sum(done.values()) / allowed
    print(f"  completed {sum(done.values())} of {allowed} allowed: {fraction:.1%} of the "
          f"allowed rate (goal >= 95%); 429s: {limited} (goal 0)")
    return {"fraction": fraction, "429": float(limited)}


async def main(which: str) -> None:
    if which in ("all", "cpu"):
        await bench_cpu()
    if which in ("all", "budget"):
        await bench_budget()
        try:
            await bench_budget_fake()
        except ImportError as exc:
            print(f"  (FakeAssembly unavailable: {exc})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "all"))
