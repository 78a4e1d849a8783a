"""Order page: provisioning progress, live, from the database rows the steps write."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from travelsim import db, urls
from travelsim.i18n import N_, _, localized
from travelsim.models import OrderStatus, PurchaseKind
from travelsim.services import orders
from travelsim.state.session import SessionState, _uid

#: What each provisioning step does, as the traveler reads it, for a new eSIM...
STEP_LABELS = {
    "activate": N_("Activating your eSIM on the network"),
    "subscribe": N_("Adding your data plan"),
    "fetch_code": N_("Preparing your installation QR code"),
    "deliver": N_("Delivering your eSIM"),
    "resume": N_("Resuming your eSIM"),
}
#: ... and for a top-up: the data plan goes onto the eSIM the traveler already has
#: (the activation step only checks that eSIM is active, resuming it if suspended).
TOPUP_STEP_LABELS = {
    "activate": N_("Checking your eSIM is active on the network"),
    "subscribe": N_("Adding the data plan to your eSIM"),
    "deliver": N_("Confirming your top-up"),
    "resume": N_("Resuming your eSIM"),
}
#: A step's badge (``orders.shown_step_status``), as the traveler reads it.
STATUS_LABELS = {
    "pending": N_("pending"),
    "running": N_("running"),
    "done": N_("done"),
    "retrying": N_("retrying"),
    "failed": N_("failed"),
}
FINAL = {OrderStatus.DELIVERED, OrderStatus.NEEDS_ATTENTION}
WATCH_SECONDS = 300


class OrderState(SessionState):
    order_id: str = ""
    reference: str = ""
    #: "Order <reference>", in the page's language.
    heading: str = ""
    status: str = ""
    plan_title: str = ""
    amount: str = ""
    esim_id: str = ""
    #: The eSIM's page and its installation page (links once delivered).
    esim_url: str = ""
    install_url: str = ""
    #: The order buys more data for an eSIM the traveler has (else a new eSIM).
    is_topup: bool = False
    #: The viewer holds the eSIM (else a gift: its links are the recipient's).
    holder: bool = True
    #: The payment was refunded: the order's service is withdrawn.
    refunded: bool = False
    steps: list[dict[str, str]] = []
    retrying: bool = False
    destination_name: str = ""
    destination_flag: str = ""
    not_found: bool = False
    watching: bool = False

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            yield self._signin_redirect()
            return
        order_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:36]
        if order_id != self.order_id:
            # Another order than the one this tab showed last: never show its progress or
            # its "ready" message while this one loads.
            self.order_id = order_id
            self.reference, self.status, self.plan_title, self.amount = "", "", "", ""
            self.heading = ""
            self.steps, self.retrying = [], False
            self.destination_name = self.destination_flag = ""
            yield
        if not await self._refresh(_uid(user)):
            return
        if self.status not in FINAL:
            yield OrderState.watch

    async def _refresh(self, user_id: int) -> bool:
        return self._apply(await self._fetch(user_id))

    async def _fetch(self, user_id: int) -> orders.OrderView | None:
        async with db.session() as s:
            return await orders.order_view(s, order_id=self.order_id, user_id=user_id)

    def _apply(self, view: orders.OrderView | None) -> bool:
        if view is None:
            self.not_found = True
            return False
        self.not_found = False
        self.reference = view.reference
        self.heading = _("Order {reference}").format(reference=view.reference)
        self.status = view.status
        self.plan_title = view.plan_title
        self.amount = view.amount
        self.esim_id = str(view.esim_id)
        self.esim_url = localized(urls.esim(view.esim_id))
        self.install_url = localized(urls.install(view.esim_id))
        self.is_topup = view.kind == PurchaseKind.TOPUP
        self.holder = view.holder
        self.refunded = view.refunded
        # "Still setting up" once a retry is coming (in this run or scheduled).
        self.retrying = view.retry_pending
        self.destination_name = view.destination_name
        self.destination_flag = view.destination_flag
        labels = TOPUP_STEP_LABELS if view.kind == PurchaseKind.TOPUP else STEP_LABELS
        self.steps = [
            {
                "name": st.name,
                "label": _(labels[st.name]) if st.name in labels else st.name,
                "status": st.shown,
                "status_label": _(STATUS_LABELS[st.shown])
                if st.shown in STATUS_LABELS
                else st.shown,
            }
            for st in view.steps
        ]
        return True

    @rx.event(background=True)
    async def watch(self) -> None:
        """Follow provisioning until it ends (or WATCH_SECONDS pass). Only watches: the
        payment service started the run (``checkout_payment``), and an order left mid-way
        is resumed by the recovery job (``jobs.runs.run_recovery``), an automatic retry by its
        schedule."""
        async with self:
            if self.watching:
                return
            self.watching = True
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WATCH_SECONDS
            while loop.time() < deadline:
                user = await self._current_user()
                view = await self._fetch(_uid(user)) if user is not None else None
                async with self:
                    if not self._apply(view) or self.status in FINAL:
                        return
                await asyncio.sleep(0.5)
        finally:
            async with self:
                self.watching = False
