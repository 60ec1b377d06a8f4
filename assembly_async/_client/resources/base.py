"""Shared pieces of the generated resource classes."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, overload

from ..._core.config import CallOptions
from ..._core.errors import ConfigurationError
from ..runner import OperationRunner

__all__ = ["CallOptions", "DateArg", "HasRunner", "Resource", "ResourceSlot", "check_batch"]

R = TypeVar("R", bound="Resource")

#: A date parameter: a ``date``/``datetime`` or a ``YYYY-MM-DD`` string.
DateArg = datetime.date | str


class Resource:
    """A group of operations on one kind of record (students, rooms...)."""

    __slots__ = ("_runner",)

    def __init__(self, runner: OperationRunner) -> None:
        self._runner = runner

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class HasRunner(Protocol):
    """A session: it runs its operations through ``runner``."""

    @property
    def runner(self) -> OperationRunner: ...


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
    def __get__(self, session: HasRunner, owner: type) -> R: ...

    def __get__(self, session: HasRunner | None, owner: type) -> R | ResourceSlot[R]:
        if session is None:
            return self
        resource = self._cls(session.runner)
        session.__dict__[self._name] = resource
        return resource


def check_batch(name: str, items: Sequence[Any] | None, limit: int) -> None:
    """Refuse batches the API rejects (CONCEPTS: up to 50 results per payload)."""
    if items is None:
        raise ConfigurationError(f"{name} is required")
    if not 1 <= len(items) <= limit:
        raise ConfigurationError(f"{name} must hold 1 to {limit} items, got {len(items)}")
