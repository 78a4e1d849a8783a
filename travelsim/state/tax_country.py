"""The traveler's stated country of residence at checkout (``/buy/<plan>``): VAT evidence
kept on the account (``User.country``) and read when the order is created
(docs/business-rules.md#vat-evidence)."""

from __future__ import annotations

import reflex as rx
from sqlalchemy import update
from sqlmodel import col

from travelsim import db
from travelsim.models import User
from travelsim.services import countries
from travelsim.state.session import SessionState, _uid


def country_options() -> list[dict[str, str]]:
    """Every ISO 3166-1 country as ``code`` and ``label`` (flag and name in the active
    language), sorted by name."""
    every = (countries.country(code) for code in countries.codes())
    return [
        {"code": c.code, "label": f"{c.flag} {c.name}"}
        for c in sorted(every, key=lambda c: countries.normalise(c.name))
    ]


class TaxCountryState(SessionState):
    """The country select: ``country`` (ISO alpha-2, "" until stated) and its options."""

    country: str = ""
    options: list[dict[str, str]] = []

    @rx.event
    async def load(self) -> None:
        """The signed-in traveler's stated country and the options in the page's language."""
        user = await self._require_user()
        self.country = (user.country or "") if user is not None else ""
        self.options = country_options() if user is not None else []

    @rx.event
    async def set_country(self, code: str) -> None:
        """Keep ``code`` as the traveler's country (on the account, at once); anything that
        is not an ISO 3166-1 alpha-2 code is ignored."""
        code = str(code or "").strip().upper()[:2]
        user = await self._require_user()
        if user is None or code not in countries.codes():
            return
        async with db.session() as s:
            await s.execute(update(User).where(col(User.id) == _uid(user)).values(country=code))
            await s.commit()
        self.country = code
