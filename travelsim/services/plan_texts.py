"""The seller's texts of a plan in the traveler's language (docs/i18n.md#plan-texts).

A plan's English texts are its seller fields ``Plan.display_name`` and
``Plan.activation_policy``; each other language the portal speaks may have a ``plan_text`` row
(:class:`~travelsim.models.PlanText`) with its own display name and description. Every text
falls back on its own: the language's row, then English, then (for the name) the platform's
name ``Plan.sft_name``.

Texts are loaded once per page of plans (:func:`texts_for`, one query, none in English) and
handed to the functions that name a plan (:func:`plan_title`, :func:`plan_description`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.i18n import DEFAULT, LOCALES, current
from travelsim.models import Plan, PlanText

#: The languages a plan may have texts in: every language the portal speaks but English
#: (English is the plan's own fields).
TEXT_LOCALES: tuple[str, ...] = tuple(code for code in LOCALES if code != DEFAULT)
#: The fields of one language's texts, with their longest length in characters.
TEXT_FIELDS: dict[str, int] = {"display_name": 200, "description": 1000}

#: One language's texts of plans, keyed by plan id (:func:`texts_for`).
Texts = Mapping[str, PlanText]


async def texts_for(
    session: AsyncSession, plan_ids: Iterable[str] | None = None, locale: str | None = None
) -> dict[str, PlanText]:
    """The ``plan_text`` rows of ``locale`` (default: the active language,
    ``travelsim.i18n.current``) for ``plan_ids`` (``None``: every plan), keyed by plan id.
    One query; none for English, which has no rows (``{}``)."""
    code = locale or current()
    if code == DEFAULT:
        return {}
    query: Any = select(PlanText).where(col(PlanText.locale) == code)
    if plan_ids is not None:
        ids = sorted(set(plan_ids))
        if not ids:
            return {}
        query = query.where(col(PlanText.plan_id).in_(ids))
    return {row.plan_id: row for row in (await session.exec(query)).all()}


def plan_title(plan: Plan, texts: Texts | None = None) -> str:
    """The plan's name for travelers: its display name in the language ``texts`` were loaded
    for (:func:`texts_for`), else the English display name, else the platform's name."""
    text = texts.get(plan.plan_id) if texts else None
    return (text.display_name if text else None) or plan.display_name or plan.sft_name


def plan_description(plan: Plan, texts: Texts | None = None) -> str | None:
    """The seller's description of the plan (its activation policy) in the language of
    ``texts``, else the English one (``Plan.activation_policy``); ``None`` when the seller
    wrote none (the offer then shows the default policy in the page's language)."""
    text = texts.get(plan.plan_id) if texts else None
    return (text.description if text else None) or plan.activation_policy


async def plan_titles(
    session: AsyncSession, plan_ids: Iterable[str], locale: str | None = None
) -> dict[str, str]:
    """:func:`plan_title` of each of ``plan_ids`` known to the catalogue, in ``locale``
    (default: the active language), keyed by plan id; unknown ids are left out. One query
    whatever the count (the plans joined to their texts in that language)."""
    ids = sorted(set(plan_ids))
    if not ids:
        return {}
    code = locale or current()
    query: Any = (
        select(Plan.plan_id, Plan.display_name, Plan.sft_name, PlanText.display_name)
        .outerjoin(
            PlanText,
            and_(col(PlanText.plan_id) == col(Plan.plan_id), col(PlanText.locale) == code),
        )
        .where(col(Plan.plan_id).in_(ids))
    )
    rows = (await session.exec(query)).all()
    return {plan_id: text or english or platform for plan_id, english, platform, text in rows}


def clean_texts(raw: Any, *, where: str) -> dict[str, dict[str, str | None]]:
    """Check one plan's texts ``{"fr": {"display_name": "...", "description": "..."}, ...}``
    (from the seed file or the admin editor) and return them with blanks collapsed (an empty
    text is ``None``: the English one is shown). Raises ``ValueError`` naming ``where`` for a
    language the portal does not speak (or English, which is the plan's own fields), an
    unknown field, a text that is not a string, or one longer than :data:`TEXT_FIELDS`
    allows."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: texts must be an object keyed by language code")
    out: dict[str, dict[str, str | None]] = {}
    for code, fields in raw.items():
        if code not in TEXT_LOCALES:
            raise ValueError(
                f"{where}: unknown language code {code!r} in texts"
                f" (plan texts are for {', '.join(TEXT_LOCALES)};"
                " English is the plan's display_name)"
            )
        if not isinstance(fields, dict):
            raise ValueError(f"{where}: texts[{code!r}] must be an object")
        unknown = sorted(set(fields) - set(TEXT_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r} in texts[{code!r}]")
        cleaned: dict[str, str | None] = {}
        for name, limit in TEXT_FIELDS.items():
            value = fields.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{where}: texts[{code!r}][{name!r}] must be a string")
            text = " ".join(value.split()) if value else ""
            if len(text) > limit:
                raise ValueError(
                    f"{where}: texts[{code!r}][{name!r}] is longer than {limit} characters"
                )
            cleaned[name] = text or None
        out[code] = cleaned
    return out


async def save_texts(
    session: AsyncSession, plan_id: str, texts: Mapping[str, Mapping[str, str | None]]
) -> list[str]:
    """Store ``texts`` (:func:`clean_texts`) as the ``plan_text`` rows of ``plan_id`` (not
    committed): a language with only empty texts loses its row; languages not in ``texts``
    are left alone. Returns the changes as ``"fr display_name: old -> new"`` lines (for the
    audit; texts over 60 characters shortened with "…"), in language then field order."""
    stored = {
        row.locale: row
        for row in (
            await session.exec(select(PlanText).where(col(PlanText.plan_id) == plan_id))
        ).all()
    }
    changes: list[str] = []
    for code in TEXT_LOCALES:
        if code not in texts:
            continue
        row = stored.get(code)
        wanted = {name: texts[code].get(name) for name in TEXT_FIELDS}
        for name in TEXT_FIELDS:
            before = getattr(row, name) if row else None
            if before != wanted[name]:
                changes.append(f"{code} {name}: {_short(before)} -> {_short(wanted[name])}")
        if not any(wanted.values()):
            if row is not None:
                await session.delete(row)
            continue
        if row is None:
            row = PlanText(plan_id=plan_id, locale=code)
        for name, value in wanted.items():
            setattr(row, name, value)
        session.add(row)
    return changes


def _short(text: str | None) -> str:
    """``text`` for an audit line: ``None`` as is, over 60 characters cut with "…"."""
    if text is None:
        return "None"
    return text if len(text) <= 60 else text[:59] + "…"
