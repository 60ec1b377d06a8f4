"""Client configuration: environments, hosts, API versions, timeouts.

Configuration is keyword-only and normalised once into frozen attrs objects
(no module-level mutable state), so every layer below the client reads the same
validated values.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import math
from typing import Final, Literal

import attrs
from yarl import URL

from .errors import ConfigurationError
from .version import __version__

__all__ = [
    "API_HOSTS",
    "API_VERSIONS",
    "DEFAULT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_RETRY_AFTER",
    "OAUTH_HOSTS",
    "CallOptions",
    "ClientConfig",
    "Default",
    "Environment",
    "Timeouts",
    "is_loopback",
]

Environment = Literal["sandbox", "production"]

#: CONCEPTS "Hosts": API hosts per environment.
API_HOSTS: Final[dict[str, str]] = {
    "production": "https://api.assembly.education",
    "sandbox": "https://api-sandbox.assembly.education",
}
#: CONCEPTS "Hosts": OAuth hosts; sandbox uses platform-sandbox (overridable).
OAUTH_HOSTS: Final[dict[str, str]] = {
    "production": "https://platform.assembly.education",
    "sandbox": "https://platform-sandbox.assembly.education",
}
#: CONCEPTS "Versions": 1.1 is current, 1 is still served.
API_VERSIONS: Final[tuple[str, ...]] = ("1.1", "1")


class Default(enum.Enum):
    """Sentinel type meaning "use the client's default" (distinct from None)."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: Pass as a per-call option to use the client's configured value.
DEFAULT: Final = Default.DEFAULT

#: Largest response body read, after decompression (the biggest real page, 1500
#: students with demographics, is a few MiB; a decompression bomb is not).
DEFAULT_MAX_BODY: Final = 64 * 1024 * 1024
#: Longest 429 pause honoured: the API's window is 300 s (CONCEPTS "Rate
#: limiting"), so a longer ``period``/``Retry-After`` is capped to it.
DEFAULT_MAX_RETRY_AFTER: Final = 300.0

_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.ip_address("::1")


def is_loopback(url: URL) -> bool:
    """True when the URL's host is ``localhost`` or an IP literal in 127.0.0.0/8
    or ``::1``: the only hosts to which plain HTTP may carry a token.

    Decided by parsing the host, never by its prefix: ``127.attacker.example``
    is a name anyone can register, not a loopback address.
    """
    return _loopback_host((url.host or "").lower())


@functools.lru_cache(maxsize=256)
def _loopback_host(host: str) -> bool:
    """Cached: the pipeline checks every request's host, and parsing an IP costs."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == _LOOPBACK_V6


def _check_version(value: str) -> str:
    version = str(value)
    if version not in API_VERSIONS:
        raise ConfigurationError(f"api_version must be one of {API_VERSIONS}, got {value!r}")
    return version


@attrs.frozen
class Timeouts:
    """Timeouts in seconds: ``total`` per attempt, ``connect`` to open a connection,
    ``read`` between two reads of the body. None disables one of them."""

    total: float | None = 60.0
    connect: float | None = 10.0
    read: float | None = 30.0

    def __attrs_post_init__(self) -> None:
        for name in ("total", "connect", "read"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"timeout {name} must be positive, got {value!r}")


def _url(value: str | URL) -> URL:
    url = URL(str(value))
    if not url.is_absolute() or url.scheme not in ("http", "https"):
        raise ConfigurationError(f"expected an absolute http(s) URL, got {str(value)!r}")
    if url.scheme == "http" and not is_loopback(url):
        raise ConfigurationError(
            f"{url.host} is not a loopback host: tokens are only sent over HTTPS"
        )
    return url.with_path(url.path.rstrip("/") or "/").with_query(None).with_fragment(None)


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything a client needs, validated once.

    ``api_url`` and ``oauth_url`` default to the hosts of ``environment`` and may
    be overridden for local servers (the fake server) and proxies.
    ``strict_decode`` makes a value that does not fit its model raise
    :class:`DecodeError` instead of being reported as a problem.
    """

    environment: Environment = "sandbox"
    api_url: URL
    oauth_url: URL
    api_version: str = attrs.field(default="1.1", converter=_check_version)
    timeouts: Timeouts = Timeouts()
    user_agent: str = "assembly-async"
    #: Largest response body in bytes, after decompression (ResponseTooLarge above it).
    max_body: int = DEFAULT_MAX_BODY
    #: Longest 429 pause in seconds; a longer ``period``/``Retry-After`` is capped to it.
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    strict_decode: bool = False

    def __attrs_post_init__(self) -> None:
        max_body = self.max_body
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ConfigurationError(f"max_body must be a positive integer, got {max_body!r}")
        cap = self.max_retry_after
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not (
                math.isfinite(cap) and cap >= 0):
            raise ConfigurationError(
                f"max_retry_after must be finite seconds >= 0, got {cap!r}")

    @classmethod
    def create(
        cls,
        *,
        environment: Environment = "sandbox",
        api_url: str | URL | None = None,
        oauth_url: str | URL | None = None,
        api_version: str = "1.1",
        timeouts: Timeouts | None = None,
        user_agent: str | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        strict_decode: bool = False,
    ) -> ClientConfig:
        """Normalise user input (strings, None for defaults) into a config."""
        if environment not in API_HOSTS:
            raise ConfigurationError(
                f"environment must be 'sandbox' or 'production', got {environment!r}"
            )
        return cls(
            environment=environment,
            api_url=_url(api_url or API_HOSTS[environment]),
            oauth_url=_url(oauth_url or OAUTH_HOSTS[environment]),
            api_version=api_version,
            timeouts=timeouts or Timeouts(),
            user_agent=user_agent or f"assembly-async/{__version__}",
            max_body=max_body,
            max_retry_after=max_retry_after,
            strict_decode=bool(strict_decode),
        )


@attrs.frozen(kw_only=True)
class CallOptions:
    """Per-call overrides; ``DEFAULT`` (the default) means "the client's setting".

    ``timeout`` is seconds for the whole attempt or a :class:`Timeouts`;
    ``retries`` the number of retries after the first attempt (0 disables
    retrying); ``api_version`` "1.1" or "1"; ``deadline`` seconds for the whole
    call, everything included: attempts, backoff, token refresh, waits for rate
    budget and 429 pauses (None: no deadline); ``retry_writes=True`` lets a
    POST/PATCH be retried after any transient failure (it may then be applied
    twice), not only when it surely never reached the server;
    ``wait_for_budget=True`` lets the call wait for its school's rate budget
    (and 429 pauses) past the deadline instead of failing fast with
    :class:`BudgetExhausted` / :class:`RateLimited` (the bulk engine does this).
    ``strict_decode=True`` raises :class:`DecodeError` for a value that does
    not fit its model; False keeps the record with that field empty and
    reports a :class:`DecodeProblem` (the client's default).
    """

    timeout: float | Timeouts | Default | None = DEFAULT
    retries: int | Default = DEFAULT
    api_version: str | Default = DEFAULT
    deadline: float | Default | None = DEFAULT
    retry_writes: bool | Default = DEFAULT
    strict_decode: bool | Default = DEFAULT
    wait_for_budget: bool | Default = DEFAULT

    def __attrs_post_init__(self) -> None:
        retries = self.retries
        if retries is not DEFAULT and (isinstance(retries, bool) or not isinstance(retries, int)
                                       or retries < 0):
            raise ConfigurationError(f"retries must be an integer >= 0, got {retries!r}")
        deadline = self.deadline
        if deadline is not DEFAULT and deadline is not None and not (
                isinstance(deadline, (int, float)) and not isinstance(deadline, bool)
                and 0 < deadline < math.inf):
            raise ConfigurationError(f"deadline must be positive seconds, got {deadline!r}")
        wait = self.wait_for_budget
        if wait is not DEFAULT and not isinstance(wait, bool):
            raise ConfigurationError(f"wait_for_budget must be True or False, got {wait!r}")

    def timeouts(self, default: Timeouts) -> Timeouts:
        """The timeouts for this call."""
        if self.timeout is DEFAULT:
            return default
        if isinstance(self.timeout, Timeouts):
            return self.timeout
        return attrs.evolve(default, total=self.timeout)

    def version(self, default: str) -> str:
        """The API version for this call."""
        return default if self.api_version is DEFAULT else _check_version(self.api_version)

    def strict(self, default: bool) -> bool:
        """Whether this call raises on a value that does not fit its model."""
        return default if self.strict_decode is DEFAULT else bool(self.strict_decode)
