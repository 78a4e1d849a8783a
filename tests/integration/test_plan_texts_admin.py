"""Plan texts edited by staff (docs/i18n.md#plan-texts): the admin editor's fields
(``state.admin.catalogue.form_texts``) through ``admin.update_plan``, audited, then the
offers in each language and the plan list read them, and a blank field falls back to English.
Real migrated SQLite; the plan as checkout_support's catalogue gives it ("France 1 GB")."""

from __future__ import annotations

from checkout_support import add_plan
from sqlmodel import col, select

from travelsim import db, i18n
from travelsim.models import AuditLog, Plan, PlanText, User
from travelsim.services import admin, catalogue, plan_texts
from travelsim.services.admin import Staff
from travelsim.settings import Settings
from travelsim.state.admin.catalogue import form_texts


async def _staff() -> Staff:
    async with db.session() as s:
        user = User(email="boss@example.com", password_hash="x", is_staff=True)
        s.add(user)
        await s.commit()
        await s.refresh(user)
    assert user.id is not None
    return Staff(user.id, user.email)


async def _edit(staff: Staff, form: dict[str, str]) -> admin.ActionResult:
    """Save the editor as the admin page does: the plan's other fields unchanged
    (checkout_support's plan: EUR 9.90)."""
    return await admin.update_plan(
        staff,
        "870101",
        display_name="France 1 GB",
        price="9.90",
        currency="EUR",
        destinations="FR",
        on_sale=True,
        texts=form_texts(form),
    )


async def _offer(locale: str) -> catalogue.Offer:
    with i18n.using(locale):
        async with db.session() as s:
            plans = await catalogue.sellable_plans(s)
            texts = await plan_texts.texts_for(s, [p.plan_id for p in plans])
        (offer,) = catalogue.offers_for_country(plans, "FR", texts=texts)
    return offer


async def _audit_details() -> list[str]:
    async with db.session() as s:
        rows = await s.exec(
            select(AuditLog).where(col(AuditLog.action) == "plan.update").order_by(col(AuditLog.id))
        )
        return [r.detail for r in rows.all()]


async def test_staff_writes_the_french_name_and_the_french_offer_shows_it(
    sqlite_db: Settings,
) -> None:
    await add_plan()
    staff = await _staff()
    ok = await _edit(
        staff,
        {
            "text_fr_display_name": "France 1 Go",
            "text_fr_description": "Votre forfait démarre à votre arrivée en France.",
            "text_de_display_name": "Frankreich 1 GB",
        },
    )
    assert ok.result == "ok", ok.message
    fr = await _offer("fr")
    assert fr.title == "France 1 Go"
    assert fr.activation_policy == "Votre forfait démarre à votre arrivée en France."
    assert (await _offer("de")).title == "Frankreich 1 GB"
    assert (await _offer("es")).title == "France 1 GB"  # no Spanish text: English
    assert (await _offer("en")).title == "France 1 GB"
    details = await _audit_details()
    assert details == [
        "fr display_name: None -> France 1 Go; "
        "fr description: None -> Votre forfait démarre à votre arrivée en France.; "
        "de display_name: None -> Frankreich 1 GB"
    ]
    async with db.session() as s:
        page = await admin.list_plans(s)
    (row,) = page.rows
    assert (row["text_fr_display_name"], row["text_de_display_name"]) == (
        "France 1 Go",
        "Frankreich 1 GB",
    )
    assert (row["text_es_display_name"], row["text_es_description"]) == ("", "")

    # Emptying the German field brings English back, and the German row goes.
    again = await _edit(
        staff,
        {
            "text_fr_display_name": "France 1 Go",
            "text_fr_description": "Votre forfait démarre à votre arrivée en France.",
            "text_de_display_name": "",
        },
    )
    assert again.result == "ok" and again.message == "de display_name: Frankreich 1 GB -> None"
    assert (await _offer("de")).title == "France 1 GB"
    async with db.session() as s:
        stored = (await s.exec(select(PlanText))).all()
    assert [(t.locale, t.display_name) for t in stored] == [("fr", "France 1 Go")]
    await db.async_engine().dispose()


async def test_a_refused_edit_changes_nothing(sqlite_db: Settings) -> None:
    await add_plan()
    staff = await _staff()
    longest = await _edit(staff, {"text_fr_display_name": "x" * 200})
    assert longest.result == "ok"  # 200 characters is the limit
    unknown = await admin.update_plan(
        staff,
        "870101",
        display_name="Other",
        price="9.00",
        currency="EUR",
        destinations="FR",
        on_sale=True,
        texts={"it": {"display_name": "Francia 1 GB"}},
    )
    assert unknown.result == "refused" and "unknown language code 'it'" in unknown.message
    async with db.session() as s:
        plan = await s.get(Plan, "870101")
        texts = await plan_texts.texts_for(s, ["870101"], "fr")
    assert plan is not None and (plan.display_name, plan.price_minor) == ("France 1 GB", 990)
    assert texts["870101"].display_name == "x" * 200
    await db.async_engine().dispose()
