"""Decoding speed: plain orjson vs the SDK fast path vs the cattrs-only path.

Run ``python benchmarks/bench_decode.py`` (``--help`` for options). In one run,
on the same pages of realistic students written in three shapes (see
``_records.py``: ``documented`` as the API's documentation shows them,
``datetime`` with every date a full date-time, ``oddities`` with what real MIS
data adds), it times:

(a) ``orjson.loads(body)``: JSON to plain dicts, the floor any decoder pays;
(b) ``ModelDecoder().decode_list(Student, body, problems=[])``: the SDK as a
    client runs it (msgspec fast path, lenient: bad values are reported);
(c) the same with ``ModelDecoder(fast=False)``: the cattrs path.

Runs are interleaved and the best of ``--repeat`` counts. Ratios are speed
relative to (a) of the same shape: 1.0 means as fast as parsing to dicts.
Goal: (b)/(a) >= 1.0 on the documented shapes; it exits 1 below the 0.8 floor.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from _records import SHAPES, students_page  # noqa: E402

from assembly_async.models import Student  # noqa: E402
from assembly_async.models._decode import ModelDecoder  # noqa: E402


def run_once(fn: Callable[[bytes], Any], bodies: list[bytes]) -> float:
    """CPU time of ``fn`` over every body, with the garbage collector paused
    (CPU time: on a shared machine, wall time also counts other processes)."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for body in bodies:
            fn(body)
        return time.process_time() - start
    finally:
        gc.enable()


#: The goal for (b)/(a) on the documented shapes, and the floor that fails the run.
GOAL, FLOOR = 1.0, 0.8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="pages per run (default 4)")
    parser.add_argument("--per-page", type=int, default=1500, help="students per page")
    parser.add_argument("--repeat", type=int, default=7, help="runs per method; best counts")
    args = parser.parse_args(argv)

    fast = ModelDecoder()
    slow = ModelDecoder(fast=False)
    bodies = {shape: [students_page(args.per_page, seed=i, shape=shape)
                      for i in range(args.pages)] for shape in SHAPES}
    problems: dict[str, int] = {}
    # Same answer from both paths (records and problems), and warm caches.
    for shape, pages in bodies.items():
        problems[shape] = 0
        for body in pages:
            found_fast: list[Any] = []
            found_slow: list[Any] = []
            assert (fast.decode_list(Student, body, problems=found_fast)[0]
                    == slow.decode_list(Student, body, problems=found_slow)[0])
            assert found_fast == found_slow
            problems[shape] += len(found_fast)

    def sdk(body: bytes) -> Any:
        return fast.decode_list(Student, body, problems=[])

    def cattrs_only(body: bytes) -> Any:
        return slow.decode_list(Student, body, problems=[])

    methods = {"(a) orjson.loads": orjson.loads, "(b) SDK decode_list": sdk,
               "(c) cattrs path": cattrs_only}
    best = {(shape, name): float("inf") for shape in SHAPES for name in methods}
    for _ in range(args.repeat):  # interleaved: load changes hit every row alike
        for shape in SHAPES:
            for name, fn in methods.items():
                key = (shape, name)
                best[key] = min(best[key], run_once(fn, bodies[shape]))

    records = args.pages * args.per_page
    size = sum(map(len, bodies["documented"])) / args.pages / 1024
    print(f"{args.pages} pages x {args.per_page} students, {size:.0f} KiB per page, "
          f"best of {args.repeat}, Python {sys.version.split()[0]}")
    ratios: dict[str, float] = {}
    for shape in SHAPES:
        print(f"{shape} shapes ({problems[shape]} decode problems):")
        for name in methods:
            seconds = best[(shape, name)]
            print(f"  {name:<22} {records / seconds:>12,.0f} records/s  "
                  f"{seconds / args.pages * 1000:8.2f} ms/page")
        floor = best[(shape, "(a) orjson.loads")]
        ratios[shape] = floor / best[(shape, "(b) SDK decode_list")]
        print(f"  ratio (b)/(a) = {ratios[shape]:.2f}x the speed of orjson.loads")
        print(f"  ratio (c)/(a) = {floor / best[(shape, '(c) cattrs path')]:.2f}x")
    summary = ", ".join(f"{shape} {ratio:.2f}x" for shape, ratio in ratios.items())
    print(f"SDK/orjson: {summary} (goal >= {GOAL} documented, floor {FLOOR})")
    return 0 if ratios["documented"] >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
