"""Traveler notifications driven by the simulator's usage, clock and profile controls, delivered
over a real SMTP server on loopback (aiosmtpd): 80 % / 100 % used, validity ending, not
installed; once per add-on and threshold, across restarts and concurrent evaluators; a working
unsubscribe link.

Thresholds come from the settings defaults (80, 100; 24 h; 3 days: ``.env.example``)."""

# ruff: noqa: F811  (pytest fixtures imported from the support module)

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from babel.numbers import format_percent
from babel.units import format_unit
from jobs_support import (  # noqa: F401
    FR_1GB_7D,
    GB,
    Mailbox,
    api,
    body_text,
    client,
    engines,
    setup_esim,
    sim,
    sim_clock,
    smtp,
)
from sim_fixtures import SimApi, SimServer
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette
from test_email_languages import tr

from travelsim import db
from travelsim.models import Esim, Notification, OutboxEmail, User
from travelsim.routes.callbacks import callback_routes
from travelsim.services import notifications, usage_sync
from travelsim.services.jobs import metering, runs
from travelsim.settings import Settings, get_settings
from travelsim.sft import Priority, SFTClient


async def notices(esim_id: int | None = None) -> list[tuple[str, str, int]]:
    async with db.session() as s:
        q = select(Notification).order_by(col(Notification.id))
        if esim_id is not None:
            q = q.where(col(Notification.esim_id) == esim_id)
        return [(n.addon_unique_id, n.kind, n.threshold) for n in (await s.exec(q)).all()]


async def sync(client: SFTClient, esim_id: int, sim: SimServer) -> None:
    await usage_sync.sync_esims(client, [esim_id], priority=Priority.SYNC, clock=sim_clock(sim))


async def send(settings: Settings) -> int:
    stats = metering.RunStats()
    await runs.run_email(stats, settings=settings)
    return stats.items


async def test_data_thresholds_once_each_with_a_working_unsubscribe(
    smtp: Mailbox,
    sqlite_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    engines: None,
) -> None:
    settings = get_settings()
    assert settings.notify_data_percent == [80, 100]
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    clock = sim_clock(sim)

    api.consume(st.endpoint_id, int(GB * 0.5))
    await sync(client, st.esim_id, sim)
    assert (await notifications.evaluate(clock=clock)).created == 0  # 50 %: nothing

    api.consume(st.endpoint_id, int(GB * 0.31))  # 81 % used (>= 80)
    await sync(client, st.esim_id, sim)
    report = await notifications.evaluate(clock=clock)
    assert (report.created, report.emailed) == (1, 1)
    assert await notices() == [(uid, "data_used", 80)]
    assert (await notifications.evaluate(clock=clock)).created == 0  # once

    # "Restart": new engines, new settings object, same database.
    await db.async_engine().dispose()
    get_settings.cache_clear()
    db.reset_engines()
    assert (await notifications.evaluate(clock=clock)).created == 0
    # Two evaluators at once (two workers) after the add-on is used up: one notice.
    api.consume(st.endpoint_id, GB)
    await sync(client, st.esim_id, sim)
    a, b = await asyncio.gather(
        notifications.evaluate(clock=clock), notifications.evaluate(clock=clock)
    )
    assert a.created + b.created == 1
    assert await notices() == [(uid, "data_used", 80), (uid, "data_used", 100)]

    assert await send(get_settings()) == 2
    subjects = [str(m["Subject"]) for m in smtp.messages]
    assert format_percent(0.8, locale="en_US") in subjects[0] and "all data used" in subjects[1]
    link = re.search(
        r"https?://\S+/notifications/unsubscribe\?token=\S+", body_text(smtp.messages[0])
    )
    assert link is not None
    # The link works (the route, in process) and is per user: a tampered token does not.
    app = Starlette(routes=callback_routes())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal"
    ) as web:
        path = link.group(0).split("://", 1)[1].split("/", 1)[1]
        bad = await web.get("/" + path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
        assert bad.status_code == 400
        ok = await web.get("/" + path)
        assert ok.status_code == 200 and "unsubscribed" in ok.text
        assert (await web.get("/" + path)).status_code == 200  # idempotent
    async with db.session() as s:
        assert await notifications.is_opted_out(s, st.user_id)

    # Unsubscribed: the next notice is in the portal only.
    api.advance(6.5 * 86400)  # validity now ends within 24 h
    await sync(client, st.esim_id, sim)
    second = await setup_esim(client, [FR_1GB_7D], user_id=st.user_id)
    api.consume(second.endpoint_id, GB)
    await sync(client, second.esim_id, sim)
    report = await notifications.evaluate(clock=clock)
    assert report.created >= 1 and report.emailed == 0
    assert await send(get_settings()) == 0


async def test_validity_ending_within_24_hours(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    clock = sim_clock(sim)
    api.consume(st.endpoint_id, 1_048_576)  # starts the 7-day validity (On Usage)
    api.ctl("POST", "profile-status", {"endPointId": st.endpoint_id, "status": "enabled"})
    await sync(client, st.esim_id, sim)
    assert (await notifications.evaluate(clock=clock)).created == 0
    api.advance(6 * 86400 - 60)  # 24 h + 1 min left: not yet
    assert (await notifications.evaluate(clock=clock)).created == 0
    api.advance(120)  # 23 h 59 min left
    report = await notifications.evaluate(clock=clock)
    assert report.created == 1
    assert await notices() == [(uid, "validity_ending", 24)]
    async with db.session() as s:
        (note,) = await notifications.list_for_user(s, st.user_id)
        mail = await s.get(OutboxEmail, note.email_id)
    assert mail is not None and mail.kind == "notify_validity_ending"
    assert "/notifications/unsubscribe?token=" in mail.body_text
    api.advance(2 * 86400)  # expired: no further notice
    assert (await notifications.evaluate(clock=clock)).created == 0


async def test_not_installed_reminder_after_n_days(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    days = get_settings().notify_not_installed_days
    waiting = await setup_esim(client, [FR_1GB_7D])
    installed = await setup_esim(client, [FR_1GB_7D])
    api.ctl("POST", "profile-status", {"endPointId": installed.endpoint_id, "status": "installed"})
    for st in (waiting, installed):
        await sync(client, st.esim_id, sim)
    clock = sim_clock(sim)
    assert (await notifications.evaluate(clock=clock)).created == 0  # bought just now
    async with db.session() as s:
        await s.execute(
            update(Esim)
            .where(col(Esim.id).in_([waiting.esim_id, installed.esim_id]))
            .values(assigned_at=clock() - timedelta(days=days, minutes=1))
        )
        await s.commit()
    report = await notifications.evaluate(clock=clock)
    assert report.created == 1
    assert await notices() == [("", "not_installed", days)]
    assert await notices(installed.esim_id) == []
    async with db.session() as s:
        (note,) = await notifications.list_for_user(s, waiting.user_id)
        mail = await s.get(OutboxEmail, note.email_id)
        assert await notifications.mark_read(s, waiting.user_id, note.id or 0)
        assert not await notifications.mark_read(s, installed.user_id + 999, note.id or 0)
    assert mail is not None and f"/esims/{waiting.esim_id}/install" in mail.body_text
    assert (await notifications.evaluate(clock=clock)).created == 0


async def test_the_notifications_job_records_its_run(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    api.consume(st.endpoint_id, GB)
    await sync(client, st.esim_id, sim)
    run = await metering.record_run(
        "notifications", lambda s: runs.run_notifications(s, clock=sim_clock(sim))
    )
    assert (run.ok, run.items) == (True, 1)
    assert await notices() == [(st.unique_ids[0], "data_used", 100)]


async def test_all_data_used_once_per_esim_and_gone_after_a_top_up(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    # Two stacked 1 GB plans on one eSIM, both used up by one 2 GB (+ margin) of traffic.
    st = await setup_esim(client, [FR_1GB_7D, FR_1GB_7D])
    clock = sim_clock(sim)
    api.consume(st.endpoint_id, 2 * GB + GB // 10)
    await sync(client, st.esim_id, sim)
    report = await notifications.evaluate(clock=clock)
    # Expected: the eSIM ran out once -> one notice, one email (not one per plan).
    assert (report.created, report.emailed) == (1, 1)
    async with db.session() as s:
        mails = (
            await s.exec(select(OutboxEmail).where(col(OutboxEmail.kind) == "notify_data_used"))
        ).all()
        shown = await notifications.list_for_user(s, st.user_id, now=clock())
    assert len(mails) == 1 and "all data used" in mails[0].subject
    assert [n.title for n in shown] == [mails[0].subject]
    assert (await notifications.evaluate(clock=clock)).created == 0  # once

    # The traveler buys more data: the eSIM has live data again, the notice is not shown.
    await client.subscribe_addon(st.endpoint_id, FR_1GB_7D, priority=Priority.PROVISIONING)
    await sync(client, st.esim_id, sim)
    assert (await notifications.evaluate(clock=clock)).created == 0
    async with db.session() as s:
        assert await notifications.list_for_user(s, st.user_id, now=clock()) == []

    # It runs out again: one new notice and email; only that one is shown.
    api.consume(st.endpoint_id, GB + GB // 10)
    await sync(client, st.esim_id, sim)
    report = await notifications.evaluate(clock=clock)
    assert (report.created, report.emailed) == (1, 1)
    async with db.session() as s:
        shown = await notifications.list_for_user(s, st.user_id, now=clock())
    assert len(shown) == 1 and shown[0].title.endswith("all data used")
    assert len(await notices(st.esim_id)) == 2


async def test_a_french_travelers_notice_and_its_email_are_in_french(
    smtp: Mailbox,
    sqlite_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    engines: None,
) -> None:
    """docs/i18n.md#emails: the notice (as the portal shows it) and its email are in the
    eSIM owner's language, figures from Babel, links to the French pages."""
    async with db.session() as s:
        user = User(email="lea@example.com", password_hash="x", locale="fr")
        s.add(user)
        await s.commit()
        assert user.id is not None
    st = await setup_esim(client, [FR_1GB_7D], user_id=user.id)
    api.consume(st.endpoint_id, int(GB * 0.81))
    await sync(client, st.esim_id, sim)
    assert (await notifications.evaluate(clock=sim_clock(sim))).emailed == 1
    assert await send(get_settings()) == 1

    (msg,) = smtp.messages
    async with db.session() as s:
        (note,) = await notifications.list_for_user(s, user.id)
        esim = await s.get(Esim, st.esim_id)
    assert esim is not None
    percent = format_percent(0.8, locale="fr_FR")  # "80\u00a0%"
    name = f"eSIM ··{esim.iccid[-4:]}"
    title = tr("fr", "{name}: {percent} of your data used").format(name=name, percent=percent)
    assert msg["Subject"] == note.title == title
    assert msg["Content-Language"] == "fr"
    text = body_text(msg)
    assert format_unit(1, "digital-gigabyte", length="short", locale="fr_FR") in note.body
    assert note.body in text  # "1 Go"
    link = f"{get_settings().public_url}/fr/account"
    assert tr("fr", "Open it in TravelSIM: {link}").format(link=link) in text
    assert "/notifications/unsubscribe?token=" in text
