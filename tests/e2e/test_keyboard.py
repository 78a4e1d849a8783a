"""A purchase with the keyboard alone, and what a screen reader is told
(docs/accessibility.md#keyboard and #screen-readers).

From the home page to a delivered order with Tab / Shift+Tab / Enter / Space only
(``page.keyboard``), through the skip link, the destination search, the plan, the checkout's
checkboxes, localstripe's card inputs and the 3-D Secure window: every element the focus lands
on must show a focus indicator (an outline, or a box-shadow, on it or on the text field or
card box it sits in). Expected texts come from the test's own inputs and from the French
catalog (``test_buy_french.fr``), not from the code under test.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.a11y import assert_accessible, settle, variant_context
from tests.e2e.conftest import shot
from tests.e2e.stripe_card import CARD_3DS, wait_card_ready
from tests.e2e.test_buy_french import fr
from tests.e2e.test_esim_french import GB, _gauge_text
from tests.e2e.test_flow import bought
from tests.e2e.test_purchase import PASSWORD, sign_up_and_verify

__all__ = ["bought", "focus_ring", "tab_to"]

#: What the focused element shows: its tag, name, and whether an outline or box-shadow is
#: drawn on it or its ::before / ::after (or, for an input, on the Radix text field / card
#: box that draws the ring).
_FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "BODY", name: "", ring: "", ok: false};
  const ring = (e) => {
    // Radix draws some rings on a pseudo-element (the checkbox's ::before). An outline is
    // looked for first: a box-shadow may be a surface button's border.
    const styles = [null, "::before", "::after"].map((p) => [p || "", getComputedStyle(e, p)]);
    for (const [p, s] of styles) {
      if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) {
        return "outline " + s.outlineColor + p;
      }
    }
    for (const [p, s] of styles) {
      if (s.boxShadow && s.boxShadow !== "none") return "shadow " + s.boxShadow + p;
    }
    return "";
  };
  let found = ring(el);
  if (!found && el.matches("input, textarea")) {
    const root = el.closest(".rt-TextFieldRoot, .rt-TextAreaRoot, .travelsim-card-box");
    if (root) found = ring(root);
  }
  const name = (el.getAttribute("aria-label") || el.getAttribute("placeholder")
    || el.textContent || "").trim().slice(0, 50);
  return {tag: el.tagName, name, ring: found, ok: !!found};
}"""


def focus_ring(page: Page) -> dict[str, Any]:
    """The focused element (tag, name) and the focus indicator drawn for it (``ring``)."""
    return dict(page.evaluate(_FOCUS_JS))


def tab_to(page: Page, target: Locator, *, back: bool = False, limit: int = 60) -> list[str]:
    """Press Tab (Shift+Tab when ``back``) until the focus is on (or inside) ``target``
    (no key when it already is: localstripe moves on to the next card field by itself once
    one is complete); every element reached must show a focus indicator. Returns the path
    taken."""
    expect(target.first).to_be_visible()  # drawn, so the page's state has arrived
    path: list[str] = []
    for _ in range(limit):
        if target.evaluate_all(
            "els => els.some(e => e.contains(document.activeElement))"  # itself or inside
        ):
            focused = focus_ring(page)
            assert focused["ok"], f"no visible focus on {focused} (path: {path})"
            return path
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = focus_ring(page)
        path.append(f"{focused['tag']}:{focused['name']}")
        assert focused["ok"], f"no visible focus on {focused} (path: {path})"
    raise AssertionError(f"Tab never reached {target} (path: {path})")


def test_keyboard_only_purchase_with_3d_secure(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = variant_context(browser, "desktop", "light")
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])  # set-up; the purchase is keyed
    page.goto(app_url)
    settle(page, "light")
    options = page.get_by_test_id("destination-option")
    expect(options.first).to_be_visible()  # the catalogue loaded

    # The first Tab reaches the skip link, shown while focused; Enter jumps to <main>.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert focus_ring(page)["ok"]
    expect(skip).to_be_in_viewport()
    shot(page, "a11y-keyboard-skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    search = page.get_by_label("Where are you going?")
    tab_to(page, search)
    page.keyboard.type("Fran")
    # The popular destinations give way to the matches: Tab once they are drawn (a button
    # that goes away while focused takes the focus with it).
    expect(page.get_by_text("Popular destinations")).to_have_count(0)
    tab_to(page, options.filter(has_text="France"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/\?to=FR$"))
    choose = page.locator("[data-plan-id='870101']").get_by_role("button", name="Choose")
    tab_to(page, choose)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/buy/870101"))

    esim = page.get_by_role("checkbox", name="My phone supports eSIM")
    tab_to(page, esim)
    page.keyboard.press("Space")
    expect(esim).to_be_checked()
    unlocked = page.get_by_role("checkbox", name="My phone is carrier-unlocked")
    tab_to(page, unlocked)
    page.keyboard.press("Space")
    expect(unlocked).to_be_checked()
    # Shift+Tab goes back to the first box and Space would untick it: the focus moves both ways.
    tab_to(page, esim, back=True)
    tab_to(page, unlocked)
    tab_to(page, page.get_by_role("button", name="Continue to payment"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"checkout="))

    wait_card_ready(page)
    box = page.get_by_test_id("card-element")
    for field, value in (
        ("number", CARD_3DS),
        ("exp_month", "12"),
        ("exp_year", "39"),
        ("cvc", "123"),
    ):
        tab_to(page, box.locator(f"input[placeholder='{field}']"))
        page.keyboard.type(value)
    shot(page, "a11y-keyboard-card-typed")
    # The terms and the immediate-start request (docs/legal.md#acceptance-at-checkout).
    for test_id in ("accept-terms", "accept-immediate-start"):
        consent_box = page.get_by_test_id(test_id)
        tab_to(page, consent_box)
        page.keyboard.press("Space")
        expect(consent_box).to_have_attribute("data-state", "checked")
    pay = page.get_by_role("button", name=re.compile(r"^Pay"))
    tab_to(page, pay)
    page.keyboard.press("Enter")

    # localstripe's 3-D Secure window: reached and confirmed with the keyboard.
    confirm = page.get_by_role("button", name="Complete authentication")
    expect(confirm).to_be_visible(timeout=20_000)
    shot(page, "a11y-keyboard-3ds")
    tab_to(page, confirm)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    install = page.get_by_role("button", name="Install your eSIM")
    tab_to(page, install)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/esims/\d+/install$"))
    ctx.close()


def _ax_meters(page: Page) -> list[dict[str, Any]]:
    """The meters of Chromium's accessibility tree (what a screen reader reads): name, value
    and range, from the DevTools protocol's ``Accessibility.getFullAXTree``. (Its
    ``valuetext`` property comes back empty for every range role, even on a static page
    with ``aria-valuetext``, so the words are read from the attribute.)"""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    meters = []
    for node in nodes:
        if node.get("role", {}).get("value") != "meter":
            continue
        props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
        meters.append(
            {
                "name": node.get("name", {}).get("value"),
                "value": node.get("value", {}).get("value"),
                **{k: props.get(k) for k in ("valuemin", "valuemax")},
            }
        )
    cdp.detach()
    return meters


def test_gauges_in_the_accessibility_tree_in_english_and_french(
    app_url: str, browser: Browser, bought: dict[str, Any]
) -> None:
    """The delivered 1 GB eSIM, nothing used: the data meter reads "1 GB of 1 GB left
    (100 %)" (its French catalog form in French), 100 of 0-100; validity has not started."""
    for prefix, name, words, validity in (
        ("", "Data remaining", "1 GB of 1 GB left (100 %)", "Validity remaining"),
        ("/fr", fr("Data remaining"), _gauge_text(GB, GB), fr("Validity remaining")),
    ):
        ctx = variant_context(browser, "desktop", "light", bought["state"])
        page = ctx.new_page()
        page.goto(f"{app_url}{prefix}/esims/{bought['esim_id']}")
        data = page.get_by_role("meter", name=name, exact=True)
        expect(data).to_have_attribute("aria-valuetext", words)
        expect(page.get_by_role("meter", name=validity, exact=True)).to_have_attribute(
            "aria-valuetext", re.compile(r"\S")
        )
        meters = {m["name"]: m for m in _ax_meters(page)}
        assert set(meters) == {name, validity}, meters
        assert (meters[name]["valuemin"], meters[name]["valuemax"]) == (0, 100), meters
        assert meters[name]["value"] == 100, meters
        ctx.close()


def test_form_errors_are_announced(app_url: str, browser: Browser) -> None:
    """A refused sign-in: the error is an alert the email and password fields point to."""
    ctx = variant_context(browser, "desktop", "light")
    page = ctx.new_page()
    page.goto(f"{app_url}/signin")
    page.get_by_label("Email", exact=True).fill("nobody-here@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("id", "form-error")
    for label in ("Email", "Password"):
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", "form-error")
    assert_accessible(page, "refused sign-in")
    ctx.close()


def test_reduced_motion_stops_the_menu_animation(app_url: str, browser: Browser) -> None:
    """The language menu opens with Radix's slide-in animation, which lasts 0.01 ms when the
    browser asks for reduced motion (``assets/a11y.css``)."""
    durations = {}
    for motion in ("no-preference", "reduce"):
        ctx = variant_context(browser, "desktop", "light", reduced_motion=motion)
        page = ctx.new_page()
        page.goto(app_url)
        settle(page, "light")
        page.locator("[data-testid=language-menu]:visible").focus()  # the desktop header's
        page.keyboard.press("Enter")
        menu = page.get_by_role("menu")
        expect(menu).to_be_visible()
        seconds = menu.evaluate("el => getComputedStyle(el).animationDuration")
        durations[motion] = float(str(seconds).removesuffix("s"))
        ctx.close()
    assert durations["no-preference"] >= 0.05, durations
    assert durations["reduce"] <= 0.001, durations
