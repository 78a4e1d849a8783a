"""Reading SFT response bodies: scalars, a checked ``Reader``, the envelope, login tokens.

Every structural surprise (empty body, HTML, non-JSON, missing envelope, a list where an
object belongs, an unparseable date or number) becomes :class:`SFTMalformedResponse` carrying
the operation and HTTP status: never ``KeyError``, ``AttributeError``, ``TypeError`` or
``ValueError``. Conventions (docs/sft-platform.md#conventions): scalars may be strings or
numbers; ``"-"`` and ``""`` mean absent; date-times are ``dd/mm/yyyy HH:MM:SS`` in the
platform's zone (:func:`platform_zone`, setting ``SFT_PLATFORM_TIMEZONE``, default UTC),
returned as aware UTC. The per-operation results are built in :mod:`travelsim.sft.records`;
import both through :mod:`travelsim.sft.parsing`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from travelsim.sft import wire
from travelsim.sft.errors import SFTMalformedResponse


# --- scalars --------------------------------------------------------------------------------
def to_str(value: Any) -> str | None:
    """A wire scalar as a stripped string; ``None`` for absent (``None``, ``"-"``, ``""``).

    Raises ``ValueError`` for objects, lists and booleans (callers wrap it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a scalar, got a boolean")
    if isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"expected a scalar, got {type(value).__name__}")
    return None if text in wire.ABSENT_VALUES else text


_MAX_MAGNITUDE = Decimal(10) ** 24  # far above any byte count or id the platform sends


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not number.is_finite() or abs(number) >= _MAX_MAGNITUDE:
        raise ValueError(f"not a finite number in range: {text!r}")
    return number


def _round(number: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 60  # enough for any in-range value times BYTES_PER_MB
        return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_int(value: Any) -> int | None:
    """A wire number (int, float, or numeric string, e.g. ``"1073741824"``/``"7.0"``) as an int
    rounded half-up; ``None`` for absent. Raises ``ValueError`` otherwise."""
    text = to_str(value)
    return None if text is None else _round(_decimal(text))


def mb_to_bytes(value: Any) -> int | None:
    """Megabytes (wire string such as ``"1.500"``) to bytes: 1 MB = 1,048,576 bytes, rounded
    half-up to an int (docs/sft-platform.md#getstatistics). ``None`` for absent."""
    text = to_str(value)
    return None if text is None else _round(_decimal(text) * wire.BYTES_PER_MB)


def platform_zone(name: str | dt.tzinfo | None) -> dt.tzinfo:
    """The platform's zone from an IANA name (``"Europe/Brussels"``), a ``tzinfo``, or ``None``/
    ``""``/``"UTC"`` for UTC (docs/sft-platform.md#conventions "Date-times"). Raises
    ``ValueError`` for an unknown zone name."""
    if name is None or isinstance(name, dt.tzinfo):
        return name or dt.UTC
    text = name.strip()
    if text.upper() in ("", "UTC", "Z"):
        return dt.UTC
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name)") from None


def to_bytes(value: Any, bytes_per_unit: int) -> int | None:
    """A wire number of some unit (``"1.5"`` GB, ``"100"`` MB) as bytes, rounded half-up;
    ``None`` for absent. Raises ``ValueError`` for a non-number."""
    text = to_str(value)
    return None if text is None else _round(_decimal(text) * bytes_per_unit)


def to_datetime(value: Any, tz: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """``dd/mm/yyyy HH:MM:SS`` (or ``dd/mm/yyyy``), a wall-clock time in the platform's zone
    ``tz``, as an aware **UTC** datetime; ``None`` for absent. The one place platform
    date-times are read (docs/sft-platform.md#conventions "Date-times"). In a zone with
    daylight saving, a repeated wall-clock hour is read as its first occurrence and a skipped
    one is shifted forward (``zoneinfo``'s ``fold=0``). Raises ``ValueError`` for other
    formats."""
    text = to_str(value)
    if text is None:
        return None
    for fmt in (wire.DATETIME_FORMAT, wire.DATE_ONLY_FORMAT):
        try:
            naive = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if tz is dt.UTC:
            return naive.replace(tzinfo=dt.UTC)
        return naive.replace(tzinfo=tz).astimezone(dt.UTC)
    raise ValueError(f"not a dd/mm/yyyy HH:MM:SS date-time: {text!r}")


def to_stats_date(value: Any) -> dt.date | None:
    """``YYYYMMDD`` (GetStatistics) as a date; ``None`` for absent."""
    text = to_str(value)
    if text is None:
        return None
    return dt.datetime.strptime(text, wire.STATS_DATE_FORMAT).date()


# --- a checked view of a JSON object ---------------------------------------------------------
class Reader:
    """Read fields of one JSON object; any surprise raises SFTMalformedResponse."""

    def __init__(
        self,
        data: Any,
        operation: str,
        http_status: int | None,
        where: str,
        tz: dt.tzinfo = dt.UTC,
    ) -> None:
        if not isinstance(data, Mapping):
            raise SFTMalformedResponse(operation, http_status, None, f"{where}: expected an object")
        self.data = data
        self.operation = operation
        self.http_status = http_status
        self.where = where
        #: The platform's zone for date-times (children inherit it).
        self.tz = tz

    def child(self, data: Any, where: str) -> Reader:
        """A reader of ``data`` (an object found under this one), same operation and zone."""
        return Reader(data, self.operation, self.http_status, where, self.tz)

    def key_any_case(self, key: str) -> str | None:
        """The key present in the object that equals ``key`` ignoring case (the exact one
        first); ``None`` if none."""
        if key in self.data:
            return key
        low = key.lower()
        return next(
            (k for k in self.data if isinstance(k, str) and k.lower() == low),
            None,
        )

    def opt_str_any_case(self, key: str) -> str | None:
        """:meth:`opt_str` of ``key`` matched ignoring case (``eSimProfileStatus`` and
        ``esimProfileStatus`` alike)."""
        found = self.key_any_case(key)
        return None if found is None else self.opt_str(found)

    def _fail(self, key: str, problem: str) -> SFTMalformedResponse:
        return SFTMalformedResponse(
            self.operation, self.http_status, None, f"{self.where}.{key}: {problem}"
        )

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def opt_str(self, key: str) -> str | None:
        try:
            return to_str(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def req_str(self, key: str) -> str:
        value = self.opt_str(key)
        if value is None:
            raise self._fail(key, "missing")
        return value

    def opt_int(self, key: str) -> int | None:
        try:
            return to_int(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_mb_bytes(self, key: str) -> int | None:
        try:
            return mb_to_bytes(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_datetime(self, key: str) -> dt.datetime | None:
        """A platform date-time (in :attr:`tz`) as aware UTC; ``None`` for absent."""
        try:
            return to_datetime(self.data.get(key), self.tz)
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_obj(self, key: str) -> Reader | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value.strip() in wire.ABSENT_VALUES):
            return None
        return self.child(value, f"{self.where}.{key}")

    def obj(self, key: str) -> Reader:
        value = self.opt_obj(key)
        if value is None:
            raise self._fail(key, "missing")
        return value

    def objs(self, key: str, *, required: bool = False) -> list[Reader]:
        """A list of objects; absent/``"-"`` is an empty list unless ``required``."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value.strip() in wire.ABSENT_VALUES):
            if required:
                raise self._fail(key, "missing")
            return []
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise self._fail(key, "expected a list")
        return [self.child(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(value)]

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            # Tolerate "DE|FR" / "DE,FR" as well as a JSON list.
            parts = value.replace("|", ",").split(",")
            return [p.strip() for p in parts if p.strip() not in wire.ABSENT_VALUES]
        if not isinstance(value, Sequence):
            raise self._fail(key, "expected a list")
        out: list[str] = []
        for item in value:
            try:
                text = to_str(item)
            except ValueError as exc:
                raise self._fail(key, str(exc)) from None
            if text is not None:
                out.append(text)
        return out


# --- body and envelope -----------------------------------------------------------------------
def decode_json(operation: str, http_status: int | None, content: bytes) -> Any:
    """Decode a response body; empty, HTML or invalid JSON raises SFTMalformedResponse."""
    stripped = content.strip()
    if not stripped:
        raise SFTMalformedResponse(operation, http_status, None, "empty body")
    if stripped[:1] == b"<":
        raise SFTMalformedResponse(operation, http_status, None, "HTML instead of JSON")
    try:
        return json.loads(stripped)
    except (ValueError, UnicodeDecodeError):
        raise SFTMalformedResponse(operation, http_status, None, "body is not JSON") from None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ``Response`` envelope: ``result_code`` "0"/"1", operation ``op_code``/``description``
    from ``resultParam``, and the whole ``Response`` object as ``response``."""

    result_code: str
    op_code: str | None
    description: str | None
    response: Reader

    @property
    def ok(self) -> bool:
        return self.result_code == wire.ENVELOPE_SUCCESS

    @property
    def token_rejected(self) -> bool:
        """The HTTP-200 expiry shape: resultParam.resultCode "401"
        (docs/sft-platform.md#token-expiry)."""
        return self.op_code == wire.CODE_TOKEN_INVALID

    def param(self) -> Reader:
        """``responseParam`` (an empty object when absent)."""
        return self.response.opt_obj(wire.RESPONSE_PARAM) or self.response.child(
            {}, "Response.responseParam"
        )


def parse_envelope(
    operation: str, http_status: int | None, data: Any, *, tz: dt.tzinfo = dt.UTC
) -> Envelope:
    """Check ``{"Response": {"resultCode", "resultParam": {...}, ...}}``. ``tz`` is the
    platform's zone: every date-time read from the envelope is converted from it to UTC."""
    top = Reader(data, operation, http_status, "body", tz)
    response = top.obj(wire.RESPONSE) if top.has(wire.RESPONSE) else None
    if response is None:
        raise SFTMalformedResponse(operation, http_status, None, "no Response envelope")
    response.where = wire.RESPONSE
    result_code = response.opt_str(wire.RESULT_CODE)
    result_param = response.opt_obj(wire.RESULT_PARAM)
    op_code = result_param.opt_str(wire.RESULT_CODE) if result_param else None
    description = result_param.opt_str(wire.RESULT_DESCRIPTION) if result_param else None
    if result_code is None:
        raise SFTMalformedResponse(operation, http_status, op_code, "Response.resultCode missing")
    return Envelope(result_code, op_code, description, response)


def parse_tokens(operation: str, http_status: int | None, data: Any) -> tuple[str, str | None]:
    """Login/RefreshToken body ``{"AccessToken", "RefreshToken"}`` (top level,
    docs/sft-platform.md#login; also accepted inside ``Response``). Returns (access, refresh or
    None)."""
    top = Reader(data, operation, http_status, "body")
    source = top
    if not top.has(wire.ACCESS_TOKEN) and top.has(wire.RESPONSE):
        source = top.obj(wire.RESPONSE)
    return source.req_str(wire.ACCESS_TOKEN), source.opt_str(wire.REFRESH_TOKEN_FIELD)


def jwt_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a JWT (only used to schedule a refresh); ``{}`` if the token
    is not a readable JWT. The token itself is never logged."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
