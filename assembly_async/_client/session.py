"""School and app sessions: the objects users call operations on.

A session is an :class:`OperationRunner` (one token provider plus the client's
shared pipeline, decoder and configuration) with the generated resources as
attributes. Thousands of school sessions can share one client (and so one
connection pool); each has its own token.
"""

from __future__ import annotations

from typing import Any

from .._core.config import CallOptions
from .._http.tokens import TokenProvider
from .delta import Delta, changes
from .pagination import DEFAULT_CONCURRENCY
from .resources.generated import AppResources, SchoolResources
from .runner import ClientCore, OperationRunner
from .syncstate import SyncState

__all__ = ["AppSession", "SchoolSession"]


class SchoolSession(SchoolResources):
    """Every school operation, for one school token.

    Get one from :meth:`AssemblyClient.school`. Resources are attributes:
    ``school.students.list(year_code="7")``, ``await school.students.get(15)``.
    """

    def __init__(self, core: ClientCore, provider: TokenProvider, *,
                 school_id: int | None = None) -> None:
        self.runner = OperationRunner(core, provider, school_id=school_id, level="school")
        self.school_id = school_id

    def __repr__(self) -> str:
        return f"<SchoolSession school_id={self.school_id!r}>"

    async def me(self, *, options: CallOptions | None = None) -> Any:
        """The app and this token's access level and scopes (getMe: GET /me)."""
        return await AppResources(self.runner).me(options=options)

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
        return changes(self.runner, resource, state=state, per_page=per_page,
                       concurrency=concurrency, options=options, key=key, **params)


class AppSession(AppResources):
    """App-level operations (``/me``, ``/schools/registered``, ``/authorizations``)."""

    def __init__(self, core: ClientCore, provider: TokenProvider) -> None:
        self.runner = OperationRunner(core, provider, level="app")
        super().__init__(self.runner)

    def __repr__(self) -> str:
        return "<AppSession>"
