"""Attack: another traveler's install card (``/esims/{id}/card`` and ``/card.pdf``,
docs/esim.md#offline-install-card).

The two delivered travelers of ``test_attack.py`` (its ``world`` fixture). The attacker, signed
in with a real session cookie, over the real routes app:

* walks ids 1..300 on both routes (and the language and download variants on the victim's
  id): every answer but the attacker's own card is the same bodiless 404, ``private,
  no-store``; odd paths (zero-padded, trailing slash, encoded slash, negative) reach no card;
  no answer carries the victim's matching ID, activation code or ICCID;
* asks from another site (``Origin``, ``Sec-Fetch-Site: cross-site``): a fetch or an embed
  (``Sec-Fetch-Mode`` ``cors``/``no-cors``) gets the bodiless 404 even with the owner's cookie;
  a followed link opens the owner's card, with no cross-origin read granted (no
  ``Access-Control-Allow-Origin``) and no framing (``frame-ancestors 'none'``);
* positive control: the owner's own card carries the code, so a leak would be seen.

A session still owing its second factor is probed in ``test_attack_second_factor.py``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.load.test_attack import World, world
from travelsim.routes.app import build_routes_app
from travelsim.services.auth import sessions

__all__ = ["world"]  # the fixture, shared with test_attack.py

pytestmark = pytest.mark.timeout(900)


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_routes_app()), base_url="http://localhost:3000"
    )


def _secrets(world: World) -> dict[str, bytes]:
    v = world.victim
    return {
        "matching ID": v.matching_id.encode(),
        "activation code": v.lpa.encode(),
        "ICCID": v.iccid.encode(),
    }


async def test_probe_walking_ids_gets_no_card(world: World) -> None:
    attacker = world.attacker
    cookie = {"cookie": f"{sessions.COOKIE_NAME}={attacker.token}"}
    secrets = _secrets(world)
    answers: list[tuple[str, httpx.Response]] = []
    async with _http() as http:
        for esim_id in range(1, 301):
            if esim_id == attacker.esim_id:
                continue
            for path in (f"/esims/{esim_id}/card", f"/esims/{esim_id}/card.pdf"):
                answers.append((path, await http.get(path, headers=cookie)))
        v = world.victim.esim_id
        for path in (
            f"/esims/{v}/card?lang=fr",
            f"/esims/{v}/card.pdf?download=1&lang=de",
            f"/esims/{v:05d}/card",
            f"/esims/{v}/card/",
            f"/esims/{v}%2F/card",
            f"/esims/-{v}/card",
        ):
            answers.append((path, await http.get(path, headers=cookie)))
        own = await http.get(f"/esims/{attacker.esim_id}/card", headers=cookie)
    routed = answers[:-4]  # the last four do not match the routes (Starlette's own answers)
    walked = [(p, a.status_code) for p, a in routed if a.status_code != 404 or a.content]
    assert walked == []
    assert {a.headers.get("cache-control") for _p, a in routed} == {"private, no-store"}
    assert [a.status_code for _p, a in answers[-4:]] == [404, 307, 404, 404]
    leaked = [
        (path, name)
        for path, answer in answers
        for name, value in secrets.items()
        if value in answer.content or value.decode() in str(answer.headers)
    ]
    assert leaked == []
    # Positive control: the owner's card carries their code.
    assert own.status_code == 200 and attacker.matching_id in own.text


async def test_probe_cross_site_reads_and_framing(world: World) -> None:
    v = world.victim
    cookie = {"cookie": f"{sessions.COOKIE_NAME}={v.token}"}
    foreign = {"origin": "https://evil.example", "sec-fetch-site": "cross-site", **cookie}
    async with _http() as http:
        fetched = [
            await http.get(
                f"/esims/{v.esim_id}/{name}", headers={**foreign, "sec-fetch-mode": mode}
            )
            for name in ("card", "card.pdf")
            for mode in ("cors", "no-cors")
        ]
        # A link on another site that the traveler follows: their own card, readable by them only.
        page = await http.get(
            f"/esims/{v.esim_id}/card", headers={**foreign, "sec-fetch-mode": "navigate"}
        )
    assert [(a.status_code, a.content) for a in fetched] == [(404, b"")] * 4
    assert page.status_code == 200
    for answer in (*fetched, page):
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-credentials" not in answer.headers
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
