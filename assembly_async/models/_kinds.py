"""Describing a JSON value without showing it.

Values that do not fit a model may be a pupil's personal data (a birth date,
a name). Messages, logs and events name the value's JSON kind and size
instead: "a string of 10 characters", never the string.
"""

from __future__ import annotations

from typing import Any

__all__ = ["json_kind"]


def json_kind(value: Any) -> str:
    """Name the JSON kind and size of a value for messages ("a string of 10
    characters"); never the value itself, which may be personal data."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number of {_count(len(str(value)), 'character')}"
    if isinstance(value, str):
        return f"a string of {_count(len(value), 'character')}"
    if isinstance(value, dict):
        return f"an object of {_count(len(value), 'member')}"
    if isinstance(value, (list, tuple)):
        return f"an array of {_count(len(value), 'item')}"
    return f"a {type(value).__name__}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
