"""A plain HTML form that really submits to its ``action`` (for the ``/auth/*`` routes).

Reflex's ``rx.el.form`` always prevents the browser's own submission; sign-in must be a
real POST so the server can answer with the HttpOnly cookie.
"""

from __future__ import annotations

from typing import Any

from reflex_components_core.el.elements.forms import Form


class NativeForm(Form):
    """``<form action=… method=post>`` without Reflex's submit interception."""

    @classmethod
    def create(cls, *children: Any, **props: Any) -> Any:
        props.pop("on_submit", None)
        return super(Form, cls).create(*children, **props)


native_form = NativeForm.create
