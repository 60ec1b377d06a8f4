"""Shared pieces of the generated resource classes."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from .._config import CallOptions
from .._endpoint import Operation
from .._errors import ConfigurationError

if TYPE_CHECKING:
    from .._pagination import Paginator

__all__ = ["CallOptions", "DateArg", "Resource", "ResourceSlot", "Session", "check_batch"]

T = TypeVar("T")
R = TypeVar("R", bound="Resource")

#: A date parameter: a ``date``/``datetime`` or a ``YYYY-MM-DD`` string.
DateArg = datetime.date | str


class Session(Protocol):
    """What a resource needs from its session: run an operation, or page through one."""

    def _paginate(
        self,
        op: Operation,
        model: type[T] | None,
        path_args: Mapping[str, Any],
        query: Mapping[str, Any],
        *,
        per_page: int | None,
        options: CallOptions | None,
    ) -> Paginator[T]: ...

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
    ) -> Any: ...


class Resource:
    """A group of operations on one kind of record (students, rooms...)."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class ResourceSlot(Generic[R]):
    """A session attribute that builds its resource on first access and caches it
    in the session, so opening a session costs nothing per resource."""

    __slots__ = ("_cls", "_name")

    def __init__(self, cls: type[R]) -> None:
        self._cls = cls
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, session: None, owner: type) -> ResourceSlot[R]: ...

    @overload
    def __get__(self, session: object, owner: type) -> R: ...

    def __get__(self, session: object | None, owner: type) -> R | ResourceSlot[R]:
        if session is None:
            return self
        resource = self._cls(session)  # type: ignore[arg-type]
        session.__dict__[self._name] = resource
        return resource


def check_batch(name: str, items: Sequence[Any] | None, limit: int) -> None:
    """Refuse batches the API rejects (CONCEPTS: up to 50 results per payload)."""
    if items is None:
        raise ConfigurationError(f"{name} is required")
    if not 1 <= len(items) <= limit:
        raise ConfigurationError(f"{name} must hold 1 to {limit} items, got {len(items)}")
