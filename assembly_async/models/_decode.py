"""Turning response bodies into models, fast, with precise errors.

Two paths produce the same attrs instances:

* the fast path: msgspec decodes the JSON bytes straight into the attrs classes
  in C (about as fast as ``orjson.loads`` to plain dicts);
* the cattrs path: orjson to dicts, then the SDK converter record by record.
  It accepts more (a bare date in a date-time field, ``"12"`` for an int...),
  honours user hooks, and names the schema, field path, record id, index and
  URL of whatever does not fit.

msgspec is strict, so when it refuses a body the body is decoded again by the
cattrs path, which either accepts it or raises the precise
:class:`~assembly_async.DecodeError`. The fast path is only used with the
SDK's own converter: a converter the user customised must see every record.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import orjson

from .._core.errors import DecodeError
from ._converter import OrjsonConverter, json_kind, make_converter, structure_error_details

__all__ = ["ModelDecoder"]

T = TypeVar("T")

#: How many further error paths a DecodeError message lists.
_MORE_PATHS = 3
#: How much of a body a "malformed JSON" message quotes.
_EXCERPT = 60

_RAW_ENVELOPE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY_JSON = msgspec.json.Decoder()
_MISSING: Any = object()


def _excerpt(body: bytes | bytearray | memoryview | str) -> str:
    raw = bytes(body) if isinstance(body, memoryview) else body
    text = raw if isinstance(raw, str) else raw[: _EXCERPT * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    if not text:
        return "the body is empty"
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT] + "..."
    return f"the body starts {text!r}"


def _schema_name(cls: Any) -> str:
    name = getattr(cls, "__name__", None)
    return name if isinstance(name, str) else repr(cls)


def _is_blank(body: bytes | bytearray | memoryview | str) -> bool:
    raw = bytes(body) if isinstance(body, memoryview) else body
    return not raw.strip()


class ModelDecoder:
    """Decode API bodies into models (one record, a page, a version-1 envelope).

    ``converter`` defaults to a fresh :func:`make_converter`. ``fast`` chooses
    the msgspec path; by default it is on only for the SDK's own converter, so
    that a customised converter's hooks are honoured. With ``fast=True`` and a
    custom converter, msgspec decodes whatever it can and your hooks only see
    the bodies it refuses.
    """

    __slots__ = ("_converter", "_fast", "_list_decoders", "_one_decoders")

    def __init__(
        self, converter: OrjsonConverter | None = None, *, fast: bool | None = None
    ) -> None:
        own = converter is None
        self._converter: OrjsonConverter = make_converter() if converter is None else converter
        self._fast: bool = own if fast is None else bool(fast)
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
            raise DecodeError(f"malformed JSON: {exc}; {_excerpt(body)}", url=url) from exc

    # -- whole bodies --------------------------------------------------------

    def decode_one(self, cls: type[T], body: bytes, *, url: str | None = None) -> T:
        """Decode a body holding one JSON object into ``cls``."""
        if self._fast:
            decoder = self._one_decoders.get(cls, _MISSING)
            if decoder is _MISSING:
                decoder = self._make_decoder(self._one_decoders, cls, cls)
            if decoder is not None:
                try:
                    result: T = decoder.decode(body)
                    return result
                except msgspec.DecodeError:  # includes ValidationError: cattrs decides
                    pass
        if _is_blank(body):
            raise DecodeError(
                f"empty body where a {_schema_name(cls)} object was expected",
                schema=_schema_name(cls),
                url=url,
            )
        return self.structure_one(cls, self.loads(body, url=url), url=url)

    def decode_list(
        self,
        cls: type[T],
        body: bytes,
        *,
        url: str | None = None,
        envelope: bool = False,
    ) -> tuple[list[T], dict[str, Any] | None]:
        """Decode one page of records.

        ``envelope=False`` (API 1.1): the body is a JSON array; an empty or
        blank body means no records. ``envelope=True`` (API 1): the body is
        ``{object: "list", total_count, ..., data: [...]}``; the second item
        returned is then the envelope without ``data`` (else None).
        """
        if self._fast:
            decoder = self._list_decoders.get(cls, _MISSING)
            if decoder is _MISSING:
                decoder = self._make_decoder(self._list_decoders, cls, list[cls])  # type: ignore[valid-type]
            if decoder is not None:
                try:
                    if not envelope:
                        return decoder.decode(body), None
                    parts = _RAW_ENVELOPE.decode(body)
                    data = parts.pop("data", None)
                    if data is not None:
                        records = decoder.decode(data)
                        return records, {key: _ANY_JSON.decode(raw) for key, raw in parts.items()}
                except msgspec.DecodeError:  # includes ValidationError: cattrs decides
                    pass
        return self._slow_list(cls, body, url=url, envelope=envelope)

    @staticmethod
    def _make_decoder(
        cache: dict[Any, msgspec.json.Decoder[Any] | None], cls: Any, target: Any
    ) -> msgspec.json.Decoder[Any] | None:
        """Build and cache a msgspec decoder; None when msgspec cannot handle ``cls``."""
        decoder: msgspec.json.Decoder[Any] | None
        try:
            decoder = msgspec.json.Decoder(target)
        except TypeError:  # a type msgspec does not support: cattrs only
            decoder = None
        cache[cls] = decoder
        return decoder

    def _slow_list(
        self, cls: type[T], body: bytes, *, url: str | None, envelope: bool
    ) -> tuple[list[T], dict[str, Any] | None]:
        name = _schema_name(cls)
        if not envelope:
            if _is_blank(body):
                return [], None
            data = self.loads(body, url=url)
            if not isinstance(data, list):
                hint = ""
                if isinstance(data, dict) and "data" in data:
                    hint = " (it looks like a version-1 list envelope; decode with envelope=True)"
                raise DecodeError(
                    f"expected a JSON array of {name} records, found {json_kind(data)}{hint}",
                    schema=name,
                    url=url,
                )
            return self.structure_list(cls, data, url=url), None
        if _is_blank(body):
            raise DecodeError(
                "empty body where a version-1 list envelope was expected", schema=name, url=url
            )
        data = self.loads(body, url=url)
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
        return self.structure_list(cls, records, url=url), meta

    # -- already parsed data (cattrs) ----------------------------------------

    def structure_one(self, cls: type[T], obj: Any, *, url: str | None = None) -> T:
        """Structure parsed JSON data (one object) into ``cls`` with the converter."""
        try:
            result: T = self._converter.structure(obj, cls)
            return result
        except Exception as exc:
            raise _structure_error(cls, exc, obj, index=None, url=url) from exc

    def structure_list(self, cls: type[T], items: Any, *, url: str | None = None) -> list[T]:
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
        try:
            for item in items:
                append(hook(item, cls))
        except Exception as exc:
            index = len(out)  # the record that failed
            raise _structure_error(cls, exc, items[index], index=index, url=url) from exc
        return out


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
    record_id = obj.get("id") if isinstance(obj, dict) else None
    return DecodeError(
        text, schema=_schema_name(cls), path=path, record_id=record_id, index=index, url=url,
        transient=False,  # well-formed JSON with a wrong value: fetching again cannot help
    )
