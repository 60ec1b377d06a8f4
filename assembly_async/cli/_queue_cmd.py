"""``worker``, ``sync --queue`` and ``status --queue``: bulk sync on many machines.

* ``assembly-async worker --redis URL --sink postgresql://...`` runs jobs until
  SIGTERM or Ctrl-C (a second one stops at once; unfinished jobs go back to
  the queue either way, or their lease expires).
* ``assembly-async sync --queue URL`` starts a run (every school of the
  Redis token store, or ``--schools``), shows its progress on stderr and
  prints the report on stdout (``--json`` too). Ctrl-C leaves the run to the
  workers: ``--attach RUN`` follows it again, ``--cancel RUN`` stops it.
* ``assembly-async status --queue URL`` lists the runs and live workers;
  ``--run RUN`` shows one run's schools.

Needs the ``distributed`` extra. URLs and DSNs with passwords are best given
in the environment (``ASSEMBLY_REDIS_URL``, ``ASSEMBLY_SINK``): other users
of the machine can read a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

from .._core.errors import AssemblyError, ConfigurationError
from ..sinks import is_dsn, redact_dsn
from ._common import CLIError, add_api_options, parse_school_ids, stored_school_ids
from ._stores import shown
from ._sync_cmd import parse_resources
from ._ui import UI, report_json

__all__ = ["or_queue", "queue_url", "register", "run_queue_status", "run_queue_sync",
           "run_worker"]

_ENV_REDIS = "ASSEMBLY_REDIS_URL"
_ENV_SINK = "ASSEMBLY_SINK"
#: Options that only mean something with --queue.
QUEUE_ONLY = ("attach", "cancel", "detach", "run")


def _distributed() -> Any:
    try:
        from .. import distributed
    except ImportError:
        raise CLIError('this command needs the distributed extra: '
                       'pip install "assembly-async[distributed]"') from None
    return distributed


def register(sub: Any) -> None:
    """The ``worker`` command, and ``--queue`` with its options on ``sync`` and
    ``status`` (registered before this)."""
    worker = sub.add_parser(
        "worker", help="run distributed sync jobs from a Redis queue (taskiq)",
        description="Take (school, resource) jobs from the Redis queue and sync them into "
        "PostgreSQL, with tokens and rate budgets shared through Redis. Credentials: "
        "ASSEMBLY_CLIENT_ID, ASSEMBLY_CLIENT_SECRET. Stops on SIGTERM/Ctrl-C.")
    worker.add_argument("--redis", metavar="URL", help=f"Redis URL (env: {_ENV_REDIS})")
    worker.add_argument("--sink", metavar="DSN", help=f"PostgreSQL DSN (env: {_ENV_SINK})")
    worker.add_argument("--concurrency", type=int, default=16, metavar="N",
                        help="jobs at once in this process (default: 16)")
    worker.add_argument("--prefix", default="assembly:",
                        help="Redis key prefix (default: assembly:)")
    worker.add_argument("--rate-limit", type=int, default=600, metavar="N",
                        help="requests per window per school, the same in every worker "
                        "(default: 600)")
    worker.add_argument("--rate-window", type=float, default=300.0, metavar="SECONDS",
                        help="the rate window (default: 300)")
    worker.add_argument("--shutdown-grace", type=float, default=30.0, metavar="SECONDS",
                        help="time running jobs get to finish on SIGTERM (default: 30)")
    worker.add_argument("--sweep-interval", type=float, default=5.0, metavar="SECONDS",
                        help="time between looks for expired leases and lost messages "
                        "(default: 5)")
    worker.add_argument("--label", help="this worker's name in the ledger (default: host:pid)")
    add_api_options(worker)
    sync, status = sub.choices["sync"], sub.choices["status"]
    for parser in (sync, status):
        parser.add_argument("--queue", metavar="URL",
                            help="Redis URL of the distributed queue (see `worker`)")
        parser.add_argument("--prefix", default="assembly:",
                            help="with --queue: its Redis key prefix (default: assembly:)")
    sync.add_argument("--attach", metavar="RUN", help="with --queue: follow a run again")
    sync.add_argument("--cancel", metavar="RUN", help="with --queue: cancel a run")
    sync.add_argument("--detach", action="store_true",
                      help="with --queue: start the run, print its id and return")
    sync.add_argument("--lease", type=float, default=60.0, metavar="SECONDS",
                      help="with --queue: how long a job's lease lasts; a killed worker's "
                      "jobs start again after it (default: 60)")
    status.add_argument("--run", metavar="RUN", help="with --queue: one run's schools")


Command = Callable[[argparse.Namespace, UI], Coroutine[Any, Any, int]]


def or_queue(plain: Command, queued: Command) -> Command:
    """``queued`` when ``--queue`` is given, else ``plain``."""

    async def run(args: argparse.Namespace, ui: UI) -> int:
        return await (queued if queue_url(args) else plain)(args, ui)

    return run


# -- worker --------------------------------------------------------------------------


async def run_worker(args: argparse.Namespace, ui: UI) -> int:
    dist = _distributed()
    try:
        config = dist.WorkerConfig.from_env(
            redis=args.redis, sink=args.sink, concurrency=args.concurrency, prefix=args.prefix,
            rate_limit=args.rate_limit, rate_window=args.rate_window, api_url=args.api_url,
            oauth_url=args.oauth_url, shutdown_grace=args.shutdown_grace,
            sweep_interval=args.sweep_interval, label=args.label)
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None
    stop = asyncio.Event()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set() and main is not None:
            main.cancel()  # a second signal: stop now (jobs are handed back or expire)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)

    def ready(context: Any) -> None:
        print(f"worker {context.label} ready: {config.concurrency} jobs at once, "
              f"queue {shown(config.redis)} prefix {config.prefix!r}, "
              f"sink {redact_dsn(config.sink)}", file=ui.err, flush=True)

    try:
        outcomes = await dist.serve(config, stop=stop, on_ready=ready)
    except asyncio.CancelledError:
        print("worker stopped at once", file=ui.err, flush=True)
        return 130
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    done = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no jobs"
    print(f"worker stopped: {done}", file=ui.err, flush=True)
    return 0


# -- sync --queue --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _open_queue(url: str, prefix: str) -> AsyncIterator[Any]:
    dist = _distributed()
    queue = dist.SyncQueue(url, prefix=prefix)
    try:
        await queue.open()
    except AssemblyError as exc:
        await queue.close()
        raise CLIError(f"cannot reach the queue {shown(url)!r}: {exc}") from None
    try:
        yield queue
    finally:
        await queue.close()


async def _school_ids(args: argparse.Namespace) -> list[int]:
    wanted = parse_school_ids(args.schools)
    if wanted is not None:
        return wanted
    from ..redis import RedisTokenStore

    async with RedisTokenStore(args.queue, prefix=args.prefix) as store:
        ids = await stored_school_ids(store)
    if not ids:
        raise CLIError(f"no school tokens in the Redis token store at {shown(args.queue)!r} "
                       f"(prefix {args.prefix!r}); pass --schools")
    return ids


async def _sink_identity(dsn: str | None) -> str | None:
    """Open the run's sink once: its tables are created before the workers race
    for them, and its identity goes into the run (workers on another database
    decline the jobs)."""
    if dsn is None:
        return None
    if not is_dsn(dsn):
        raise CLIError("with --queue, --sink is the workers' postgresql:// database")
    from ..sinks import PostgresSink

    async with PostgresSink(dsn, pool_size=1) as sink:
        return sink.instance


class _Printer:
    """Progress of a run on stderr: one line when it changes (rewritten in place
    on a terminal; quiet with ``--json`` unless stderr is a terminal)."""

    def __init__(self, ui: UI) -> None:
        self.err = ui.err
        self.tty = ui.err_is_terminal()
        self.quiet = ui.json and not self.tty
        self.last = ""

    def __call__(self, progress: Any) -> None:
        c = progress.counts
        line = (f"run {progress.info.id}: {progress.ended}/{progress.info.total} jobs ended"
                f" ({c['failed']} failed, {c['skipped']} skipped), {c['running']} running,"
                f" {c['queued']} queued; {progress.records} records")
        if progress.info.requeued:
            line += f"; {progress.info.requeued} queued again"
        for worker, reason in progress.declined.items():
            line += f"; DECLINED by {worker}: {reason}"
        if line == self.last or self.quiet:
            return
        self.last = line
        if self.tty:
            print("\r\x1b[2K" + line, end="", file=self.err, flush=True)
        else:
            print(line, file=self.err, flush=True)

    def end(self) -> None:
        if self.tty and self.last:
            print(file=self.err, flush=True)


@contextlib.contextmanager
def _interrupts() -> Iterator[asyncio.Event]:
    """Ctrl-C sets the event instead of interrupting whatever is being awaited."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        yield stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _left_to_workers(ui: UI, run_id: str, url: str) -> int:
    where = shown(url)
    print(f"run {run_id} goes on on the workers. Follow it: assembly-async sync --queue "
          f"{where} --attach {run_id}; stop it: assembly-async sync --queue {where} "
          f"--cancel {run_id}", file=ui.err, flush=True)
    return 130


async def _follow(queue: Any, run_id: str, args: argparse.Namespace, ui: UI,
                  stop: asyncio.Event) -> int:
    from ..distributed._tasks import stop_task

    printer = _Printer(ui)
    waiting = asyncio.create_task(queue.wait(run_id, poll=1.0, on_progress=printer))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await stop_task(stopping)
        if not waiting.done():
            await stop_task(waiting)
    printer.end()
    if waiting.cancelled():
        return _left_to_workers(ui, run_id, args.queue)
    report = waiting.result()
    workers = await _workers_of(queue, run_id)
    if ui.json:
        ui.emit({"command": "sync", "run": run_id, "workers": workers, **report_json(report)})
    else:
        title = f"Run {run_id}" + (" (cancelled)" if report.cancelled else "")
        ui.report_table(title, report)
        ran = ", ".join(f"{label} {n}" for label, n in sorted(workers.items())) or "none"
        ui.say(f"run {run_id}: jobs run by worker: {ran}")
    return 0 if report.ok else 1


async def _workers_of(queue: Any, run_id: str) -> dict[str, int]:
    """How many of the run's jobs each worker ended."""
    counts: dict[str, int] = {}
    for entry in (await queue.ledger.jobs(run_id)).values():
        label = entry.get("worker")
        if label and entry.get("state") not in ("queued", "running"):
            counts[label] = counts.get(label, 0) + 1
    return counts


async def run_queue_sync(args: argparse.Namespace, ui: UI) -> int:
    if args.lease <= 0:
        raise CLIError("--lease must be positive")
    # Until the run is queued, Ctrl-C interrupts as anywhere else (exit 130,
    # nothing submitted); from then on it leaves the run to the workers.
    async with _open_queue(args.queue, args.prefix) as queue:
        if args.cancel:
            before = await queue.cancel(args.cancel)
            if before == "gone":
                raise CLIError(f"no run {args.cancel} in {shown(args.queue)}")
            said = {"running": "cancelled", "done": "already done",
                    "cancelled": "already cancelled"}[before]
            ui.say(f"run {args.cancel}: {said}")
            return 0
        if args.attach:
            if await queue.progress(args.attach) is None:
                raise CLIError(f"no run {args.attach} in {shown(args.queue)} "
                               "(or it expired)")
            with _interrupts() as stop:
                return await _follow(queue, args.attach, args, ui, stop)
        resources = parse_resources(args.resources)
        ids = await _school_ids(args)
        identity = await _sink_identity(args.sink)
        dist = _distributed()
        with _interrupts() as stop:
            # Not interrupted half-way: a Ctrl-C meanwhile is answered once it is queued.
            info = await queue.submit(ids, resources=resources, sink=identity,
                                      options=dist.RunOptions(lease=args.lease))
            ui.say(f"run {info.id}: {info.total} jobs ({len(ids)} schools x "
                   f"{', '.join(resources)}) queued on {shown(args.queue)}")
            if not await queue.workers():
                ui.say("no worker has been heard of in the last minute: the jobs wait for "
                       "`assembly-async worker` (same Redis and --prefix)")
            if args.detach:
                if ui.json:
                    ui.emit({"command": "sync", "run": info.id, "jobs": info.total})
                else:
                    ui.line(info.id)
                return 0
            if stop.is_set():
                return _left_to_workers(ui, info.id, args.queue)
            return await _follow(queue, info.id, args, ui, stop)


# -- status --queue ------------------------------------------------------------------


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


async def run_queue_status(args: argparse.Namespace, ui: UI) -> int:
    as_json = ui.json
    async with _open_queue(args.queue, args.prefix) as queue:
        if args.run:
            report = await queue.report(args.run)
            progress = await queue.progress(args.run)
            if report is None or progress is None:
                raise CLIError(f"no run {args.run} in {shown(args.queue)} (or it expired)")
            if as_json:
                ui.emit({"command": "status", "run": args.run, "status": progress.info.status,
                         "counts": progress.counts, **report_json(report)})
            else:
                ui.report_table(f"Run {args.run}: {progress.info.status}, "
                                f"{progress.ended}/{progress.info.total} jobs ended", report)
            return 0
        runs = await queue.runs()
        rows = []
        for info in runs:
            p = await queue.progress(info.id)
            if p is None:
                continue
            c = p.counts
            rows.append([info.id, _when(info.created), info.status,
                         f"{p.ended}/{info.total}", c["failed"] + c["skipped"], c["running"],
                         c["queued"], p.records, info.requeued])
        workers = await queue.workers()
    if as_json:
        cols = ["run", "started", "status", "ended", "failed", "running", "queued", "records",
                "requeued"]
        ui.emit({"command": "status", "runs": [dict(zip(cols, r, strict=True)) for r in rows],
                 "workers": [{"label": w.label, "seen": w.seen, "concurrency": w.concurrency,
                              "running": w.running, "outcomes": dict(w.outcomes)}
                             for w in workers]})
        return 0
    ui.table(f"Runs on {shown(args.queue)}", ["run", "started (UTC)", "status", "jobs ended",
                                               "failed", "running", "queued", "records",
                                               "queued again"], rows)
    ui.table("Workers (seen in the last minute)",
             ["worker", "last seen (UTC)", "jobs at once", "running", "done"],
             [[w.label, _when(w.seen), w.concurrency, w.running,
               sum(v for k, v in w.outcomes.items() if k in ("done", "not_modified"))]
              for w in workers])
    return 0


def queue_url(args: argparse.Namespace) -> str | None:
    """``--queue``, checked (None when not given: then the options that need it
    must not be given either)."""
    url = getattr(args, "queue", None)
    if url is None:
        used = [name for name in QUEUE_ONLY if getattr(args, name, None)]
        if used:
            raise CLIError(f"--{used[0]} needs --queue URL")
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CLIError("--queue is a redis://, rediss:// or unix:// URL")
    return str(url)
