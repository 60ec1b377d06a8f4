"""Distributed sync: throughput with 1 worker process against 3.

One command (it starts its own redis-server, a throwaway PostgreSQL and the
fake Assembly, which adds latency to every answer)::

    python benchmarks/bench_distributed.py       # --schools 90 --latency 0.3 --concurrency 4

Each round runs the same sync (every school's students and staff, into a
fresh database) once on 1 ``assembly-async worker`` process and once on 3,
each with ``--concurrency`` jobs at once; the time is from submitting the run
to its report (the workers are started and ready before). It prints jobs per
second for both, best of ``--rounds``, and the ratio 3/1 against the goal of
2.5 (the work waits on the API, so three workers should get close to three
times as much done; what they share, Redis and PostgreSQL, must not be the
limit).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _cluster import Cluster  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from assembly_async.distributed import SyncQueue  # noqa: E402
from assembly_async.testing import FakeAssembly  # noqa: E402
from assembly_async.testing.postgres import TempPostgres  # noqa: E402

GOAL = 2.5
RESOURCES = ["students", "staff_members"]


async def one_run(redis_url: str, dsn: str, fake: FakeAssembly, workers: int,
                  concurrency: int) -> tuple[float, int, int]:
    cluster = Cluster(redis_url, dsn, fake)
    await cluster.seed_tokens()
    try:
        await cluster.start(workers, concurrency=concurrency)
        async with SyncQueue(redis_url, prefix=cluster.prefix) as queue:
            t0 = time.perf_counter()
            run = await queue.submit(fake.school_ids, resources=RESOURCES)
            report = await queue.wait(run.id, poll=0.05)
            elapsed = time.perf_counter() - t0
    finally:
        await cluster.stop()
    if not report.ok:
        raise SystemExit(f"the run failed: {report.failed}\n{cluster.logs()}")
    return elapsed, run.total, report.records


async def main(args: argparse.Namespace) -> int:
    print(f"{args.schools} schools x {', '.join(RESOURCES)}, {args.latency * 1000:.0f} ms added"
          f" to every answer, {args.concurrency} jobs at once per worker,"
          f" best of {args.rounds} interleaved rounds")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp, TempPostgres() as pg:
        import shutil

        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        redis = RedisServer(Path(tmp), binary).start()
        try:
            async with FakeAssembly(schools=args.schools, students_per_school=50,
                                    staff_per_school=10) as fake:
                fake.faults.random_errors(1.0, kinds=[f"delay:{args.latency}"], path="/*",
                                          match="glob")
                best: dict[int, float] = {}
                for round_ in range(args.rounds):
                    for workers in (1, 3):
                        dsn = pg.create_database(f"bench_{round_}_{workers}")
                        elapsed, jobs, records = await one_run(
                            redis.url, dsn, fake, workers, args.concurrency)
                        rate = jobs / elapsed
                        best[workers] = max(best.get(workers, 0.0), rate)
                        print(f"  round {round_ + 1}: {workers} worker(s): {jobs} jobs,"
                              f" {records} records in {elapsed:6.2f} s = {rate:6.1f} jobs/s")
        finally:
            redis.stop()
    ratio = best[3] / best[1]
    print(f"1 worker : {best[1]:6.1f} jobs/s (best)")
    print(f"3 workers: {best[3]:6.1f} jobs/s (best)")
    verdict = "meets" if ratio >= GOAL else "BELOW"
    print(f"ratio 3/1: {ratio:.2f}x ({verdict} the goal of {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=90)
    parser.add_argument("--latency", type=float, default=0.3,
                        help="seconds the fake adds to every answer (0.3)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="jobs at once per worker (4)")
    parser.add_argument("--rounds", type=int, default=2)
    sys.exit(asyncio.run(main(parser.parse_args())))
