"""AssemblyClient: configuration, connection pool and the sessions built on them."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from ._config import ClientConfig, Environment, Timeouts
from ._decode import ModelDecoder
from ._errors import ConfigurationError
from ._pipeline import Pipeline
from ._session import AppSession, ClientCore, SchoolSession
from ._tokens import StaticToken, TokenProvider
from ._transport import AiohttpTransport, ClientSession, TraceConfig, Transport

__all__ = ["AssemblyClient"]


class AssemblyClient:
    """Entry point of the SDK: one per process (or per web app), long-lived.

    ::

        async with AssemblyClient(environment="sandbox") as client:
            school = client.school(access_token="...")
            async for student in school.students.list(year_code="7"):
                print(student.first_name)

    The client owns its aiohttp session unless you pass ``session=`` (then it
    borrows it and never closes it). ``api_url``/``oauth_url`` override the
    environment's hosts (local servers, proxies). ``timeout`` is seconds per
    attempt or a :class:`Timeouts`. ``converter`` is a cattrs converter from
    :func:`make_converter` that you customised; the fast decoding path is then
    off unless ``fast_decode=True``.
    """

    def __init__(
        self,
        *,
        environment: Environment = "sandbox",
        api_url: str | None = None,
        oauth_url: str | None = None,
        api_version: str = "1.1",
        timeout: float | Timeouts | None = None,
        session: ClientSession | None = None,
        transport: Transport | None = None,
        connection_limit: int = 100,
        trace_configs: Sequence[TraceConfig] = (),
        converter: Any = None,
        fast_decode: bool | None = None,
        user_agent: str | None = None,
    ) -> None:
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeouts: Timeouts | None = Timeouts(total=float(timeout))
        elif timeout is None or isinstance(timeout, Timeouts):
            timeouts = timeout
        else:
            raise ConfigurationError(f"timeout must be seconds or Timeouts, got {timeout!r}")
        self.config = ClientConfig.create(
            environment=environment, api_url=api_url, oauth_url=oauth_url,
            api_version=api_version, timeouts=timeouts, user_agent=user_agent,
        )
        if transport is not None and session is not None:
            raise ConfigurationError("pass either session= or transport=, not both")
        self._transport: Transport = transport or AiohttpTransport(
            session=session, limit=connection_limit, trace_configs=trace_configs
        )
        decoder = ModelDecoder(converter, fast=fast_decode)
        self._core = ClientCore(config=self.config, pipeline=Pipeline(self.config, self._transport),
                                decoder=decoder)
        self._closed = False

    def __repr__(self) -> str:
        return (f"<AssemblyClient environment={self.config.environment!r} "
                f"api_url={str(self.config.api_url)!r} version={self.config.api_version!r}>")

    @property
    def closed(self) -> bool:
        return self._closed

    def school(
        self,
        *,
        access_token: str | None = None,
        token_provider: TokenProvider | None = None,
        school_id: int | None = None,
    ) -> SchoolSession:
        """A session for one school: pass its ``access_token`` or a ``token_provider``."""
        return SchoolSession(self._core, self._provider(access_token, token_provider),
                             school_id=school_id)

    def app(
        self, *, access_token: str | None = None, token_provider: TokenProvider | None = None
    ) -> AppSession:
        """A session for the app-level endpoints, with an app token."""
        return AppSession(self._core, self._provider(access_token, token_provider))

    def _provider(self, access_token: str | None, provider: TokenProvider | None) -> TokenProvider:
        if self._closed:
            raise RuntimeError("the client is closed")
        if (access_token is None) == (provider is None):
            raise ConfigurationError("pass exactly one of access_token= or token_provider=")
        if provider is not None:
            return provider
        assert access_token is not None
        return StaticToken(access_token)

    async def aclose(self) -> None:
        """Close the connection pool if the client created it (idempotent)."""
        if not self._closed:
            self._closed = True
            await self._transport.aclose()

    async def __aenter__(self) -> AssemblyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
