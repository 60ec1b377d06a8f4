"""The request pipeline: auth -> transport -> status check, in one place.

Every request of every session goes through :meth:`Pipeline.send`. It adds the
bearer token (only to the configured API origin, only over HTTPS or loopback),
sends through the transport, replays once after a token refresh on 401
``invalid_token``, and turns error statuses into typed exceptions via the
sans-I/O core. Resources and paginators never talk HTTP themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import orjson

from ._config import ClientConfig, Timeouts
from ._errors import UnexpectedContentType
from ._sansio import Request, check_token_destination, error_for
from ._tokens import TokenProvider
from ._transport import Response, Transport

__all__ = ["Pipeline"]


def _error_code(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def check_content_type(resp: Response, method: str) -> None:
    """A 2xx body must be JSON; an HTML page from a proxy is not data."""
    if not resp.body.strip():
        return
    ctype = resp.headers.get("content-type", "")
    if ctype and "json" not in ctype.lower():
        excerpt = resp.body[:200].decode("utf-8", "replace")
        raise UnexpectedContentType(
            f"expected a JSON body, got {ctype.split(';')[0]!r}: {' '.join(excerpt.split())!r}",
            url=resp.url, status=resp.status, content_type=ctype, method=method,
        )


@attrs.define
class Pipeline:
    """Sends requests for every session of one client."""

    config: ClientConfig
    transport: Transport

    async def send(
        self,
        request: Request,
        *,
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool = False,
    ) -> Response:
        """Send ``request`` and return its 2xx (or, when accepted, 304) response.

        Raises an :class:`HTTPError` subclass for any other status and a
        :class:`TransportError` when no answer arrived.
        """
        replayed = False
        while True:
            headers: Mapping[str, str] = request.headers
            token = None
            if auth is not None:
                check_token_destination(request.url, self.config.api_url)
                token = await auth.access_token()
                headers = {**request.headers, "Authorization": f"Bearer {token}"}
            resp = await self.transport.send(attrs.evolve(request, headers=headers),
                                             timeouts=timeouts)
            status = resp.status
            if 200 <= status < 300:
                check_content_type(resp, request.method)
                return resp
            if status == 304 and accept_not_modified:
                return resp
            if (status == 401 and auth is not None and token is not None and not replayed
                    and _error_code(resp.body) == "invalid_token"
                    and await auth.token_rejected(token)):
                # CONCEPTS: refresh once and retry on exactly invalid_token.
                replayed = True
                continue
            raise error_for(request.method, request.url, status, resp.headers, resp.body)
