"""Page layout: header with navigation, content area and footer.

Works from phone width (navigation collapses into a menu) to desktop, in light and dark
colour modes (Radix themes follow the system preference; the toggle overrides it).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.base import Var

from travelsim.components.currency import currency_menu
from travelsim.components.language import document_lang, language_links, language_menu
from travelsim.components.native_form import native_form
from travelsim.i18n import N_, _, localized
from travelsim.state.session import SessionState

#: The main navigation: English label (translated where shown), path, icon.
NAV_LINKS: list[tuple[str, str, str]] = [
    (N_("Plans"), "/", "map"),
]


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("globe", size=24, color=rx.color("accent", 9)),
            rx.heading("TravelSIM", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        href=localized("/"),
        underline="none",
        color=rx.color("gray", 12),
        aria_label=_("TravelSIM home"),
    )


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    """A header link: ``label`` (English, shown translated) to ``href`` in the page's language."""
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(_(label), size="3"), align="center", spacing="1"),
        href=localized(href),
        underline="none",
        color=rx.color("gray", 12),
    )


#: Run by the sign-out buttons (here, "sign out everywhere", account deletion) as the form
#: posts: the tab forgets its Reflex state token, so the page the form lands on starts a new,
#: empty state instead of reconnecting to the signed-in one
#: (docs/esim.md#security-installation-data-never-in-page-state).
#: Reflex keeps the token in ``sessionStorage["token"]`` (``.web/utils/state.js``).
FORGET_TAB_STATE: Var[Any] = Var(_js_expr='(() => window.sessionStorage.removeItem("token"))')


def signout_form(*, compact: bool = False, **props: object) -> rx.Component:
    """The sign-out button (a POST form). ``compact`` (the phone header): the icon alone, its
    accessible name still "Sign out"."""
    label = _("Sign out")
    return native_form(
        # Looks like the navigation links beside it (it is a POST, hence a button).
        rx.button(
            rx.icon("log-out", size=16),
            *([] if compact else [rx.text(label, size="3")]),
            type="submit",
            variant="ghost",
            color_scheme="gray",
            high_contrast=True,
            size="2",
            cursor="pointer",
            custom_attrs={"onClick": FORGET_TAB_STATE},
            **({"aria_label": label, "title": label} if compact else {}),
        ),
        action="/auth/signout",
        method="post",
        **props,
    )


#: Signed in with every factor: the account links show (a session owing its second factor
#: sees only "Sign out", on the one page it can use).
FULLY_SIGNED_IN = SessionState.signed_in & ~SessionState.factor_pending


def account_links() -> rx.Component:
    return rx.cond(
        FULLY_SIGNED_IN,
        rx.hstack(
            _nav_link(N_("My eSIMs"), "/account", "smartphone"),
            _nav_link(N_("Security"), "/security", "shield"),
            rx.cond(SessionState.is_staff, _nav_link(N_("Admin"), "/admin", "layout-dashboard")),
            signout_form(),
            spacing="4",
            align="center",
        ),
        rx.cond(
            SessionState.signed_in, signout_form(), _nav_link(N_("Sign in"), "/signin", "log-in")
        ),
    )


def color_mode_button() -> rx.Component:
    return rx.color_mode.button(variant="ghost", size="2", aria_label=_("Toggle dark mode"))


def header() -> rx.Component:
    desktop = rx.desktop_only(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.hstack(*[_nav_link(*link) for link in NAV_LINKS], spacing="5", align="center"),
            account_links(),
            language_menu(),
            currency_menu(),
            color_mode_button(),
            align="center",
            spacing="5",
            width="100%",
        )
    )
    mobile = rx.mobile_and_tablet(
        rx.hstack(
            brand(),
            rx.spacer(),
            # Phone width: the header's buttons without their words (each keeps its
            # accessible name), so the bar fits 360 px in every language.
            rx.cond(SessionState.signed_in, signout_form(compact=True)),
            language_menu(compact=True),
            currency_menu(compact=True),
            color_mode_button(),
            rx.menu.root(
                rx.menu.trigger(
                    rx.icon_button(rx.icon("menu"), variant="ghost", aria_label=_("Open menu"))
                ),
                rx.menu.content(
                    *[
                        rx.menu.item(rx.link(_(label), href=localized(href), underline="none"))
                        for label, href, _icon in NAV_LINKS
                    ],
                    rx.cond(
                        FULLY_SIGNED_IN,
                        rx.fragment(
                            rx.menu.item(
                                rx.link(_("My eSIMs"), href=localized("/account"), underline="none")
                            ),
                            rx.menu.item(
                                rx.link(
                                    _("Security & privacy"),
                                    href=localized("/security"),
                                    underline="none",
                                )
                            ),
                            rx.cond(
                                SessionState.is_staff,
                                rx.menu.item(rx.link("Admin", href="/admin", underline="none")),
                            ),
                        ),
                        rx.cond(
                            SessionState.signed_in,
                            rx.fragment(),
                            rx.menu.item(
                                rx.link(_("Sign in"), href=localized("/signin"), underline="none")
                            ),
                        ),
                    ),
                ),
            ),
            align="center",
            spacing="2",
            width="100%",
        )
    )
    return rx.el.header(
        rx.container(desktop, mobile, size="4", padding_y="3"),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


#: The seller's legal pages, linked from every page's footer (docs/legal.md#content-pages).
LEGAL_LINKS: list[tuple[str, str]] = [
    (N_("Terms and conditions"), "/terms"),
    (N_("Privacy notice"), "/privacy"),
    (N_("Legal notice"), "/imprint"),
    (N_("Cookies"), "/cookies"),
]


def legal_links() -> rx.Component:
    return rx.el.nav(
        rx.flex(
            *[
                rx.link(_(label), href=localized(href), size="2", color=rx.color("gray", 11))
                for label, href in LEGAL_LINKS
            ],
            wrap="wrap",
            spacing="4",
            padding_top="3",
        ),
        aria_label=_("Legal information"),
        data_testid="legal-links",
    )


def footer() -> rx.Component:
    return rx.el.footer(
        rx.container(
            rx.flex(
                rx.text(
                    _("TravelSIM: travel eSIMs on the BICS SIM for Things platform."),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.spacer(),
                language_links(),
                rx.link(
                    _("Service status"),
                    href=localized("/status"),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="2",
                width="100%",
            ),
            legal_links(),
            size="4",
            padding_y="5",
        ),
        border_top=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 2),
        width="100%",
        margin_top="auto",
    )


#: The ``id`` of every page's ``<main>``, the skip link's target.
MAIN_ID = "main-content"
#: The skip link's click (Enter): the focus moves into ``<main>`` itself (the page's router
#: would otherwise only change the URL's fragment), so the next Tab is the page's first control.
_FOCUS_MAIN: Var[Any] = Var(
    _js_expr=(
        f"((e) => {{ const m = document.getElementById('{MAIN_ID}');"
        " if (m) { e.preventDefault(); m.focus(); m.scrollIntoView(); } })"
    )
)


def skip_link() -> rx.Component:
    """ "Skip to main content": the first thing the Tab key reaches, shown only while it has
    the focus (``assets/a11y.css``), jumping past the header to ``<main>``."""
    return rx.el.a(
        _("Skip to main content"),
        href=f"#{MAIN_ID}",
        class_name="skip-link",
        custom_attrs={"onClick": _FOCUS_MAIN},
    )


def page(*children: rx.Component, **props: object) -> rx.Component:
    """Wrap page content in header, main area and footer, in the language the page is
    compiled in (``travelsim.i18n.current``)."""
    return rx.flex(
        document_lang(),
        skip_link(),
        header(),
        rx.el.main(
            rx.container(*children, size="4", padding_x="4", padding_y="6"),
            id=MAIN_ID,
            tab_index=-1,  # the skip link moves the keyboard focus here
            width="100%",
            flex="1",
        ),
        footer(),
        direction="column",
        min_height="100vh",
        width="100%",
        **props,
    )
