"""What travelers read of a plan's network facts (state/network_facts.py,
docs/esim.md#network-facts): the start warning of a plan that starts in any covered country,
with the countries by their CLDR names in the page's language, and the networks per country;
and the admin editor's networks text read back (services/network_facts.py)."""

from __future__ import annotations

import pytest
from babel import Locale

from travelsim import i18n
from travelsim.services import network_facts
from travelsim.services.network_facts import Network, NetworkFacts
from travelsim.state.network_facts import network_rows, start_warning


def _facts(*, starts_anywhere: bool) -> NetworkFacts:
    return NetworkFacts(
        plan_id="870201",
        networks={
            "FR": (Network("Orange", "5G"), Network("SFR", "4G")),
            "DE": (Network("Telekom", "5G"),),
        },
        hotspot=True,
        apn=None,
        starts_anywhere=starts_anywhere,
    )


def test_the_start_warning_lists_the_countries_in_english() -> None:
    with i18n.using("en"):
        text = start_warning(_facts(starts_anywhere=True), ["FR", "DE", "ES"])
    assert text == (
        "Your plan starts when your phone first connects in any of these countries. Turn data "
        "roaming on only when you arrive. Countries: France, Germany, and Spain."
    )


@pytest.mark.parametrize("locale", ["fr", "de", "es"])
def test_the_start_warning_names_the_countries_in_the_page_language(locale: str) -> None:
    names = Locale.parse(locale).territories
    with i18n.using(locale):
        text = start_warning(_facts(starts_anywhere=True), ["FR", "DE"])
        sentence = i18n.gettext(
            "Your plan starts when your phone first connects in any of these countries. "
            "Turn data roaming on only when you arrive."
        )
    assert text.startswith(sentence + " ")
    assert sentence != (
        "Your plan starts when your phone first connects in any of these countries. "
        "Turn data roaming on only when you arrive."
    )
    assert names["FR"] in text and names["DE"] in text


def test_no_start_warning_for_a_plan_that_starts_elsewhere_or_covers_one_country() -> None:
    assert start_warning(_facts(starts_anywhere=False), ["FR", "DE"]) == ""
    assert start_warning(_facts(starts_anywhere=True), ["FR"]) == ""


def test_network_rows_per_country() -> None:
    with i18n.using("en"):
        rows = network_rows(_facts(starts_anywhere=True))
    assert rows == [
        {"code": "DE", "label": "🇩🇪 Germany", "networks": "Telekom 5G"},
        {"code": "FR", "label": "🇫🇷 France", "networks": "Orange 5G · SFR 4G"},
    ]


def test_the_editor_text_reads_back_to_the_same_networks() -> None:
    parsed = network_facts.parse_networks_text("fr: Orange 5G, Orange 4g\nDE: Telekom 5G;;")
    assert parsed == {
        "DE": [{"name": "Telekom", "generation": "5G"}],
        "FR": [{"name": "Orange", "generation": "5G"}],  # listed twice: the first kept
    }
    assert network_facts.parse_networks_text(network_facts.networks_text(parsed)) == parsed
    assert network_facts.parse_networks_text("") == {}


@pytest.mark.parametrize("apn", ["bicsapn", "internet.example.com", "a-1.b2"])
def test_well_formed_apns_are_kept(apn: str) -> None:
    assert network_facts.clean_apn(f"  {apn} ", where="apn") == apn


def test_an_empty_apn_means_set_automatically() -> None:
    assert network_facts.clean_apn("", where="apn") is None
    assert network_facts.clean_apn(None, where="apn") is None
    with pytest.raises(ValueError, match="at most 100 characters"):
        network_facts.clean_apn("a" * 101, where="apn")
