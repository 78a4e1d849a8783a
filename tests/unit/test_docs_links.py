"""Citations of the project's own docs resolve, and the code cites nothing outside the project.

* Every ``docs/<file>.md#<anchor>`` written anywhere under ``travelsim/``, ``tests/``,
  ``benchmarks/``, ``docs/`` or in ``README.md`` names an existing file and a heading of it,
  using GitHub's heading slugs (lower case; punctuation other than ``-`` and ``_`` dropped;
  spaces become ``-``; a repeated heading gets ``-1``, ``-2``, ...). In-page links
  (``](#anchor)``) inside ``docs/`` are checked the same way.
* No file under ``travelsim/`` cites the background notes a maintainer does not have
  (the shared ``esim-facts``/``sft-api``/``design`` notes) or an issue number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Where citations are looked for (the README is a single file).
CITING_DIRS = ("travelsim", "tests", "benchmarks", "docs")
CITING_FILES = ("README.md",)
TEXT_SUFFIXES = frozenset({".py", ".md", ".txt", ".toml", ".json", ".yaml", ".yml", ".html"})

# "docs/" + file + optional "#anchor"; the anchor stops at the first character a slug cannot
# hold, so trailing punctuation such as ")" or "." is not part of it.
CITATION_RE = re.compile(r"(?<![\w/.-])docs/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?")
IN_PAGE_LINK_RE = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# What the code must not cite (case-insensitive): the shared notes and issue numbers.
FORBIDDEN_RE = re.compile(
    r"esim-facts(?:\.md)?|sft-api(?:\.md)?|design\.md|/work/shared|\bissue\s+#?\d+", re.IGNORECASE
)
#: Written split so that this file's own fixtures are not citations of the real docs.
D = "docs" + "/"


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading's text (before de-duplication).

    Inline code and emphasis markers and link targets are dropped first (GitHub slugs the
    rendered text), then: lower case, every character that is not a letter, digit, space,
    ``-`` or ``_`` removed, each space replaced by ``-``.
    """
    text = MD_LINK_RE.sub(r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors_of(markdown: str) -> set[str]:
    """Every heading anchor of a Markdown document (ATX headings outside fenced code),
    with GitHub's ``-1``, ``-2``, ... suffixes for repeated headings."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_fence = False
    for line in markdown.splitlines():
        if FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = HEADING_RE.match(line)
        if not match:
            continue
        base = github_slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def citing_files(root: Path) -> list[Path]:
    files = [root / name for name in CITING_FILES if (root / name).is_file()]
    for folder in CITING_DIRS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and not any(part in {"__pycache__", ".web", "node_modules"} for part in path.parts)
            ):
                files.append(path)
    return files


def broken_citations(root: Path) -> list[str]:
    """``"<file>:<line>: <citation>: <problem>"`` for every citation that does not resolve."""
    anchor_cache: dict[str, set[str] | None] = {}

    def anchors(doc: str) -> set[str] | None:
        if doc not in anchor_cache:
            path = root / "docs" / doc
            anchor_cache[doc] = anchors_of(path.read_text("utf-8")) if path.is_file() else None
        return anchor_cache[doc]

    problems: list[str] = []
    for path in citing_files(root):
        rel = path.relative_to(root)
        text = path.read_text("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            for match in CITATION_RE.finditer(line):
                doc, anchor = match.group(1), match.group(2)
                known = anchors(doc)
                if known is None:
                    problems.append(f"{rel}:{lineno}: {match.group(0)}: no such file")
                elif anchor is not None and anchor not in known:
                    problems.append(f"{rel}:{lineno}: {match.group(0)}: no such heading")
            if rel.parts[0] == "docs" and path.suffix == ".md":
                own = anchors(path.name) or set()
                for match in IN_PAGE_LINK_RE.finditer(line):
                    if match.group(1) not in own:
                        problems.append(f"{rel}:{lineno}: #{match.group(1)}: no such heading")
    return problems


def foreign_citations(root: Path) -> list[str]:
    """``"<file>:<line>: <text>"`` for every citation of the shared notes or an issue."""
    found: list[str] = []
    base = root / "travelsim"
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
            continue
        for lineno, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            for match in FORBIDDEN_RE.finditer(line):
                found.append(f"{path.relative_to(root)}:{lineno}: {match.group(0)}")
    return found


# ------------------------------------------------------------------ the slug rules themselves
@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        # Examples checked against how github.com renders headings.
        ("Activation code", "activation-code"),
        ("Get Endpoint Add-on Details", "get-endpoint-add-on-details"),
        ("F13 Charged twice", "f13-charged-twice"),
        ("One purchase, click to QR", "one-purchase-click-to-qr"),
        ("`wire.py` (the names)", "wirepy-the-names"),
        ("VAT on receipts", "vat-on-receipts"),
        ("snake_case stays", "snake_case-stays"),
        ("[Linked](https://example.com) text", "linked-text"),
    ],
)
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_repeated_headings_and_fenced_code() -> None:
    doc = "# Title\n## Notes\n```\n## Not a heading\n```\n## Notes\n### Notes\n"
    assert anchors_of(doc) == {"title", "notes", "notes-1", "notes-2"}


def test_checker_reports_missing_file_and_heading(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n## Rate limit\n", "utf-8")
    (tmp_path / "travelsim").mkdir()
    (tmp_path / "travelsim" / "mod.py").write_text(
        f"# see {D}guide.md#rate-limit and {D}guide.md#token-expiry\n"
        f"# and {D}missing.md#x, and {D}guide.md.\n",
        "utf-8",
    )
    assert broken_citations(tmp_path) == [
        f"travelsim/mod.py:1: {D}guide.md#token-expiry: no such heading",
        f"travelsim/mod.py:2: {D}missing.md#x: no such file",
    ]


def test_checker_reports_broken_in_page_link(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\nSee [B](#b) and [A](#a).\n", "utf-8")
    assert broken_citations(tmp_path) == [f"{D}a.md:2: #b: no such heading"]


def test_forbidden_citations_are_found(tmp_path: Path) -> None:
    (tmp_path / "travelsim").mkdir()
    (tmp_path / "travelsim" / "m.py").write_text(
        '"""Follows sft-api.md §3.4 (issue 8); esim-facts F1; design.md §2."""\n'
        f"# {D}sft-platform.md#rate-limit is fine\n",
        "utf-8",
    )
    assert [f.split(": ", 1)[1] for f in foreign_citations(tmp_path)] == [
        "sft-api.md",
        "issue 8",
        "esim-facts",
        "design.md",
    ]


# ------------------------------------------------------------------ the project's own docs
#: Headings the code is to be re-pointed at (the task's own example first). Renaming one
#: breaks every comment that cites it, so they are pinned here.
PINNED_ANCHORS = {
    "esim.md": {
        "activation-code",
        "the-oid-trap",
        "qr-code",
        "install-links",
        "profile-states",
        "failure-scenarios",
        "f1-code-already-used",
        "f17-callback-trouble",
    },
    "sft-platform.md": {
        "authentication",
        "token-expiry",
        "rate-limit",
        "timeouts-and-retries",
        "result-codes",
        "fetchsim",
        "subscribeaddon",
        "get-endpoint-add-on-details",
        "callbacks",
    },
    "business-rules.md": {
        "esim-reservation",
        "one-payment-per-checkout",
        "provisioning-steps",
        "voids-and-refunds",
        "top-up-rules",
    },
    "architecture.md": {"layers", "where-a-change-goes", "one-purchase-click-to-qr"},
}


@pytest.mark.parametrize("doc", sorted(PINNED_ANCHORS))
def test_pinned_anchors_exist(doc: str) -> None:
    path = DOCS / doc
    assert path.is_file(), f"docs/{doc} is missing"
    missing = PINNED_ANCHORS[doc] - anchors_of(path.read_text("utf-8"))
    assert not missing, f"docs/{doc} lacks headings for: {sorted(missing)}"


def test_every_docs_citation_resolves() -> None:
    problems = broken_citations(ROOT)
    assert not problems, "broken docs citations:\n" + "\n".join(problems)


def test_code_cites_no_shared_notes_or_issues() -> None:
    found = foreign_citations(ROOT)
    assert not found, f"{len(found)} citations outside the project:\n" + "\n".join(found[:50])
