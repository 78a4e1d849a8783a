"""Attack in a real browser: what the websocket carries to a traveler's tab.

The real app (``reflex run --env prod``, harness of ``tests/e2e/conftest.py``) runs with a
distinctive SFT password. Two travelers sign up and buy an eSIM each. The attacker's tab
then walks every traveler page, its own and, by URL, the victim's (eSIM dashboard, install
page, top-up, order, receipt, QR image), while every websocket frame the browser receives is
recorded (``page.on("websocket")`` → ``framereceived``). No frame may contain the SFT
password, any SFT access or refresh token the simulator issued, either traveler's session
cookie, or any matching ID other than the attacker's own (read from the simulator's own
database), not even the attacker's own (installation data never travels in state:
docs/esim.md#security-installation-data-never-in-page-state; the install page fetches it over
HTTP), nor any identifier of the victim: email address, ICCID, order reference, add-on
uniqueIds (read from the portal's own database). Positive controls: the attacker's own ICCID
does show up in its own frames while its install page shows its matching ID (from the DOM),
and the victim's own frames (recorded the same way) do carry the victim's ICCID and order
reference, so the frames really are captured and a leak of either would be seen.

Run it in its own pytest process (it drives Playwright's sync API):
``pytest -q tests/load/test_attack_browser.py``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import app_url, browser  # noqa: F401 - fixtures
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

pytestmark = pytest.mark.e2e

SFT_PASSWORD = "sft-Pa55word-never-in-a-browser"
COOKIE = "travelsim_session"


@pytest.fixture(scope="session")
def app_env() -> dict[str, str]:
    from tests.e2e.conftest import _free_port

    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="travelsim-attack-"))
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        APP_ENV="test",
        DATA_DIR=str(data_dir),
        FRONTEND_PORT=str(port),
        BACKEND_PORT=str(port),
        PUBLIC_URL=f"http://localhost:{port}",
        SFT_SIM_RATE_LIMIT_TPS="50",
        SFT_RATE_LIMIT_TPS="40",
        SFT_PASSWORD=SFT_PASSWORD,
        SFT_SIM_PASSWORD=SFT_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    for name in ("DATABASE_URL", "SFT_BASE_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


class Frames:
    """Every websocket frame a page receives, as text."""

    def __init__(self, page: Page) -> None:
        self.texts: list[str] = []
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        self.texts.append(payload if isinstance(payload, str) else payload.decode("latin-1"))

    def joined(self) -> str:
        return "\n".join(self.texts)


def buy_and_deliver(page: Page, url: str, data_dir: str) -> tuple[str, str]:
    """Sign up, buy, wait for delivery: (esim id, order id)."""
    sign_up_and_verify(page, url, data_dir)
    buy_france_1gb(page, url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    order_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Install your eSIM").click()
    expect(page).to_have_url(re.compile(r"/esims/\d+/install$"))
    esim_id = page.url.rstrip("/").rsplit("/", 2)[-2]
    return esim_id, order_id


def victim_identifiers(conn: sqlite3.Connection, esim_id: int, order_id: str) -> dict[str, str]:
    """The victim's identifiers from the portal's database: email, ICCID, order reference
    and every add-on uniqueId of the eSIM (the order's included)."""
    (email,) = conn.execute(
        "SELECT u.email FROM app_user u JOIN esim e ON e.user_id = u.id WHERE e.id = ?",
        (esim_id,),
    ).fetchone()
    (iccid,) = conn.execute("SELECT iccid FROM esim WHERE id = ?", (esim_id,)).fetchone()
    reference, order_addon = conn.execute(
        "SELECT reference, addon_unique_id FROM purchase_order WHERE id = ?", (order_id,)
    ).fetchone()
    addons = [
        row[0]
        for row in conn.execute("SELECT unique_id FROM esim_addon WHERE esim_id = ?", (esim_id,))
    ]
    # (Not the order id or eSIM id: the attacker typed them into its own URLs.)
    found = {"email": email, "ICCID": iccid, "order reference": reference}
    for i, unique_id in enumerate(sorted({order_addon, *addons} - {None})):
        found[f"add-on uniqueId {i + 1}"] = unique_id
    assert len(found) >= 4, found  # the delivered order's add-on is there
    return found


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # let the page's load events answer over the websocket


@pytest.fixture
def two_travelers(browser: Browser) -> Iterator[tuple[Page, Page]]:  # noqa: F811
    contexts = [browser.new_context(viewport={"width": 1366, "height": 900}) for _ in range(2)]
    yield contexts[0].new_page(), contexts[1].new_page()
    for ctx in contexts:
        ctx.close()


def test_probe_websocket_frames_carry_no_secret_nor_victim_identifier(
    app_url: str,  # noqa: F811
    app_env: dict[str, str],
    two_travelers: tuple[Page, Page],
) -> None:
    data_dir = app_env["DATA_DIR"]
    victim, attacker = two_travelers
    victim_frames = Frames(victim)
    v_esim, v_order = buy_and_deliver(victim, app_url, data_dir)
    for path in (f"/esims/{v_esim}", f"/orders/{v_order}", "/account"):
        victim.goto(f"{app_url}{path}")
        settle(victim)
    frames = Frames(attacker)
    a_esim, a_order = buy_and_deliver(attacker, app_url, data_dir)

    own_pages = [
        f"/esims/{a_esim}",
        f"/esims/{a_esim}/install",
        f"/esims/{a_esim}/topup",
        f"/orders/{a_order}",
        f"/orders/{a_order}/receipt",
        "/account",
        "/security",
    ]
    foreign_pages = [
        f"/esims/{v_esim}",
        f"/esims/{v_esim}/install",
        f"/esims/{v_esim}/topup",
        f"/orders/{v_order}",
        f"/orders/{v_order}/receipt",
    ]
    shown_matching_id = ""
    for path in own_pages + foreign_pages:
        attacker.goto(f"{app_url}{path}")
        settle(attacker)
        if path.endswith(f"/{a_esim}/install"):
            shown_matching_id = attacker.get_by_test_id("matching-id").inner_text()
    assert attacker.request.get(f"{app_url}/esims/{v_esim}/qr.png").status == 404

    # What must never reach this browser, from the sources of truth.
    with sqlite3.connect(Path(data_dir) / "sft_simulator.db") as conn:
        sims = dict(conn.execute("SELECT iccid, matching_id FROM sim_sims").fetchall())
        sft_tokens = [row[0] for row in conn.execute("SELECT token FROM sim_tokens")]
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        (a_iccid,) = conn.execute("SELECT iccid FROM esim WHERE id = ?", (a_esim,)).fetchone()
        victim_ids = victim_identifiers(conn, int(v_esim), v_order)
    own_matching_id = sims.pop(a_iccid)
    cookies = [
        c["value"]
        for page in (victim, attacker)
        for c in page.context.cookies()
        if c["name"] == COOKIE
    ]
    assert len(cookies) == 2 and sft_tokens and len(sims) >= 1

    seen = frames.joined()
    assert a_iccid in seen  # positive control: frames are captured and readable
    assert shown_matching_id == own_matching_id  # ...and the install page showed the code
    assert own_matching_id not in seen  # over HTTP, not in the frames
    assert SFT_PASSWORD not in seen
    assert [t for t in sft_tokens if t in seen] == []
    assert [c for c in cookies if c in seen] == []
    assert [m for m in sims.values() if m in seen] == []
    # The victim's identifiers: the victim's own frames carry them (positive control)...
    own_view = victim_frames.joined()
    assert victim_ids["ICCID"] in own_view and victim_ids["order reference"] in own_view
    # ...the attacker's never do.
    leaked = [name for name, value in victim_ids.items() if value in seen]
    assert leaked == [], f"the attacker's frames carry the victim's {leaked}"
    print(
        f"\n{len(frames.texts)} attacker websocket frames scanned ({len(seen)} characters) "
        f"for {len(victim_ids)} victim identifiers; {len(victim_frames.texts)} victim frames"
    )
