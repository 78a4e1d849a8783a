"""The buy page's refusals in a real browser: the price changed, the checkout expired, too many
open checkouts (docs/business-rules.md#charge-re-checks, #checkout-expiry, #checkout-limits).

Staff's price change, the passing of time and the traveler's other open checkouts are written
straight into the app's SQLite file (what the admin pages and the clock would leave); the
traveler's side goes through the page only. Each state is photographed at desktop (1280) and
phone (390) width, light and dark, into ``/tmp/shots-checkout/``.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect

from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

SHOTS = Path("/tmp/shots-checkout")
WIDE: ViewportSize = {"width": 1280, "height": 900}


@contextmanager
def _db(data_dir: str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(Path(data_dir) / "travelsim.db")
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def _shots(page: Page, name: str) -> None:
    """The page as it is, at both widths and in both colour schemes."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size_name, size in (("desktop", WIDE), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            page.set_viewport_size(size)
            page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            page.wait_for_timeout(150)
            page.screenshot(path=str(SHOTS / f"{name}-{size_name}-{scheme}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def _checkout_id(url: str) -> str:
    match = re.search(r"checkout=([\w-]+)", url)
    assert match, url
    return match.group(1)


def test_price_changed_expired_and_limit_states(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    data_dir = app_env["DATA_DIR"]
    page = desktop
    email = sign_up_and_verify(page, app_url, data_dir)
    buy_france_1gb(page, app_url)
    checkout_id = _checkout_id(page.url)

    # Staff raises the price after the checkout opened at €4.50: paying is refused, nothing
    # is charged, one button accepts the new price.
    with _db(data_dir) as conn:
        conn.execute("UPDATE plan SET price_minor = 1200 WHERE plan_id = '870101'")
    try:
        page.get_by_role("button", name=re.compile(r"^Pay ")).click()
        box = page.get_by_test_id("checkout-price-changed")
        expect(box).to_contain_text("The price changed from €4.50 to €12.00")
        expect(box).to_contain_text("You have not been charged")
        _shots(page, "price-changed")
        with _db(data_dir) as conn:
            paid = conn.execute(
                "SELECT count(*) FROM payment WHERE checkout_id = ?", (checkout_id,)
            ).fetchone()[0]
        assert paid == 0
        page.get_by_role("button", name="Continue at the new price").click()
        expect(page.get_by_role("button", name="Pay €12.00")).to_be_visible()
        with _db(data_dir) as conn:
            amount = conn.execute(
                "SELECT amount_minor FROM checkout WHERE id = ?", (checkout_id,)
            ).fetchone()[0]
        assert amount == 1200
    finally:
        with _db(data_dir) as conn:
            conn.execute("UPDATE plan SET price_minor = 450 WHERE plan_id = '870101'")

    # The checkout outlives CHECKOUT_TTL_MINUTES: the page says so, with one way on.
    with _db(data_dir) as conn:
        (created,) = conn.execute(
            "SELECT created_at FROM checkout WHERE id = ?", (checkout_id,)
        ).fetchone()
        old = datetime.fromisoformat(str(created)) - timedelta(hours=2)
        stamp = old.isoformat(sep=" " if " " in str(created) else "T")
        conn.execute("UPDATE checkout SET created_at = ? WHERE id = ?", (stamp, checkout_id))
    page.reload()
    expired = page.get_by_test_id("checkout-expired")
    expect(expired).to_contain_text("This checkout expired")
    expect(page.get_by_role("alert")).to_have_count(0)  # not an error
    _shots(page, "expired")
    with _db(data_dir) as conn:
        status, esim = conn.execute(
            "SELECT c.status, e.state FROM checkout c LEFT JOIN esim e ON e.id = c.esim_id "
            "WHERE c.id = ?",
            (checkout_id,),
        ).fetchone()
    assert (status, esim) == ("expired", "free")
    page.get_by_role("button", name="Start again").click()
    expect(page).to_have_url(re.compile(r"/buy/870101\?to=FR$"))
    expect(page.get_by_role("button", name="Continue to payment")).to_be_visible()

    # Two checkouts already waiting for payment: a third start is refused, clearly.
    with _db(data_dir) as conn:
        (user_id,) = conn.execute("SELECT id FROM app_user WHERE email = ?", (email,)).fetchone()
        for _ in range(2):
            conn.execute(
                "INSERT INTO checkout (id, user_id, plan_id, kind, destination, amount_minor, "
                "currency, status, device_confirmed, created_at, updated_at) "
                "SELECT ?, ?, plan_id, kind, destination, amount_minor, currency, 'open', 1, "
                "?, ? FROM checkout WHERE id = ?",
                (
                    str(uuid.uuid4()),
                    user_id,
                    str(created),
                    str(created),
                    checkout_id,
                ),
            )
        other, destinations = conn.execute(
            "SELECT plan_id, destinations FROM plan WHERE on_sale = 1 AND plan_id != '870101' "
            "AND price_minor IS NOT NULL ORDER BY plan_id LIMIT 1"
        ).fetchone()
    dest = re.findall(r"[A-Z]{2}", destinations)[0]
    page.goto(f"{app_url}/buy/{other}?to={dest}")
    # The tab's state may still have both ticked from the first purchase: tick, not toggle.
    page.get_by_role("checkbox", name="My phone supports eSIM").check()
    page.get_by_role("checkbox", name="My phone is carrier-unlocked").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "You already have 2 checkouts waiting for payment"
    )
    expect(page).not_to_have_url(re.compile(r"checkout="))
    _shots(page, "too-many-open")
