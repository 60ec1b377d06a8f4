"""``FakeAssembly``: a faithful fake Assembly Platform API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from types import TracebackType
from typing import Any

from aiohttp import web
from yarl import URL

from ._app import build_app
from ._config import DEFAULT_YEAR_CODES, FakeConfig
from ._control import Controller, add_control_routes
from ._core import Core

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class FakeAssembly(Controller):
    """A running fake Assembly server (API, OAuth and control API on one port).

    Use ``async with FakeAssembly(...) as fake:`` or ``await fake.start()`` /
    ``await fake.close()``.  Data is generated when the object is created, from
    ``random.Random(seed + school_id)`` for each school. Answers take the
    shapes the API's documentation shows (``dob`` a bare date, enrolment dates
    as date-times); ``oddities=True`` adds what real data also holds on some
    records (the documentation's impossible ``2015-02-31``, numbers as text...:
    see ``assembly_async.testing._oddities``).
    """

    def __init__(
        self,
        *,
        schools: int = 3,
        seed: int = 0,
        students_per_school: int = 200,
        left_students_per_school: int = 3,
        staff_per_school: int = 40,
        left_staff_per_school: int = 2,
        year_codes: tuple[str, ...] = DEFAULT_YEAR_CODES,
        registration_groups_per_year: int = 2,
        teaching_groups_per_year: int = 6,
        house_groups: int = 4,
        user_groups: int = 2,
        attendance_days: int = 5,
        results_per_student: int = 2,
        calendar_events: int = 20,
        rooms: int = 12,
        timetables: int = 1,
        exclusions_per_school: int = 4,
        rate_limit: int = 600,
        rate_window: float = 300.0,
        time_scale: float = 1.0,
        retry_after_header: bool = False,
        max_per_page: int = 1500,
        over_max_per_page: str = "refuse",
        access_token_ttl: int = 86400,
        rotate_refresh_tokens: bool = False,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        redirect_uri: str | None = None,
        authorize_school_id: int | None = None,
        first_school_id: int = 1,
        oddities: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        config: FakeConfig | None = None,
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError("the fake only listens on the loopback interface")
        if config is None:
            config = FakeConfig(
                schools=schools, seed=seed, first_school_id=first_school_id,
                students_per_school=students_per_school,
                left_students_per_school=left_students_per_school,
                staff_per_school=staff_per_school, left_staff_per_school=left_staff_per_school,
                year_codes=tuple(year_codes),
                registration_groups_per_year=registration_groups_per_year,
                teaching_groups_per_year=teaching_groups_per_year, house_groups=house_groups,
                user_groups=user_groups, attendance_days=attendance_days,
                results_per_student=results_per_student, calendar_events=calendar_events,
                rooms=rooms, timetables=timetables, exclusions_per_school=exclusions_per_school,
                rate_limit=rate_limit, rate_window=rate_window, time_scale=time_scale,
                retry_after_header=retry_after_header, max_per_page=max_per_page,
                over_max_per_page=over_max_per_page, access_token_ttl=access_token_ttl,
                rotate_refresh_tokens=rotate_refresh_tokens, client_id=client_id,
                client_secret=client_secret, redirect_uri=redirect_uri,
                authorize_school_id=authorize_school_id, oddities=oddities,
            )
        self.core = Core(config)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._url: URL | None = None

    @classmethod
    def from_config(cls, config: FakeConfig, **kwargs: Any) -> FakeAssembly:
        return cls(config=config, **kwargs)

    def replace_config(self, **changes: Any) -> FakeConfig:
        """A copy of this fake's config with changes (for building a second fake)."""
        return dataclasses.replace(self.core.cfg, **changes)

    @property
    def config(self) -> FakeConfig:
        return self.core.cfg

    # ---- lifecycle -----------------------------------------------------------------
    async def start(self) -> FakeAssembly:
        if self._runner is not None:
            return self
        self.core.closing = asyncio.Event()
        app = build_app(self.core)
        add_control_routes(app, self)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        family = socket.AF_INET6 if self._host == "::1" else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        port = sock.getsockname()[1]
        host = "[::1]" if self._host == "::1" else "127.0.0.1"
        self._url = URL(f"http://{host}:{port}")
        self.core.base_url = str(self._url)
        self._runner = runner
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self.core.closing.set()
            try:
                await runner.cleanup()
            finally:
                self.core.closing = asyncio.Event()

    async def __aenter__(self) -> FakeAssembly:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # ---- addresses -------------------------------------------------------------------
    @property
    def url(self) -> URL:
        """Root URL of the running server (``http://127.0.0.1:PORT``)."""
        if self._url is None:
            raise RuntimeError("the fake is not running; use 'async with' or await start()")
        return self._url

    @property
    def api_url(self) -> URL:
        return self.url

    @property
    def oauth_url(self) -> URL:
        """OAuth host; ``/oauth/token`` and ``/oauth/authorize`` live under it."""
        return self.url

    @property
    def token_url(self) -> URL:
        return self.url / "oauth" / "token"

    @property
    def port(self) -> int:
        port = self.url.port
        assert port is not None
        return port
