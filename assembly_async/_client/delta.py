"""Incremental sync: deltas of list operations, watermarks in a SyncState.

CONCEPTS "Conditional requests": a list request carrying ``If-Modified-Since``
/ ``If-None-Match`` answers with only the records changed since then (a delta)
or ``304 Not Modified``. :meth:`SchoolSession.changes` returns a :class:`Delta`
that sends the stored validators, walks the delta's pages concurrently and,
only when the whole delta was consumed without an exception, stores the new
watermark (the validators of the delta's FIRST page, so changes made while the
walk ran are fetched again next time). An interrupted sync changes nothing.

::

    delta = school.students.changes(state=state, demographics=True)   # Delta[Student]
    async with delta:
        async for student in delta:
            upsert(student)
        delete(delta.left_ids)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from .. import models as _models
from .._core.config import CallOptions
from .._core.endpoint import Operation
from .._core.errors import ConfigurationError, PagingError, UsageError
from .._core.operations import OPERATIONS, SDK_CALLS
from .._core.responses import Validators
from .._core.walk import WalkSummary
from ..models._problems import DecodeProblem
from ..models._repair import record_id
from .pagination import DEFAULT_CONCURRENCY, Page, PageWalker, Paginator, RawRecord
from .runner import OperationRunner
from .syncstate import SyncState, sync_key

__all__ = ["CHANGE_OPERATIONS", "Delta", "changes", "resolve", "typed_changes"]

T = TypeVar("T")
X = TypeVar("X")
log = logging.getLogger("assembly_async.sync")


def _change_operations() -> dict[str, str]:
    out: dict[str, str] = {}
    for op_id, call in SDK_CALLS.items():
        op = OPERATIONS[op_id]
        if not (op.conditional and op.returns == "list" and op.method == "GET"):
            continue
        parts = call.split(".")
        if parts[0] != "school" or len(parts) != 3:
            continue
        _, resource, method = parts
        out[resource if method == "list" else f"{resource}.{method}"] = op_id
    return dict(sorted(out.items()))


#: Resource name accepted by ``changes()`` -> operationId of its conditional list:
#: ``students`` (school.students.list), ``attendances.summaries``,
#: ``teaching_groups.students`` (needs ``id=``)...
CHANGE_OPERATIONS: dict[str, str] = _change_operations()
#: Resources whose leavers are reported by a ``left`` endpoint.
LEFT_OPERATIONS: dict[str, str] = {
    "students": "getLeftStudents",
    "staff_members": "getLeftStaffMembers",
}


class Delta(Generic[T]):
    """The records of one list changed since the stored watermark.

    Use as ``async with delta: async for record in delta: ...`` (or
    ``delta.raw_pages()`` for ``list[dict]`` pages). Attributes after the walk:
    ``not_modified`` (a 304: nothing yielded), ``left_ids`` (ids from the
    ``left`` endpoint since the old watermark; students and staff only),
    ``requests`` (HTTP requests used), ``full`` (no watermark was stored: a
    first, full sync), ``proven`` (the list walk is provably the whole list:
    only then may a full sync remove what it did not see; ``walk`` holds the
    evidence), ``problems`` (values that did not fit the model, with their raw
    values: see :class:`DecodeProblem`; raw pages are checked against the
    model too, so a bulk sync counts them). The new watermark is saved on a
    clean ``__aexit__`` after the delta was consumed to its end; otherwise the
    state is untouched. A walk whose paging does not add up raises
    :class:`PagingError` (nothing commits). Decode problems do not stop the
    watermark: the records were delivered (raw pages keep every value).
    """

    def __init__(
        self,
        runner: OperationRunner,
        op: Operation,
        model: type[T],
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        state: SyncState,
        key: str,
        left_op: Operation | None = None,
        per_page: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        options: CallOptions | None = None,
    ) -> None:
        self._runner = runner
        self._op = op
        self._model = model
        self._path_args = dict(path_args)
        self._query = dict(query)
        self._left_op = left_op
        self._per_page = per_page
        self._concurrency = concurrency
        self._options = options
        #: The state and key the watermark is read from and written to.
        self.state = state
        self.key = key
        # Validate the arguments now, at the call site.
        runner.paginate(op, model, path_args, query, per_page=per_page, options=options)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self._loaded = False
        self._started = False
        self._complete = False
        self._committed = False
        self._stored: Validators | None = None
        self._new: Validators | None = None
        self._paginators: list[Paginator[Any]] = []
        self._walker: PageWalker[Any] | None = None
        self.not_modified = False
        self.full = True
        #: Ids of the records that left since the old watermark (students and staff).
        self.left_ids: list[int] = []
        #: The delta's total changed during the walk (the watermark is then kept).
        self.shifted = False
        #: The paging evidence of the list walk, once it ended.
        self.walk: WalkSummary | None = None
        #: Values of the walked pages that did not fit the model (raw values included).
        self.problems: list[DecodeProblem] = []

    @property
    def model(self) -> type[T]:
        """The model class of the records this delta yields."""
        return self._model

    def __repr__(self) -> str:
        return (f"<Delta {self._op.operation_id} key={self.key!r} full={self.full} "
                f"complete={self._complete} requests={self.requests}>")

    @property
    def requests(self) -> int:
        """HTTP requests this delta used so far (list pages and the left endpoint)."""
        return sum(p.requests for p in self._paginators)

    @property
    def complete(self) -> bool:
        """True once the delta was consumed to its end."""
        return self._complete

    @property
    def proven(self) -> bool:
        """True once the list walk ended proven complete: a stable stated total
        matched by the distinct records received, consistent page facts. A 304
        (nothing changed) proves nothing about the list."""
        return self.walk is not None and self.walk.proven and not self.not_modified

    def removal_error(self, count: int) -> PagingError | None:
        """None when removing ``count`` stored records this full walk did not list
        is safe (the walk is proven complete, or there is nothing to remove); else
        the :class:`PagingError` that explains why they must be kept."""
        if count <= 0 or self.proven:
            return None
        walk = self.walk
        why = walk.unproven_because() if walk is not None else "the walk did not end"
        return PagingError(
            f"{count} stored records this walk did not list were kept, because the walk "
            f"is not proven complete: {why}",
            url=walk.url if walk is not None else None, page=None,
            figures={"total": walk.total, "received": walk.received, "pages": walk.pages}
            if walk is not None else None)

    @property
    def watermark(self) -> Validators | None:
        """The validators that a commit would store (None before the first page or after a 304)."""
        return self._new

    @property
    def stored(self) -> Validators | None:
        """The watermark the delta was taken against (None: a full sync)."""
        return self._stored

    async def _load(self) -> None:
        if self._loaded:
            return
        stored = await self.state.get(self.key)
        self._stored = stored if stored else None
        self.full = self._stored is None
        self._loaded = True

    async def __aenter__(self) -> Delta[T]:
        await self._load()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close_walk()
        if exc_type is None:
            await self.commit()

    async def _close_walk(self) -> None:
        if self._walker is not None:
            await self._walker.aclose()

    async def commit(self) -> bool:
        """Store the new watermark if the delta was consumed to its end (done by
        ``__aexit__``); returns whether the state was written."""
        if not self._complete or self._committed:
            return False
        self._committed = True
        if self._new:
            await self.state.set(self.key, self._new)
            return True
        return False

    async def _start(self, raw: bool) -> PageWalker[Any]:
        if self._started:
            raise UsageError("a Delta can be iterated once; ask changes() for a new one")
        self._started = True
        await self._load()
        paginator = self._runner.paginate(
            self._op, self._model, self._path_args, self._query, per_page=self._per_page,
            options=self._options, validators=self._stored, check=self._model,
        )
        paginator.concurrency = self._concurrency
        self._paginators.append(paginator)
        self._walker = paginator.walker(raw=raw)
        return self._walker

    async def _finish(self, walker: PageWalker[Any]) -> None:
        self.walk = walker.summary()
        first: Page[Any] | None = walker.first_page
        if first is not None and first.not_modified:
            self.not_modified = True
            self._new = None
        elif first is not None:
            self._new = first.validators or None
        if not walker.stable:
            # The delta changed size while we walked it: offset paging may have
            # moved a record between pages unseen. Keep the old watermark so the
            # next sync asks for the same changes again (sinks upsert).
            self.shifted = True
            self._new = None
            log.warning("%s changed during the walk (totals %s); the watermark stays",
                        self._op.operation_id, sorted(walker.totals))
        await self._fetch_left()
        self._complete = True

    async def _fetch_left(self) -> None:
        stored = self._stored
        if self._left_op is None or stored is None or not stored.last_modified:
            return
        # getLeftStudents takes If-Modified-Since only: send the old watermark's date.
        paginator: Paginator[Any] = self._runner.paginate(
            self._left_op, None, {}, {}, per_page=None, options=self._options,
            validators=Validators(last_modified=stored.last_modified),
        )
        paginator.concurrency = self._concurrency
        self._paginators.append(paginator)
        ids: list[int] = []
        async with paginator.raw_pages() as pages:
            async for records in pages:
                # The models' rule for a usable id (an integer, or its digits as
                # text): a leaver sent as "15" is left as 15, like a record is read.
                ids.extend(i for i in map(record_id, records) if i is not None)
        self.left_ids = ids

    def __aiter__(self) -> _DeltaRecords[T]:
        return _DeltaRecords(self)

    def raw_pages(self) -> _DeltaRawPages:
        """Each page of the delta as parsed JSON (``list[dict]``), no models built."""
        return _DeltaRawPages(self)


class _DeltaWalk(Generic[X]):
    """One walk over a delta's pages; it commits nothing itself (the delta does)."""

    def __init__(self, delta: Delta[Any], *, raw: bool) -> None:
        self._delta = delta
        self._raw = raw
        self._walker: PageWalker[Page[X]] | None = None
        self._ended = False

    async def _next_page(self) -> Page[X] | None:
        """The next page, or None once the delta was consumed to its end."""
        if self._ended:
            return None
        if self._walker is None:
            self._walker = await self._delta._start(raw=self._raw)
        page = await self._walker.next_page()
        if page is None:
            self._ended = True
            await self._delta._finish(self._walker)
        elif page.problems:
            self._delta.problems.extend(page.problems)
        return page

    async def aclose(self) -> None:
        if self._walker is not None:
            await self._walker.aclose()

    def __del__(self) -> None:
        walker = getattr(self, "_walker", None)
        if walker is not None:
            walker.cancel_pending()


class _DeltaRecords(_DeltaWalk[T]):
    def __init__(self, delta: Delta[T]) -> None:
        super().__init__(delta, raw=False)
        self._it: Iterator[T] = iter(())

    def __aiter__(self) -> _DeltaRecords[T]:
        return self

    async def __anext__(self) -> T:
        for item in self._it:
            return item
        while (page := await self._next_page()) is not None:
            self._it = iter(page.items)
            for item in self._it:
                return item
        raise StopAsyncIteration


class _DeltaRawPages(_DeltaWalk[RawRecord]):
    def __init__(self, delta: Delta[Any]) -> None:
        super().__init__(delta, raw=True)

    def __aiter__(self) -> _DeltaRawPages:
        return self

    async def __anext__(self) -> list[RawRecord]:
        page = await self._next_page()
        if page is None:
            raise StopAsyncIteration
        return page.items


def resolve(resource: str) -> tuple[Operation, Operation | None]:
    """The conditional list operation (and its ``left`` operation) of a resource name."""
    op_id = CHANGE_OPERATIONS.get(resource)
    if op_id is None:
        raise ConfigurationError(
            f"no conditional list for {resource!r}; one of: {', '.join(CHANGE_OPERATIONS)}"
        )
    left = LEFT_OPERATIONS.get(resource)
    return OPERATIONS[op_id], OPERATIONS[left] if left else None


def changes(
    runner: OperationRunner,
    resource: str,
    *,
    state: SyncState | None = None,
    per_page: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    options: CallOptions | None = None,
    key: str | None = None,
    **params: Any,
) -> Delta[Any]:
    """Build the :class:`Delta` of ``resource`` for the school of ``runner``
    (see ``SchoolSession.changes``)."""
    op, left_op = resolve(resource)
    path_names = {p.name for p in op.path_params}
    path_args = {k: v for k, v in params.items() if k in path_names}
    query = {k: v for k, v in params.items() if k not in path_names}
    if key is None:
        if runner.school_id is None:
            raise ConfigurationError(
                "changes() needs the session's school_id (client.school(id, ...)) or key="
            )
        key = sync_key(runner.school_id, op.operation_id, params)
    model = getattr(_models, op.model or "", None)
    if model is None:  # pragma: no cover - every conditional list has a model
        raise ConfigurationError(f"{op.operation_id} has no model")
    return Delta(runner, op, model, path_args, query,
                 state=state if state is not None else runner.sync_state,
                 key=key, left_op=left_op, per_page=per_page, concurrency=concurrency,
                 options=options)


def typed_changes(
    runner: OperationRunner,
    resource: str,
    model: type[T],
    *,
    state: SyncState | None = None,
    per_page: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    options: CallOptions | None = None,
    key: str | None = None,
    **params: Any,
) -> Delta[T]:
    """:func:`changes` for a resource whose model the caller names (the generated
    ``school.students.changes()`` and friends), so the delta is typed ``Delta[model]``.
    The watermark key is the same as ``changes(runner, resource, **params)``'s."""
    delta = changes(runner, resource, state=state, per_page=per_page, concurrency=concurrency,
                    options=options, key=key, **params)
    if delta.model is not model:
        raise ConfigurationError(
            f"{resource!r} yields {delta.model.__name__}, not {model.__name__}")
    return delta
