"""Sentences about the data left agree with the figure shown (docs/i18n.md#catalogs): the
catalog's plural form is chosen by the CLDR plural category of the figure, decimals included
(https://cldr.unicode.org/index/cldr-spec/plural-rules: French "one" is i = 0 or 1, so
"1,5 Go restant"; English and Spanish "one" is exactly 1, so "1.5 GB" and "quedan 1,5 GB").
Expected categories come from Babel's CLDR rules, expected texts from the catalogs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale

from travelsim import i18n
from travelsim.formatting import left_count, plural_n
from travelsim.state.esim_view import data_words

MB = 1_048_576
GB = 1024 * MB


@pytest.mark.parametrize(
    ("lang", "figure"),
    [(lang, figure) for lang in i18n.LOCALES for figure in ("1.5", "0.5", "2.25", "18.98")],
)
def test_a_decimal_figure_gets_a_whole_number_of_its_cldr_category(lang: str, figure: str) -> None:
    with i18n.using(lang):
        n = plural_n(Decimal(figure))
        rule = Locale.parse(i18n.format_locale()).plural_form
        assert rule(n) == rule(Decimal(figure))


def test_whole_figures_are_themselves() -> None:
    with i18n.using("fr"):
        assert [plural_n(Decimal(v)) for v in ("0", "1", "724")] == [0, 1, 724]
    assert left_count(GB, GB) == 1  # "1 GB"
    assert left_count(GB - 300 * MB, GB) == 724  # "724 MB"


def test_french_gauge_text_agrees_with_the_figure() -> None:
    with i18n.using("fr"):
        catalog = i18n.translations("fr")
        one = catalog.ngettext(
            "{left} of {total} left ({percent} %)", "{left} of {total} left ({percent} %)", 1
        )
        other = catalog.ngettext(
            "{left} of {total} left ({percent} %)", "{left} of {total} left ({percent} %)", 2
        )
        assert one != other  # French: "restant" / "restants"
        assert data_words(GB, GB, 100.0).startswith(one.split("{left}")[0])
        assert data_words(GB, GB, 100.0) == one.format(
            left="1\u202fGo", total="1\u202fGo", percent="100"
        )
        assert data_words(GB - 300 * MB, GB, 70.7) == other.format(
            left="724\u202fMo", total="1\u202fGo", percent="70,7"
        )
        # 1.5 GB is "one" in French (i = 1): singular, as for 1 GB
        assert data_words(3 * GB // 2, 2 * GB, 75.0) == one.format(
            left="1,5\u202fGo", total="2\u202fGo", percent="75"
        )
    with i18n.using("es"):
        catalog = i18n.translations("es")
        other = catalog.ngettext(
            "{left} of {total} left ({percent} %)", "{left} of {total} left ({percent} %)", 2
        )
        # 1.5 is "other" in Spanish (one is exactly 1): plural
        assert data_words(3 * GB // 2, 2 * GB, 75.0) == other.format(
            left="1,5 GB", total="2 GB", percent="75"
        )
