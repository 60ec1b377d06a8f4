"""The two kinds of date field: calendar dates and instants.

The spec types nearly every date as ``date-time``, but the values are of two
kinds (CONCEPTS "Data quirks"; the table in ``tools/generate_models.py`` says
which field is which and why):

* :data:`CalendarDate`: a day on the calendar (a birth date, the first day of
  an enrolment or a term). Values are ``datetime.date``. The API writes them
  as ``2015-09-01`` or as a date-time (``2015-09-01T00:00:00.000Z``); the day
  is the date as written, whatever the offset.
* :data:`Instant`: a moment (``updated_at``, ``last_sync_at``, a lesson's
  start). Values are timezone-aware ``datetime.datetime``; a bare date is
  midnight UTC and a date-time without an offset is read as UTC.

For type checkers the names are plain aliases of ``datetime.date`` and
``datetime.datetime``. At run time they are marker classes whose
``isinstance``/``issubclass`` answer for the real class (``isinstance(value,
CalendarDate)`` holds for every ``datetime.date`` a model carries). Both
decoders see the marker in the annotation and parse the text with the same
function: msgspec through its ``dec_hook``, cattrs through its hooks.

Why a metaclass and not ``abc.ABC.register``: msgspec checks every value a
``dec_hook`` returns with ``isinstance``, and an ABC's check costs about 260 ns
a value against about 80 ns for this one (``benchmarks/bench_decode.py``; a
page of students holds some 10,000 dates).
"""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, Annotated

import msgspec

__all__ = ["DATE_KINDS", "CalendarDate", "Code", "FiniteFloat", "Instant"]

FiniteFloat = Annotated[
    float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)
]
"""A ``float`` that is finite: msgspec (``strict=False``) would read ``"nan"``
or ``"inf"`` as floats; the bounds make it refuse them, as the converter does."""

if TYPE_CHECKING:
    from typing import TypeAlias

    CalendarDate: TypeAlias = datetime.date
    Instant: TypeAlias = datetime.datetime
    Code: TypeAlias = str
else:

    def _marker(name: str, real: type, doc: str) -> type:
        """A class that ``isinstance``/``issubclass`` treat as ``real``, exactly."""

        def instancecheck(cls: type, obj: object, _real: type = real) -> bool:
            return obj.__class__ is _real

        def subclasscheck(cls: type, sub: type, _real: type = real) -> bool:
            return sub is _real or type.__subclasscheck__(cls, sub)

        kind = type(f"_{name}Kind", (type,), {"__instancecheck__": instancecheck,
                                              "__subclasscheck__": subclasscheck})
        return kind(name, (), {"__doc__": doc, "__slots__": (), "__module__": __name__})

    CalendarDate = _marker("CalendarDate", datetime.date,
                           "A calendar date field: values are ``datetime.date``.")
    Instant = _marker("Instant", datetime.datetime,
                      "A moment in time: values are timezone-aware ``datetime.datetime``.")
    Code = _marker("Code", str,
                   "A string the API may send as a JSON number (``year_code``): values are "
                   "``str``, a number is read as its text.")

#: The marker classes (what the decoders look for in an annotation).
DATE_KINDS: tuple[type, ...] = (CalendarDate, Instant)
