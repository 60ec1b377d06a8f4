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
``datetime.datetime``. At run time they are abstract marker classes with the
real classes registered as virtual subclasses, so ``isinstance(value,
CalendarDate)`` holds for every value a model carries, and both decoders
(msgspec through its ``dec_hook``, cattrs through its hooks) see the marker in
the annotation and parse the text with the same function.
"""

from __future__ import annotations

import abc
import datetime
import sys
from typing import TYPE_CHECKING, Annotated

import msgspec

__all__ = ["DATE_KINDS", "CalendarDate", "FiniteFloat", "Instant"]

FiniteFloat = Annotated[
    float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)
]
"""A ``float`` that is finite: msgspec (``strict=False``) would read ``"nan"``
or ``"inf"`` as floats; the bounds make it refuse them, as the converter does."""

if TYPE_CHECKING:
    from typing import TypeAlias

    CalendarDate: TypeAlias = datetime.date
    Instant: TypeAlias = datetime.datetime
else:

    class CalendarDate(abc.ABC):  # noqa: B024 - a marker: nothing to implement
        """A calendar date field: values are ``datetime.date``."""

        __slots__ = ()

    class Instant(abc.ABC):  # noqa: B024 - a marker: nothing to implement
        """A moment in time: values are timezone-aware ``datetime.datetime``."""

        __slots__ = ()

    CalendarDate.register(datetime.date)
    Instant.register(datetime.datetime)

#: The marker classes (what the decoders look for in an annotation).
DATE_KINDS: tuple[type, ...] = (CalendarDate, Instant)
