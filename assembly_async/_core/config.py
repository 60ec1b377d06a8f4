"""Client configuration: environments, hosts, API versions, timeouts.

Configuration is keyword-only and normalised once into frozen attrs objects
(no module-level mutable state), so every layer below the client reads the same
validated values.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import attrs
from yarl import URL

from .errors import ConfigurationError
from .version import __version__

__all__ = [
    "API_HOSTS",
    "API_VERSIONS",
    "DEFAULT",
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

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(url: URL) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (the only hosts where plain HTTP is allowed)."""
    host = (url.host or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


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
    strict_decode: bool = False

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
            strict_decode=bool(strict_decode),
        )


@attrs.frozen(kw_only=True)
class CallOptions:
    """Per-call overrides; ``DEFAULT`` (the default) means "the client's setting".

    ``timeout`` is seconds for the whole attempt or a :class:`Timeouts`;
    ``retries`` the number of retries after the first attempt (0 disables
    retrying); ``api_version`` "1.1" or "1"; ``deadline`` seconds for the whole
    call, all attempts and backoff included (None: no deadline);
    ``retry_writes=True`` lets a POST/PATCH be retried after any transient
    failure (it may then be applied twice), not only when it surely never
    reached the server. ``strict_decode=True`` raises :class:`DecodeError` for a
    value that does not fit its model; False keeps the record with that field
    empty and reports a :class:`DecodeProblem` (the client's default).
    """

    timeout: float | Timeouts | Default | None = DEFAULT
    retries: int | Default = DEFAULT
    api_version: str | Default = DEFAULT
    deadline: float | Default | None = DEFAULT
    retry_writes: bool | Default = DEFAULT
    strict_decode: bool | Default = DEFAULT

    def __attrs_post_init__(self) -> None:
        retries = self.retries
        if retries is not DEFAULT and (isinstance(retries, bool) or not isinstance(retries, int)
                                       or retries < 0):
            raise ConfigurationError(f"retries must be an integer >= 0, got {retries!r}")
        deadline = self.deadline
        if deadline is not DEFAULT and deadline is not None and not deadline > 0:
            raise ConfigurationError(f"deadline must be positive seconds, got {deadline!r}")

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
