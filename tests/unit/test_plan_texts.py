"""The seller's plan texts per language (docs/i18n.md#plan-texts): the fallback chain
(language row, English display name, platform name), the seed file's ``texts`` and their
refusals, and how many queries a page of plans costs (real SQLite and PostgreSQL, queries
counted on the engine). Expected translations of the default policy come from the French
catalog, read with Babel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import event
from sqlmodel import select

from travelsim import db, i18n
from travelsim.models import Plan, PlanText
from travelsim.services import catalogue, plan_texts
from travelsim.settings import Settings

GB = 1_073_741_824
SEED = Path(catalogue.__file__).resolve().parent.parent / "seed" / "catalogue.json"


def _plan(plan_id: str = "870101", **kw: Any) -> Plan:
    values: dict[str, Any] = {
        "plan_id": plan_id,
        "sft_name": "France 1 GB 7 days",
        "volume_bytes": GB,
        "validity_days": 7,
        "activated_by": "on_usage",
        "display_name": "France 1 GB",
        "price_minor": 450,
        "currency": "EUR",
        "destinations": ["FR"],
        "on_sale": True,
    }
    values.update(kw)
    return Plan(**values)


def _fr_catalog(msgid: str) -> Any:
    """The French ``msgstr`` of ``msgid`` (a tuple of forms for a plural)."""
    path = Path(i18n.LOCALE_DIR) / "fr" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f)
    message = next(
        m for m in catalog if m.id == msgid or (isinstance(m.id, tuple) and m.id[0] == msgid)
    )
    assert message.string
    return message.string


def test_title_falls_back_from_the_language_to_english_then_the_platform() -> None:
    plan = _plan()
    fr = {"870101": PlanText(plan_id="870101", locale="fr", display_name="France 1 Go")}
    assert plan_texts.plan_title(plan, fr) == "France 1 Go"
    assert plan_texts.plan_title(plan, {}) == "France 1 GB"  # no row for the language
    assert plan_texts.plan_title(plan) == "France 1 GB"
    only_description = {"870101": PlanText(plan_id="870101", locale="es", description="Hola")}
    assert plan_texts.plan_title(plan, only_description) == "France 1 GB"
    unnamed = _plan(display_name=None)
    assert plan_texts.plan_title(unnamed, {}) == "France 1 GB 7 days"
    assert plan_texts.plan_title(unnamed, fr) == "France 1 Go"
    # another plan's row is not this plan's
    assert plan_texts.plan_title(_plan("870102", display_name=None), fr) == "France 1 GB 7 days"


def test_description_falls_back_to_english_then_the_default_policy_in_the_language() -> None:
    fr = {"870101": PlanText(plan_id="870101", locale="fr", description="Valable 7 jours.")}
    with i18n.using("fr"):
        assert catalogue.to_offer(_plan(), texts=fr).activation_policy == "Valable 7 jours."
        english = _plan(activation_policy="Starts when you land.")
        assert catalogue.to_offer(english, texts={}).activation_policy == "Starts when you land."
        default = catalogue.to_offer(_plan(), texts={})
    # 7 takes the catalog's third form ("other") by its Plural-Forms rule
    days = _fr_catalog("{n} day")[2].format(n=7)
    expected = _fr_catalog(
        "Validity starts at your first data use at the destination and lasts {days}."
    ).format(days=days)
    assert default.activation_policy == expected


def test_french_offer_title_from_its_row() -> None:
    fr = {"870101": PlanText(plan_id="870101", locale="fr", display_name="France 1 Go")}
    with i18n.using("fr"):
        offers = catalogue.offers_for_country([_plan(), _plan("870102")], "FR", texts=fr)
    assert {o.plan_id: o.title for o in offers} == {
        "870101": "France 1 Go",
        "870102": "France 1 GB",
    }


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"it": {"display_name": "Francia 1 GB"}}, "unknown language code 'it'"),
        ({"en": {"display_name": "France 1 GB"}}, "unknown language code 'en'"),
        ({"FR": {"display_name": "France 1 Go"}}, "unknown language code 'FR'"),
        ({"fr": {"title": "France 1 Go"}}, "unknown field 'title'"),
        ({"fr": {"display_name": 5}}, "must be a string"),
        ({"fr": "France 1 Go"}, "must be an object"),
        (["fr"], "must be an object keyed by language code"),
        ({"fr": {"display_name": "x" * 201}}, "longer than 200 characters"),
    ],
)
def test_bad_texts_are_refused_with_what_is_wrong(texts: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_texts.clean_texts(texts, where="seed plan 870101")


def test_texts_are_cleaned_and_blank_means_english() -> None:
    assert plan_texts.clean_texts(
        {"fr": {"display_name": "  France   1 Go "}, "de": {"display_name": ""}}, where="t"
    ) == {
        "fr": {"display_name": "France 1 Go", "description": None},
        "de": {"display_name": None, "description": None},
    }
    assert plan_texts.clean_texts(None, where="t") == {}


def _seed_file(tmp_path: Path, texts: Any) -> Path:
    path = tmp_path / "catalogue.json"
    plan = {"plan_id": "870101", "display_name": "France 1 GB", "texts": texts}
    plan.update({"price": "4.50", "currency": "EUR", "destinations": ["FR"]})
    path.write_text(json.dumps({"plans": [plan]}), encoding="utf-8")
    return path


def test_read_seed_gives_each_plan_its_texts(tmp_path: Path) -> None:
    texts = {
        "fr": {"display_name": "France 1 Go", "description": "Valable 7 jours."},
        "es": {"display_name": "Francia 1 GB"},
    }
    (row,) = catalogue.read_seed(_seed_file(tmp_path, texts))
    assert row["texts"] == {
        "fr": {"display_name": "France 1 Go", "description": "Valable 7 jours."},
        "es": {"display_name": "Francia 1 GB", "description": None},
    }


def test_read_seed_refuses_an_unknown_language_code(tmp_path: Path) -> None:
    path = _seed_file(tmp_path, {"pt": {"display_name": "França 1 GB"}})
    with pytest.raises(ValueError, match=r"seed plan 870101: unknown language code 'pt'"):
        catalogue.read_seed(path)


def test_the_shipped_seed_names_every_plan_in_every_language() -> None:
    """French writes Go/Mo (octets), German and Spanish GB/MB; the figure is the English
    one (the brief of the seed texts; docs/i18n.md#plan-texts)."""
    rows = catalogue.read_seed(SEED)
    units = {"fr": {"GB": "Go", "MB": "Mo"}, "de": {}, "es": {}}
    for row in rows:
        figure, unit = row["display_name"].split()[-2:]
        assert set(row["texts"]) == {"fr", "de", "es"}, row["plan_id"]
        for code, texts in row["texts"].items():
            name = texts["display_name"]
            assert name.split()[-2:] == [figure, units[code].get(unit, unit)], (code, name)


@pytest.fixture
def count_queries(any_db: Settings) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = db.async_engine().sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_a_page_of_plans_costs_one_query_and_english_none(
    count_queries: list[str],
) -> None:
    async with db.session() as s:
        s.add_all([_plan(), _plan("870102", display_name="France 5 GB"), _plan("870103")])
        s.add_all(
            [
                PlanText(plan_id="870101", locale="fr", display_name="France 1 Go"),
                PlanText(plan_id="870102", locale="fr", display_name="France 5 Go"),
                PlanText(plan_id="870101", locale="de", display_name="Frankreich 1 GB"),
            ]
        )
        await s.commit()
    async with db.session() as s:
        count_queries.clear()
        fr = await plan_texts.texts_for(s, ["870101", "870102", "870103"], "fr")
        assert len(count_queries) == 1
        assert {k: v.display_name for k, v in fr.items()} == {
            "870101": "France 1 Go",
            "870102": "France 5 Go",
        }
        count_queries.clear()
        assert await plan_texts.texts_for(s, ["870101"], "en") == {}
        with i18n.using("en"):
            assert await plan_texts.texts_for(s) == {}
        assert count_queries == []
        with i18n.using("de"):
            everything = await plan_texts.texts_for(s)
        assert {k: v.display_name for k, v in everything.items()} == {"870101": "Frankreich 1 GB"}
        count_queries.clear()
        with i18n.using("fr"):
            titles = await plan_texts.plan_titles(s, ["870101", "870103", "999999", "870101"])
        assert len(count_queries) == 1
        assert titles == {"870101": "France 1 Go", "870103": "France 1 GB"}
        count_queries.clear()
        english = await plan_texts.plan_titles(s, ["870101", "870102"], "en")
        assert len(count_queries) == 1
        assert english == {"870101": "France 1 GB", "870102": "France 5 GB"}
    await db.async_engine().dispose()


async def test_save_texts_keeps_languages_left_out_and_drops_empty_ones(
    sqlite_db: Settings,
) -> None:
    async with db.session() as s:
        s.add(_plan())
        s.add(PlanText(plan_id="870101", locale="de", display_name="Frankreich 1 GB"))
        s.add(PlanText(plan_id="870101", locale="es", display_name="Francia 1 GB"))
        await s.commit()
    async with db.session() as s:
        changes = await plan_texts.save_texts(
            s,
            "870101",
            {
                "fr": {"display_name": "France 1 Go", "description": "d" * 70},
                "es": {"display_name": None, "description": None},
            },
        )
        await s.commit()
    assert changes == [
        "fr display_name: None -> France 1 Go",
        f"fr description: None -> {'d' * 59}…",
        "es display_name: Francia 1 GB -> None",
    ]
    async with db.session() as s:
        rows = {(t.locale, t.display_name) for t in (await s.exec(select(PlanText))).all()}
    assert rows == {("fr", "France 1 Go"), ("de", "Frankreich 1 GB")}
    await db.async_engine().dispose()
