"""The eSIM page in French (docs/i18n.md): a traveler whose browser sends ``Accept-Language:
fr-FR`` buys France 1 GB, then opens the eSIM from the French account page.

What is checked, each from an independent source:

* the document language (``<html lang="fr">``) and that the page's links stay in French
  (``/fr/…``: docs/i18n.md#routes);
* the data gauge's screen-reader text (``aria-valuetext``), before and after 300 MB of use:
  the French catalog's msgstr (read with Babel's .po reader; its plural form chosen by the
  catalog's rule, so "1 Go restant", "724 Mo restants") filled with CLDR's French short
  units (``format_unit``: ``1 Go``) and a percentage rounded down to one decimal
  (docs/business-rules.md#figures-shown-to-travelers), written with the French decimal comma;
* once the validity runs, the time left as CLDR lists French short duration units
  (``6 j, 23 h et 59 min restants``).

Volumes in bytes, 1 MB = 1,048,576 bytes (docs/sft-platform.md#conventions).
"""

from __future__ import annotations

import gettext
import re
from decimal import ROUND_FLOOR, Decimal

import pytest
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.units import format_unit
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP
from tests.e2e.stripe_card import fill_card
from tests.e2e.test_buy_french import fr, sign_up_in_french
from tests.harness import AppSimulator
from travelsim import i18n

pytestmark = pytest.mark.e2e

MB = 1_048_576
GB = 1024 * MB


def _volume(nbytes: int) -> str:
    """A whole number of MB or GB in CLDR's French short unit (``1 Go``, ``724 Mo``)."""
    if nbytes % GB == 0:
        return format_unit(nbytes // GB, "digital-gigabyte", length="short", locale="fr_FR")
    assert nbytes % MB == 0
    return format_unit(nbytes // MB, "digital-megabyte", length="short", locale="fr_FR")


def _fr_plural(msgid: str, n: int) -> str:
    """The French catalog's plural msgstr of ``msgid`` for count ``n``, chosen by the
    catalog's own ``Plural-Forms`` rule (Babel's .po reader, gettext's rule evaluation)."""
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    message = catalog.get(msgid)
    assert message is not None and isinstance(message.string, tuple) and all(message.string)
    return str(message.string[gettext.c2py(catalog.plural_expr)(n)])


def _gauge_text(remaining: int, total: int) -> str:
    """The gauge's French screen-reader text for whole-MB figures ("1 Go restant sur 1 Go",
    singular: French puts 0 and 1 in the "one" form; "724 Mo restants")."""
    percent = (Decimal(100) * remaining / total).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    figure = remaining // GB if remaining % GB == 0 else remaining // MB
    return _fr_plural("{left} of {total} left ({percent} %)", figure).format(
        left=_volume(remaining),
        total=_volume(total),
        percent=format_decimal(percent.normalize(), locale="fr_FR"),
    )


def _buy_in_french(page: Page, app_url: str) -> None:
    """France 1 GB on the French checkout, paid with localstripe's test card, delivered."""
    page.goto(f"{app_url}/fr/buy/870101?to=FR")
    page.get_by_text(fr("My phone supports eSIM")).click()
    page.get_by_text(fr("My phone is carrier-unlocked")).click()
    page.get_by_role("button", name=fr("Continue to payment")).click()
    expect(page).to_have_url(re.compile(r"/fr/buy/870101\?.*checkout="))
    fill_card(page)
    page.get_by_role("button", name=re.compile("^" + re.escape(fr("Pay")))).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)


def test_french_esim_page(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR", timezone_id="Europe/Paris")
    page = ctx.new_page()
    try:
        sign_up_in_french(page, app_url, app_env["DATA_DIR"])
        _buy_in_french(page, app_url)

        nav = page.get_by_role("link", name=fr("My eSIMs")).first
        expect(nav).to_have_attribute("href", re.compile(r"^/fr/account"))
        nav.click()
        expect(page).to_have_url(re.compile(r"/fr/account"))
        page.get_by_test_id("esim-card").first.click()
        expect(page).to_have_url(re.compile(r"/fr/esims/\d+$"))
        expect(page.locator("html")).to_have_attribute("lang", "fr")

        gauge = page.get_by_test_id("data-gauge")
        expect(gauge).to_have_attribute("aria-valuetext", _gauge_text(GB, GB))
        expect(page.get_by_test_id("clock-text")).to_have_text(
            fr("Validity starts at your first data use at the destination.")
        )
        # Every link the page builds stays on the French pages.
        topup = page.get_by_role("link", name=fr("Buy more data")).first
        expect(topup).to_have_attribute("href", re.compile(r"^/fr/esims/\d+/topup"))
        install = page.get_by_role("link", name=fr("Installation instructions"))
        expect(install).to_have_attribute("href", re.compile(r"^/fr/esims/\d+/install"))

        # 300 MB used on the platform, then "Actualiser" on the open page.
        iccid = page.locator("code").first.inner_text()
        endpoint = app_sim.sim_row(iccid)["endpoint_id"]
        app_sim.consume(endpoint, 300 * MB)
        page.get_by_role("button", name=fr("Refresh now")).click()
        expect(gauge).to_have_attribute("aria-valuetext", _gauge_text(GB - 300 * MB, GB))
        expect(page.get_by_test_id("clock-text")).to_have_text(
            fr("Validity started at your first use.")
        )
        # 7 days from the first use, a few seconds ago: CLDR's French short units, listed
        # the French way ("6 j, 23 h et 59 min").
        days = format_unit(6, "duration-day", length="short", locale="fr_FR")
        hours = format_unit(23, "duration-hour", length="short", locale="fr_FR")
        minutes = format_unit(59, "duration-minute", length="short", locale="fr_FR")
        left = fr("{duration} left").format(duration=f"{days}, {hours} et {minutes}")
        validity = page.get_by_test_id("validity-gauge")
        expect(validity).to_have_attribute("aria-valuetext", left)
    finally:
        ctx.close()
