"""Form pieces shared by the sign-in, sign-up, password and security pages.

Every form there is a real HTML post to a server route (:func:`post_form`); these are its
fields, its submit button, the card it sits in and the callouts that show the route's
``?error=`` / ``?notice=`` answer.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.native_form import native_form
from travelsim.i18n import _


def post_form(*children: rx.Component, action: str, **props: Any) -> rx.Component:
    """``<form method=post action=…>`` that the browser really submits (no Reflex event)."""
    return native_form(*children, action=action, method="post", **props)


#: The ``id`` of a form page's error callout, which the fields it concerns point to.
FORM_ERROR_ID = "form-error"


def error_attrs(error: Any) -> dict[str, Any]:
    """``aria-invalid`` and ``aria-describedby`` (the :data:`FORM_ERROR_ID` callout) for a
    field while ``error`` (a state var, "" when none) is shown: a screen reader reads the
    message with the field (docs/accessibility.md#forms)."""
    return {
        "aria-invalid": rx.cond(error != "", "true", "false"),
        "aria-describedby": rx.cond(error != "", FORM_ERROR_ID, ""),
    }


def labelled_input(
    label: str, name: str, type_: str, *, error: Any = None, **props: Any
) -> rx.Component:
    """A full-width input with its visible ``<label for=…>`` above it; ``name`` is also
    the input's ``id``. With ``error`` (the page's error var) the field points to the error
    callout while one shows (:func:`error_attrs`)."""
    if error is not None:
        props["custom_attrs"] = {**props.get("custom_attrs", {}), **error_attrs(error)}
    return rx.vstack(
        rx.el.label(label, html_for=name, font_weight="500"),
        rx.input(id=name, name=name, type=type_, size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def email_input(label: str | None = None, name: str = "email", **props: Any) -> rx.Component:
    """A required email field labelled ``label`` (default "Email", in the page's language;
    ``autocomplete=email`` unless ``props`` says otherwise)."""
    props.setdefault("auto_complete", "email")
    return labelled_input(label or _("Email"), name, "email", required=True, **props)


def new_password_input(label: str, name: str = "password", *, error: Any = None) -> rx.Component:
    """A required new-password field of at least 10 characters (the password policy's
    lower bound, checked again by the server); ``error`` as for :func:`labelled_input`."""
    return labelled_input(
        label,
        name,
        "password",
        error=error,
        required=True,
        min_length=10,
        auto_complete="new-password",
    )


def hidden_input(name: str, value: Any) -> rx.Component:
    """A hidden field carried by the post (``next``, ``token``)."""
    return rx.el.input(type="hidden", name=name, value=value)


def submit_button(*children: Any, **props: Any) -> rx.Component:
    """The form's full-width, large submit button."""
    return rx.button(*children, type="submit", size="3", width="100%", **props)


def form_card(*children: rx.Component, max_width: str) -> rx.Component:
    """The centred card a single-form page sits in, at most ``max_width`` wide."""
    return rx.center(
        rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width=max_width),
        width="100%",
        padding_y="6",
    )


def error_callout(message: Any) -> rx.Component:
    """A red alert with ``message``, shown only when it is not empty (``role="alert"``,
    ``id`` :data:`FORM_ERROR_ID`, which the fields given the same var describe themselves by)."""
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="triangle-alert", color_scheme="red", role="alert", id=FORM_ERROR_ID
        ),
    )


def notice_callout(message: Any, icon: str, **props: Any) -> rx.Component:
    """A green note with ``message`` and ``icon``, shown only when it is not empty
    (``props`` such as ``role="status"`` go to the callout)."""
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme="green", **props),
    )
