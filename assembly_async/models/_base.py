"""What every model can do besides holding data: plain dicts, JSON, and a repr
that keeps pupils' personal data out of logs.

* :meth:`Model.to_dict` gives the record as plain Python data (nested models
  as dicts, tuples as lists; dates stay ``date``/``datetime``), with the API's
  field names; :meth:`Model.to_json` the same as JSON text (ISO 8601 dates).
* A model reads as a mapping of its fields (``keys()``, ``model["id"]``), so
  ``dict(model)`` and FastAPI's ``jsonable_encoder`` (which tries exactly that)
  turn one into JSON without registering anything.
* ``repr()`` shows only what identifies a record: ``id``, the ``object`` and
  ``type`` tags and the ids of other records (``student_id``,
  ``supervisor_ids``), and counts the other fields it holds. Names, birth
  dates, addresses, contacts, medical data, UPNs and MIS ids stay out of any
  log line or traceback that shows a model. With ``ASSEMBLY_REPR=full`` in the
  environment (read at each call), or :func:`full_repr`, every field shows,
  for debugging.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = ["REPR_ENV", "Model", "full_repr", "shown_in_repr"]

#: ``ASSEMBLY_REPR=full`` turns on full reprs (for debugging only).
REPR_ENV = "ASSEMBLY_REPR"
#: Fields ending like this are ids of other records, and show; but not these.
_NOT_SHOWN_IDS = frozenset({"mis_id"})
_ALWAYS_SHOWN = frozenset({"id", "object", "type"})
#: Longer tuples of ids are shortened in a repr.
_IDS_SHOWN = 5


def shown_in_repr(name: str) -> bool:
    """Whether a field's value appears in the default repr (identifiers and kinds only)."""
    if name in _ALWAYS_SHOWN:
        return True
    return name.endswith(("_id", "_ids")) and name not in _NOT_SHOWN_IDS


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Model):
        return value.to_dict(exclude_none=exclude_none)
    if isinstance(value, (tuple, list)):
        return [_plain(v, exclude_none) for v in value]
    return value


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) > _IDS_SHOWN:
        head = ", ".join(repr(v) for v in value[:_IDS_SHOWN])
        return f"({head}, ... {len(value)} in all)"
    return repr(value)


class Model:
    """Base of every generated model (an attrs class; this adds no fields)."""

    __slots__ = ()

    def _fields(self) -> Iterator[tuple[str, Any]]:
        for attribute in type(self).__attrs_attrs__:  # type: ignore[attr-defined]
            yield attribute.name, getattr(self, attribute.name)

    def to_dict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The record as plain data: nested models as dicts, tuples as lists,
        dates and date-times as themselves; ``exclude_none`` leaves out fields
        that are None (the API sent null, or nothing)."""
        return {name: _plain(value, exclude_none) for name, value in self._fields()
                if not (exclude_none and value is None)}

    def to_json(self, *, exclude_none: bool = False) -> str:
        """:meth:`to_dict` as JSON text (dates as ``YYYY-MM-DD``, instants as
        ISO 8601 with their offset), which the SDK's decoders read back."""
        return orjson.dumps(self.to_dict(exclude_none=exclude_none)).decode("utf-8")

    def keys(self) -> list[str]:
        """The field names, so that ``dict(model)`` and ``jsonable_encoder`` work."""
        return [attribute.name for attribute in type(self).__attrs_attrs__]  # type: ignore[attr-defined]

    def __getitem__(self, name: str) -> Any:
        if not isinstance(name, str) or name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def __repr__(self) -> str:
        if os.environ.get(REPR_ENV, "").strip().lower() == "full":
            return full_repr(self)
        shown: list[str] = []
        hidden = 0
        for name, value in self._fields():
            if value is None:
                continue
            if shown_in_repr(name):
                shown.append(f"{name}={_short(value)}")
            else:
                hidden += 1
        if hidden:
            shown.append(f"<{hidden} more field{'s' if hidden != 1 else ''}: {REPR_ENV}=full "
                         "shows them>")
        return f"{type(self).__name__}({', '.join(shown)})"


def full_repr(model: Model) -> str:
    """Every field of ``model``, nested models included (personal data too: for
    debugging, never for logs)."""

    def show(value: Any) -> str:
        if isinstance(value, Model):
            return full_repr(value)
        if isinstance(value, tuple):
            inner = ", ".join(show(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return repr(value)

    body = ", ".join(f"{name}={show(value)}" for name, value in model._fields())
    return f"{type(model).__name__}({body})"
