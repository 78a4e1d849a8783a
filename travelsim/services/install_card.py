"""The printable install card of one eSIM: what its owner needs to install it with no network
(airport Wi-Fi behind a captive portal), as one read model that the HTML page
(:mod:`travelsim.services.install_card_html`) and the PDF
(:mod:`travelsim.services.install_card_pdf`) both draw (docs/esim.md#offline-install-card).

Only the owner gets a card: :func:`install_card` takes the signed-in user and returns ``None``
for an eSIM that is not theirs or whose activation code is not stored yet (the route answers
the same 404). Every text is in the language the card is built for (``locale``), amounts and
dates through Babel (:mod:`travelsim.formatting`, :mod:`travelsim.timefmt`), times in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from babel.dates import format_date
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n, timefmt
from travelsim.formatting import format_bytes, format_days, format_money
from travelsim.i18n import N_, _
from travelsim.models import EsimAddon, Order, Plan, PurchaseKind, User
from travelsim.services import installation
from travelsim.services.installation import InstallView, SupportContact
from travelsim.services.plan_texts import plan_titles

__all__ = ["LABELS", "InstallCard", "install_card"]

#: The card's own texts (msgids), translated into the card's language by :func:`install_card`.
LABELS: dict[str, str] = {
    "title": N_("eSIM install card"),
    "lead": N_(
        "Keep this card for the day you install your eSIM: it works without a network. "
        "Scan the QR code from another screen or paper, or enter the details by hand."
    ),
    "secret": N_(
        "Anyone with this QR code or activation code can install your eSIM: keep it to yourself."
    ),
    "qr": N_("eSIM installation QR code"),
    "codes": N_("Enter it manually"),
    "smdp": N_("SM-DP+ address"),
    "matching_id": N_("Activation code"),
    "lpa": N_("Full activation code (one line)"),
    "apn": N_("APN"),
    "plan_heading": N_("Your plan"),
    "steps_heading": N_("Step by step"),
    "support_heading": N_("Need help?"),
    "support": N_("Contact support: {contacts}."),
    "print": N_("Print this card"),
    "plan": N_("Plan"),
    "data": N_("Data"),
    "validity": N_("Validity"),
    "expires": N_("Expires"),
    "order": N_("Order"),
    "paid": N_("Paid"),
    "iccid": N_("ICCID"),
    "made": N_("Card made {when}"),
}


@dataclass(frozen=True)
class InstallCard:
    """One eSIM's install card for its owner, every text already in ``locale``.

    ``qr_png``: the activation-code QR (PNG bytes); ``lpa``: the one-line ``LPA:1$…`` code;
    ``smdp_address``/``matching_id``: the manual-entry fields; ``apn``: what
    :func:`travelsim.services.installation.apn_for` says. ``facts``: (label, value) rows of
    the plan and the order; ``steps``: (platform, steps) as on the install page; ``texts``:
    :data:`LABELS` translated; ``confirmation``: who gives the confirmation code ("" when the
    profile needs none). The secret fields are left out of ``repr``.
    """

    esim_id: int
    locale: str
    iccid: str
    qr_png: bytes = field(repr=False)
    lpa: str = field(repr=False)
    smdp_address: str
    matching_id: str = field(repr=False)
    apn: str
    facts: tuple[tuple[str, str], ...]
    steps: tuple[tuple[str, tuple[str, ...]], ...]
    install_once: str
    confirmation: str
    support: SupportContact
    texts: dict[str, str]


async def install_card(
    session: AsyncSession, *, user: User, esim_id: int, locale: str, now: datetime
) -> InstallCard | None:
    """The install card of ``esim_id`` for its owner ``user`` in ``locale`` (one of
    :data:`travelsim.i18n.LOCALES`), made at ``now`` (aware UTC, printed on the card);
    ``None`` when the eSIM is not ``user``'s or its code is not stored yet (answer 404)."""
    view = await installation.install_view(session, user=user, esim_id=esim_id)
    if view is None or view.lpa is None or view.smdp_address is None:
        return None
    png = await installation.qr_png_for(session, user=user, esim_id=esim_id)
    if png is None:
        return None
    with i18n.using(locale):
        order, plan = await _purchase(session, view.esim_id)
        facts = await _facts(session, view, order, plan)
        return _card(view, png, plan, facts, locale, now)


def _card(
    view: InstallView,
    png: bytes,
    plan: Plan | None,
    facts: tuple[tuple[str, str], ...],
    locale: str,
    now: datetime,
) -> InstallCard:
    texts = {key: _(text) for key, text in LABELS.items()}
    texts["made"] = texts["made"].format(when=timefmt.local_datetime(now, "UTC"))
    return InstallCard(
        esim_id=view.esim_id,
        locale=locale,
        iccid=view.iccid,
        qr_png=png,
        lpa=view.lpa or "",
        smdp_address=view.smdp_address or "",
        matching_id=view.matching_id or "",
        apn=installation.apn_for(plan),
        facts=facts,
        steps=tuple(
            (name, tuple(_(step) for step in steps)) for name, steps in installation.INSTALL_STEPS
        ),
        install_once=_(installation.INSTALL_ONCE),
        confirmation=_(installation.CONFIRMATION_CODE_LEAD)
        if view.confirmation_code_required
        else "",
        support=installation.support_contact(),
        texts=texts,
    )


async def _purchase(session: AsyncSession, esim_id: int) -> tuple[Order | None, Plan | None]:
    """The order that bought the eSIM (its first ``new_esim`` order) and its plan."""
    order = (
        await session.exec(
            select(Order)
            .where(col(Order.esim_id) == esim_id, col(Order.kind) == PurchaseKind.NEW_ESIM)
            .order_by(col(Order.created_at))
            .limit(1)
        )
    ).first()
    plan = await session.get(Plan, order.plan_id) if order is not None else None
    return order, plan


async def _facts(
    session: AsyncSession, view: InstallView, order: Order | None, plan: Plan | None
) -> tuple[tuple[str, str], ...]:
    """The plan and order rows of the card, in the active language."""
    rows: list[tuple[str, str]] = []
    if plan is not None:
        names = await plan_titles(session, [plan.plan_id])
        rows.append((_(LABELS["plan"]), names.get(plan.plan_id, plan.sft_name)))
        rows.append((_(LABELS["data"]), format_bytes(plan.volume_bytes)))
        rows.append((_(LABELS["validity"]), _validity(plan)))
    expires = await _expires_at(session, order)
    if expires is not None:
        rows.append((_(LABELS["expires"]), timefmt.local_datetime(expires, "UTC")))
    if order is not None:
        rows.append((_(LABELS["order"]), order.reference))
        paid_on = format_date(order.created_at, format="long", locale=i18n.format_locale())
        paid = format_money(order.amount_minor, order.currency)
        rows.append((_(LABELS["paid"]), f"{paid} · {paid_on}"))
    rows.append((_(LABELS["iccid"]), view.iccid))
    return tuple(rows)


def _validity(plan: Plan) -> str:
    """``"30 days"`` and when they start (the plan's ``activated_by``)."""
    days = format_days(plan.validity_days)
    if plan.activated_by == "on_usage":
        start = _("Validity starts at your first data use at the destination.")
    else:
        start = _("Validity starts at purchase.")
    return f"{days}. {start}"


async def _expires_at(session: AsyncSession, order: Order | None) -> datetime | None:
    """When the purchased plan ends, once the platform reported it (``EsimAddon.expires_at``)."""
    if order is None or not order.addon_unique_id:
        return None
    addon = (
        await session.exec(
            select(EsimAddon).where(col(EsimAddon.unique_id) == order.addon_unique_id)
        )
    ).first()
    return addon.expires_at if addon is not None else None
