"""What the decoder reports when one value of a record does not fit its model.

By default one bad value never costs the rest of a page: the record is kept
with that field empty (None; an array keeps its other items), and a
:class:`DecodeProblem` says which schema, record, field and why. A record
without a usable ``id`` cannot be kept; it is left out and reported too.

PRIVACY: the value that did not fit may be a pupil's personal data (a birth
date). It is kept only in :attr:`DecodeProblem.raw`, on the problems the
caller receives with the data (``Page.problems``, ``Delta.problems``). The
``repr``/``str`` of a problem, log lines, hook events, reports and exception
messages show its JSON kind and length instead (:attr:`DecodeProblem.value_kind`),
and :meth:`DecodeProblem.redacted` drops it.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

__all__ = ["NO_VALUE", "DecodeProblem"]


class _NoValue:
    """The raw value is not available here (redacted, or there was none)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"


#: ``DecodeProblem.raw`` when the value was removed (see :meth:`DecodeProblem.redacted`).
NO_VALUE: Final = _NoValue()


@attrs.frozen
class DecodeProblem:
    """One value that did not fit its model, and what the decoder did about it.

    ``schema`` is the model of the record (``"Student"``), ``path`` the field
    inside the record (``"$.demographics.pp_history[2].start_date"``; ``"$"``
    for the record itself), ``record_id`` the record's ``id`` when it has a
    usable one, ``index`` its position in the page (None for a single record),
    ``url`` where the body came from. ``message`` says what was wrong without
    quoting the value; ``value_kind`` is its JSON kind and length. ``kept`` is
    False when the whole record was left out of the page (it had no usable
    ``id``, or it was not an object); otherwise the record was kept without
    ``removed``: the field itself (now None), an item of an array, or the
    nested object holding a bad required field (an e-mail without a usable
    ``id``). ``raw`` is the value as the API sent it (``NO_VALUE`` once
    redacted, or when the field was missing); ``repr`` and ``str`` never show it.
    """

    schema: str
    path: str
    message: str
    record_id: int | None = None
    index: int | None = None
    url: str | None = None
    value_kind: str = ""
    kept: bool = True
    removed: str = ""
    raw: Any = attrs.field(default=NO_VALUE, repr=False, eq=False, hash=False)

    def __str__(self) -> str:
        where = [f"schema {self.schema}"]
        if self.index is not None:
            where.append(f"item {self.index}")
        if self.record_id is not None:
            where.append(f"record id {self.record_id}")
        where.append(f"field {self.path}")
        if not self.kept:
            outcome = "the record was left out"
        else:
            outcome = f"the record was kept without {self.removed or self.path}"
        text = f"{self.message} ({', '.join(where)})"
        if self.url:
            text += f" from {self.url}"
        return f"{text}; {outcome}"

    def redacted(self) -> DecodeProblem:
        """A copy without the raw value: what logs, hook events and reports carry."""
        return self if self.raw is NO_VALUE else attrs.evolve(self, raw=NO_VALUE)
