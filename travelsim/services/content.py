"""The seller's legal pages: terms, privacy notice, imprint (legal notice) and cookies, written
in Markdown by the seller and served at ``/terms``, ``/privacy``, ``/imprint``, ``/cookies``
(docs/legal.md#content-pages).

* **Where.** ``CONTENT_DIR/<lang>/<page>.md`` (``CONTENT_DIR`` unset: the shipped templates in
  ``travelsim/content``). A language without its own file falls back to English
  (``en/<page>.md``), which must exist (:func:`content_problem`, checked at start-up).
* **Header.** A file may start with front matter between two ``---`` lines, ``key: value``
  per line: ``title`` (the page heading; default the page's own name) and ``version`` (any
  text up to 32 characters, e.g. ``2026-12-01``). The terms need a version: the checkout
  records the version the traveler accepted (``services.consent``).
* **Safe.** The Markdown is rendered by markdown-it-py (CommonMark, tables) with raw HTML
  off: ``<script>`` or ``<img onerror=…>`` in a file is shown as text, and links with a
  ``javascript:``, ``vbscript:``, ``file:`` or ``data:`` target are not made links
  (markdown-it's ``validateLink``), so the page never runs what a file says.
* **Fresh.** A file is read again when its modification time or size changes, so an edit
  shows on the next page load without a restart.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from travelsim import i18n
from travelsim.settings import Settings, get_settings

__all__ = [
    "PAGES",
    "SHIPPED_DIR",
    "ContentError",
    "ContentPage",
    "content_dir",
    "content_problem",
    "load_page",
    "parse",
    "render",
    "terms_versions",
]

#: The pages, by name: the file ``<name>.md`` and the route ``/<name>``.
PAGES: tuple[str, ...] = ("terms", "privacy", "imprint", "cookies")
#: The shipped templates (what a seller copies to ``CONTENT_DIR`` and fills in).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "content"
#: Longest accepted ``version`` (it is stored with each checkout and order).
VERSION_MAX = 32

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_KEY = re.compile(r"^([A-Za-z_]+)[ \t]*:[ \t]*(.*?)[ \t]*$")
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "table"
)
_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], ContentPage]] = {}


class ContentError(ValueError):
    """A content file is missing or malformed (the message names the file and what is wrong)."""


@dataclass(frozen=True, slots=True)
class ContentPage:
    """One page as travelers see it: ``name`` (``terms``…), ``locale`` (the language of the
    file read: the one asked for, or ``en`` on fallback), ``title``, ``version`` (``""`` when
    the file has none), ``html`` (safe HTML rendered from the Markdown)."""

    name: str
    locale: str
    title: str
    version: str
    html: str


def content_dir(settings: Settings | None = None) -> Path:
    """``CONTENT_DIR``, else :data:`SHIPPED_DIR`."""
    chosen = (settings or get_settings()).content_dir
    return chosen if chosen is not None else SHIPPED_DIR


def render(markdown: str) -> str:
    """Markdown → HTML with raw HTML escaped and unsafe link targets dropped (module
    docstring). Pure."""
    return _md.render(markdown)


def parse(text: str, *, source: str = "content") -> tuple[dict[str, str], str]:
    """Split ``text`` into its front matter (``{"title": …, "version": …}``; ``{}`` without a
    header) and the Markdown body. Raises :class:`ContentError` for a header line that is
    not ``key: value``, an unknown key, or a version longer than :data:`VERSION_MAX` or with
    characters other than letters, digits and ``.-_:``."""
    match = _FRONT.match(text)
    if match is None:
        return {}, text
    meta: dict[str, str] = {}
    for number, line in enumerate(match.group(1).splitlines(), start=2):
        if not line.strip():
            continue
        kv = _KEY.match(line)
        if kv is None or kv.group(1) not in ("title", "version"):
            raise ContentError(f"{source}: line {number}: expected 'title: …' or 'version: …'")
        meta[kv.group(1)] = kv.group(2).strip().strip('"').strip("'")
    version = meta.get("version", "")
    if len(version) > VERSION_MAX or not re.fullmatch(r"[A-Za-z0-9.\-_:]*", version):
        raise ContentError(
            f"{source}: version must be at most {VERSION_MAX} letters, digits or .-_:"
        )
    return meta, text[match.end() :]


def _file_of(name: str, locale: str, base: Path) -> tuple[Path, str]:
    if name not in PAGES:
        raise ContentError(f"unknown page {name!r}")
    lang = locale if locale in i18n.LOCALES else i18n.DEFAULT
    for candidate in dict.fromkeys((lang, i18n.DEFAULT)):
        path = base / candidate / f"{name}.md"
        if path.is_file():
            return path, candidate
    raise ContentError(f"{base / i18n.DEFAULT / (name + '.md')}: missing")


def _read(path: Path, name: str, locale: str) -> ContentPage:
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    meta, body = parse(text, source=str(path))
    if name == "terms" and not meta.get("version"):
        raise ContentError(f"{path}: the terms need a 'version: …' header line")
    page = ContentPage(
        name=name,
        locale=locale,
        title=meta.get("title", ""),
        version=meta.get("version", ""),
        html=render(body),
    )
    with _lock:
        _cache[path] = (key, page)
    return page


def load_page(name: str, locale: str, settings: Settings | None = None) -> ContentPage:
    """Page ``name`` (one of :data:`PAGES`) in ``locale``, else in English. Raises
    :class:`ContentError` (unknown page, no file in either language, malformed file)."""
    path, found = _file_of(name, locale, content_dir(settings))
    return _read(path, name, found)


def terms_versions(settings: Settings | None = None) -> dict[str, str]:
    """The current terms version per language (every language of ``i18n.LOCALES``: its own
    file's, or the English one's on fallback): what a checkout may record as accepted."""
    return {locale: load_page("terms", locale, settings).version for locale in i18n.LOCALES}


def content_problem(settings: Settings) -> str | None:
    """Why the content directory cannot serve every page (an English file missing, a file
    malformed, the terms without a version), or ``None``. For the start-up check."""
    try:
        for name in PAGES:
            for locale in i18n.LOCALES:
                load_page(name, locale, settings)
    except ContentError as exc:
        return f"CONTENT_DIR: {exc}"
    return None
