"""Print the table of issue 11: each paging anomaly -> what a walk delivered (or
raised) and how many requests it used, against the hostile loopback server of
the tests (``tests/_paging_server.py``).

Run ``python tools/paging_anomalies.py``. To see an older SDK on the same
anomalies, export its package and point ``--sdk`` at the folder holding it::

    mkdir -p /tmp/old && git archive main assembly_async | tar -x -C /tmp/old
    python tools/paging_anomalies.py --sdk /tmp/old
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _use_sdk(folder: str) -> None:
    """Import ``assembly_async`` from ``folder`` rather than this checkout (an
    editable install hooks the import system, so PYTHONPATH alone does not do)."""
    for finder in list(sys.meta_path):
        if "editable" in repr(finder).lower():
            sys.meta_path.remove(finder)
    sys.path.insert(0, folder)


async def _table() -> list[tuple[str, str, str, int, int]]:
    from _paging_anomalies import ANOMALIES, N, minimum_requests, walk
    from _paging_server import HostileAssembly

    rows = []
    async with HostileAssembly(max_requests=600) as server:
        for name, version, scenario, _expected in ANOMALIES:
            server.scenario = scenario
            outcome = await walk(server, version)
            requests = outcome.requests
            rows.append((name, version, outcome.describe(N), requests,
                         minimum_requests(scenario)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", help="folder holding another assembly_async package")
    args = parser.parse_args(argv)
    if args.sdk:
        _use_sdk(args.sdk)
    sys.path.insert(0, str(TESTS))
    import assembly_async

    rows = asyncio.run(_table())
    print(f"SDK: {Path(assembly_async.__file__).parent}; 500 records; 600 requests at most\n")
    print("| anomaly | API | outcome | requests | pages of the list |")
    print("|---|---|---|---|---|")
    for name, version, outcome, requests, minimum in rows:
        print(f"| {name} | {version} | {outcome} | {requests} | {minimum} |")


if __name__ == "__main__":
    main()
