"""Event arguments checked against the handler's annotations before the handler runs.

Reflex hands an event's payload to the handler as keyword arguments after converting only
a few cases (a string to an ``int``/``float``/enum, a list to a set or tuple, a dict to a
model: ``reflex_base.event.processor.base_state_processor._transform_event_payload``); any
other value, of any type or size, reaches the handler as the browser (or a forged
websocket frame) sent it, and a missing or extra key makes the call itself raise. An
exception there is a server traceback and a generic error toast.

:class:`ValidatedEvents` is a base class of the states: every event handler of a state that
inherits it (``SessionState``, so every traveler and admin state) is wrapped when Reflex
creates it (``BaseState._create_event_handler``), so no handler can forget it. Before the
body runs the wrapper checks that

* the payload binds to the signature (no missing, no unknown argument);
* each argument validates, in pydantic's strict mode, against its annotation
  (``str``, ``bool``, ``dict[str, Any]``...); an unannotated or ``Any`` argument must be a
  JSON scalar (text, number, true/false, null): a page never sends more;
* no text is longer than :data:`TEXT_MAX` characters, no integer outside the 64-bit range,
  and a dict (a submitted form) has at most :data:`FORM_FIELDS_MAX` fields whose values
  are JSON scalars (what a form submits), so nested ``{"$gt": ""}`` values never reach a
  service.

Otherwise the body does not run, nothing changes, a warning line (handler and reason, no
value) is logged and the tab gets the toast :data:`NOT_UNDERSTOOD`
(docs/architecture.md#security-origins-csrf-and-event-arguments).

The same wrapper runs the body with the language of the event's page active
(:func:`travelsim.state.language.page_locale`), so every text a handler makes is in the
traveler's language (docs/i18n.md#texts-made-at-run-time).
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import reflex as rx

from travelsim import i18n
from travelsim.i18n import N_
from travelsim.state.language import page_locale

log = logging.getLogger(__name__)

#: What the tab shows when an event's arguments do not fit its handler.
NOT_UNDERSTOOD = N_("That request was not understood. Reload the page and try again.")
#: Longest accepted text argument or form value, in characters (a pasted address or
#: nickname is far below; 1 MB strings are refused).
TEXT_MAX = 10_000
#: Most fields accepted in one submitted form (dict argument).
FORM_FIELDS_MAX = 50
_INT_LIMIT = 2**63
#: Set on every wrapper, so a handler is never wrapped twice (mixins copy functions).
_MARK = "_travelsim_validated"

_Scalar = str | bool | int | float | None


class ArgumentError(ValueError):
    """An event argument does not fit its handler (the message names the argument)."""


@functools.cache
def _adapter(hint: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(hint, config=pydantic.ConfigDict(strict=True))


def _check_value(name: str, value: Any, *, depth: int = 0) -> None:
    """Sizes: text length, integer range, form shape (recursively, one level of dict)."""
    if isinstance(value, str):
        if len(value) > TEXT_MAX:
            raise ArgumentError(f"{name}: text longer than {TEXT_MAX} characters")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            raise ArgumentError(f"{name}: integer out of range")
    elif isinstance(value, dict) and depth == 0:
        if len(value) > FORM_FIELDS_MAX:
            raise ArgumentError(f"{name}: more than {FORM_FIELDS_MAX} fields")
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > 200:
                raise ArgumentError(f"{name}: field name is not a short text")
            if not isinstance(item, _Scalar):  # type: ignore[arg-type]
                raise ArgumentError(f"{name}.{key[:40]}: not a form value")
            _check_value(f"{name}.{key[:40]}", item, depth=1)
    elif isinstance(value, list) and depth == 0:
        for item in value[: FORM_FIELDS_MAX + 1]:
            _check_value(name, item, depth=1)
        if len(value) > FORM_FIELDS_MAX:
            raise ArgumentError(f"{name}: more than {FORM_FIELDS_MAX} items")
    else:
        raise ArgumentError(f"{name}: unexpected {type(value).__name__}")


def check_arguments(
    signature: inspect.Signature, hints: Mapping[str, Any], args: tuple[Any, ...], kwargs: dict
) -> None:
    """Raise :class:`ArgumentError` unless ``args``/``kwargs`` (without ``self``) bind to
    ``signature`` and every bound value validates against ``hints`` (module docstring)."""
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise ArgumentError(f"arguments do not fit: {exc}") from None
    for name, value in list(bound.arguments.items())[1:]:
        hint = hints.get(name, Any)
        if hint is Any:
            hint = _Scalar
        try:
            _adapter(hint).validate_python(value)
        except pydantic.ValidationError:
            raise ArgumentError(f"{name}: not a {hint}") from None
        _check_value(name, value)


def _refusal(fn: Callable[..., Any], exc: ArgumentError) -> Any:
    log.warning("event %s refused: %r", fn.__qualname__, str(exc))  # repr: one line
    return rx.toast.error(i18n.gettext(NOT_UNDERSTOOD))


def validated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (an event handler function: plain, coroutine or async generator) wrapped so
    its arguments are checked first; same signature, annotations and Reflex markers
    (``functools.wraps``). A refused call returns (or yields) the :data:`NOT_UNDERSTOOD`
    toast without running ``fn``."""
    if getattr(fn, _MARK, False) or not callable(fn):
        return fn
    signature = inspect.signature(fn)
    hints: dict[str, Any] = {}
    resolved = False

    def check(args: tuple[Any, ...], kwargs: dict) -> None:
        nonlocal hints, resolved
        if not resolved:  # annotations name things defined after the class body
            hints = typing.get_type_hints(fn)
            resolved = True
        check_arguments(signature, hints, args, kwargs)

    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(fn):

        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            locale = page_locale(self)
            with i18n.using(locale):
                try:
                    check(args, kwargs)
                except ArgumentError as exc:
                    yield _refusal(fn, exc)
                    return
            steps = fn(self, *args, **kwargs)
            try:
                while True:  # the language is set around each step, never across a yield
                    with i18n.using(locale):
                        try:
                            event = await steps.__anext__()
                        except StopAsyncIteration:
                            return
                    yield event
            finally:
                await steps.aclose()

    elif inspect.iscoroutinefunction(fn):

        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with i18n.using(page_locale(self)):
                try:
                    check(args, kwargs)
                except ArgumentError as exc:
                    return _refusal(fn, exc)
                return await fn(self, *args, **kwargs)

    else:

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with i18n.using(page_locale(self)):
                try:
                    check(args, kwargs)
                except ArgumentError as exc:
                    return _refusal(fn, exc)
                return fn(self, *args, **kwargs)

    functools.update_wrapper(wrapper, fn)
    # A handler already wrapped by a decorator (the admin's staff gate) keeps pointing at
    # its own function: this check is transparent to what introspects the handler.
    setattr(wrapper, "__wrapped__", getattr(fn, "__wrapped__", fn))  # noqa: B010
    setattr(wrapper, "__signature__", signature)  # noqa: B010 - functions take any attribute
    setattr(wrapper, _MARK, True)
    return wrapper


class ValidatedEvents:
    """Base placed before ``rx.State`` (``class S(ValidatedEvents, rx.State)``): every
    event handler Reflex creates for ``S`` and its subclasses goes through
    :func:`validated` first (module docstring). A plain class, not a Reflex mixin: Reflex
    refuses a state whose body defines a built-in method's name."""

    @classmethod
    def _create_event_handler(cls, fn: Any, *args: Any, **kwargs: Any) -> Any:
        create = super()._create_event_handler  # type: ignore[misc]
        return create(validated(fn), *args, **kwargs)

    # Reflex's own marker (``reflex.state._override_base_method``) for a deliberate
    # override of a built-in state method, which it otherwise refuses.
    _create_event_handler.__func__.__override_base_method__ = True  # type: ignore[attr-defined]
