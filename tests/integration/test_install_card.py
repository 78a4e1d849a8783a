"""The install card routes over the real routes app (ASGI), against a real database and the
in-process simulator (docs/esim.md#offline-install-card).

Two delivered travelers (``tests/load/test_attack.py``'s ``world``: bought with a real
localstripe card and provisioned by the simulator). Expected values come from the platform's
activation code (decrypted from the database), an independent QR decoder (zxing-cpp) and
Babel on the order's own amount; the PDF's text is read with ``tests/pdf_text.py`` (zlib and
the fonts' ToUnicode maps, no PDF library).

* the owner gets the HTML card (activation code, SM-DP+ address, QR that decodes to the code,
  APN row, steps, support, plan facts), ``private, no-store``, a CSP whose style hash is the
  served style's and no inline script; the PDF card with the same facts, inline or as a file;
* another traveler, a signed-out browser, a session still owing its second factor, an
  unknown or non-numeric id: the same bodiless 404, ``private, no-store``;
* a French card (``?lang=fr``, or a French page's ``Referer``): French texts, euro amount as
  Babel writes it in French, typographic apostrophes, angle quotes and the euro sign in the
  PDF's text;
* a plan name with markup is escaped;
* sign-out and sign-out everywhere answer ``Clear-Site-Data: "cache", "storage"`` with the
  session cookie deleted and the usual redirect.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import zxingcpp
from babel.numbers import format_currency
from PIL import Image

from tests.load.test_attack import World, world
from tests.pdf_text import pdf_text
from travelsim import db
from travelsim.formatting import minor_to_decimal
from travelsim.keys import secret_box
from travelsim.models import Order, Plan, User, UserTotp, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.services.auth import sessions, totp
from travelsim.settings import get_settings

__all__ = ["world"]  # the fixture, shared with test_attack.py

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as c:
        yield c


def _cookie(token: str | None) -> dict[str, str]:
    return {"cookie": f"{sessions.COOKIE_NAME}={token}"} if token else {}


def _qr_text(html: str) -> str:
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert found, "no inline QR"
    image = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return str(results[0].text)


async def _order(order_id: str) -> Order:
    async with db.session() as s:
        order = await s.get(Order, order_id)
    assert order is not None
    return order


async def test_owner_gets_the_html_card(world: World, http: httpx.AsyncClient) -> None:
    v = world.victim
    answer = await http.get(f"/esims/{v.esim_id}/card?lang=en", headers=_cookie(v.token))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    page = answer.text
    smdp = v.lpa.split("$")[1]
    assert f'data-testid="card-matching-id">{v.matching_id}<' in page
    assert f'data-testid="card-smdp">{smdp}<' in page
    assert f'data-testid="card-lpa">{v.lpa.replace("$", "$")}<' in page
    assert 'data-testid="card-apn">Set automatically<' in page
    assert _qr_text(page) == v.lpa  # what the phone's camera reads
    assert '<html lang="en">' in page
    assert "Settings › Mobile Service › Add eSIM › Use QR Code." in page
    assert get_settings().support_email in page
    assert v.iccid in page
    order = await _order(v.order_id)
    assert order.reference in page
    assert format_currency(minor_to_decimal(order.amount_minor, "EUR"), "EUR", locale="en_US") in (
        page
    )
    assert "1 GB" in page and "7 days" in page  # the plan of checkout_support.add_plan


async def test_card_page_csp_allows_its_style_and_no_inline_script(
    world: World, http: httpx.AsyncClient
) -> None:
    v = world.victim
    answer = await http.get(f"/esims/{v.esim_id}/card", headers=_cookie(v.token))
    csp = dict(
        part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";")
    )
    styles = re.findall(r"<style>(.*?)</style>", answer.text, re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert csp["style-src"] == f"'sha256-{digest}'"
    assert csp["default-src"] == "'none'" and csp["img-src"] == "data:"
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", answer.text, re.S)
    assert scripts == [(' src="/install-card.js" defer', "")]
    assert " on" not in re.sub(r">[^<]*<", "><", answer.text)  # no inline event handler


async def test_owner_gets_the_pdf_card(world: World, http: httpx.AsyncClient) -> None:
    v = world.victim
    inline = await http.get(f"/esims/{v.esim_id}/card.pdf?lang=en", headers=_cookie(v.token))
    download = await http.get(
        f"/esims/{v.esim_id}/card.pdf?lang=en&download=1", headers=_cookie(v.token)
    )
    for answer in (inline, download):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.content.startswith(b"%PDF-")
    name = f"travelsim-esim-{v.esim_id}-card.pdf"
    assert inline.headers["content-disposition"] == f'inline; filename="{name}"'
    assert download.headers["content-disposition"] == f'attachment; filename="{name}"'
    text = pdf_text(inline.content)
    assert v.matching_id in text.splitlines()
    assert v.lpa in text.splitlines()
    assert v.lpa.split("$")[1] in text.splitlines()
    assert "eSIM install card" in text and "Set automatically" in text
    assert (await _order(v.order_id)).reference in text
    assert v.matching_id.encode() not in inline.content  # the text is glyph codes, not ASCII


async def test_french_card_in_html_and_pdf(world: World, http: httpx.AsyncClient) -> None:
    v = world.victim
    order = await _order(v.order_id)
    euros = format_currency(minor_to_decimal(order.amount_minor, "EUR"), "EUR", locale="fr_FR")
    page = await http.get(f"/esims/{v.esim_id}/card?lang=fr", headers=_cookie(v.token))
    assert '<html lang="fr">' in page.text
    assert "Carte d’installation eSIM" in page.text
    assert "Réglé automatiquement" in page.text
    assert euros in page.text and "€" in euros
    pdf = await http.get(f"/esims/{v.esim_id}/card.pdf?lang=fr", headers=_cookie(v.token))
    text = pdf_text(pdf.content)
    assert "Carte d’installation eSIM" in text  # U+2019: not Latin-1
    # € (U+20AC); Babel's no-break space before it reads back as a space: DejaVu draws both
    # with one glyph, which the font's ToUnicode map names U+0020.
    assert euros.replace("\xa0", " ") in text
    assert "1. Réglages › Données cellulaires ›" in text  # the French install steps
    assert "« Saisir les informations manuellement »" in " ".join(text.splitlines())
    assert v.matching_id in text.splitlines()


async def test_language_from_the_page_the_request_came_from(
    world: World, http: httpx.AsyncClient
) -> None:
    v = world.victim
    referer = f"http://localhost:3000/de/esims/{v.esim_id}/install"
    page = await http.get(
        f"/esims/{v.esim_id}/card", headers={**_cookie(v.token), "referer": referer}
    )
    assert '<html lang="de">' in page.text and "eSIM-Installationskarte" in page.text
    odd = await http.get(f"/esims/{v.esim_id}/card?lang=xx", headers=_cookie(v.token))
    assert '<html lang="en">' in odd.text  # an unknown language: the request's (English)


async def test_a_plan_name_with_markup_is_escaped(world: World, http: httpx.AsyncClient) -> None:
    v = world.victim
    order = await _order(v.order_id)
    async with db.session() as s:
        plan = await s.get(Plan, order.plan_id)
        assert plan is not None
        plan.display_name = '<img src=x onerror="alert(1)"> & Co'
        s.add(plan)
        await s.commit()
    page = await http.get(f"/esims/{v.esim_id}/card", headers=_cookie(v.token))
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co" in page.text
    assert "<img src=x" not in page.text
    pdf = await http.get(f"/esims/{v.esim_id}/card.pdf", headers=_cookie(v.token))
    assert '<img src=x onerror="alert(1)"> & Co' in pdf_text(pdf.content)


async def _refused(http: httpx.AsyncClient, token: str | None, esim_id: int | str) -> None:
    for path in (f"/esims/{esim_id}/card", f"/esims/{esim_id}/card.pdf"):
        answer = await http.get(path, headers=_cookie(token))
        assert (answer.status_code, answer.content) == (404, b""), path
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.headers["content-type"].startswith("text/plain")  # a page, no download
        assert "content-security-policy" not in answer.headers


async def test_anyone_but_the_owner_gets_the_same_bodiless_404(
    world: World, http: httpx.AsyncClient
) -> None:
    v, attacker = world.victim, world.attacker
    await _refused(http, attacker.token, v.esim_id)  # another traveler
    await _refused(http, None, v.esim_id)  # signed out
    await _refused(http, "not-a-session", v.esim_id)
    await _refused(http, v.token, 999_999)  # unknown id
    await _refused(http, v.token, "abc")
    # Positive control: the attacker's own card.
    own = await http.get(f"/esims/{attacker.esim_id}/card", headers=_cookie(attacker.token))
    assert own.status_code == 200 and attacker.matching_id in own.text
    assert v.matching_id not in own.text


async def test_a_session_owing_its_second_factor_gets_404(
    world: World, http: httpx.AsyncClient
) -> None:
    v = world.victim
    async with db.session() as s:
        s.add(
            UserTotp(
                user_id=v.user.id or 0,
                secret_enc=secret_box().encrypt(totp.new_totp_secret()),
                confirmed_at=utcnow(),
            )
        )
        await s.commit()
        assert await sessions.owes_second_factor(s, v.token)
    await _refused(http, v.token, v.esim_id)


def _origin() -> dict[str, str]:
    parts = urlsplit(get_settings().public_url)
    return {"origin": f"{parts.scheme}://{parts.netloc}"}


@pytest.mark.parametrize(
    ("path", "target"),
    [("/auth/signout", "/"), ("/auth/signout-all", "/signin?notice=signed_out_everywhere")],
)
async def test_sign_out_clears_site_data(
    world: World, http: httpx.AsyncClient, path: str, target: str
) -> None:
    v = world.victim
    answer = await http.post(path, headers={**_cookie(v.token), **_origin()})
    assert answer.status_code == 303
    assert answer.headers["location"] == target
    assert answer.headers["clear-site-data"] == '"cache", "storage"'
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f'{sessions.COOKIE_NAME}="";') and "Max-Age=0" in cookie
    assert await sessions.user_for_token(v.token) is None
    await _refused(http, v.token, v.esim_id)  # the card goes with the session


async def test_the_language_cookie_outlives_sign_out(world: World, http: httpx.AsyncClient) -> None:
    """Clear-Site-Data names no "cookies": only the session cookie is deleted."""
    v = world.victim
    answer = await http.post("/auth/signout", headers={**_cookie(v.token), **_origin()})
    assert "cookies" not in answer.headers["clear-site-data"]
    assert [c.split("=", 1)[0] for c in answer.headers.get_list("set-cookie")] == [
        sessions.COOKIE_NAME
    ]
    async with db.session() as s:
        assert (await s.get(User, v.user.id)) is not None
