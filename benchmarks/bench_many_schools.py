"""Scale check: sync 1000 small fake schools in one process.

Run ``python benchmarks/bench_many_schools.py`` (``--help`` for options). It
starts the embedded fake server with ``--schools`` tiny schools in a child
process (``--in-process`` keeps it in this one), syncs students and staff of
all of them with :class:`SyncEngine` into a SQLite sink (or memory), then
runs the incremental sync again (all 304s), and reports records/s,
requests/s and the peak RSS of this process (the SDK side). Goal: peak RSS
< 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from assembly_async import (  # noqa: E402
    AssemblyClient,
    MemorySyncState,
    SyncEngine,
    SyncReport,
)
from assembly_async.auth import MemoryTokenStore, Token, school_key  # noqa: E402
from assembly_async.sinks import MemorySink, SQLiteSink  # noqa: E402

TINY: dict[str, Any] = {
    "students_per_school": 20,
    "left_students_per_school": 1,
    "staff_per_school": 5,
    "left_staff_per_school": 1,
    "year_codes": ("7", "8"),
    "registration_groups_per_year": 1,
    "teaching_groups_per_year": 1,
    "house_groups": 1,
    "user_groups": 1,
    "attendance_days": 1,
    "results_per_student": 1,
    "calendar_events": 1,
    "rooms": 1,
    "exclusions_per_school": 1,
}


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def line(label: str, report: SyncReport) -> str:
    rate = report.records / report.elapsed if report.elapsed else 0.0
    return (f"{label:<12} {report.records:>8} records {report.requests:>6} requests "
            f"{report.not_modified:>5} x 304  {len(report.failed):>3} failed  "
            f"{report.elapsed:6.2f}s  {rate:9.0f} records/s  "
            f"{report.requests / report.elapsed if report.elapsed else 0:7.0f} requests/s")


def _serve(schools: int, conn: Any) -> None:
    """Child process: run the fake, send its info, wait for the word to stop."""
    from assembly_async.testing import FakeAssembly

    async def run() -> None:
        t0 = time.perf_counter()
        async with FakeAssembly(schools=schools, seed=1, **TINY) as fake:
            info = fake.info()
            info["generated_in"] = time.perf_counter() - t0
            info["school_ids"] = fake.school_ids
            conn.send(info)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)
            stats = fake.stats.summary()
            conn.send({"peak_rss_mb": peak_rss_mb(), "requests": stats["requests"]})

    asyncio.run(run())


async def client_for(info: dict[str, Any]) -> AssemblyClient:
    store = MemoryTokenStore()
    now = time.time()
    for pair in info["schools"]:
        sid = pair["school_id"]
        await store.set(school_key(sid), Token.from_response(
            {"access_token": pair["access_token"], "refresh_token": pair["refresh_token"],
             "token_type": "bearer", "level": "school", "school_id": sid,
             "expires_in": pair["expires_in"], "scopes": list(pair["scopes"])}, now=now))
    return AssemblyClient(api_url=info["api_url"], oauth_url=info["oauth_url"],
                          client_id=info["client_id"], client_secret=info["client_secret"],
                          token_store=store)


async def bench(args: argparse.Namespace, info: dict[str, Any]) -> tuple[bool, float]:
    client = await client_for(info)
    ids = list(info["school_ids"])
    del info  # the tokens are in the store now
    gc.collect()
    rss_start = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        sink: Any = MemorySink() if args.sink == "memory" else SQLiteSink(Path(tmp) / "b.db")
        async with client:
            await sink.open()
            try:
                engine = SyncEngine(client, sink, MemorySyncState(),
                                    resources=("students", "staff_members"),
                                    concurrency=args.concurrency)
                first = await engine.run(ids)
                print(line("full sync", first))
                second = await engine.run(ids)
                print(line("incremental", second))
            finally:
                await sink.close()
    print(f"peak RSS before syncing {rss_start:.0f} MB")
    return first.ok and second.ok, peak_rss_mb()


async def in_process(args: argparse.Namespace) -> tuple[bool, float]:
    from assembly_async.testing import FakeAssembly

    t0 = time.perf_counter()
    async with FakeAssembly(schools=args.schools, seed=1, **TINY) as fake:
        print(f"fake (in this process): {args.schools} schools generated in "
              f"{time.perf_counter() - t0:.1f}s")
        info = {**fake.info(), "school_ids": fake.school_ids}
        return await bench(args, info)


def main(args: argparse.Namespace) -> int:
    if args.in_process:
        ok, peak = asyncio.run(in_process(args))
    else:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(args.schools, child), daemon=True)
        proc.start()
        try:
            info = parent.recv()
            print(f"fake (child process): {args.schools} schools generated in "
                  f"{info['generated_in']:.1f}s")
            ok, peak = asyncio.run(bench(args, info))
            parent.send("stop")
            server = parent.recv()
            print(f"fake served {server['requests']} requests, "
                  f"its peak RSS {server['peak_rss_mb']:.0f} MB")
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    where = "SDK + fake" if args.in_process else "SDK side"
    print(f"peak RSS {peak:.0f} MB ({where}; goal < 300 MB) concurrency={args.concurrency} "
          f"sink={args.sink} python={sys.version.split()[0]}")
    return 0 if ok and (args.in_process or peak < 300) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sink", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--in-process", action="store_true",
                        help="run the fake in this process (its memory counts too)")
    raise SystemExit(main(parser.parse_args()))
