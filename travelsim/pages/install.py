"""Installation page of one eSIM: QR, one-tap links, manual entry and guides.

On a phone the QR is useless without a second screen (docs/esim.md#f16-same-phone), so
one-tap and manual entry come first there; inside an in-app browser one-tap links do not fire
(docs/esim.md#f5-in-app-browser), so the page says how to open it in the real browser. The
activation data of the one-tap and manual cards is fetched by the browser from the owner-only
route, never held in the page's state (:mod:`travelsim.components.install_details`,
docs/esim.md#security-installation-data-never-in-page-state).
"""

from __future__ import annotations

import reflex as rx

from travelsim import i18n
from travelsim.components.install_details import install_details
from travelsim.components.layout import page
from travelsim.components.network_facts import install_network
from travelsim.components.offline_card import offline_card
from travelsim.i18n import _, localized
from travelsim.services import installation
from travelsim.state.install import InstallState


def qr_section() -> rx.Component:
    src = "/esims/" + InstallState.esim_id + "/qr.png"
    return rx.card(
        rx.vstack(
            rx.heading(_("Scan the QR code"), size="4"),
            rx.text(
                _(
                    "On the phone you will use abroad, open the camera (iPhone) or Settings › "
                    "Network › SIMs › Add eSIM (Android) and scan this code from another screen."
                ),
                size="2",
            ),
            rx.image(
                src=src,
                alt=_("eSIM installation QR code"),
                width="260px",
                height="260px",
                data_testid="qr",
            ),
            rx.link(
                rx.button(rx.icon("download", size=16), _("Download QR (PNG)"), variant="soft"),
                href=src + "?download=1",
                is_external=False,
            ),
            spacing="3",
            align="center",
        ),
        width="100%",
    )


def keep_section() -> rx.Component:
    """Print, PDF and "Keep for offline use" of the install card, in this page's language
    (docs/esim.md#offline-install-card)."""
    card = "/esims/" + InstallState.esim_id + f"/card?lang={i18n.current()}"
    pdf = "/esims/" + InstallState.esim_id + f"/card.pdf?lang={i18n.current()}&download=1"
    return offline_card(card, pdf)


def guides() -> rx.Component:
    """The step-by-step guides (:data:`installation.INSTALL_STEPS`, the install card's too)."""
    return rx.card(
        rx.vstack(
            rx.heading(_("Step by step"), size="4"),
            *[
                rx.el.details(
                    rx.el.summary(name),
                    rx.el.ol(*[rx.el.li(_(step)) for step in steps]),
                )
                for name, steps in installation.INSTALL_STEPS
            ],
            rx.text(_(installation.INSTALL_ONCE), size="2", weight="medium"),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def notices() -> rx.Component:
    return rx.fragment(
        rx.cond(
            InstallState.in_app_browser != "",
            rx.callout(
                rx.text(InstallState.in_app_warning),
                icon="external-link",
                color_scheme="amber",
                data_testid="in-app-warning",
            ),
        ),
        rx.cond(InstallState.confirmation_code_required, confirmation_notice()),
        rx.cond(
            InstallState.status == "installed",
            rx.callout(
                _(
                    "This eSIM is already installed on a phone. Do not delete it: the code "
                    "cannot be used again."
                ),
                icon="shield-alert",
                color_scheme="amber",
                data_testid="installed-notice",
            ),
        ),
        rx.cond(InstallState.status == "downloaded", downloaded_notice()),
    )


def confirmation_notice() -> rx.Component:
    """Who gives the confirmation code: support, never the QR (docs/esim.md#confirmation-code)."""
    return rx.callout(
        rx.text(
            InstallState.confirmation_lead,
            " ",
            _("Contact support:"),
            " ",
            rx.link(
                InstallState.support["email"],
                href="mailto:" + InstallState.support["email"],
            ),
            rx.cond(
                InstallState.support["phone"] != "",
                rx.text.span(
                    " · ",
                    rx.link(
                        InstallState.support["phone"],
                        href="tel:" + InstallState.support["tel"],
                    ),
                ),
            ),
            rx.cond(
                InstallState.support["url"] != "",
                rx.text.span(
                    " · ",
                    rx.link(
                        _("help page"),
                        href=InstallState.support["url"],
                        is_external=True,
                    ),
                ),
            ),
            ".",
        ),
        icon="key-round",
        color_scheme="blue",
        size="3",
        data_testid="confirmation-notice",
    )


def downloaded_notice() -> rx.Component:
    """The profile is on a phone but not installed yet (docs/esim.md#profile-states): good
    news, said calmly, with the last step on that phone; the replacement stays reachable,
    quietly, on the eSIM's page."""
    return rx.callout(
        rx.vstack(
            rx.text(
                _(
                    "This eSIM is already downloaded to a phone. Its code cannot be used "
                    "again, and you do not need to scan it: finish the installation on that "
                    "phone."
                ),
                data_testid="downloaded-text",
            ),
            rx.el.ul(
                rx.el.li(
                    _(
                        "iPhone: Settings › Mobile Service (or Cellular). The eSIM appears "
                        "there: turn it on."
                    )
                ),
                rx.el.li(_("Android: Settings › Network & internet › SIMs. Turn the eSIM on.")),
            ),
            rx.hstack(
                rx.text(_("Problem with this eSIM?"), size="1", color=rx.color("gray", 11)),
                rx.link(_("Request a replacement"), href=InstallState.esim_url, size="1"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            spacing="2",
        ),
        icon="circle-check",
        color_scheme="green",
        variant="surface",
        data_testid="downloaded-notice",
    )


def install_page() -> rx.Component:
    return page(
        rx.cond(
            InstallState.not_found,
            rx.vstack(
                rx.heading(_("eSIM not found"), size="6"),
                rx.link(_("Back home"), href=localized("/")),
            ),
            rx.cond(
                InstallState.ready,
                rx.vstack(
                    rx.heading(_("Install your eSIM"), size="7"),
                    rx.text(
                        "ICCID ", rx.code(InstallState.iccid), size="2", color=rx.color("gray", 11)
                    ),
                    notices(),
                    rx.cond(
                        InstallState.mobile,
                        rx.vstack(
                            install_details(InstallState.details_url),
                            install_network(),
                            qr_section(),
                            guides(),
                            keep_section(),
                            spacing="4",
                            width="100%",
                        ),
                        rx.grid(
                            qr_section(),
                            install_details(InstallState.details_url),
                            install_network(),
                            guides(),
                            keep_section(),
                            columns=rx.breakpoints(initial="1", md="2"),
                            spacing="4",
                            width="100%",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    InstallState.status == "withdrawn",
                    rx.vstack(
                        rx.heading(_("This eSIM no longer works"), size="6"),
                        rx.text(
                            _(
                                "Its order was refunded, so its installation data is no "
                                "longer shown."
                            )
                        ),
                        rx.link(_("Back to the eSIM"), href=InstallState.esim_url),
                        data_testid="esim-withdrawn",
                    ),
                    rx.vstack(
                        rx.heading(_("Your eSIM is being prepared"), size="6"),
                        rx.text(
                            _("Its installation data is not ready yet. Check your order page.")
                        ),
                    ),
                ),
            ),
        )
    )
