"""Decoding speed: plain orjson vs the SDK fast path vs the cattrs-only path.

Run ``python benchmarks/bench_decode.py`` (``--help`` for options). In one run,
on the same pages of realistic students, it times:

(a) ``orjson.loads(body)``: JSON to plain dicts, the floor any decoder pays;
(b) ``ModelDecoder().decode_list(Student, body)``: the SDK (msgspec fast path);
(c) ``ModelDecoder(fast=False).decode_list(Student, body)``: the cattrs path.

Each is repeated and the best run counts. Ratios are speed relative to (a):
1.0 means as fast as parsing to dicts, 0.5 half as fast.
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

from _records import students_page  # noqa: E402

from assembly_async.models import Student  # noqa: E402
from assembly_async.models._decode import ModelDecoder  # noqa: E402


def run_once(fn: Callable[[bytes], Any], bodies: list[bytes]) -> float:
    """Wall time of ``fn`` over every body, with the garbage collector paused."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for body in bodies:
            fn(body)
        return time.perf_counter() - start
    finally:
        gc.enable()


def best_times(
    methods: dict[str, Callable[[bytes], Any]], bodies: list[bytes], repeat: int
) -> dict[str, float]:
    """Best time per method; runs are interleaved so load changes hit all methods alike."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(repeat):
        for name, fn in methods.items():
            best[name] = min(best[name], run_once(fn, bodies))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="pages per run (default 4)")
    parser.add_argument("--per-page", type=int, default=1500, help="students per page")
    parser.add_argument("--repeat", type=int, default=7, help="runs per method; best counts")
    args = parser.parse_args(argv)

    bodies = [students_page(args.per_page, seed=i) for i in range(args.pages)]
    records = args.pages * args.per_page
    fast = ModelDecoder()
    slow = ModelDecoder(fast=False)

    # Same answer from both paths, and warm caches (decoders, cattrs hooks).
    for body in bodies:
        assert fast.decode_list(Student, body)[0] == slow.decode_list(Student, body)[0]

    def sdk(body: bytes) -> Any:
        return fast.decode_list(Student, body)

    def cattrs_only(body: bytes) -> Any:
        return slow.decode_list(Student, body)

    size = sum(map(len, bodies)) / len(bodies) / 1024
    print(
        f"{args.pages} pages x {args.per_page} students, {size:.0f} KiB per page, "
        f"best of {args.repeat}, Python {sys.version.split()[0]}"
    )
    methods = {
        "(a) orjson.loads": orjson.loads,
        "(b) SDK decode_list": sdk,
        "(c) cattrs path": cattrs_only,
    }
    best = best_times(methods, bodies, args.repeat)
    for name, seconds in best.items():
        print(
            f"  {name:<22} {records / seconds:>12,.0f} records/s  "
            f"{seconds / args.pages * 1000:8.2f} ms/page"
        )
    results = {name[:3]: seconds for name, seconds in best.items()}
    print(f"  ratio (b)/(a) = {results['(a)'] / results['(b)']:.2f}x the speed of orjson.loads")
    print(f"  ratio (c)/(a) = {results['(a)'] / results['(c)']:.2f}x the speed of orjson.loads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
