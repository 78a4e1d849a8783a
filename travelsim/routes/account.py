"""A traveler's own data: download it as JSON, delete the account.

- ``GET /account/export.json``: the signed-in person's data
  (:func:`travelsim.services.privacy.export.export_user_data`) as a JSON attachment
  (``Content-Disposition: attachment``, ``Cache-Control: no-store``). Signed out: 303 to
  ``/signin?next=/security``.
- ``POST /account/delete`` (confirm_email, confirm; same-origin check): after the warning
  page ``/account/delete``, deletes the account
  (:func:`travelsim.services.privacy.deletion.delete_account`: eSIMs with live add-ons
  suspended on SFT first, orders kept but detached), drops the cookie and goes to
  ``/signin?notice=account_deleted``; errors ``/account/delete?error=…``.

Both need a "full" session: a staff member (or TOTP user) who has not passed the second
factor in this session is sent to ``/security/totp`` first.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from travelsim import db, urls
from travelsim.models import User
from travelsim.routes.http import (
    cookie_token,
    delete_session_cookie,
    forbidden,
    read_form,
    redirect,
    same_origin,
)
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.sessions import owes_second_factor, resolve_session
from travelsim.services.auth.totp import second_factor_path
from travelsim.services.platform import sft_client
from travelsim.services.privacy import deletion, export
from travelsim.settings import get_settings

log = logging.getLogger(__name__)


async def _full_user(request: Request, next_path: str) -> User | Response:
    """The signed-in user with a full session, or the redirect to sign in / the second
    factor."""
    token = cookie_token(request)
    async with db.session() as s:
        user = await resolve_session(s, token)
        owes = user is None and await owes_second_factor(s, token)
        await s.commit()
    if owes:
        return redirect(second_factor_path(next_path))
    if user is None:
        return redirect(urls.SIGN_IN, next=next_path)
    return user


async def export_json(request: Request) -> Response:
    """``GET /account/export.json``: download my data."""
    user = await _full_user(request, "/security")
    if isinstance(user, Response):
        return user
    async with db.session() as s:
        data = await export.export_user_data(s, user)
    body = json.dumps(data, indent=2, ensure_ascii=False)
    day = data["exported_at"][:10]
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="travelsim-data-{day}.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def delete_account(request: Request) -> Response:
    """``POST /account/delete``: delete my account after the warning page."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    user = await _full_user(request, "/account/delete")
    if isinstance(user, Response):
        return user
    assert user.id is not None
    form = await read_form(request)
    typed = form.get("confirm_email", "").strip().lower()
    if typed != user.email or form.get("confirm") != "yes":
        return redirect("/account/delete", error="delete_confirm")
    try:
        await deletion.delete_account(user.id, sft_client())
    except AccountError as exc:
        return redirect("/account/delete", error=exc.code)
    response = redirect(urls.SIGN_IN, notice="account_deleted")
    delete_session_cookie(response, settings)
    return response


def account_routes() -> list[Route]:
    """The routes above, to mount in ``travelsim.routes.app.build_routes_app``."""
    return [
        Route("/account/export.json", export_json, methods=["GET"]),
        Route("/account/delete", delete_account, methods=["POST"]),
    ]
