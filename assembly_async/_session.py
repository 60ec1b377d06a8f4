"""School and app sessions: the objects users call operations on.

A session pairs a token provider with the client's shared pipeline, decoder
and configuration. Thousands of school sessions can share one client (and so
one connection pool); each has its own token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from ._config import CallOptions, ClientConfig
from ._converter import dump_json
from ._decode import ModelDecoder
from ._endpoint import Operation
from ._errors import ConfigurationError, DecodeError
from ._getcache import GetCache
from ._pagination import DEFAULT_CONCURRENCY, Page, Paginator
from ._pipeline import Pipeline
from ._sansio import (
    Validators,
    build_request,
    paging_from_envelope,
    paging_from_headers,
    read_validators,
)
from ._sync import Delta
from ._sync import changes as _changes
from ._sync_state import MemorySyncState, SyncState
from ._tokens import TokenProvider
from ._transport import Response
from .resources._generated import AppResources, SchoolResources

__all__ = ["AppSession", "ClientCore", "SchoolSession"]

T = TypeVar("T")
R = TypeVar("R")
_DEFAULT_OPTIONS = CallOptions()


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


class _SessionBase:
    """Runs operations for one token: builds, sends, decodes."""

    _level = "school"

    def __init__(self, core: ClientCore, provider: TokenProvider) -> None:
        self._core = core
        self._provider = provider

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
        if op.token_level not in ("any", self._level):
            raise ConfigurationError(
                f"{op.operation_id} needs a {op.token_level} token, this is a {self._level} session"
            )
        options = options or _DEFAULT_OPTIONS
        config = self._core.config
        version = options.version(config.api_version)
        request = build_request(
            config.api_url, op, path_args=path_args, query=query, version=version,
            page=page, per_page=per_page, validators=validators, body=body,
            user_agent=config.user_agent,
        )
        return await self._core.pipeline.call(
            request, lambda resp: decode(resp, version), auth=self._provider,
            timeouts=options.timeouts(config.timeouts),
            accept_not_modified=validators is not None,
            school_id=getattr(self, "school_id", None), options=options,
        )

    def _paginate(
        self,
        op: Operation,
        model: type[T] | None,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        per_page: int | None,
        options: CallOptions | None,
        validators: Validators | None = None,
    ) -> Paginator[T]:
        # Validate now, not at the first iteration: bad arguments fail at the call site.
        build_request(self._core.config.api_url, op, path_args=path_args, query=query,
                      version=self._core.config.api_version, per_page=per_page)

        async def fetch_page(number: int, size: int | None) -> Page[T]:
            return await self._fetch_page(op, model, path_args, query, number=number,
                                          per_page=size if op.has_per_page else None,
                                          options=options, validators=validators)

        async def fetch_raw(number: int, size: int | None) -> Page[dict[str, Any]]:
            return await self._fetch_page(op, None, path_args, query, number=number,
                                          per_page=size if op.has_per_page else None,
                                          options=options, validators=validators)

        return Paginator(fetch_page, per_page=per_page, paged=op.has_per_page,
                         fetch_raw=fetch_raw)

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
    ) -> Page[T]:
        def read(resp: Response, version: str) -> Page[T]:
            found = read_validators(resp.headers)
            if resp.status == 304:
                info = paging_from_headers({}, number)
                return Page([], info, validators or found, not_modified=True)
            envelope = version == "1"
            items: list[Any]
            if model is None:
                items, meta = self._raw_list(resp, envelope)
            else:
                items, meta = self._core.decoder.decode_list(model, resp.body, url=resp.url,
                                                             envelope=envelope)
            info = (paging_from_envelope(meta, number) if envelope and meta is not None
                    else paging_from_headers(resp.headers, number))
            if info.per_page is None and per_page is not None:
                info = attrs.evolve(info, per_page=per_page)
            return Page(items, info, found)

        return await self._send(op, path_args, query, options=options, page=number,
                                per_page=per_page, validators=validators, decode=read)

    def _raw_list(self, resp: Response, envelope: bool) -> tuple[list[Any], dict[str, Any] | None]:
        data = self._core.decoder.loads(resp.body, url=resp.url) if resp.body.strip() else []
        if envelope and isinstance(data, dict):
            records = data.get("data")
            meta = {k: v for k, v in data.items() if k != "data"}
            data = records
        else:
            meta = None
        if not isinstance(data, list):
            raise DecodeError(f"expected a JSON array, got {type(data).__name__}", url=resp.url)
        return data, meta

    async def _call(
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
        payload = dump_json(self._core.decoder.converter, body) if body is not None else None
        cache = cache_key = cached = None
        school_id = getattr(self, "school_id", None)
        if op.method == "GET" and op.returns == "one" and school_id is not None:
            # Single-resource GET: revalidate a cached body with its ETag/Last-Modified.
            cache = self._core.get_cache
            version = (options or _DEFAULT_OPTIONS).version(self._core.config.api_version)
            cache_key = cache.key(school_id, op.operation_id, version, path_args, query)
            cached = cache.get(cache_key)
        decoder = self._core.decoder

        def read(resp: Response, version: str) -> Any:
            if cache is not None and cached is not None and resp.status == 304:
                cache.hits += 1
                resp = cached[0]
            if op.returns == "none" or model is None:
                return None
            if version == "1" and v1_model is not None:
                value = decoder.decode_one(v1_model, resp.body, url=resp.url)
            elif version == "1" and op.v1_key:
                # CONCEPTS "Versions": v1 combines the assessment and its grade set.
                data = decoder.loads(resp.body, url=resp.url)
                if isinstance(data, dict) and op.v1_key in data:
                    data = data[op.v1_key]
                value = decoder.structure_one(model, data, url=resp.url)
            elif op.returns == "items":
                value, _ = decoder.decode_list(model, resp.body, url=resp.url, envelope=False)
            else:
                value = decoder.decode_one(model, resp.body, url=resp.url)
            if cache is not None and cache_key is not None and resp.status != 304:
                cache.put(cache_key, resp)  # only bodies that decoded
            return value

        return await self._send(op, path_args, query, options=options, body=payload,
                                validators=cached[1] if cached else None, decode=read)


class SchoolSession(_SessionBase, SchoolResources):
    """Every school operation, for one school token.

    Get one from :meth:`AssemblyClient.school`. Resources are attributes:
    ``school.students.list(year_code="7")``, ``await school.students.get(15)``.
    """

    _level = "school"

    def __init__(self, core: ClientCore, provider: TokenProvider, *,
                 school_id: int | None = None) -> None:
        super().__init__(core, provider)
        self.school_id = school_id

    def __repr__(self) -> str:
        return f"<SchoolSession school_id={self.school_id!r}>"

    async def me(self, *, options: CallOptions | None = None) -> Any:
        """The app and this token's access level and scopes (getMe: GET /me)."""
        return await AppResources(self).me(options=options)

    def changes(
        self,
        resource: str,
        *,
        state: SyncState | None = None,
        per_page: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        options: CallOptions | None = None,
        key: str | None = None,
        **params: Any,
    ) -> Delta[Any]:
        """Records of ``resource`` changed since the watermark in ``state``.

        ``resource`` names a conditional list: ``"students"``, ``"staff_members"``,
        ``"teaching_groups"``, ... (see ``CHANGE_OPERATIONS``); ``params`` are its
        filters. ``state`` defaults to the client's in-memory state. Use as
        ``async with delta: async for record in delta: ...``; see :class:`Delta`.
        """
        return _changes(self, resource, state=state, per_page=per_page,
                        concurrency=concurrency, options=options, key=key, **params)


class AppSession(_SessionBase, AppResources):
    """App-level operations (``/me``, ``/schools/registered``, ``/authorizations``)."""

    _level = "app"

    def __init__(self, core: ClientCore, provider: TokenProvider) -> None:
        _SessionBase.__init__(self, core, provider)
        AppResources.__init__(self, self)

    def __repr__(self) -> str:
        return "<AppSession>"
