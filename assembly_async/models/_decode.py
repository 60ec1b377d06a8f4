"""Turning response bodies into models, fast, with precise errors.

Two paths produce the same attrs instances:

* the fast path: msgspec decodes the JSON bytes straight into the attrs classes
  in C, with ``strict=False`` (``"12"`` for an int, ``"true"`` or ``1`` for a
  bool) and a ``dec_hook`` that reads every date field with the same parser
  as the converter (bare dates and date-times, with or without offset or
  milliseconds);
* the cattrs path: orjson to dicts, then the SDK converter record by record.
  It accepts a little more (``" 12"``, a number for a string), honours user
  hooks, and names the schema, field path, record id, index and URL of
  whatever does not fit.

A page is decoded whole by msgspec; when it refuses, the page is split into
its records (``list[msgspec.Raw]``) and each is decoded alone, so one odd
record costs one cattrs call, not the page. The fast path is only used with
the SDK's own converter: a converter the user customised sees every record.

Bad values: with ``problems`` (a list) given, a record keeps everything but
the values that do not fit (see :mod:`._repair`) and each is appended as a
:class:`DecodeProblem`; without it (strict), the first one raises
:class:`~assembly_async.DecodeError`. JSON nested deeper than the parsers
follow (orjson: 1024 levels; msgspec: the Python stack) is a
:class:`DecodeError` too, never a ``RecursionError``.
"""

from __future__ import annotations

import gc
from typing import Any, TypeVar

import msgspec
import orjson

from .._core.errors import DecodeError
from ._converter import OrjsonConverter, json_kind, make_converter, structure_error_details
from ._problems import DecodeProblem
from ._repair import LEFT_OUT, record_id, repair
from ._wire import (
    REFUSED,
    envelope_parts,
    is_blank,
    json_error,
    make_dec_hook,
    parse_record,
    split_page,
)

__all__ = ["ModelDecoder"]

T = TypeVar("T")

#: How many further error paths a DecodeError message lists.
_MORE_PATHS = 3

def _schema_name(cls: Any) -> str:
    name = getattr(cls, "__name__", None)
    return name if isinstance(name, str) else repr(cls)



class ModelDecoder:
    """Decode API bodies into models (one record, a page, a version-1 envelope).

    ``converter`` defaults to a fresh :func:`make_converter`. ``fast`` chooses
    the msgspec path; by default it is on only for the SDK's own converter, so
    that a customised converter's hooks are honoured. With ``fast=True`` and a
    custom converter, msgspec decodes whatever it can and your hooks only see
    the records it refuses.

    Every decoding method takes ``problems``: pass a list to keep records whose
    values do not all fit (each bad value is appended to it as a
    :class:`DecodeProblem`); leave it None to raise :class:`DecodeError` instead.
    """

    __slots__ = ("_converter", "_dec_hook", "_fast", "_list_decoders", "_one_decoders",
                 "_pause_gc")

    def __init__(
        self,
        converter: OrjsonConverter | None = None,
        *,
        fast: bool | None = None,
        pause_gc: bool = True,
    ) -> None:
        own = converter is None
        self._converter: OrjsonConverter = make_converter() if converter is None else converter
        self._fast: bool = own if fast is None else bool(fast)
        self._pause_gc = bool(pause_gc)
        self._dec_hook = make_dec_hook()
        self._one_decoders: dict[Any, msgspec.json.Decoder[Any] | None] = {}
        self._list_decoders: dict[Any, msgspec.json.Decoder[Any] | None] = {}

    def __repr__(self) -> str:
        return f"<ModelDecoder fast={self._fast}>"

    @property
    def converter(self) -> OrjsonConverter:
        """The cattrs converter (also used to encode request bodies)."""
        return self._converter

    @property
    def fast(self) -> bool:
        """Whether the msgspec fast path is tried first."""
        return self._fast

    # -- parsing -------------------------------------------------------------

    def loads(self, body: bytes, *, url: str | None = None) -> Any:
        """Parse JSON to plain Python data (orjson); malformed JSON -> DecodeError."""
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise json_error(exc, body, url) from exc

    # -- whole bodies --------------------------------------------------------

    def decode_one(
        self,
        cls: type[T],
        body: bytes,
        *,
        url: str | None = None,
        problems: list[DecodeProblem] | None = None,
    ) -> T:
        """Decode a body holding one JSON object into ``cls``."""
        decoder = self._one(cls)
        if decoder is not None:
            try:
                result: T = decoder.decode(body)
                return result
            except REFUSED:
                pass  # cattrs decides, and names what is wrong
        if is_blank(body):
            raise DecodeError(
                f"empty body where a {_schema_name(cls)} object was expected",
                schema=_schema_name(cls),
                url=url,
            )
        return self.structure_one(cls, self.loads(body, url=url), url=url, problems=problems)

    def decode_list(
        self,
        cls: type[T],
        body: bytes,
        *,
        url: str | None = None,
        envelope: bool = False,
        problems: list[DecodeProblem] | None = None,
    ) -> tuple[list[T], dict[str, Any] | None]:
        """Decode one page of records.

        ``envelope=False`` (API 1.1): the body is a JSON array; an empty or
        blank body means no records. ``envelope=True`` (API 1): the body is
        ``{object: "list", total_count, ..., data: [...]}``; the second item
        returned is then the envelope without ``data`` (else None).

        While a page decodes, the cyclic garbage collector is paused (unless
        ``pause_gc=False`` or it was off already): a page of 1500 students
        allocates some 90,000 objects, all of them reachable, and the
        collections they trigger find nothing (``benchmarks/bench_iterate.py``:
        about 15% of a walk). It is switched back on before this returns.
        """
        if not (self._pause_gc and gc.isenabled()):
            return self._decode_list(cls, body, url=url, envelope=envelope, problems=problems)
        gc.disable()
        try:
            return self._decode_list(cls, body, url=url, envelope=envelope, problems=problems)
        finally:
            gc.enable()

    def _decode_list(
        self,
        cls: type[T],
        body: bytes,
        *,
        url: str | None,
        envelope: bool,
        problems: list[DecodeProblem] | None,
    ) -> tuple[list[T], dict[str, Any] | None]:
        decoder = self._many(cls)
        if decoder is not None:
            try:
                if not envelope:
                    return decoder.decode(body), None
                data, found = envelope_parts(body)
                if data is not None:
                    return decoder.decode(data), found
            except REFUSED:
                pass  # some record needs the converter: split the page
            split = split_page(body, envelope)
            if split is not None:
                raws, meta = split
                return self._records(cls, raws, url=url, problems=problems), meta
        return self._slow_list(cls, body, url=url, envelope=envelope, problems=problems)

    def _one(self, cls: Any) -> msgspec.json.Decoder[Any] | None:
        if cls in self._one_decoders:
            return self._one_decoders[cls]
        return self._make_decoder(self._one_decoders, cls, cls)

    def _many(self, cls: Any) -> msgspec.json.Decoder[Any] | None:
        if cls in self._list_decoders:
            return self._list_decoders[cls]
        return self._make_decoder(self._list_decoders, cls, list[cls])

    def _make_decoder(
        self, cache: dict[Any, msgspec.json.Decoder[Any] | None], cls: Any, target: Any
    ) -> msgspec.json.Decoder[Any] | None:
        """Build and cache a msgspec decoder; None when off or msgspec cannot handle ``cls``."""
        decoder: msgspec.json.Decoder[Any] | None = None
        if self._fast:
            try:
                decoder = msgspec.json.Decoder(target, dec_hook=self._dec_hook, strict=False)
            except TypeError:  # a type msgspec does not support: cattrs only
                decoder = None
        cache[cls] = decoder
        return decoder

    def _records(
        self,
        cls: type[T],
        raws: list[msgspec.Raw],
        *,
        url: str | None,
        problems: list[DecodeProblem] | None,
    ) -> list[T]:
        """Decode a page record by record: msgspec first, the converter for the rest."""
        one = self._one(cls)
        hook = self._converter.get_structure_hook(cls)
        out: list[T] = []
        for index, raw in enumerate(raws):
            if one is not None:
                try:
                    out.append(one.decode(raw))
                    continue
                except REFUSED:
                    pass
            try:
                obj = parse_record(raw)
            except orjson.JSONDecodeError as exc:  # nesting deeper than orjson follows
                if problems is None:
                    raise json_error(exc, raw, url) from exc
                problems.append(DecodeProblem(
                    _schema_name(cls), "$", f"the record is not readable JSON: {exc}",
                    None, index, url, f"{len(raw)} bytes of JSON", kept=False, removed="$",
                    raw=bytes(raw).decode("utf-8", "replace")))
                continue
            record = self._structure_item(hook, cls, obj, index=index, url=url,
                                          problems=problems)
            if record is not LEFT_OUT:
                out.append(record)
        return out

    def _slow_list(
        self,
        cls: type[T],
        body: bytes,
        *,
        url: str | None,
        envelope: bool,
        problems: list[DecodeProblem] | None,
    ) -> tuple[list[T], dict[str, Any] | None]:
        name = _schema_name(cls)
        if not envelope:
            if is_blank(body):
                return [], None
            data = self._loads_page(body, url, envelope)
            if isinstance(data, tuple):  # unreadable as a whole, readable record by record
                return self._records(cls, data[0], url=url, problems=problems), None
            if not isinstance(data, list):
                hint = ""
                if isinstance(data, dict) and "data" in data:
                    hint = " (it looks like a version-1 list envelope; decode with envelope=True)"
                raise DecodeError(
                    f"expected a JSON array of {name} records, found {json_kind(data)}{hint}",
                    schema=name,
                    url=url,
                )
            return self.structure_list(cls, data, url=url, problems=problems), None
        if is_blank(body):
            raise DecodeError(
                "empty body where a version-1 list envelope was expected", schema=name, url=url
            )
        data = self._loads_page(body, url, envelope)
        if isinstance(data, tuple):
            return self._records(cls, data[0], url=url, problems=problems), data[1]
        if not isinstance(data, dict):
            raise DecodeError(
                "expected a version-1 list envelope (a JSON object with a data array), "
                f"found {json_kind(data)}",
                schema=name,
                url=url,
            )
        if "data" not in data:
            keys = ", ".join(sorted(map(str, data))) or "none"
            raise DecodeError(
                f"the list envelope has no data member (keys: {keys})", schema=name, url=url
            )
        records = data["data"]
        if not isinstance(records, list):
            raise DecodeError(
                f"the list envelope's data member should be an array, found {json_kind(records)}",
                schema=name,
                url=url,
            )
        meta = {key: value for key, value in data.items() if key != "data"}
        return self.structure_list(cls, records, url=url, problems=problems), meta

    def _loads_page(self, body: bytes, url: str | None, envelope: bool) -> Any:
        """orjson's reading of a page; when it cannot read it whole but msgspec
        can split it (one record holds a number beyond a double), the split
        ``(records, meta)``: the fast path reads such a page too."""
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            split = split_page(body, envelope)
            if split is None:
                raise json_error(exc, body, url) from exc
            return split

    # -- already parsed data (cattrs) ----------------------------------------

    def structure_one(
        self,
        cls: type[T],
        obj: Any,
        *,
        url: str | None = None,
        problems: list[DecodeProblem] | None = None,
    ) -> T:
        """Structure parsed JSON data (one object) into ``cls`` with the converter."""
        hook = self._converter.get_structure_hook(cls)
        try:
            result: T = hook(obj, cls)
            return result
        except Exception as exc:
            if problems is None:
                raise _structure_error(cls, exc, obj, index=None, url=url) from exc
            record = repair(lambda data: hook(data, cls), cls, obj, exc,
                            schema=_schema_name(cls), index=None, url=url, problems=problems)
            if record is LEFT_OUT:
                raise _structure_error(cls, exc, obj, index=None, url=url) from exc
            return record  # type: ignore[no-any-return]

    def structure_list(
        self,
        cls: type[T],
        items: Any,
        *,
        url: str | None = None,
        problems: list[DecodeProblem] | None = None,
    ) -> list[T]:
        """Structure parsed records one by one, so a failure names its record."""
        if not isinstance(items, (list, tuple)):
            raise DecodeError(
                f"expected an array of {_schema_name(cls)} records, found {json_kind(items)}",
                schema=_schema_name(cls),
                url=url,
            )
        hook = self._converter.get_structure_hook(cls)
        out: list[T] = []
        append = out.append
        index = 0
        try:
            for index, item in enumerate(items):  # noqa: B007 - read after a failure
                append(hook(item, cls))
        except Exception:
            pass
        else:
            return out
        # A record did not fit: carry on record by record from there.
        for position in range(index, len(items)):
            record = self._structure_item(hook, cls, items[position], index=position, url=url,
                                          problems=problems)
            if record is not LEFT_OUT:
                append(record)
        return out

    def _structure_item(
        self,
        hook: Any,
        cls: type[T],
        item: Any,
        *,
        index: int,
        url: str | None,
        problems: list[DecodeProblem] | None,
    ) -> Any:
        try:
            return hook(item, cls)
        except Exception as exc:
            if problems is None:
                raise _structure_error(cls, exc, item, index=index, url=url) from exc
            return repair(lambda data: hook(data, cls), cls, item, exc,
                          schema=_schema_name(cls), index=index, url=url, problems=problems)


def _structure_error(
    cls: type[Any], exc: Exception, obj: Any, *, index: int | None, url: str | None
) -> DecodeError:
    details = structure_error_details(exc) or [("$", str(exc))]
    path, message = details[0]
    text = f"cannot decode {_schema_name(cls)}: {message}"
    rest = details[1:]
    if rest:
        shown = ", ".join(p for p, _ in rest[:_MORE_PATHS])
        more = ", ..." if len(rest) > _MORE_PATHS else ""
        noun = "problem" if len(rest) == 1 else "problems"
        text += f"; {len(rest)} more {noun} at {shown}{more}"
    return DecodeError(
        text, schema=_schema_name(cls), path=path, record_id=record_id(obj), index=index, url=url,
        transient=False,  # well-formed JSON with a wrong value: fetching again cannot help
    )
