"""What the traveler agrees to before paying, and the server's refusal to charge without it
(docs/legal.md#acceptance-at-checkout).

Two boxes on the checkout page, each recorded on the ``Checkout`` row as soon as it is
ticked (:func:`record`), so the database, not the tab, holds the acceptance:

* **the terms**, at the version the terms page shows in the traveler's language
  (``services.content``; read on the server, never sent by the browser);
* **immediate start**: the express request that the service starts during the 14-day
  withdrawal period and the acknowledgement of losing the right of withdrawal
  (Directive 2011/83/EU arts. 14(3), 16(a) and 16(m); :data:`IMMEDIATE_START_TEXT`, its
  wording's version :data:`WITHDRAWAL_VERSION`).

:func:`require` is called by ``checkout_payment.pay`` before any charge: a checkout without
both, or with terms that are no longer current, is refused with CheckoutError
``accept_terms`` whatever sent the payment (the page, a forged event, a script).
:func:`copy` puts the recorded acceptance onto the order (``order_creation.create_order``),
and from an automatic top-up rule onto the checkout it opens (the traveler accepted when
turning the rule on: ``auto_topup.enable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n
from travelsim.i18n import N_
from travelsim.models import Checkout, CheckoutStatus, User, utcnow
from travelsim.models.consent import ConsentFields
from travelsim.services import content
from travelsim.services.checkout import owned_checkout_and_order, user_id_of
from travelsim.services.checkout_errors import CheckoutError

__all__ = [
    "AUTO_TOPUP_TEXT",
    "IMMEDIATE_START_TEXT",
    "TERMS_TEXT",
    "WITHDRAWAL_VERSION",
    "Acceptance",
    "apply",
    "copy",
    "current_terms_version",
    "is_current",
    "record",
    "record_of",
    "require",
]

#: The version of :data:`IMMEDIATE_START_TEXT` (and the email line that repeats it): change
#: it whenever that wording changes, so each order says which words the traveler saw.
WITHDRAWAL_VERSION = "crd-2026-12-04"

#: The terms box (``{version}``: the terms page's version; the page links the terms beside it).
TERMS_TEXT = N_("I have read and accept the terms and conditions (version {version}).")
#: The immediate-start box: the express request and the acknowledgement (art. 16(a), (m)).
IMMEDIATE_START_TEXT = N_(
    "I ask for my eSIM to be delivered and its service to start now, within the 14-day "
    "withdrawal period. I acknowledge that I lose my right of withdrawal once the eSIM has "
    "started downloading to my phone or the service has been fully provided, and that if I "
    "withdraw before then I pay for the service provided until I do."
)

#: Shown above "Confirm and turn on" of an automatic top-up: the same two agreements, given
#: once for every top-up the rule will buy (recorded on the rule: ``auto_topup.enable``).
AUTO_TOPUP_TEXT = N_(
    "By confirming, you accept the terms and conditions for each top-up this buys and ask "
    "for each one to start as soon as it is bought. You lose the right of withdrawal for a "
    "top-up once its service has been fully provided; before then, withdrawing costs the "
    "service provided until you do."
)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Both boxes ticked at ``at`` (aware UTC): the terms at ``terms_version`` and the
    immediate-start wording at ``withdrawal_version``."""

    terms_version: str
    withdrawal_version: str
    at: datetime

    @classmethod
    def given_now(cls, locale: str | None = None) -> Acceptance:
        """Both boxes ticked now, on the current terms of ``locale`` (default: the active
        language)."""
        return cls(current_terms_version(locale), WITHDRAWAL_VERSION, utcnow())


def current_terms_version(locale: str | None = None) -> str:
    """The ``version`` of the terms page in ``locale`` (default the active language; its
    English file on fallback). Raises ``content.ContentError`` for a missing terms file."""
    return content.load_page("terms", locale or i18n.current()).version


def is_current(row: ConsentFields | Acceptance) -> bool:
    """Whether ``row`` records both boxes (an :class:`Acceptance` is both, ticked), on terms
    that are current in some language and the current immediate-start wording."""
    terms: str | None
    withdrawal: str | None
    if isinstance(row, Acceptance):
        terms, withdrawal, ticked = row.terms_version, row.withdrawal_version, True
    else:
        terms, withdrawal = row.terms_version, row.withdrawal_version
        ticked = row.terms_accepted_at is not None and row.immediate_start_at is not None
    return (
        ticked
        and withdrawal == WITHDRAWAL_VERSION
        and terms in set(content.terms_versions().values())
    )


def require(checkout: Checkout, acceptance: Acceptance | None = None) -> None:
    """Raise CheckoutError ``accept_terms`` unless ``acceptance`` (given with this payment)
    or, without one, ``checkout`` records a current acceptance (:func:`is_current`). Nothing
    is written."""
    if not is_current(acceptance if acceptance is not None else checkout):
        raise CheckoutError("accept_terms")


def apply(row: ConsentFields, acceptance: Acceptance) -> None:
    """Write ``acceptance`` onto ``row`` (a checkout or an automatic top-up rule). Does not
    commit."""
    row.terms_version = acceptance.terms_version
    row.terms_accepted_at = acceptance.at
    row.withdrawal_version = acceptance.withdrawal_version
    row.immediate_start_at = acceptance.at


def copy(source: ConsentFields, target: ConsentFields) -> None:
    """``source``'s four consent columns onto ``target`` (checkout → order, rule → checkout);
    all ``None`` stay ``None``. Does not commit."""
    target.terms_version = source.terms_version
    target.terms_accepted_at = source.terms_accepted_at
    target.withdrawal_version = source.withdrawal_version
    target.immediate_start_at = source.immediate_start_at


async def record_of(session: AsyncSession, *, checkout_id: str, user: User) -> Checkout:
    """``user``'s checkout ``checkout_id`` as stored (its consent columns). Raises
    CheckoutError ``not_found`` for an unknown or another traveler's checkout."""
    checkout, _order = await owned_checkout_and_order(session, checkout_id, user_id_of(user))
    return checkout


async def record(
    session: AsyncSession,
    *,
    checkout_id: str,
    user: User,
    terms: bool | None = None,
    immediate_start: bool | None = None,
    locale: str | None = None,
) -> Checkout:
    """Record one or both boxes of ``user``'s open checkout (``None``: that box is left as
    recorded), and commit.

    A ticked box is stamped with the current time (UTC) and, for the terms, the current
    terms version in ``locale`` (default the active language); a box already recorded
    keeps its first time while it stays ticked on the same version; an unticked box clears
    its columns. Returns the checkout as stored.

    Raises CheckoutError ``not_found`` (unknown or another traveler's checkout) or
    ``checkout_closed`` (no longer open: nothing changes)."""
    checkout, order = await owned_checkout_and_order(session, checkout_id, user_id_of(user))
    if order is not None or checkout.status != CheckoutStatus.OPEN:
        raise CheckoutError("checkout_closed")
    now = utcnow()
    version = current_terms_version(locale)
    if terms is False:
        checkout.terms_version = checkout.terms_accepted_at = None
    elif terms and (checkout.terms_accepted_at is None or checkout.terms_version != version):
        checkout.terms_version, checkout.terms_accepted_at = version, now
    if immediate_start is False:
        checkout.withdrawal_version = checkout.immediate_start_at = None
    elif immediate_start and (
        checkout.immediate_start_at is None or checkout.withdrawal_version != WITHDRAWAL_VERSION
    ):
        checkout.withdrawal_version, checkout.immediate_start_at = WITHDRAWAL_VERSION, now
    checkout.updated_at = now
    session.add(checkout)
    await session.commit()
    return checkout
