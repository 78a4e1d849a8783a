"""The gift claim page, ``/gifts/claim?token=…`` (docs/business-rules.md#gifts).

The raw token stays in the page's URL (where the email put it) and is read from it by each
handler; no state var holds it. Signed out, the page offers sign-in and sign-up, both coming
back here (``next``: this page with its token). The claim itself re-resolves the signed-in
account and is decided by ``services.gift_claim.claim``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from travelsim import db, urls
from travelsim.i18n import N_, _, localized
from travelsim.services import gift_claim
from travelsim.services.gifts import GiftError
from travelsim.state.session import SessionState

#: What the claim page says for a link it cannot claim now (``ClaimView.problem``).
PROBLEMS = {
    "link_invalid": N_("This gift link is not valid. Check that you opened the whole link."),
    "link_expired": N_(
        "This gift link has expired. Ask the person who sent it to send the email again."
    ),
    "claimed": N_("This gift was already claimed. The link works only once."),
    "cancelled": N_("This gift was taken back by the person who sent it."),
    "unverified": N_(
        "Confirm your email address first with the link we emailed you, then open this page again."
    ),
    "wrong_account": N_(
        "This gift was sent to {address}. Sign in with that address to claim it (you are "
        "signed in as {current})."
    ),
    "signed_out": N_(
        "This gift was sent to {address}. Sign in, or create an account, with that address "
        "to claim it."
    ),
}


class GiftClaimState(SessionState):
    """What the claim page shows: ``problem`` (a :data:`PROBLEMS` key, ``""`` when the
    signed-in account may claim), ``text`` (the words), the buyer's ``message``, and the
    sign-in and sign-up links that come back here."""

    loaded: bool = False
    problem: str = ""
    text: str = ""
    message: str = ""
    signin_url: str = ""
    signup_url: str = ""
    busy: bool = False

    def _token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    def _here(self) -> str:
        return quote(urls.gift_claim(self._token()), safe="")

    @rx.event
    async def load(self) -> None:
        self.busy = False
        await self._show()

    async def _show(self) -> None:
        user = await self._require_user()
        async with db.session() as s:
            view = await gift_claim.claim_view(s, self._token(), user)
        self.problem, self.message = view.problem, view.message
        words = PROBLEMS.get(view.problem)
        self.text = (
            _(words).format(address=view.recipient, current=user.email if user else "")
            if words
            else ""
        )
        self.signin_url = localized(f"{urls.SIGN_IN}?next={self._here()}")
        self.signup_url = localized(f"/signup?next={self._here()}")
        self.loaded = True

    @rx.event
    async def claim(self) -> Any:
        """Claim the gift for the signed-in account, then open the eSIM's page."""
        if self.busy:
            return None
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        self.busy = True
        try:
            async with db.session() as s:
                esim_id = await gift_claim.claim(s, self._token(), user)
        except GiftError:
            self.busy = False
            await self._show()  # the page says why (used, taken back, expired, ...)
            return None
        return rx.redirect(localized(urls.esim(esim_id)))
