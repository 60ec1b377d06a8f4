"""The operation runner: what every session of a client uses to run an operation.

A :class:`ClientCore` is what all sessions of one client share (configuration,
pipeline, decoder, the default sync state, the GET cache); an
:class:`OperationRunner` pairs it with one token provider. Sessions, the
generated resources and deltas all run operations through a runner, so none
of them builds a URL, a header or a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from .._core.config import CallOptions, ClientConfig
from .._core.endpoint import Operation
from .._core.errors import ConfigurationError, DecodeError
from .._core.paging import paging_from_envelope, paging_from_headers
from .._core.requests import build_request
from .._core.responses import Validators, read_validators
from .._http.events import Event
from .._http.pipeline import Pipeline
from .._http.tokens import TokenProvider
from .._http.transport import Response
from ..models._converter import dump_json
from ..models._decode import ModelDecoder
from ..models._problems import DecodeProblem
from .getcache import GetCache
from .pagesizes import PageSizes
from .pagination import Page, Paginator
from .rawresponse import record
from .syncstate import MemorySyncState

__all__ = ["ClientCore", "OperationRunner"]

T = TypeVar("T")
R = TypeVar("R")
_DEFAULT_OPTIONS = CallOptions()
log = logging.getLogger("assembly_async.decode")
#: Decode problems logged one by one per response; the rest are counted.
_LOGGED = 5


@attrs.frozen
class ClientCore:
    """What every session of a client shares."""

    config: ClientConfig
    pipeline: Pipeline
    decoder: ModelDecoder
    #: The client's own sync state, used by ``changes()`` when none is given.
    sync_state: MemorySyncState = attrs.field(factory=MemorySyncState)
    #: Bodies of single-resource GETs, revalidated with ETag/Last-Modified.
    get_cache: GetCache = attrs.field(factory=GetCache)
    #: Page sizes the API host enforces, learned per operation (a refused 1500
    #: is paid once per client, not once per walk).
    page_sizes: PageSizes = attrs.field(factory=PageSizes)


class OperationRunner:
    """Runs operations for one token: builds the request, sends it through the
    client's pipeline, decodes the answer.

    This is the seam between what users hold (sessions, the resources hanging
    off them, deltas) and the HTTP layer: resources call :meth:`call` and
    :meth:`paginate` with an :class:`Operation` from the table, never a URL or
    a header. ``level`` is the token level ("school" or "app") that the
    operation's ``token_level`` is checked against.
    """

    __slots__ = ("core", "level", "provider", "school_id")

    def __init__(self, core: ClientCore, provider: TokenProvider, *,
                 school_id: int | None = None, level: str = "school") -> None:
        self.core = core
        self.provider = provider
        self.school_id = school_id
        self.level = level

    def __repr__(self) -> str:
        return f"<OperationRunner level={self.level} school_id={self.school_id!r}>"

    @property
    def sync_state(self) -> MemorySyncState:
        """The client's own sync state (``changes()`` uses it when given none)."""
        return self.core.sync_state

    def _problems(self, options: CallOptions | None) -> list[DecodeProblem] | None:
        """A list to collect decode problems in, or None when the call is strict."""
        strict = (options or _DEFAULT_OPTIONS).strict(self.core.config.strict_decode)
        return None if strict else []

    async def _report(self, op: Operation, problems: Sequence[DecodeProblem]) -> None:
        """Tell the log and the hooks about decode problems (never their values)."""
        if not problems:
            return
        if log.isEnabledFor(logging.WARNING):
            for problem in problems[:_LOGGED]:
                log.warning("%s school=%s: %s", op.operation_id, self.school_id,
                            problem.redacted())
            if len(problems) > _LOGGED:
                log.warning("%s school=%s: %d more values did not fit their model in %s",
                            op.operation_id, self.school_id, len(problems) - _LOGGED,
                            problems[0].url)
        hooks = self.core.pipeline.hooks
        if hooks is not None and hooks.wants("decode_problem"):
            for problem in problems:
                await hooks.emit(Event(
                    kind="decode_problem", method=op.method, url=problem.url or "",
                    school_id=self.school_id, attempt=0, operation_id=op.operation_id,
                    problem=problem.redacted()))

    async def _send(
        self,
        op: Operation,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        options: CallOptions | None,
        page: int | None = None,
        per_page: int | None = None,
        validators: Validators | None = None,
        body: bytes | None = None,
        decode: Callable[[Response, str], R],
    ) -> R:
        """Build the request, send it through the pipeline and return
        ``decode(response, api_version)``; decoding runs inside the retry loop,
        so a damaged body on a GET is fetched again like any transient fault."""
        if op.token_level not in ("any", self.level):
            raise ConfigurationError(
                f"{op.operation_id} needs a {op.token_level} token, this is a {self.level} session"
            )
        options = options or _DEFAULT_OPTIONS
        config = self.core.config
        version = options.version(config.api_version)
        request = build_request(
            config.api_url, op, path_args=path_args, query=query, version=version,
            page=page, per_page=per_page, validators=validators, body=body,
            user_agent=config.user_agent,
        )
        return await self.core.pipeline.call(
            request, lambda resp: decode(resp, version), auth=self.provider,
            timeouts=options.timeouts(config.timeouts),
            accept_not_modified=validators is not None,
            school_id=self.school_id, options=options,
        )

    def paginate(
        self,
        op: Operation,
        model: type[T] | None,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        per_page: int | None,
        options: CallOptions | None,
        validators: Validators | None = None,
        check: type[Any] | None = None,
    ) -> Paginator[T]:
        """A :class:`Paginator` over a list operation (``validators`` make every
        page conditional: the pages of a delta). Arguments are validated now, so
        bad ones fail at the call site rather than at the first iteration.
        ``check`` is a model the raw pages are decoded into and thrown away, so
        that they report decode problems too (the delta's ``raw_pages``)."""
        # Validate now, not at the first iteration: bad arguments fail at the call site.
        build_request(self.core.config.api_url, op, path_args=path_args, query=query,
                      version=self.core.config.api_version, per_page=per_page)

        async def fetch_page(number: int, size: int | None) -> Page[T]:
            return await self._fetch_page(op, model, path_args, query, number=number,
                                          per_page=size if op.has_per_page else None,
                                          options=options, validators=validators)

        async def fetch_raw(number: int, size: int | None) -> Page[dict[str, Any]]:
            return await self._fetch_page(op, None, path_args, query, number=number,
                                          per_page=size if op.has_per_page else None,
                                          options=options, validators=validators,
                                          check=check)

        return Paginator(fetch_page, per_page=per_page, paged=op.has_per_page,
                         fetch_raw=fetch_raw, sizes=self.core.page_sizes,
                         size_key=(str(self.core.config.api_url), op.operation_id))

    async def _fetch_page(
        self,
        op: Operation,
        model: type[T] | None,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        number: int,
        per_page: int | None,
        options: CallOptions | None,
        validators: Validators | None = None,
        check: type[Any] | None = None,
    ) -> Page[T]:
        decoder = self.core.decoder

        def read(resp: Response, version: str) -> Page[T]:
            found = read_validators(resp.headers)
            if resp.status == 304:
                info = paging_from_headers({}, number)
                return Page([], info, validators or found, not_modified=True, number=number,
                            asked_per_page=per_page, url=resp.url, status=resp.status,
                            headers=resp.headers)
            envelope = version == "1"
            problems = self._problems(options)
            items: list[Any]
            if model is None:
                items, meta = self._raw_list(resp, envelope)
                if check is not None:  # the models are thrown away: only the problems count
                    decoder.decode_list(check, resp.body, url=resp.url, envelope=envelope,
                                        problems=problems)
            else:
                items, meta = decoder.decode_list(model, resp.body, url=resp.url,
                                                  envelope=envelope, problems=problems)
            # The facts as the server stated them: what was asked for travels
            # separately, so a page size the server never confirmed is not taken
            # for one it used.
            info = (paging_from_envelope(meta, number) if envelope and meta is not None
                    else paging_from_headers(resp.headers, number))
            found_problems = tuple(problems or ())
            # Model pages lack the records the decoder left out (raw pages hold them all).
            left_out = 0 if model is None else len({p.index for p in found_problems
                                                    if not p.kept})
            return Page(items, info, found, number=number, asked_per_page=per_page,
                        url=resp.url, status=resp.status, headers=resp.headers,
                        problems=found_problems, left_out=left_out)

        page = await self._send(op, path_args, query, options=options, page=number,
                                per_page=per_page, validators=validators, decode=read)
        await self._report(op, page.problems)
        return page

    def _raw_list(self, resp: Response, envelope: bool) -> tuple[list[Any], dict[str, Any] | None]:
        data = self.core.decoder.loads(resp.body, url=resp.url) if resp.body.strip() else []
        if envelope and isinstance(data, dict):
            records = data.get("data")
            meta = {k: v for k, v in data.items() if k != "data"}
            data = records
        else:
            meta = None
        if not isinstance(data, list):
            raise DecodeError(f"expected a JSON array, got {type(data).__name__}", url=resp.url)
        return data, meta

    async def call(
        self,
        op: Operation,
        model: type[Any] | None,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        body: Any = None,
        v1_model: type[Any] | None = None,
        options: CallOptions | None,
    ) -> Any:
        """Run a non-list operation and return its decoded result (single-record
        GETs are revalidated against the client's GET cache)."""
        payload = dump_json(self.core.decoder.converter, body) if body is not None else None
        cache = cache_key = cached = None
        school_id = self.school_id
        if op.method == "GET" and op.returns == "one" and school_id is not None:
            # Single-resource GET: revalidate a cached body with its ETag/Last-Modified.
            cache = self.core.get_cache
            version = (options or _DEFAULT_OPTIONS).version(self.core.config.api_version)
            cache_key = cache.key(school_id, op.operation_id, version, path_args, query)
            cached = cache.get(cache_key)
        decoder = self.core.decoder

        def read(resp: Response, version: str) -> tuple[Any, list[DecodeProblem] | None]:
            answer = resp
            if cache is not None and cached is not None and resp.status == 304:
                cache.hits += 1
                resp = cached[0]
            if op.returns == "none" or model is None:
                record(answer.status, answer.headers, answer.url)
                return None, None
            problems = self._problems(options)
            if version == "1" and v1_model is not None:
                value = decoder.decode_one(v1_model, resp.body, url=resp.url, problems=problems)
            elif version == "1" and op.v1_key:
                # CONCEPTS "Versions": v1 combines the assessment and its grade set.
                data = decoder.loads(resp.body, url=resp.url)
                if isinstance(data, dict) and op.v1_key in data:
                    data = data[op.v1_key]
                value = decoder.structure_one(model, data, url=resp.url, problems=problems)
            elif op.returns == "items":
                value, _ = decoder.decode_list(model, resp.body, url=resp.url, envelope=False,
                                               problems=problems)
            else:
                value = decoder.decode_one(model, resp.body, url=resp.url, problems=problems)
            if cache is not None and cache_key is not None and resp.status != 304:
                cache.put(cache_key, resp)  # only bodies that decoded
            record(answer.status, answer.headers, answer.url, from_cache=answer is not resp)
            return value, problems

        value, problems = await self._send(op, path_args, query, options=options, body=payload,
                                           validators=cached[1] if cached else None,
                                           decode=read)
        await self._report(op, problems or ())
        return value
