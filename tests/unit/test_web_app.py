"""The installable web app's static files (docs/esim.md#offline-install-card): the manifest
names icons that exist at the sizes it claims (read with Pillow), and the service worker, the
install page's component and the card's CSP agree on names and addresses."""

from __future__ import annotations

import json
import re

from PIL import Image

from tests.structure import ROOT
from travelsim.components.offline_card import CACHE_NAME
from travelsim.services.install_card_html import CSP
from travelsim.travelsim import HEAD

ASSETS = ROOT / "assets"


def test_manifest_icons_exist_at_their_sizes() -> None:
    manifest = json.loads((ASSETS / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = set()
    for icon in manifest["icons"]:
        path = ASSETS / icon["src"].lstrip("/")
        with Image.open(path) as image:
            assert image.format == "PNG" and icon["type"] == "image/png"
            assert f"{image.width}x{image.height}" == icon["sizes"], icon
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_every_page_links_the_manifest_and_the_worker_script() -> None:
    rendered = [str(c.render()) for c in HEAD]
    assert any("/manifest.webmanifest" in r and "manifest" in r for r in rendered)
    assert any("/sw-register.js" in r for r in rendered)
    for asset in ("sw-register.js", "sw.js", "install-card.js"):
        assert (ASSETS / asset).is_file()


def test_worker_reads_the_components_cache_and_only_card_paths() -> None:
    worker = (ASSETS / "sw.js").read_text(encoding="utf-8")
    assert f'const CARDS = "{CACHE_NAME}";' in worker
    assert "caches.open(CARDS)" in worker.split("async function forget", 1)[1]
    assert worker.count("caches.open(") == 1  # reading never creates the cache
    assert "cache.put(" not in worker and "cache.add" not in worker  # it stores nothing


def test_card_csp_allows_the_print_script_asset_and_no_inline_script() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" not in CSP
    assert directives["style-src"].startswith("'sha256-")
