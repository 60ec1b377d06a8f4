"""Cache of single-resource GET responses that carried ``ETag``/``Last-Modified``.

On the next GET of the same URL (same school, version, arguments) the session
sends ``If-None-Match``/``If-Modified-Since`` and, on ``304``, decodes the
cached body again (so callers never share a mutable model). Validators are sent
only when a body is cached. One bounded LRU per client.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Mapping
from typing import Any

import orjson

from .._core.responses import Validators, read_validators
from .._http.transport import Response

__all__ = ["GetCache"]

#: Entries and total body bytes per client; bodies larger than MAX_BODY are not cached.
MAX_ENTRIES = 1024
MAX_BYTES = 32 << 20
MAX_BODY = 1 << 20


class GetCache:
    """A bounded LRU of ``key -> Response`` (only responses with validators)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_body: int = MAX_BODY,
                 max_bytes: int = MAX_BYTES) -> None:
        self._data: collections.OrderedDict[Hashable, Response] = collections.OrderedDict()
        self.max_entries = max_entries
        self.max_body = max_body
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._data)

    @staticmethod
    def key(owner: Any, operation_id: str, version: str, path_args: Mapping[str, Any],
            query: Mapping[str, Any]) -> str:
        args = {"p": {k: v for k, v in path_args.items() if v is not None},
                "q": {k: v for k, v in query.items() if v is not None}}
        body = orjson.dumps(args, option=orjson.OPT_SORT_KEYS, default=str).decode()
        return f"{owner}/{version}/{operation_id}/{body}"

    def get(self, key: Hashable) -> tuple[Response, Validators] | None:
        resp = self._data.get(key)
        if resp is None:
            return None
        self._data.move_to_end(key)
        return resp, read_validators(resp.headers)

    def put(self, key: Hashable, resp: Response) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        if len(resp.body) > self.max_body or not read_validators(resp.headers):
            return
        self._data[key] = resp
        self.size += len(resp.body)
        while len(self._data) > self.max_entries or self.size > self.max_bytes:
            _, dropped = self._data.popitem(last=False)
            self.size -= len(dropped.body)
