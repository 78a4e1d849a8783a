"""The checkout's two consent boxes (docs/legal.md#acceptance-at-checkout): the terms, at the
version the terms page shows in the page's language, and the express request for immediate
start with the acknowledgement of losing the right of withdrawal.

Each tick is recorded on the checkout at once (``consent.record``: the checkout id is the
URL's, ownership is checked there), so the database holds what was agreed and when. The
state only mirrors it: ``checkout_payment.pay`` refuses any payment whose checkout does not
record both, whatever event asked for it. The texts are in ``services.consent`` (with their
versions) and re-exported here for the component.
"""

from __future__ import annotations

import logging

import reflex as rx

from travelsim import db
from travelsim.i18n import _
from travelsim.services import consent, content
from travelsim.services.checkout_errors import CheckoutError
from travelsim.services.consent import AUTO_TOPUP_TEXT, IMMEDIATE_START_TEXT, TERMS_TEXT
from travelsim.state.buy_messages import error_text
from travelsim.state.session import SessionState

__all__ = ["AUTO_TOPUP_TEXT", "IMMEDIATE_START_TEXT", "TERMS_TEXT", "BuyConsentState"]

log = logging.getLogger(__name__)


class BuyConsentState(SessionState):
    """The boxes of the checkout in the URL (``?checkout=``), as its row records them."""

    #: The terms box is ticked and recorded on the current terms version.
    terms: bool = False
    #: The immediate-start box is ticked and recorded.
    immediate_start: bool = False
    #: The current terms version in the page's language.
    terms_version: str = ""
    #: The terms box's words with that version, in the page's language.
    terms_label: str = ""
    error: str = ""

    @rx.var
    def accepted(self) -> bool:
        """Both boxes recorded: what the Pay button waits for."""
        return self.terms and self.immediate_start

    def _checkout_id(self) -> str:
        return self.router.url.query_parameters.get("checkout", "")[:36]

    @rx.event
    async def load(self) -> None:
        """Show what the checkout already records (a reload keeps the ticks; terms changed
        since: unticked)."""
        self.terms = self.immediate_start = False
        self.error = ""
        try:
            self.terms_version = consent.current_terms_version()
        except content.ContentError:
            log.exception("terms page unavailable")
            self.terms_version = ""
        self.terms_label = _(TERMS_TEXT).format(version=self.terms_version)
        user = await self._require_user()
        checkout_id = self._checkout_id()
        if user is None or not checkout_id:
            return
        try:
            async with db.session() as s:
                row = await consent.record_of(s, checkout_id=checkout_id, user=user)
        except CheckoutError:
            return
        self.terms = row.terms_version == self.terms_version and row.terms_accepted_at is not None
        self.immediate_start = (
            row.withdrawal_version == consent.WITHDRAWAL_VERSION
            and row.immediate_start_at is not None
        )

    async def _record(
        self, *, terms: bool | None = None, immediate_start: bool | None = None
    ) -> None:
        """Record one box (the other stays as the checkout records it: never what this tab
        says of it)."""
        user = await self._require_user()
        checkout_id = self._checkout_id()
        if user is None or not checkout_id:
            return
        try:
            async with db.session() as s:
                row = await consent.record(
                    s,
                    checkout_id=checkout_id,
                    user=user,
                    terms=terms,
                    immediate_start=immediate_start,
                )
        except CheckoutError as exc:
            self.error = error_text(exc.code, exc.message)
            return
        self.error = ""
        self.terms_version = consent.current_terms_version()
        self.terms_label = _(TERMS_TEXT).format(version=self.terms_version)
        self.terms = row.terms_accepted_at is not None and row.terms_version == self.terms_version
        self.immediate_start = row.immediate_start_at is not None

    @rx.event
    async def set_terms(self, value: bool) -> None:
        """The terms box: recorded (ticked) or cleared (unticked) on the checkout."""
        await self._record(terms=value)

    @rx.event
    async def set_immediate_start(self, value: bool) -> None:
        """The immediate-start box: recorded (ticked) or cleared (unticked)."""
        await self._record(immediate_start=value)
