"""States of the staff admin pages (``/admin`` and below). Thin: they call
``travelsim.services.admin``.

Access: every event handler here, page loads included, starts by resolving the staff member
from the HttpOnly session cookie (:meth:`AdminState._staff`: staff role, live session and
second factor, ``security.require_staff``), never from its arguments or from state. A
handler called by anyone else changes nothing, loads nothing and sends the tab away
(:meth:`AdminState._deny`). ``is_admin`` only decides what the page draws; it is not trusted.

Lists keep one page of rows in state (the services page on the server with LIMIT/OFFSET).
Slow actions (anything calling SFT) run as background events and report in ``notice``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import reflex as rx

from travelsim import db
from travelsim.services import admin, platform, security
from travelsim.services.admin import ActionResult, PageResult, Staff
from travelsim.settings import get_settings
from travelsim.state.session import SessionState

ANY = "any"


def _opt(value: Any) -> str | None:
    text = str(value or "").strip()
    return None if not text or text == ANY else text[:100]


def _day(value: Any) -> date | None:
    """A date filter already checked by :func:`admin.parse_filter_day`; ``None`` if empty
    (or, defensively, invalid: the search handler refuses those with a notice first)."""
    try:
        return admin.parse_filter_day(_opt(value))
    except ValueError:
        return None


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

    async def _deny(self) -> Any:
        """Forget everything shown and send the tab away: to sign-in when signed out, to the
        second factor when a staff member has not passed it, else home."""
        self.is_admin = False
        self.notice = ""
        self._forget()
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        if user.is_staff:
            async with db.session() as s:
                if await security.needs_second_factor(s, user, self._session_token()):
                    return rx.redirect(security.second_factor_path(self.router.url.path or "/"))
        return rx.redirect("/")

    def _forget(self) -> None:
        """Clear the state's data (overridden by states holding rows)."""

    async def _enter(self) -> Staff | None:
        """Page-load gate: the staff member, with the header and flags set; ``None`` when
        refused (the caller returns :meth:`_deny`)."""
        staff = await self._staff()
        if staff is None:
            return None
        await self._require_user()
        self.notice = ""
        self.notice_result = ""
        self.is_admin = True
        self.on_simulator = get_settings().uses_simulator
        return staff

    def _show(self, outcome: ActionResult) -> None:
        self.notice = outcome.message
        self.notice_result = outcome.result

    @rx.event
    def clear_notice(self) -> None:
        """Hide the notice line (no data involved)."""
        self.notice = ""
        self.notice_result = ""


class ListMixin(rx.State, mixin=True):
    """Server-side paging and sorting of one list: ``page``/``pages``/``total`` and the
    sort column; subclasses implement ``_fetch``."""

    rows: list[dict[str, str]] = []
    total: int = 0
    count_label: str = "0 rows"
    page: int = 1
    pages: int = 1
    per_page: int = 20
    sort: str = ""
    desc: bool = True

    async def _fetch(self) -> PageResult:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _reload(self) -> None:
        result = await self._fetch()
        self.rows = result.rows
        self.total = result.total
        self.count_label = result.count_label
        self.page = result.page
        self.pages = result.pages

    @rx.event
    async def next_page(self) -> Any:
        """Show the next page."""
        if await self._staff() is None:  # type: ignore[attr-defined]
            return await self._deny()  # type: ignore[attr-defined]
        if self.page < self.pages:
            self.page += 1
        await self._reload()
        return None

    @rx.event
    async def prev_page(self) -> Any:
        """Show the previous page."""
        if await self._staff() is None:  # type: ignore[attr-defined]
            return await self._deny()  # type: ignore[attr-defined]
        self.page = max(1, self.page - 1)
        await self._reload()
        return None

    @rx.event
    async def sort_by(self, column: str) -> Any:
        """Sort by ``column`` (whitelisted by the service); again to flip the direction."""
        if await self._staff() is None:  # type: ignore[attr-defined]
            return await self._deny()  # type: ignore[attr-defined]
        if self.sort == column:
            self.desc = not self.desc
        else:
            self.sort = str(column)[:30]
            self.desc = False
        self.page = 1
        await self._reload()
        return None


# ============================================================================ overview
class AdminOverviewState(AdminState):
    """``/admin``: the business at a glance."""

    figures: dict[str, str] = {}
    revenue_today: list[str] = []
    revenue_30d: list[str] = []
    jobs: list[dict[str, str]] = []
    callbacks: dict[str, str] = {}
    low_stock: bool = False
    sft_status: str = "checking…"
    sft_ok: bool = False

    def _forget(self) -> None:
        self.figures, self.jobs, self.callbacks = {}, [], {}
        self.revenue_today, self.revenue_30d = [], []

    @rx.event
    async def load(self) -> Any:
        """Load the figures, then check SFT in the background."""
        if await self._enter() is None:
            return await self._deny()
        async with db.session() as s:
            view = await admin.overview(s)
        self.figures = {
            "orders_today": str(view.orders_today),
            "delivered_today": str(view.delivered_today),
            "delivered_total": str(view.delivered_total),
            "free_esims": str(view.free_esims),
            "threshold": str(view.low_stock_threshold),
            "needs_attention": str(view.needs_attention),
            "flagged": str(view.flagged_payments),
            "replacements": str(view.open_replacements),
        }
        self.low_stock = view.free_esims < view.low_stock_threshold
        self.revenue_today = view.revenue_today
        self.revenue_30d = view.revenue_30d
        self.jobs = view.jobs
        self.callbacks = view.callbacks
        self.sft_status = "checking…"
        return AdminOverviewState.check_sft

    @rx.event(background=True)
    async def check_sft(self) -> None:
        """One cheap SFT call to show reachability."""
        async with self:
            staff = await self._staff()
        if staff is None:
            return
        ok, text = await admin.check_sft(platform.sft_client())
        async with self:
            self.sft_ok = ok
            self.sft_status = text


# ============================================================================ orders
class AdminOrdersState(ListMixin, AdminState):
    """``/admin/orders``: search, filter, one order's steps, and its actions."""

    f_status: str = ANY
    f_traveler: str = ""
    f_iccid: str = ""
    f_reference: str = ""
    f_from: str = ""
    f_to: str = ""
    selected: str = ""
    detail: dict[str, str] = {}
    steps: list[dict[str, str]] = []
    can_retry: bool = False
    can_void: bool = False
    can_refund: bool = False
    can_resend: bool = False
    refund_allowed: bool = False
    payment_action: str = ""

    def _forget(self) -> None:
        self.rows, self.detail, self.steps, self.selected = [], {}, [], ""

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_orders(
                s,
                status=_opt(self.f_status),
                traveler=_opt(self.f_traveler),
                iccid=_opt(self.f_iccid),
                reference=_opt(self.f_reference),
                date_from=_day(self.f_from),
                date_to=_day(self.f_to),
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    async def _load_detail(self) -> None:
        if not self.selected:
            self.detail, self.steps = {}, []
            return
        async with db.session() as s:
            view = await admin.order_detail(s, self.selected)
        if view is None:
            self.selected, self.detail, self.steps = "", {}, []
            return
        self.steps = view.pop("steps")
        for flag in ("can_retry", "can_void", "can_refund", "can_resend", "refund_allowed"):
            setattr(self, flag, bool(view.pop(flag)))
        self.payment_action = str(view.pop("payment_action"))
        self.detail = {k: str(v) for k, v in view.items()}

    @rx.event
    async def load(self) -> Any:
        """Page load; ``?order=<id>`` opens one order, ``?status=`` filters."""
        if await self._enter() is None:
            return await self._deny()
        params = self.router.url.query_parameters
        self.selected = str(params.get("order", ""))[:36]
        status = str(params.get("status", ""))
        self.f_status = status if status in admin.ORDER_STATUSES else ANY
        self.page = 1
        self.notice = ""
        await self._reload()
        await self._load_detail()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_status = str(form.get("status") or ANY)
        self.f_traveler = str(form.get("traveler", ""))[:100]
        self.f_iccid = str(form.get("iccid", ""))[:30]
        self.f_reference = str(form.get("reference", ""))[:20]
        self.f_from = str(form.get("date_from", "")).strip()[:20]
        self.f_to = str(form.get("date_to", "")).strip()[:20]
        for label, text in (("From", self.f_from), ("To", self.f_to)):
            try:
                admin.parse_filter_day(text)
            except ValueError as exc:
                self.notice, self.notice_result = f"{label}: {exc}", "refused"
                return None
        self.notice, self.notice_result = "", ""
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def select(self, order_id: str) -> Any:
        """Open one order's details."""
        if await self._staff() is None:
            return await self._deny()
        self.selected = str(order_id)[:36]
        self.notice = ""
        await self._load_detail()
        return None

    async def _run(self, action: Callable[[Staff], Awaitable[ActionResult]]) -> None:
        async with self:
            if self.busy:
                return
            staff = await self._staff()
            if staff is None:
                self._forget()
                self.is_admin = False
                return
            self.busy = True
            self.notice = "Working…"
            self.notice_result = ""
        try:
            outcome = await action(staff)
        finally:
            async with self:
                self.busy = False
        async with self:
            self._show(outcome)
            await self._reload()
            await self._load_detail()

    @rx.event(background=True)
    async def retry(self) -> None:
        """Retry the selected order's provisioning."""
        order_id = self.selected
        await self._run(
            lambda staff: admin.retry_provisioning(staff, order_id, client=platform.sft_client())
        )

    @rx.event(background=True)
    async def refund(self, form: dict[str, Any]) -> None:
        """Void or refund the selected order's payment (``force_reason`` forces a refund)."""
        order_id = self.selected
        reason = str(form.get("force_reason", ""))[:300]
        await self._run(
            lambda staff: admin.refund_order(
                staff, order_id, client=platform.sft_client(), force_reason=reason
            )
        )

    @rx.event(background=True)
    async def resend(self) -> None:
        """Queue the installation email again."""
        order_id = self.selected
        await self._run(lambda staff: admin.resend_installation_email(staff, order_id))


# ============================================================================ travelers
class AdminTravelersState(ListMixin, AdminState):
    """``/admin/travelers``: search by email; a traveler's eSIMs, orders, requests; staff
    role grant/revoke."""

    f_email: str = ""
    f_staff: bool = False
    selected: str = ""
    person: dict[str, str] = {}
    person_esims: list[dict[str, str]] = []
    person_orders: list[dict[str, str]] = []
    person_requests: list[dict[str, str]] = []

    def _forget(self) -> None:
        self.rows, self.person, self.selected = [], {}, ""
        self.person_esims, self.person_orders, self.person_requests = [], [], []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_travelers(
                s,
                email_query=_opt(self.f_email),
                staff_only=self.f_staff,
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    async def _load_detail(self) -> None:
        view = None
        if self.selected.isdigit():
            async with db.session() as s:
                view = await admin.traveler_detail(s, int(self.selected))
        if view is None:
            self.selected, self.person = "", {}
            self.person_esims, self.person_orders, self.person_requests = [], [], []
            return
        self.person_esims = view.pop("esims")
        self.person_orders = view.pop("orders")
        self.person_requests = view.pop("requests")
        self.person = {
            k: ("yes" if v is True else "" if v is False else str(v)) for k, v in view.items()
        }

    @rx.event
    async def load(self) -> Any:
        """Page load; ``?user=<id>`` opens one account."""
        if await self._enter() is None:
            return await self._deny()
        self.selected = str(self.router.url.query_parameters.get("user", ""))[:12]
        self.page = 1
        self.notice = ""
        await self._reload()
        await self._load_detail()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_email = str(form.get("email", ""))[:100]
        self.f_staff = bool(form.get("staff_only"))
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def select(self, user_id: str) -> Any:
        """Open one account."""
        if await self._staff() is None:
            return await self._deny()
        self.selected = str(user_id)[:12]
        await self._load_detail()
        return None

    async def _role(self, email_address: str, grant: bool) -> Any:
        staff = await self._staff()
        if staff is None:
            return await self._deny()
        self._show(await admin.set_staff(staff, email_address, grant=grant))
        await self._reload()
        await self._load_detail()
        return None

    @rx.event
    async def grant(self, form: dict[str, Any]) -> Any:
        """Grant the staff role to the email typed in the form."""
        return await self._role(str(form.get("email", ""))[:254], True)

    @rx.event
    async def revoke(self, email_address: str) -> Any:
        """Revoke the staff role of ``email_address``."""
        return await self._role(str(email_address)[:254], False)


# ============================================================================ eSIMs
class AdminEsimsState(ListMixin, AdminState):
    """``/admin/esims``: search by ICCID or endpoint id; one eSIM's endpoint, add-ons and
    install status; suspend/resume, refresh, goodwill add-on, replace, simulator controls."""

    f_query: str = ""
    f_state: str = ANY
    selected: str = ""
    esim: dict[str, str] = {}
    addons: list[dict[str, str]] = []
    esim_orders: list[dict[str, str]] = []
    esim_requests: list[dict[str, str]] = []
    suspended: bool = False
    plans: list[dict[str, str]] = []
    goodwill_key: str = ""
    profile_statuses: list[str] = list(admin.PROFILE_STATUSES)

    def _forget(self) -> None:
        self.rows, self.esim, self.addons, self.selected = [], {}, [], ""
        self.esim_orders, self.esim_requests, self.plans = [], [], []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_esims(
                s,
                query_text=_opt(self.f_query),
                state=_opt(self.f_state),
                sort=self.sort or "id",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    async def _load_detail(self) -> None:
        view = None
        if self.selected.isdigit():
            async with db.session() as s:
                view = await admin.esim_detail(s, int(self.selected))
                plans = await admin.list_plans(s, per_page=100)
            self.plans = [
                {"plan_id": p["plan_id"], "label": f"{p['plan_id']} · {p['sft_name']}"}
                for p in plans.rows
                if p["platform"] != "missing"
            ]
        if view is None:
            self.selected, self.esim, self.addons = "", {}, []
            self.esim_orders, self.esim_requests = [], []
            return
        self.addons = view.pop("addons")
        self.esim_orders = view.pop("orders")
        self.esim_requests = view.pop("requests")
        self.suspended = bool(view.pop("suspended"))
        self.esim = {
            k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in view.items()
        }
        self.goodwill_key = str(uuid.uuid4())

    @rx.event
    async def load(self) -> Any:
        """Page load; ``?esim=<id>`` opens one eSIM, ``?q=`` searches."""
        if await self._enter() is None:
            return await self._deny()
        params = self.router.url.query_parameters
        self.selected = str(params.get("esim", ""))[:12]
        if params.get("q"):
            self.f_query = str(params.get("q"))[:40]
        self.page = 1
        self.notice = ""
        await self._reload()
        await self._load_detail()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_query = str(form.get("query", ""))[:40]
        self.f_state = str(form.get("state") or ANY)
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def select(self, esim_id: str) -> Any:
        """Open one eSIM."""
        if await self._staff() is None:
            return await self._deny()
        self.selected = str(esim_id)[:12]
        self.notice = ""
        await self._load_detail()
        return None

    async def _run(self, action: Callable[[Staff, int], Awaitable[ActionResult]]) -> None:
        async with self:
            if self.busy or not self.selected.isdigit():
                return
            staff = await self._staff()
            if staff is None:
                self._forget()
                self.is_admin = False
                return
            self.busy = True
            self.notice = "Working…"
            self.notice_result = ""
            esim_id = int(self.selected)
        try:
            outcome = await action(staff, esim_id)
        finally:
            async with self:
                self.busy = False
        async with self:
            self._show(outcome)
            await self._reload()
            await self._load_detail()

    @rx.event(background=True)
    async def suspend(self) -> None:
        """Suspend the endpoint (staff suspension)."""
        await self._run(
            lambda staff, i: admin.set_suspended(
                staff, i, suspend=True, client=platform.sft_client()
            )
        )

    @rx.event(background=True)
    async def resume(self) -> None:
        """Resume the endpoint."""
        await self._run(
            lambda staff, i: admin.set_suspended(
                staff, i, suspend=False, client=platform.sft_client()
            )
        )

    @rx.event(background=True)
    async def refresh(self) -> None:
        """Re-read the eSIM from SFT."""
        await self._run(lambda staff, i: admin.refresh_esim(staff, i, client=platform.sft_client()))

    @rx.event(background=True)
    async def goodwill(self, form: dict[str, Any]) -> None:
        """Give a goodwill add-on (plan from the form; idempotent per form key)."""
        plan_id = str(form.get("plan_id", ""))[:32]
        note = str(form.get("note", ""))[:200]
        key = str(form.get("request_id", ""))[:36]
        await self._run(
            lambda staff, i: admin.goodwill_addon(
                staff, i, plan_id, request_id=key, note=note, client=platform.sft_client()
            )
        )

    @rx.event(background=True)
    async def replace(self, form: dict[str, Any]) -> None:
        """Replace the eSIM (new eSIM with the live plans, old one suspended)."""
        note = str(form.get("note", ""))[:200]
        await self._run(
            lambda staff, i: admin.replace_esim(staff, i, note=note, client=platform.sft_client())
        )

    @rx.event(background=True)
    async def consume(self, form: dict[str, Any]) -> None:
        """Simulator: consume megabytes on this eSIM."""
        try:
            megabytes = float(str(form.get("megabytes", "0")).replace(",", "."))
        except ValueError:
            megabytes = 0.0
        await self._run(
            lambda staff, i: admin.sim_consume(staff, i, megabytes, client=platform.sft_client())
        )

    @rx.event(background=True)
    async def set_profile(self, form: dict[str, Any]) -> None:
        """Simulator: set this eSIM's profile status."""
        status = str(form.get("status", ""))[:20]
        await self._run(
            lambda staff, i: admin.sim_profile_status(
                staff, i, status, client=platform.sft_client()
            )
        )


# ============================================================================ catalogue
class AdminCatalogueState(ListMixin, AdminState):
    """``/admin/catalogue``: plans, and the editor of one plan's seller fields."""

    f_query: str = ""
    editing: str = ""
    edit: dict[str, str] = {}
    edit_on_sale: bool = False

    def _forget(self) -> None:
        self.rows, self.edit, self.editing = [], {}, ""

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_plans(
                s,
                query_text=_opt(self.f_query),
                sort=self.sort or "plan_id",
                desc=self.desc if self.sort else False,
                page=self.page,
                per_page=self.per_page,
            )

    @rx.event
    async def load(self) -> Any:
        """Page load."""
        if await self._enter() is None:
            return await self._deny()
        self.page, self.editing, self.edit, self.notice = 1, "", {}, ""
        await self._reload()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_query = str(form.get("query", ""))[:40]
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def start_edit(self, plan_id: str) -> Any:
        """Open the editor on one plan (values from the current page's row)."""
        if await self._staff() is None:
            return await self._deny()
        row = next((r for r in self.rows if r["plan_id"] == plan_id), None)
        if row is None:
            return None
        self.editing = plan_id
        self.edit = dict(row)
        self.edit_on_sale = row["on_sale"] == "yes"
        return None

    @rx.event
    async def cancel_edit(self) -> Any:
        """Close the editor."""
        if await self._staff() is None:
            return await self._deny()
        self.editing, self.edit = "", {}
        return None

    @rx.event
    async def save(self, form: dict[str, Any]) -> Any:
        """Save the editor's fields."""
        staff = await self._staff()
        if staff is None:
            return await self._deny()
        outcome = await admin.update_plan(
            staff,
            self.editing,
            display_name=str(form.get("display_name", ""))[:200],
            price=str(form.get("price", ""))[:20],
            currency=str(form.get("currency", ""))[:3],
            destinations=str(form.get("destinations", ""))[:1000],
            on_sale=bool(form.get("on_sale")),
        )
        self._show(outcome)
        if outcome.ok:
            self.editing, self.edit = "", {}
        await self._reload()
        return None


# ============================================================================ outbox, audit
class AdminOutboxState(ListMixin, AdminState):
    """``/admin/outbox``: emails and their delivery state; ``mail_hint`` says where mail
    goes when no SMTP server is configured (empty when one is)."""

    f_status: str = ANY
    f_kind: str = ""
    f_to: str = ""
    mail_hint: str = ""

    def _forget(self) -> None:
        self.rows = []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_outbox(
                s,
                status=_opt(self.f_status),
                kind=_opt(self.f_kind),
                to=_opt(self.f_to),
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    @rx.event
    async def load(self) -> Any:
        """Page load."""
        if await self._enter() is None:
            return await self._deny()
        self.mail_hint = admin.mail_delivery_hint(get_settings()) or ""
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_status = str(form.get("status") or ANY)
        self.f_kind = str(form.get("kind", ""))[:32]
        self.f_to = str(form.get("to", ""))[:100]
        self.page = 1
        await self._reload()
        return None


class AdminAuditState(ListMixin, AdminState):
    """``/admin/audit``: the audit log (read-only)."""

    f_action: str = ""
    f_actor: str = ""
    f_result: str = ANY
    f_target: str = ""

    def _forget(self) -> None:
        self.rows = []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_audit(
                s,
                action=_opt(self.f_action),
                actor=_opt(self.f_actor),
                target=_opt(self.f_target),
                result=_opt(self.f_result),
                sort=self.sort or "at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    @rx.event
    async def load(self) -> Any:
        """Page load; ``?target=`` filters by target id."""
        if await self._enter() is None:
            return await self._deny()
        self.f_target = str(self.router.url.query_parameters.get("target", ""))[:64]
        self.page = 1
        await self._reload()
        return None

    @rx.event
    async def search(self, form: dict[str, Any]) -> Any:
        """Apply the filter form."""
        if await self._staff() is None:
            return await self._deny()
        self.f_action = str(form.get("action", ""))[:40]
        self.f_actor = str(form.get("actor", ""))[:100]
        self.f_result = str(form.get("result") or ANY)
        self.f_target = str(form.get("target", ""))[:64]
        self.page = 1
        await self._reload()
        return None


# ============================================================================ simulator
class AdminSimState(AdminState):
    """``/admin/simulator``: clock and faults of the built-in simulator (never shown, and
    refused by the service, against the real platform)."""

    clock: str = ""
    faults: list[dict[str, str]] = []
    fault_kinds: list[str] = list(admin.FAULT_KINDS)

    def _forget(self) -> None:
        self.clock, self.faults = "", []

    async def _read(self) -> None:
        state = await admin.sim_state()
        self.clock = str(state.get("clock", ""))
        self.faults = [
            {
                "id": str(f.get("id", "")),
                "operation": str(f.get("operation", "")),
                "kind": str(f.get("kind", "")),
                "count": str(f.get("count", "")),
                "fired": str(f.get("fired", "")),
            }
            for f in state.get("faults", [])
        ]

    @rx.event
    async def load(self) -> Any:
        """Page load (controls only on the simulator)."""
        if await self._enter() is None:
            return await self._deny()
        self.notice = ""
        await self._read()
        return None

    async def _act(self, action: Callable[[Staff], Awaitable[ActionResult]]) -> Any:
        staff = await self._staff()
        if staff is None:
            return await self._deny()
        self._show(await action(staff))
        await self._read()
        return None

    @rx.event
    async def advance(self, form: dict[str, Any]) -> Any:
        """Move the simulator clock forward by the form's hours."""
        try:
            hours = float(str(form.get("hours", "0")).replace(",", "."))
        except ValueError:
            hours = 0.0
        return await self._act(lambda staff: admin.sim_advance_clock(staff, hours))

    @rx.event
    async def inject(self, form: dict[str, Any]) -> Any:
        """Inject a fault."""
        try:
            count = int(str(form.get("count", "1")))
        except ValueError:
            count = 0
        operation = str(form.get("operation", "*"))[:40]
        kind = str(form.get("kind", ""))[:30]
        return await self._act(lambda staff: admin.sim_fault(staff, operation, kind, count))

    @rx.event
    async def clear_faults(self) -> Any:
        """Remove every injected fault."""
        return await self._act(admin.sim_clear_faults)


#: Every admin state, for the access tests.
ADMIN_STATES: tuple[type[AdminState], ...] = (
    AdminOverviewState,
    AdminOrdersState,
    AdminTravelersState,
    AdminEsimsState,
    AdminCatalogueState,
    AdminOutboxState,
    AdminAuditState,
    AdminSimState,
)
