"""The seller's legal pages (services/content.py, docs/legal.md#content-pages): safe Markdown
rendering, the front matter and its version, the fallback to English, the start-up check, and
the cookie page naming every cookie the code sets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from travelsim import i18n, startup
from travelsim.services import content
from travelsim.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _write(base: Path, locale: str, name: str, text: str) -> Path:
    path = base / locale / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _seller_dir(tmp_path: Path) -> Path:
    """A complete seller directory: every page in English, the terms with a version."""
    for name in content.PAGES:
        header = "---\nversion: v1\n---\n" if name == "terms" else ""
        _write(tmp_path, "en", name, f"{header}# {name}\n\nEnglish {name}.\n")
    return tmp_path


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src="x" onerror="alert(1)">', "<img"),
        ("<iframe src='https://evil.example'></iframe>", "<iframe"),
        ('<a href="https://evil.example" onclick="steal()">x</a>', "<a "),
        ("[click](javascript:alert(1))", 'href="javascript:'),
        ("[click](JAVASCRIPT:alert(1))", "href="),
        ("[click](vbscript:msgbox(1))", "href="),
        ("[click](data:text/html;base64,PHNjcmlwdD4=)", "href="),
        ("![x](javascript:alert(1))", "<img"),
        ("<div style='position:fixed'>overlay</div>", "<div"),
    ],
)
def test_raw_html_and_unsafe_links_are_never_rendered(markdown: str, forbidden: str) -> None:
    html = content.render(markdown)
    assert forbidden.lower() not in html.lower(), html


def test_html_in_a_file_is_shown_as_text() -> None:
    assert content.render("<script>alert(1)</script>") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )


def test_markdown_is_rendered() -> None:
    html = content.render(
        "## Refunds\n\n- **14 days**\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n[Terms](/terms)"
    )
    assert "<h2>Refunds</h2>" in html
    assert "<li><strong>14 days</strong></li>" in html
    assert "<td>1</td>" in html and "<th>A</th>" in html
    assert '<a href="/terms">Terms</a>' in html
    assert content.render("[mail](mailto:help@example.com)") == (
        '<p><a href="mailto:help@example.com">mail</a></p>\n'
    )


def test_front_matter_gives_title_and_version() -> None:
    meta, body = content.parse("---\ntitle: Our terms\nversion: 2026-12-01\n---\n# Hi\n")
    assert meta == {"title": "Our terms", "version": "2026-12-01"}
    assert body == "# Hi\n"
    assert content.parse("# No header\n") == ({}, "# No header\n")
    quoted, _ = content.parse('---\nversion: "v2.1"\n---\n')
    assert quoted["version"] == "v2.1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\nauthor: me\n---\n", "expected 'title: …' or 'version: …'"),
        ("---\njust words\n---\n", "line 2"),
        ("---\nversion: " + "x" * 33 + "\n---\n", "at most 32"),
        ("---\nversion: v1 <b>\n---\n", "letters, digits"),
    ],
)
def test_malformed_front_matter_is_refused(text: str, reason: str) -> None:
    with pytest.raises(content.ContentError, match=re.escape(reason)):
        content.parse(text, source="terms.md")


def test_each_language_falls_back_to_english(tmp_path: Path) -> None:
    base = _seller_dir(tmp_path)
    _write(base, "fr", "terms", "---\ntitle: Conditions\nversion: v1-fr\n---\nFrançais.\n")
    settings = Settings(content_dir=base)
    fr = content.load_page("terms", "fr", settings)
    assert (fr.locale, fr.title, fr.version) == ("fr", "Conditions", "v1-fr")
    assert "Français." in fr.html
    de = content.load_page("terms", "de", settings)
    assert (de.locale, de.version) == ("en", "v1")
    assert "English terms." in de.html
    privacy = content.load_page("privacy", "es", settings)
    assert (privacy.locale, privacy.version) == ("en", "")
    assert content.terms_versions(settings) == {"en": "v1", "fr": "v1-fr", "de": "v1", "es": "v1"}
    # An unknown language is English.
    assert content.load_page("terms", "it", settings).locale == "en"


def test_an_edit_shows_without_a_restart(tmp_path: Path) -> None:
    base = _seller_dir(tmp_path)
    settings = Settings(content_dir=base)
    assert "English imprint." in content.load_page("imprint", "en", settings).html
    _write(base, "en", "imprint", "Acme SA, Rue 1, Brussels. Longer text than before.\n")
    assert "Acme SA" in content.load_page("imprint", "en", settings).html


def test_the_terms_need_a_version(tmp_path: Path) -> None:
    base = _seller_dir(tmp_path)
    path = _write(base, "en", "terms", "# Terms without a version\n")
    with pytest.raises(content.ContentError, match="version"):
        content.load_page("terms", "en", Settings(content_dir=base))
    found = startup.problems(Settings(content_dir=base))
    assert [p for p in found if p.startswith("CONTENT_DIR: ")] == [
        f"CONTENT_DIR: {path}: the terms need a 'version: …' header line"
    ]


def test_start_up_refuses_a_missing_english_page(tmp_path: Path) -> None:
    base = _seller_dir(tmp_path)
    (base / "en" / "cookies.md").unlink()
    _write(base, "fr", "cookies", "Témoins.\n")
    assert content.content_problem(Settings(content_dir=base)) == (
        f"CONTENT_DIR: {base / 'en' / 'cookies.md'}: missing"
    )
    assert content.content_problem(Settings(content_dir=None)) is None
    assert f"CONTENT_DIR: {base / 'en' / 'cookies.md'}: missing" in startup.problems(
        Settings(content_dir=base)
    )


def test_shipped_templates_exist_in_every_language_with_one_terms_version() -> None:
    for name in content.PAGES:
        for locale in i18n.LOCALES:
            page = content.load_page(name, locale, Settings(content_dir=None))
            assert page.locale == locale, (name, locale)
            assert page.title, (name, locale)
    assert len(set(content.terms_versions(Settings(content_dir=None)).values())) == 1


def _cookie_names_in_code() -> set[str]:
    """Every cookie name the portal's code sets: the constants handed to ``set_cookie`` and
    the OIDC flow's ``session_cookie=``, read from the source, not from the service."""
    names: set[str] = set()
    constants: dict[str, str] = {}
    sources = list((ROOT / "travelsim").rglob("*.py"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for const, value in re.findall(r'^([A-Z_]*COOKIE[A-Z_]*) = "([^"]+)"', text, re.M):
            constants[const] = value
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for arg in re.findall(r"set_cookie\(\s*([A-Za-z_\"]+)", text):
            names.add(arg.strip('"') if arg.startswith('"') else constants[arg])
        for arg in re.findall(r"session_cookie=([A-Z_]+)", text):
            names.add(constants[arg])
    return names


def test_the_cookie_page_names_every_cookie_the_portal_sets() -> None:
    names = _cookie_names_in_code()
    assert {"travelsim_session", "travelsim_lang", "travelsim_currency"} <= names
    assert {"travelsim_signup", "travelsim_oidc"} <= names
    for locale in i18n.LOCALES:
        text = (content.SHIPPED_DIR / locale / "cookies.md").read_text(encoding="utf-8")
        for name in names:
            assert f"`{name}`" in text, (locale, name)
