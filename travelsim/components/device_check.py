"""The checkout's device check (``state/device_check.py``, docs/esim.md#device-compatibility):
a search over the list of eSIM-capable devices (an iPhone picks its model), the answer, and
the two checks travelers get wrong: the EID (*#06#) and the carrier lock."""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import _
from travelsim.state.device_check import DeviceCheckState


def _search() -> rx.Component:
    s = DeviceCheckState
    return rx.cond(
        s.iphone,
        rx.vstack(
            rx.el.label(_("iPhone: which model?"), html_for="device-iphone", font_weight="500"),
            rx.select.root(
                rx.select.trigger(
                    placeholder=_("Choose your iPhone"), id="device-iphone", width="100%"
                ),
                rx.select.content(
                    rx.foreach(s.iphone_models, lambda m: rx.select.item(m, value=m))
                ),
                on_change=s.pick,
            ),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.el.label(
                _("Your phone, tablet or watch"), html_for="device-query", font_weight="500"
            ),
            rx.input(
                id="device-query",
                value=s.query,
                on_change=s.set_query.debounce(300),
                placeholder=_("e.g. Pixel 8, iPhone 15, Galaxy S24"),
                max_length=80,
                width="100%",
                data_testid="device-query",
            ),
            spacing="1",
            width="100%",
        ),
    )


def _candidates() -> rx.Component:
    s = DeviceCheckState
    return rx.cond(
        s.candidates.length() > 0,
        rx.flex(
            rx.text(rx.cond(s.verdict == "unknown", _("Did you mean:"), _("Also:")), size="1"),
            rx.foreach(
                s.candidates,
                lambda c: rx.button(
                    c["name"], size="1", variant="soft", on_click=s.pick(c["name"]), type="button"
                ),
            ),
            wrap="wrap",
            spacing="2",
            align="center",
        ),
    )


def _answer() -> rx.Component:
    s = DeviceCheckState
    return rx.match(
        s.verdict,
        (
            "supported",
            rx.callout(
                s.headline,
                icon="circle-check",
                color_scheme="green",
                size="1",
                role="status",
                data_testid="device-verdict",
            ),
        ),
        (
            "caveat",
            rx.callout(
                rx.vstack(
                    rx.text(s.headline, weight="medium"),
                    rx.text(s.caveat),
                    rx.link(_("Manufacturer's page"), href=s.source, is_external=True),
                    spacing="1",
                ),
                icon="info",
                color_scheme="amber",
                size="1",
                role="status",
                data_testid="device-verdict",
            ),
        ),
        (
            "unknown",
            rx.callout(
                s.unknown_text,
                icon="triangle-alert",
                color_scheme="orange",
                size="1",
                role="alert",
                data_testid="device-verdict",
            ),
        ),
        rx.callout(
            _("Not checked yet. An eSIM only works on an eSIM-capable, carrier-unlocked phone."),
            icon="smartphone",
            color_scheme="gray",
            size="1",
            data_testid="device-verdict",
        ),
    )


def _two_checks() -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.text.strong(_("Has it an eSIM?")),
            " ",
            _("Dial *#06#: if an EID is shown, the phone has an eSIM."),
            size="2",
        ),
        rx.text(
            rx.text.strong(_("Is it carrier-locked?")),
            " ",
            _(
                "A phone bought from a carrier may be locked to it and refuse other eSIMs. "
                "iPhone: Settings › General › About › Carrier Lock must say “No SIM "
                "restrictions”. Android: ask your carrier, or look for “Network lock” / "
                "“SIM lock” under Settings › About phone."
            ),
            size="2",
        ),
        spacing="1",
        data_testid="device-two-checks",
    )


def device_check() -> rx.Component:
    """The device check card of the checkout's first step."""
    return rx.card(
        rx.vstack(
            rx.text(_("Check your device"), weight="bold", size="3"),
            _search(),
            _answer(),
            _candidates(),
            _two_checks(),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="device-check",
    )
