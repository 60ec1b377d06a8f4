"""School and app sessions: the objects users call operations on.

A session is an :class:`OperationRunner` (one token provider plus the client's
shared pipeline, decoder and configuration) with the generated resources as
attributes. Thousands of school sessions can share one client (and so one
connection pool); each has its own token.
"""

from __future__ import annotations

from .._http.tokens import TokenProvider
from .resources.generated import AppResources, SchoolResources
from .runner import ClientCore, OperationRunner

__all__ = ["AppSession", "SchoolSession"]


class SchoolSession(SchoolResources):
    """Every school operation, for one school token.

    Get one from :meth:`AssemblyClient.school`. Resources are attributes:
    ``school.students.list(year_code="7")``, ``await school.students.get(15)``,
    ``school.students.changes()``; ``await school.me()`` and
    ``school.changes("students")`` act on the school as a whole.
    """

    def __init__(self, core: ClientCore, provider: TokenProvider, *,
                 school_id: int | None = None) -> None:
        self.runner = OperationRunner(core, provider, school_id=school_id, level="school")
        self.school_id = school_id

    def __repr__(self) -> str:
        return f"<SchoolSession school_id={self.school_id!r}>"


class AppSession(AppResources):
    """App-level operations (``/me``, ``/schools/registered``, ``/authorizations``)."""

    def __init__(self, core: ClientCore, provider: TokenProvider) -> None:
        self.runner = OperationRunner(core, provider, level="app")
        super().__init__(self.runner)

    def __repr__(self) -> str:
        return "<AppSession>"
