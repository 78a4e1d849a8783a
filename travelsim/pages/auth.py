"""Sign-in and sign-up pages. The forms post to the ``/auth/*`` server routes, which set
the HttpOnly session cookie; no credential ever passes through Reflex state."""

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
from travelsim.components.layout import page
from travelsim.i18n import _, localized
from travelsim.state.auth_pages import AuthPageState


def _messages() -> rx.Component:
    return rx.fragment(
        error_callout(AuthPageState.error),
        notice_callout(AuthPageState.notice, "mail-check", role="status"),
        rx.cond(
            AuthPageState.demo_mailbox & (AuthPageState.notice != ""),
            rx.text(
                _("Local demo without an email server:"),
                " ",
                rx.link(_("open the demo mailbox"), href="/demo/mailbox", is_external=True),
                size="2",
            ),
        ),
    )


def _card(*children: rx.Component) -> rx.Component:
    return form_card(*children, max_width="28em")


def _provider_signin() -> rx.Component:
    """The "Sign in with <provider>" button (a form post starting the OIDC flow), only when a
    provider is configured (``AuthPageState.oidc_name`` is set at runtime by ``load``)."""
    return rx.cond(
        AuthPageState.oidc_name != "",
        rx.vstack(
            rx.hstack(
                rx.separator(size="4"),
                rx.text(_("or"), size="2", color=rx.color("gray", 11)),
                rx.separator(size="4"),
                align="center",
                width="100%",
            ),
            post_form(
                hidden_input("next", AuthPageState.next_path),
                submit_button(
                    rx.icon("key-round", size=18),
                    AuthPageState.oidc_button,
                    variant="outline",
                ),
                action="/auth/oidc/login",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
    )


def _resend_link() -> rx.Component:
    """ "Didn't get the verification email?": a one-field form asking for a new link."""
    return rx.el.details(
        rx.el.summary(_("Didn't get the verification email?")),
        post_form(
            rx.hstack(
                rx.input(
                    name="email",
                    type="email",
                    placeholder=_("you@example.com"),
                    required=True,
                    aria_label=_("Email for a new verification link"),
                    flex_grow="1",
                ),
                rx.button(_("Send again"), type="submit", variant="soft"),
                width="100%",
                padding_top="2",
            ),
            action="/auth/resend",
            width="100%",
        ),
        font_size="14px",
    )


def signin() -> rx.Component:
    return page(
        _card(
            rx.heading(_("Sign in"), size="6"),
            _messages(),
            post_form(
                rx.vstack(
                    email_input(default_value=AuthPageState.email, error=AuthPageState.error),
                    labelled_input(
                        _("Password"),
                        "password",
                        "password",
                        error=AuthPageState.error,
                        required=True,
                        auto_complete="current-password",
                    ),
                    hidden_input("next", AuthPageState.next_path),
                    submit_button(_("Sign in")),
                    spacing="3",
                    width="100%",
                ),
                action="/auth/signin",
                width="100%",
            ),
            rx.link(_("Forgot your password?"), href=localized("/password/forgot"), size="2"),
            _provider_signin(),
            rx.text(
                _("New here?"),
                " ",
                rx.link(
                    _("Create an account"), href=localized("/signup") + AuthPageState.next_query
                ),
                size="2",
            ),
            _resend_link(),
        )
    )


def signup() -> rx.Component:
    return page(
        _card(
            rx.heading(_("Create your account"), size="6"),
            rx.text(
                _("Your eSIMs, QR codes and remaining data live in your account."),
                color=rx.color("gray", 11),
            ),
            _messages(),
            post_form(
                rx.vstack(
                    email_input(default_value=AuthPageState.email, error=AuthPageState.error),
                    new_password_input(
                        _("Password (at least 10 characters)"), error=AuthPageState.error
                    ),
                    hidden_input("next", AuthPageState.next_path),
                    submit_button(_("Create account")),
                    spacing="3",
                    width="100%",
                ),
                action="/auth/signup",
                width="100%",
            ),
            rx.text(
                _("Already have an account?"),
                " ",
                rx.link(_("Sign in"), href=localized("/signin") + AuthPageState.next_query),
                size="2",
            ),
        )
    )
