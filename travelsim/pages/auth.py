"""Sign-in and sign-up pages. The forms post to the ``/auth/*`` server routes, which set
the HttpOnly session cookie; no credential ever passes through Reflex state."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.components.native_form import native_form
from travelsim.state.auth_pages import AuthPageState


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AuthPageState.error != "",
            rx.callout(
                AuthPageState.error, icon="triangle-alert", color_scheme="red", role="alert"
            ),
        ),
        rx.cond(
            AuthPageState.notice != "",
            rx.callout(
                AuthPageState.notice, icon="mail-check", color_scheme="green", role="status"
            ),
        ),
        rx.cond(
            AuthPageState.demo_mailbox & (AuthPageState.notice != ""),
            rx.text(
                "Local demo without an email server: open the ",
                rx.link("demo mailbox", href="/demo/mailbox", is_external=True),
                ".",
                size="2",
            ),
        ),
    )


def _field(label: str, name: str, type_: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, font_weight="500"),
        rx.input(id=name, name=name, type=type_, size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def _card(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width="28em"),
        width="100%",
        padding_y="6",
    )


def _provider_signin() -> rx.Component:
    """The "Sign in with <provider>" button (a form post starting the OIDC flow), only when a
    provider is configured (``AuthPageState.oidc_name`` is set at runtime by ``load``)."""
    return rx.cond(
        AuthPageState.oidc_name != "",
        rx.vstack(
            rx.hstack(
                rx.separator(size="4"),
                rx.text("or", size="2", color=rx.color("gray", 11)),
                rx.separator(size="4"),
                align="center",
                width="100%",
            ),
            native_form(
                rx.el.input(type="hidden", name="next", value=AuthPageState.next_path),
                rx.button(
                    rx.icon("key-round", size=18),
                    "Sign in with " + AuthPageState.oidc_name,
                    type="submit",
                    size="3",
                    variant="outline",
                    width="100%",
                ),
                action="/auth/oidc/login",
                method="post",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
    )


def signin() -> rx.Component:
    return page(
        _card(
            rx.heading("Sign in", size="6"),
            _messages(),
            native_form(
                rx.vstack(
                    _field(
                        "Email",
                        "email",
                        "email",
                        required=True,
                        auto_complete="email",
                        default_value=AuthPageState.email,
                    ),
                    _field(
                        "Password",
                        "password",
                        "password",
                        required=True,
                        auto_complete="current-password",
                    ),
                    rx.el.input(type="hidden", name="next", value=AuthPageState.next_path),
                    rx.button("Sign in", type="submit", size="3", width="100%"),
                    spacing="3",
                    width="100%",
                ),
                action="/auth/signin",
                method="post",
                width="100%",
            ),
            rx.link("Forgot your password?", href="/password/forgot", size="2"),
            _provider_signin(),
            rx.text(
                "New here? ",
                rx.link("Create an account", href="/signup" + AuthPageState.next_query),
                size="2",
            ),
            rx.el.details(
                rx.el.summary("Didn't get the verification email?"),
                native_form(
                    rx.hstack(
                        rx.input(
                            name="email",
                            type="email",
                            placeholder="you@example.com",
                            required=True,
                            aria_label="Email for a new verification link",
                            flex_grow="1",
                        ),
                        rx.button("Send again", type="submit", variant="soft"),
                        width="100%",
                        padding_top="2",
                    ),
                    action="/auth/resend",
                    method="post",
                    width="100%",
                ),
                font_size="14px",
            ),
        )
    )


def signup() -> rx.Component:
    return page(
        _card(
            rx.heading("Create your account", size="6"),
            rx.text(
                "Your eSIMs, QR codes and remaining data live in your account.",
                color=rx.color("gray", 11),
            ),
            _messages(),
            native_form(
                rx.vstack(
                    _field(
                        "Email",
                        "email",
                        "email",
                        required=True,
                        auto_complete="email",
                        default_value=AuthPageState.email,
                    ),
                    _field(
                        "Password (at least 10 characters)",
                        "password",
                        "password",
                        required=True,
                        min_length=10,
                        auto_complete="new-password",
                    ),
                    rx.el.input(type="hidden", name="next", value=AuthPageState.next_path),
                    rx.button("Create account", type="submit", size="3", width="100%"),
                    spacing="3",
                    width="100%",
                ),
                action="/auth/signup",
                method="post",
                width="100%",
            ),
            rx.text(
                "Already have an account? ",
                rx.link("Sign in", href="/signin" + AuthPageState.next_query),
                size="2",
            ),
        )
    )
