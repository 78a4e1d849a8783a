"""Staff see a failed email on the admin home page and send it again from the outbox
(services.admin.outbox.send_again), desktop and phone, light and dark."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.test_purchase import sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238
from tests.e2e.test_staff_admin import _cli_staff


def _failed_email(data_dir: str) -> int:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        cur = conn.execute(
            "INSERT INTO outbox_email (kind, to_address, subject, body_text, locale, attachments,"
            " status, attempts, last_error, created_at) VALUES ('installation',"
            " 'gone@refused.example', 'Your eSIM is ready', 'x', 'en', '[]', 'failed', 1,"
            " 'SMTPRecipientsRefused: 550 5.1.1 No such user', datetime('now'))"
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


def test_staff_send_a_failed_email_again(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    email_id = _failed_email(app_env["DATA_DIR"])
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    staff = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    assert "ok: staff role granted" in _cli_staff(app_env, "grant", staff)
    page.goto(f"{app_url}/admin")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    figure = page.get_by_test_id("fig-failed-emails")
    expect(figure).to_contain_text("1")
    shot(page, "admin-overview-failed-email-desktop-light")

    figure.click()
    expect(page).to_have_url(re.compile(r"/admin/outbox\?status=failed"))
    row = page.get_by_test_id("mail-row").filter(has_text="gone@refused.example")
    expect(row).to_contain_text("550 5.1.1")
    expect(page.get_by_test_id("mail-row")).to_have_count(1)  # the failed ones only
    for scheme in ("light", "dark"):
        for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.emulate_media(color_scheme=scheme)
            page.set_viewport_size(size)
            shot(page, f"admin-outbox-failed-{name}-{scheme}")
    page.set_viewport_size(DESKTOP)
    row.get_by_test_id("mail-send-again").click()
    notice = page.get_by_test_id("admin-notice")
    expect(notice).to_have_attribute("data-result", "ok", timeout=30_000)
    expect(notice).to_contain_text(f"email #{email_id} queued again")
    expect(row.get_by_test_id("mail-send-again")).to_have_count(0)
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        status, attempts = conn.execute(
            "SELECT status, attempts FROM outbox_email WHERE id = ?", (email_id,)
        ).fetchone()
        audit = conn.execute(
            "SELECT actor, result FROM audit_log WHERE action = 'outbox.send_again'"
        ).fetchall()
    assert (status, attempts) == ("queued", 0)
    assert audit == [(staff, "ok")]
    ctx.close()
