"""What every staff admin state shares: the staff gate, the notice line and the one list
mechanism.

Access: every event handler of an admin state, page loads included, is written with
:func:`staff_event` (foreground) or :func:`staff_background` (background). Both resolve the
staff member from the HttpOnly session cookie (:meth:`AdminState._staff`: staff role, live
session and second factor, ``auth.staff.require_staff``), never from the handler's arguments
or from state, before the handler's body runs, and hand it to the body as ``staff``. For
anyone else the body does not run: the tab's admin data is dropped and a foreground handler
sends the tab away (:meth:`AdminState._deny`). ``is_admin`` only decides what the page
draws; it is not trusted.

Sections: :class:`AdminPage` gives a section its ``load`` (the gate, then the section's
``_open``); :class:`ListMixin` is ``load``, ``search``, paging and sorting of one server-side
paged list, each list declaring only its :class:`FormFilter` fields and its ``_fetch``.
Slow actions (anything calling SFT) run as background events through
:meth:`AdminState._perform` and report in ``notice``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Concatenate, Literal, ParamSpec, TypeVar

import reflex as rx

from travelsim.services import admin
from travelsim.services.admin import ActionResult, PageResult, Staff
from travelsim.settings import get_settings
from travelsim.state.session import SessionState

#: The "no filter" value of a choice filter (the first option of its select).
ANY = "any"

_S = TypeVar("_S", bound="AdminState")
_P = ParamSpec("_P")


def filter_value(value: Any) -> str | None:
    """A filter value for a service: ``None`` when empty or :data:`ANY`, else the text
    (stripped, at most 100 characters)."""
    text = str(value or "").strip()
    return None if not text or text == ANY else text[:100]


def filter_day(value: Any) -> date | None:
    """A date filter already checked by :func:`admin.parse_filter_day`; ``None`` if empty
    (or, defensively, invalid: :meth:`ListMixin.search` refuses those with a notice first)."""
    try:
        return admin.parse_filter_day(filter_value(value))
    except ValueError:
        return None


def form_number(text: Any) -> float:
    """A number typed in a form field (``,`` or ``.`` as the decimal mark); ``0.0`` when it
    is not one."""
    try:
        return float(str(text).replace(",", "."))
    except ValueError:
        return 0.0


#: Set (to ``True``) on every handler made by :func:`staff_event` or :func:`staff_background`.
STAFF_GATED = "_staff_gated"


def _register(handler: Callable[..., Any], fn: Callable[..., Any], *, background: bool) -> None:
    """Make ``handler`` (the gate around ``fn``) a Reflex event handler: it shows ``fn``'s
    signature without its ``staff`` parameter (what Reflex binds the page's arguments to)
    and is marked :data:`STAFF_GATED`."""
    signature = inspect.signature(fn)
    this, _staff, *rest = signature.parameters.values()
    handler.__signature__ = signature.replace(parameters=[this, *rest])  # type: ignore[attr-defined]
    setattr(handler, STAFF_GATED, True)
    rx.event(handler, background=background)  # type: ignore[arg-type]  # typed for *args only


def staff_event(
    fn: Callable[Concatenate[_S, Staff, _P], Awaitable[Any]],
) -> Callable[Concatenate[_S, _P], Awaitable[Any]]:
    """An admin event handler that runs only for a staff member.

    Written ``async def name(self, staff: Staff, *args)``; the page sends ``*args`` only.
    The staff member is resolved from the cookie (:meth:`AdminState._staff`) on every call
    and passed as ``staff``; when there is none the body does not run and the handler
    returns :meth:`AdminState._deny`'s redirect. Otherwise it returns what the body returns
    (``None`` or a follow-up event)."""

    @functools.wraps(fn)
    async def handler(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> Any:
        staff = await self._staff()
        if staff is None:
            return await self._deny()
        return await fn(self, staff, *args, **kwargs)

    _register(handler, fn, background=False)
    return handler


def staff_background(
    fn: Callable[Concatenate[_S, Staff, _P], Awaitable[None]],
) -> Callable[Concatenate[_S, _P], Awaitable[None]]:
    """A background admin event (``@rx.event(background=True)``) that runs only for a staff
    member.

    Written ``async def name(self, staff: Staff, *args)``; the page sends ``*args`` only.
    Under the state lock the staff member is resolved from the cookie; when there is none
    the tab's admin data is dropped (:meth:`AdminState._clear`) and nothing else runs. The
    body runs outside the lock and takes it (``async with self``) to write state."""

    @functools.wraps(fn)
    async def handler(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> None:
        async with self:
            staff = await self._staff()
            if staff is None:
                self._clear()
                return
        await fn(self, staff, *args, **kwargs)

    _register(handler, fn, background=True)
    return handler


class AdminState(SessionState):
    """Base of the admin states: the staff gate, the notice line and the simulator flag."""

    is_admin: bool = False
    on_simulator: bool = False
    notice: str = ""
    notice_result: str = ""
    busy: bool = False

    async def _staff(self) -> Staff | None:
        """The staff member behind this tab's cookie (re-checked on every call)."""
        return await admin.staff_user(self._session_token())

    def _clear(self) -> None:
        """Forget everything shown: the admin flag, the notice and the section's data."""
        self.is_admin = False
        self.notice = ""
        self._forget()

    async def _deny(self) -> Any:
        """Forget everything shown and send the tab away: to sign-in when signed out, to the
        second factor when a staff member has not passed it, else home."""
        self._clear()
        user = await self._require_user()
        if user is None:  # signed out, or a session that still owes its second factor
            return self._signin_redirect()
        return rx.redirect("/")

    def _forget(self) -> None:
        """Clear the section's data (overridden by states holding rows)."""

    async def _refresh(self) -> None:
        """Re-read what the page shows after an action (overridden by the sections)."""

    async def _report(self, outcome: ActionResult) -> None:
        """Show an action's outcome in the notice, then re-read the page (:meth:`_refresh`)."""
        self.notice = outcome.message
        self.notice_result = outcome.result
        await self._refresh()

    async def _perform(self, action: Callable[[], Awaitable[ActionResult]]) -> None:
        """Run one slow staff action from a background event: one at a time per tab
        (``busy``; a second click while one runs does nothing), "Working…" in the notice
        meanwhile, then its outcome (:meth:`_report`). The caller has passed the staff
        gate (:func:`staff_background`)."""
        async with self:
            if self.busy:
                return
            self.busy = True
            self.notice = "Working…"
            self.notice_result = ""
        try:
            outcome = await action()
        finally:
            async with self:
                self.busy = False
        async with self:
            await self._report(outcome)


class AdminPage(AdminState, mixin=True):
    """An admin section's page: its ``load`` (the staff gate, then the section's
    :meth:`_open`)."""

    @staff_event
    async def load(self, staff: Staff) -> Any:
        """Page load: the header's user, ``is_admin`` and the simulator flag set, the notice
        emptied, then the section's :meth:`_open` (its return value: ``None`` or a follow-up
        event)."""
        await self._require_user()
        self.notice = ""
        self.notice_result = ""
        self.is_admin = True
        self.on_simulator = get_settings().uses_simulator
        return await self._open()

    async def _open(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class FormFilter:
    """One field of a list's filter form: the state var ``var`` (the form's value, kept for
    the page) set from form field ``key``.

    ``kind``: ``text`` (at most ``max_len`` characters), ``choice`` (empty means
    :data:`ANY`), ``flag`` (a checkbox: present means ``True``) or ``day`` (a UTC date
    ``YYYY-MM-DD`` or empty, outer spaces removed, at most 20 characters; one that
    :func:`admin.parse_filter_day` rejects is refused with ``label`` in the notice)."""

    var: str
    key: str
    kind: Literal["text", "choice", "flag", "day"] = "text"
    max_len: int = 100
    label: str = ""

    def read(self, form: Mapping[str, Any]) -> str | bool:
        """This field's value in the submitted ``form``."""
        if self.kind == "choice":
            return str(form.get(self.key) or ANY)
        if self.kind == "flag":
            return bool(form.get(self.key))
        if self.kind == "day":
            return str(form.get(self.key, "")).strip()[:20]
        return str(form.get(self.key, ""))[: self.max_len]

    def refusal(self, value: Any) -> str | None:
        """Why ``value`` cannot be searched for (a ``day`` that does not parse), or ``None``."""
        if self.kind != "day":
            return None
        try:
            admin.parse_filter_day(str(value))
        except ValueError as exc:
            return f"{self.label}: {exc}"
        return None


class ListMixin(AdminPage, mixin=True):
    """One server-side paged list: ``rows`` of ``page``/``pages`` (``total`` rows), the sort
    column and direction, and the handlers every list has (``load``, ``search``,
    ``next_page``, ``prev_page``, ``sort_by``). A section declares its ``filters`` and
    implements ``_fetch``; it may read the page URL in ``_on_open`` and keep one open record
    fresh in ``_load_detail``."""

    rows: list[dict[str, str]] = []
    total: int = 0
    count_label: str = "0 rows"
    page: int = 1
    pages: int = 1
    per_page: int = 20
    sort: str = ""
    desc: bool = True

    #: The fields of the section's filter form, in the form's order.
    filters: ClassVar[tuple[FormFilter, ...]] = ()

    async def _fetch(self) -> PageResult:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_open(self, query: Mapping[str, str]) -> None:
        """On page load, before the first read: the selection and filters the URL's
        ``query`` carries, and anything else the page shows (default: nothing)."""

    async def _load_detail(self) -> None:
        """Re-read the section's open record, if it has one (default: none)."""

    async def _reload(self) -> None:
        result = await self._fetch()
        self.rows = result.rows
        self.total = result.total
        self.count_label = result.count_label
        self.page = result.page
        self.pages = result.pages

    async def _refresh(self) -> None:
        await self._reload()
        await self._load_detail()

    async def _open(self) -> Any:
        self._on_open(self.router.url.query_parameters)
        self.page = 1
        await self._refresh()
        return None

    @staff_event
    async def search(self, staff: Staff, form: dict[str, Any]) -> None:
        """Apply the filter form (each of ``filters`` from its field), then show page 1. A
        date that does not parse is refused in the notice and nothing is read; when the
        form's dates parse, an earlier refusal of them is cleared."""
        for field in self.filters:
            setattr(self, field.var, field.read(form))
        days = [field for field in self.filters if field.kind == "day"]
        for field in days:
            refusal = field.refusal(getattr(self, field.var))
            if refusal is not None:
                self.notice, self.notice_result = refusal, "refused"
                return
        if days:
            self.notice, self.notice_result = "", ""
        self.page = 1
        await self._reload()

    @staff_event
    async def next_page(self, staff: Staff) -> None:
        """Show the next page."""
        if self.page < self.pages:
            self.page += 1
        await self._reload()

    @staff_event
    async def prev_page(self, staff: Staff) -> None:
        """Show the previous page."""
        self.page = max(1, self.page - 1)
        await self._reload()

    @staff_event
    async def sort_by(self, staff: Staff, column: str) -> None:
        """Sort by ``column`` (whitelisted by the service); again to flip the direction."""
        if self.sort == column:
            self.desc = not self.desc
        else:
            self.sort = str(column)[:30]
            self.desc = False
        self.page = 1
        await self._reload()
