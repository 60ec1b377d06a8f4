"""What a job message carries: the run, the job, the message's position.

Ids and numbers only, never a token, a password or a DSN: a worker takes
credentials and addresses from its own environment and options, and the
job's parameters from the run's ledger. A message is only a wake-up; the
ledger decides whether the job runs (see ``_ledger.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from .._core.errors import ConfigurationError
from ..sinks import check_resource_name
from ._types import check_run_id, job_key

__all__ = ["JobMessage", "Send"]


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"job message: {name} must be an int >= {minimum}, "
                                 f"got {value!r}")
    return value


def _school_id(value: Any) -> int:
    return _int("school_id", value, 1)


def _position(value: Any) -> int:
    return _int("position", value, 0)


@attrs.frozen
class JobMessage:
    """One job of one run. ``position`` is the message's place in the run's
    order of messages (the ledger uses it to notice lost messages)."""

    run: str = attrs.field(converter=check_run_id)
    school_id: int = attrs.field(converter=_school_id)
    resource: str = attrs.field(converter=check_resource_name)
    position: int = attrs.field(default=0, converter=_position)

    @property
    def job(self) -> str:
        return job_key(self.school_id, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "school_id": self.school_id, "resource": self.resource,
                "position": self.position}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobMessage:
        """Read a message (raises :class:`ConfigurationError` for anything else)."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"a job message is a mapping, not {type(data).__name__}")
        extra = set(data) - {"run", "school_id", "resource", "position"}
        if extra:
            raise ConfigurationError(f"job message: unexpected fields {sorted(extra)}")
        try:
            return cls(data["run"], data["school_id"], data["resource"],
                       data.get("position", 0))
        except KeyError as exc:
            raise ConfigurationError(f"job message: missing {exc.args[0]!r}") from None


#: Sends a job message to the workers (a taskiq kick, an arq enqueue...).
Send = Callable[[JobMessage], Awaitable[None]]
