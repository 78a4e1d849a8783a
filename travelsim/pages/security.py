"""Security & privacy pages: sessions and sign-out everywhere, two-step verification,
password reset, data download and account deletion. Every form is a real HTML post to a
server route (``travelsim.routes.security`` / ``account``) with the same-origin check."""

from __future__ import annotations

import reflex as rx

from travelsim.components.forms import (
    email_input,
    error_callout,
    form_card,
    hidden_input,
    labelled_input,
    new_password_input,
    notice_callout,
    post_form,
    submit_button,
)
from travelsim.components.layout import FORGET_TAB_STATE, page
from travelsim.i18n import _, localized
from travelsim.state.security import (
    DeleteAccountState,
    PasswordResetState,
    SecurityState,
    TotpState,
)


def _narrow(*children: rx.Component) -> rx.Component:
    return form_card(*children, max_width="30em")


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
        width="100%",
    )


# --- /security ------------------------------------------------------------------------------


def _session_row(r: rx.Var) -> rx.Component:
    """One signed-in browser: name and system, how it signed in, since when, last active
    (dates in the viewer's zone). A list, not a table, so it reads at phone width."""
    muted = rx.color("gray", 11)
    return rx.box(
        rx.hstack(
            rx.icon("monitor-smartphone", size=18, color=muted),
            rx.text(r["browser"], weight="medium"),
            rx.cond(r["current"] != "", rx.badge(_("This device"), color_scheme="green")),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.text(_("Signed in with:"), " ", r["method"], size="2", color=muted),
        rx.text(_("Signed in since:"), " ", r["started"], size="2", color=muted),
        rx.text(_("Last active:"), " ", r["last_seen"], size="2", color=muted),
        padding_y="2",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        data_testid="session-row",
    )


def _sessions_section() -> rx.Component:
    return _section(
        _("Where you are signed in"),
        rx.vstack(
            rx.foreach(SecurityState.sessions, _session_row),
            spacing="0",
            width="100%",
        ),
        rx.text(
            _(
                "Lost a phone or used a shared computer? Sign out everywhere: every "
                "device, this one included, will need to sign in again."
            ),
            size="2",
            color=rx.color("gray", 11),
        ),
        post_form(
            rx.button(
                _("Sign out everywhere"),
                type="submit",
                color_scheme="red",
                # This tab signs out too: it forgets its Reflex state as the form posts.
                custom_attrs={"onClick": FORGET_TAB_STATE},
            ),
            action="/auth/signout-all",
        ),
    )


def _two_step_section() -> rx.Component:
    return _section(
        _("Two-step verification"),
        rx.cond(
            SecurityState.totp_enabled,
            rx.hstack(
                rx.badge(_("On"), color_scheme="green"),
                rx.text(_("Sign-in asks for a code from your authenticator app."), size="2"),
                align="center",
            ),
            rx.vstack(
                rx.text(
                    rx.cond(
                        SecurityState.is_staff,
                        _("Required for staff accounts."),
                        _("Add a code from an authenticator app to every sign-in."),
                    ),
                    size="2",
                ),
                rx.link(
                    rx.button(_("Set up two-step verification"), variant="soft"),
                    href=localized("/security/totp"),
                ),
            ),
        ),
    )


def _password_section() -> rx.Component:
    return _section(
        _("Password"),
        rx.text(
            _("To change your password, we email you a link to choose a new one."),
            size="2",
        ),
        rx.link(_("Change my password"), href=localized("/password/forgot"), size="2"),
    )


def _identities_section() -> rx.Component:
    return rx.cond(
        SecurityState.identities.length() > 0,
        _section(
            _("Identity providers"),
            rx.foreach(
                SecurityState.identities,
                lambda i: rx.text(
                    i["email"],
                    " · ",
                    i["issuer"],
                    " · ",
                    _("linked:"),
                    " ",
                    i["linked"],
                    size="2",
                ),
            ),
        ),
    )


def _data_section() -> rx.Component:
    return _section(
        _("Your data"),
        rx.text(
            _(
                "Download everything we hold about you: your account, eSIMs, orders, "
                "payments, notifications and emails, as a JSON file. Activation codes are "
                "not included: they stay on each eSIM’s install page."
            ),
            size="2",
        ),
        rx.link(
            rx.button(rx.icon("download", size=16), _("Download my data"), variant="soft"),
            href="/account/export.json",
            # A file from a server route: the browser must load it, not the router.
            reload_document=True,
        ),
        rx.separator(size="4"),
        rx.text(
            _(
                "Deleting your account is permanent. We show you exactly what happens "
                "before anything is deleted."
            ),
            size="2",
        ),
        rx.link(
            rx.button(_("Delete my account…"), variant="outline", color_scheme="red"),
            href=localized("/account/delete"),
        ),
    )


def security_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading(_("Security & privacy"), size="7"),
            notice_callout(SecurityState.notice, "shield-check"),
            _sessions_section(),
            _two_step_section(),
            _password_section(),
            _identities_section(),
            _data_section(),
            spacing="4",
            width="100%",
            max_width="52em",
        )
    )


# --- /security/totp -------------------------------------------------------------------------


def _code_form() -> rx.Component:
    return post_form(
        rx.vstack(
            labelled_input(
                _("6-digit code"),
                "code",
                "text",
                required=True,
                input_mode="numeric",
                auto_complete="one-time-code",
                pattern="[0-9 ]{6,7}",
                max_length=7,
            ),
            hidden_input("next", TotpState.next_path),
            submit_button(_("Verify")),
            spacing="3",
        ),
        action="/auth/totp",
    )


def _enrol() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Set up two-step verification"), size="6"),
        rx.cond(
            TotpState.required,
            rx.callout(
                _("Staff accounts need a second step at every sign-in."),
                icon="shield",
                color_scheme="blue",
            ),
        ),
        error_callout(TotpState.error),
        rx.text(
            _(
                "1. Scan this code with an authenticator app (Google Authenticator, "
                "1Password, Aegis, …)."
            ),
            size="2",
        ),
        rx.center(
            rx.image(
                src=TotpState.qr_data_uri,
                alt=_("QR code for your authenticator app"),
                width="220px",
                height="220px",
                background="white",
                data_testid="totp-qr",
            ),
            width="100%",
        ),
        rx.text(_("Or type this key:"), size="2"),
        rx.code(TotpState.secret, size="3", data_testid="totp-secret"),
        rx.text(_("2. Enter the code the app shows."), size="2"),
        _code_form(),
        spacing="3",
        width="100%",
    )


def _verify() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Two-step verification"), size="6"),
        error_callout(TotpState.error),
        rx.text(_("Enter the 6-digit code from your authenticator app."), size="2"),
        _code_form(),
        spacing="3",
        width="100%",
    )


def totp_page() -> rx.Component:
    return page(_narrow(rx.cond(TotpState.mode == "enrol", _enrol(), _verify())))


# --- /password/forgot and /password/reset ---------------------------------------------------


def forgot_password_page() -> rx.Component:
    return page(
        _narrow(
            rx.heading(_("Reset your password"), size="6"),
            error_callout(PasswordResetState.error),
            rx.text(
                _(
                    "Enter the email address of your account. We will email you a link to "
                    "choose a new password."
                ),
                size="2",
            ),
            post_form(
                rx.vstack(
                    email_input(),
                    submit_button(_("Email me a link")),
                    spacing="3",
                ),
                action="/auth/password/forgot",
            ),
            rx.link(_("Back to sign in"), href=localized("/signin"), size="2"),
        )
    )


def reset_password_page() -> rx.Component:
    choosing = PasswordResetState.choosing
    muted = rx.color("gray", 11)
    return page(
        _narrow(
            rx.heading(
                rx.cond(choosing, _("Choose your password"), _("Choose a new password")), size="6"
            ),
            error_callout(PasswordResetState.error),
            rx.cond(
                choosing,
                notice_callout(
                    _(
                        "Your email address is confirmed. No password was set when the "
                        "account was created: choose the one you will sign in with."
                    ),
                    "mail-check",
                    role="status",
                ),
            ),
            rx.text(
                _("Account:"),
                " ",
                rx.text.strong(PasswordResetState.account_email),
                size="2",
                data_testid="reset-account",
            ),
            rx.text(
                rx.cond(
                    choosing,
                    _("Saving it signs you in here and signs out any other device."),
                    _("Setting a new password signs you out on every other device."),
                ),
                size="2",
                color=muted,
            ),
            post_form(
                hidden_input("token", PasswordResetState.token),
                rx.cond(
                    choosing,
                    _password_fields(
                        _("Password (at least 10 characters)"),
                        _("Repeat the password"),
                        _("Save my password"),
                    ),
                    _password_fields(
                        _("New password (at least 10 characters)"),
                        _("Repeat the new password"),
                        _("Save my new password"),
                    ),
                ),
                action="/auth/password/reset",
                width="100%",
            ),
        )
    )


def _password_fields(label: str, repeat: str, button: str) -> rx.Component:
    return rx.vstack(
        new_password_input(label),
        new_password_input(repeat, "password2"),
        submit_button(button),
        spacing="3",
        width="100%",
    )


# --- /account/delete ------------------------------------------------------------------------


def _what_deletion_does() -> rx.Component:
    return rx.el.ul(
        rx.cond(
            DeleteAccountState.live_esims.length() > 0,
            rx.el.li(
                _(
                    "These eSIMs still have data or validity left. They will be suspended "
                    "right away and stop working; remaining data is lost:"
                ),
                rx.el.ul(
                    rx.foreach(
                        DeleteAccountState.live_esims,
                        lambda e: rx.el.li(e["name"], " (ICCID ", rx.code(e["iccid"]), ")"),
                    )
                ),
                data_testid="delete-live-esims",
            ),
        ),
        rx.el.li(
            _(
                "Your eSIMs are removed from the portal: you can no longer see their "
                "QR codes or buy more data for them."
            )
        ),
        rx.cond(DeleteAccountState.orders > 0, rx.el.li(DeleteAccountState.orders_kept)),
        rx.el.li(_("You are signed out everywhere and your sign-in details are erased.")),
        rx.el.li(_("Notifications, emails and other records about you are deleted.")),
        padding_left="1.2em",
        list_style_type="disc",
        font_size="14px",
    )


def _delete_form() -> rx.Component:
    return post_form(
        rx.vstack(
            email_input(
                _("Type your email address to confirm"), "confirm_email", auto_complete="off"
            ),
            rx.el.label(
                rx.hstack(
                    rx.el.input(type="checkbox", name="confirm", value="yes", required=True),
                    rx.text(
                        _("I understand my account and eSIMs stop working for good."),
                        size="2",
                    ),
                    align="center",
                ),
            ),
            submit_button(
                _("Delete my account"),
                color_scheme="red",
                custom_attrs={"onClick": FORGET_TAB_STATE},
            ),
            spacing="3",
        ),
        action="/account/delete",
    )


def delete_account_page() -> rx.Component:
    return page(
        _narrow(
            rx.heading(_("Delete your account"), size="6"),
            error_callout(DeleteAccountState.error),
            rx.callout(
                _("This cannot be undone."),
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
            ),
            rx.text(_("When you delete your account:"), weight="medium"),
            _what_deletion_does(),
            rx.text(
                _("Want a copy first?"),
                " ",
                rx.link(_("Download your data"), href="/account/export.json", reload_document=True),
                size="2",
            ),
            rx.cond(
                DeleteAccountState.pending_orders > 0,
                rx.callout(
                    _(
                        "An order is still being prepared: you can delete your account once "
                        "it is delivered."
                    ),
                    icon="clock",
                    color_scheme="amber",
                ),
                _delete_form(),
            ),
            rx.link(_("Keep my account"), href=localized("/security"), size="2"),
        )
    )
