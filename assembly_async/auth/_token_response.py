"""Sans-I/O reading of the token endpoint's answers: a :class:`Token`, or a typed error.

Pure functions of (status, headers, body). Error messages never quote a
secret: the code, the refresh token and the client credentials the request
carried are redacted from anything the server echoed back, and a 2xx body
(which may hold a token in a form we did not expect) is never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from .._core.errors import OAuthError, SchoolAuthRevoked
from ._oauth import TokenRequest, _excerpt, redact
from ._token import Token

__all__ = ["grant_surely_unused", "read_token_response"]


_WWW_AUTH_ERROR = re.compile(r'error="?([A-Za-z0-9_.\-]+)"?')


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _load_json(body: bytes) -> Any:
    """The decoded body, or a sentinel when it is not JSON at all."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON


_NOT_JSON = object()


#: Statuses that a proxy or the platform answers before handling a grant.
_UNUSED_GRANT_STATUSES = frozenset({429, 502, 503, 504})


def grant_surely_unused(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """True when the token endpoint's answer shows the grant was surely not
    used up, so sending it again is safe: 429 (refused before it was handled),
    502/503/504 (a gateway or an unavailable service), or a 2xx/5xx answer whose
    body is not JSON (an HTML page from a proxy: the token endpoint itself
    always answers JSON).

    A JSON 500, a 400/401 (``invalid_grant``...) or a timeout after the request
    was sent may mean the platform handled the grant: never repeated.
    (Assembly's refresh tokens are not rotated, CONCEPTS "OAuth grants", so
    even a wrong guess here would cost one failed retry, not the school.)
    """
    if status in _UNUSED_GRANT_STATUSES:
        return True
    if not (200 <= status < 300 or 500 <= status < 600):
        return False
    return _load_json(body) is _NOT_JSON and bool(body.strip())


def read_token_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    previous: Token | None = None,
    school_id: int | None = None,
    request: TokenRequest | None = None,
) -> Token:
    """Turn the token endpoint's answer into a :class:`Token`, or raise.

    * 2xx with a JSON object: the new token (see :meth:`Token.from_response`;
      ``previous`` supplies the refresh token the refresh answer omits).
      When ``school_id`` is given it fills a missing ``school_id``, and a
      token for another school is refused (it would be filed under the wrong
      school).
    * 400/401 with ``invalid_grant``: :class:`SchoolAuthRevoked` carrying
      ``school_id`` (or ``previous.school_id``): the school revoked access.
      When ``request`` says the grant was not a refresh (a bad or reused code),
      it is a plain :class:`OAuthError` instead, because no school revoked
      anything.
    * any other error: :class:`OAuthError` with the ``error`` code and status.
    * a body that is not JSON (an HTML error page): :class:`OAuthError`
      saying so, with a short excerpt for error statuses only; a 2xx body is
      never quoted since it may hold a token in an unexpected format.

    ``request`` and ``previous`` also name the secrets to strip from any text
    the server echoed back into the message.
    """
    hidden: list[str | None] = []
    if request is not None:
        hidden.extend(request.secret_values)
    if previous is not None:
        hidden.extend((previous.access_token, previous.refresh_token))
    grant = request.grant_type if request is not None else "token"
    content_type = _header(headers, "Content-Type") or "no content-type"
    data = _load_json(body)

    if 200 <= status < 300:
        if data is _NOT_JSON:
            raise OAuthError(
                f"token endpoint answered HTTP {status} to the {grant} grant with a body that is"
                f" not JSON ({_excerpt(content_type, hidden, 80)}, {len(body)} bytes)",
                status=status,
            )
        if not isinstance(data, dict):
            raise OAuthError(
                f"token endpoint answered HTTP {status} to the {grant} grant with JSON that"
                f" is not an object",
                status=status,
            )
        try:
            token = Token.from_response(data, now=now, previous=previous)
        except OAuthError as exc:
            raise OAuthError(f"{exc} (HTTP {status}, {grant} grant)", status=status) from None
        if school_id is not None:
            if token.school_id is None and token.level == "school":
                token = attrs.evolve(token, school_id=school_id)
            elif token.school_id is not None and token.school_id != school_id:
                raise OAuthError(
                    f"token endpoint issued a token for school {token.school_id}"
                    f" where school {school_id} was expected",
                    status=status,
                )
        return token

    code: str | None = None
    description: str | None = None
    if isinstance(data, dict):
        raw_code = data.get("error")
        if isinstance(raw_code, str) and raw_code:
            code = raw_code
        raw_description = data.get("error_description") or data.get("message")
        if isinstance(raw_description, str) and raw_description:
            description = raw_description
    if code is None:
        match = _WWW_AUTH_ERROR.search(_header(headers, "WWW-Authenticate") or "")
        if match:
            code = match.group(1)
    if code is not None:
        code = _excerpt(code, hidden, 80)

    if code == "invalid_grant" and status in (400, 401) and grant in ("refresh_token", "token"):
        sid = school_id if school_id is not None else (previous.school_id if previous else None)
        who = f"school {sid}" if sid is not None else "the school"
        detail = f": {_excerpt(description, hidden)}" if description else ""
        raise SchoolAuthRevoked(
            f"{who} revoked access: refreshing its token answered invalid_grant"
            f" (HTTP {status}){detail}",
            school_id=sid,
            status=status,
        )

    prefix = f"token endpoint refused the {grant} grant (HTTP {status})"
    if code is not None or description is not None:
        parts = []
        if code is not None:
            parts.append(f"error={code!r}")
        if description is not None:
            parts.append(f"description={_excerpt(description, hidden)!r}")
        message = f"{prefix}: {', '.join(parts)}"
    else:
        text = body.decode("utf-8", errors="replace")
        kind = "a non-JSON body" if data is _NOT_JSON else "JSON without an error code"
        excerpt = _excerpt(text, hidden)
        shown = f": {excerpt!r}" if excerpt else " (empty body)"
        message = f"{prefix} with {kind} ({_excerpt(content_type, hidden, 80)}){shown}"
    raise OAuthError(redact(message, hidden), error=code, status=status)
