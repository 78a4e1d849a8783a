"""One eSIM: remaining data and validity gauges, add-ons, usage history, actions.

Static texts are translated when the page is built for its language; the figures' words come
from the state, in the page's language (docs/i18n.md).
"""

from __future__ import annotations

import reflex as rx

from travelsim import urls
from travelsim.components.auto_topup import auto_topup_card
from travelsim.components.gauges import countdown, radial_gauge
from travelsim.components.layout import page
from travelsim.i18n import _, localized
from travelsim.pages.esim_plans import addons_table, usage_chart
from travelsim.state.esim import EsimState


def data_gauge() -> rx.Component:
    return radial_gauge(
        percent=EsimState.percent,
        known=EsimState.known,
        label=_("Data remaining"),
        value_text=EsimState.data_text,
        center_top=rx.heading(EsimState.gauge_top, size="5"),
        center_bottom=rx.text(
            EsimState.gauge_bottom,
            size="1",
            color=rx.color("gray", 11),
        ),
        color="#12a594",
        testid="data-gauge",
    )


def validity_gauge() -> rx.Component:
    started = EsimState.expires_iso != ""
    return radial_gauge(
        percent=EsimState.validity_percent,
        known=started,
        label=_("Validity remaining"),
        value_text=rx.cond(started, EsimState.time_left_text, EsimState.validity_value),
        center_top=rx.cond(
            started,
            rx.heading(countdown(target=EsimState.expires_iso), size="4"),
            rx.heading(EsimState.validity_top, size="4"),
        ),
        center_bottom=rx.text(
            rx.cond(started, _("validity left"), EsimState.validity_bottom),
            size="1",
            color=rx.color("gray", 11),
        ),
        color="#f5a524",
        testid="validity-gauge",
    )


def _replacement(prominent: bool) -> rx.Component:
    """The replacement request: a button when ``prominent``, else a quiet link-like one."""
    return rx.cond(
        EsimState.replacement_open,
        rx.text(_("Replacement requested: our team will contact you."), weight="bold", size="2"),
        rx.cond(
            EsimState.can_request_replacement,
            rx.button(
                _("Request a replacement"),
                size="2" if prominent else "1",
                variant="solid" if prominent else "ghost",
                color_scheme="amber" if prominent else "gray",
                on_click=EsimState.request_replacement,
                width="fit-content",
            ),
        ),
    )


def install_status() -> rx.Component:
    """Installed/downloaded is good news (calm); deleted or in error offers a replacement
    prominently; otherwise the way to install."""
    return rx.cond(
        EsimState.install_problem,
        rx.callout(
            rx.vstack(
                rx.text(EsimState.install_problem_text),
                _replacement(prominent=True),
                spacing="2",
            ),
            icon="shield-alert",
            color_scheme="amber",
            data_testid="install-problem",
        ),
        rx.cond(
            EsimState.install_ok_text != "",
            rx.callout(
                rx.vstack(
                    rx.text(EsimState.install_ok_text, data_testid="install-ok"),
                    rx.hstack(
                        rx.text(_("Problem with this eSIM?"), size="1", color=rx.color("gray", 11)),
                        _replacement(prominent=False),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                icon="circle-check",
                color_scheme="green",
                variant="surface",
            ),
            rx.callout(
                rx.hstack(
                    rx.text(EsimState.install_label, ". "),
                    rx.link(
                        _("Installation instructions"),
                        href=EsimState.install_url,
                    ),
                    wrap="wrap",
                ),
                icon="smartphone",
            ),
        ),
    )


def data_ended() -> rx.Component:
    """No data left (used up, expired, no plan): say so and lead to buying more."""
    return rx.cond(
        EsimState.ended_text != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-alert")),
            rx.flex(
                rx.vstack(
                    rx.text(EsimState.ended_text, weight="bold"),
                    rx.text(
                        _("Buy more data to keep using this eSIM: it stays on your phone."),
                        size="2",
                    ),
                    spacing="1",
                ),
                rx.link(
                    rx.button(rx.icon("plus", size=16), _("Buy more data"), size="3"),
                    href=EsimState.topup_url,
                    flex_shrink="0",
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="3",
                align=rx.breakpoints(initial="start", sm="center"),
                justify="between",
                flex="1",
            ),
            size="2",
            width="100%",
            display="flex",  # not Radix's grid: the text and button use the whole width
            gap="var(--space-3)",
            data_testid="data-ended",
        ),
    )


def support_contact(support: rx.Var) -> rx.Component:
    """The line "Contact support: <email> · <phone> · <web page>" as links, from a
    ``{"email", "phone", "tel", "url"}`` dict (phone and url shown only when set): a label,
    then the contacts."""
    return rx.text(
        _("Contact support:"),
        " ",
        rx.link(support["email"], href="mailto:" + support["email"]),
        rx.cond(
            support["phone"] != "",
            rx.text.span(" · ", rx.link(support["phone"], href="tel:" + support["tel"])),
        ),
        rx.cond(
            support["url"] != "",
            rx.text.span(" · ", rx.link(support["url"], href=support["url"], is_external=True)),
        ),
        size="2",
        data_testid="support-contact",
    )


def _not_found() -> rx.Component:
    return rx.vstack(
        rx.heading(_("eSIM not found"), size="6"),
        rx.link(_("My eSIMs"), href=localized(urls.ACCOUNT)),
    )


def _header() -> rx.Component:
    """Name, destination and ICCID; "Refresh now" and (unless staff suspended it) "Buy more
    data"."""
    return rx.flex(
        rx.vstack(
            rx.heading(EsimState.title, size="7", data_testid="esim-title"),
            rx.text(
                EsimState.destination,
                " · ICCID ",
                rx.code(EsimState.iccid),
                size="2",
                color=rx.color("gray", 11),
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.hstack(
            rx.button(
                rx.icon("refresh-cw", size=16),
                _("Refresh now"),
                on_click=EsimState.refresh,
                loading=EsimState.refreshing,
                variant="soft",
            ),
            rx.cond(
                ~EsimState.suspended_by_staff,
                rx.link(
                    rx.button(rx.icon("plus", size=16), _("Buy more data")),
                    href=EsimState.topup_url,
                ),
            ),
            spacing="2",
        ),
        direction=rx.breakpoints(initial="column", sm="row"),
        spacing="3",
        width="100%",
    )


def _callouts() -> tuple[rx.Component, rx.Component]:
    """The refresh result, then: staff suspension (with support), else the "no data left"
    callout and the install status."""
    return (
        rx.cond(
            EsimState.refresh_message != "",
            rx.text(EsimState.refresh_message, size="2", role="status"),
        ),
        rx.cond(
            EsimState.suspended_by_staff,
            rx.callout(
                rx.vstack(
                    rx.text(EsimState.suspended_text, weight="bold"),
                    support_contact(EsimState.support),
                    spacing="1",
                ),
                icon="octagon-alert",
                color_scheme="red",
                data_testid="esim-suspended",
            ),
            rx.fragment(data_ended(), install_status()),
        ),
    )


def _figures_notes() -> rx.Component:
    """Beside the gauges: what starts the clock, the run-out forecast, when the figures were
    read (and that usage lags), a failed last update."""
    return rx.vstack(
        rx.text(EsimState.clock_text, size="2", data_testid="clock-text"),
        rx.cond(
            EsimState.projection_text != "",
            rx.callout(
                EsimState.projection_text,
                icon="trending-down",
                size="1",
                color_scheme=rx.cond(EsimState.projection_warning, "amber", "gray"),
            ),
        ),
        rx.text(
            EsimState.updated_text,
            size="1",
            color=rx.color("gray", 11),
            data_testid="updated",
        ),
        rx.text(
            _(
                "Usage reaches us with a delay: networks report it after "
                "rating, sometimes hours later."
            ),
            size="1",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            EsimState.last_error != "",
            rx.text(EsimState.last_error, size="1", color=rx.color("amber", 11)),
        ),
        spacing="2",
        max_width="22em",
    )


def _figures_card() -> rx.Component:
    """The data and validity gauges with their notes."""
    return rx.card(
        rx.flex(
            rx.vstack(data_gauge(), rx.text(EsimState.data_text, size="2"), align="center"),
            rx.vstack(
                validity_gauge(),
                rx.cond(
                    EsimState.expires_text != "",
                    rx.text(EsimState.expires_text, size="2", data_testid="expires"),
                ),
                align="center",
            ),
            _figures_notes(),
            direction=rx.breakpoints(initial="column", md="row"),
            spacing="5",
            align="center",
            justify="between",
            width="100%",
        ),
        width="100%",
    )


def _rename_card() -> rx.Component:
    return rx.card(
        rx.form(
            rx.hstack(
                rx.input(
                    name="nickname",
                    placeholder=_("Name this eSIM, e.g. Japan trip"),
                    aria_label=_("eSIM name"),
                    max_length=40,
                    width="min(18em, 60vw)",
                ),
                rx.button(_("Rename"), type="submit", variant="soft"),
            ),
            on_submit=EsimState.rename,
            reset_on_submit=True,
        ),
        rx.cond(
            EsimState.rename_error != "",
            rx.text(EsimState.rename_error, color=rx.color("red", 11), size="2"),
        ),
        width="100%",
    )


def esim_page() -> rx.Component:
    return page(
        rx.cond(
            EsimState.not_found,
            _not_found(),
            rx.vstack(
                _header(),
                *_callouts(),
                _figures_card(),
                addons_table(),
                usage_chart(),
                auto_topup_card(),
                _rename_card(),
                spacing="4",
                width="100%",
            ),
        )
    )
