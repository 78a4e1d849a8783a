"""The install card as one self-contained HTML page, made to print and to keep offline
(docs/esim.md#offline-install-card).

One document and nothing else to fetch: the QR is inline (a ``data:`` PNG), the style is one
``<style>`` block allowed by its hash in :data:`CSP` (no inline script at all: the only script
is the optional ``/install-card.js`` asset, which shows the print button). Every value is
HTML-escaped. Light and dark follow the device (``prefers-color-scheme``); print is always
black on white.
"""

from __future__ import annotations

import base64
import hashlib
import html

from travelsim.services.install_card import InstallCard
from travelsim.services.installation import SupportContact

__all__ = ["CSP", "STYLE", "card_html"]

STYLE = """
:root { color-scheme: light dark; --ink: #1c2024; --muted: #60646c; --line: #d9d9e0;
  --paper: #ffffff; --accent: #0d74ce; --code: #f0f0f3; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #edeef0; --muted: #b0b4ba; --line: #3a3f45; --paper: #111113;
    --accent: #70b8ff; --code: #212225; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 820px; margin: 0 auto; padding: 24px 20px 32px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
h3 { font-size: 15px; margin: 10px 0 4px; }
p { margin: 6px 0; }
.brand { color: var(--accent); font-weight: 700; letter-spacing: .02em; }
.lead, .made { color: var(--muted); }
.top { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; margin-top: 16px; }
.qr { margin: 0; padding: 12px; background: #fff; border: 1px solid var(--line);
  border-radius: 12px; }
.qr img { display: block; width: 240px; height: 240px; image-rendering: pixelated; }
.codes { flex: 1 1 320px; min-width: 0; }
dl { margin: 0; display: grid; grid-template-columns: minmax(6em, max-content) 1fr;
  gap: 6px 14px; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
.codes dl { grid-template-columns: 1fr; gap: 2px; }
.codes dt { font-size: 13px; }
.codes dd { margin-bottom: 8px; }
code { font: 14px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--code);
  padding: 2px 6px; border-radius: 6px; word-break: break-all; }
.secret { border-left: 4px solid #e5484d; padding: 6px 10px; margin-top: 16px; }
.notice { border-left: 4px solid var(--accent); padding: 6px 10px; }
.steps { display: flex; flex-wrap: wrap; gap: 8px 32px; }
.steps > div { flex: 1 1 300px; }
ol { margin: 0; padding-left: 22px; }
a { color: var(--accent); }
footer { margin-top: 24px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
button { font: inherit; padding: 8px 16px; border-radius: 8px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--paper); cursor: pointer; }
@page { size: A4; margin: 14mm; }
@media print {
  :root { --ink: #000; --muted: #333; --line: #999; --paper: #fff; --accent: #000;
    --code: #fff; }
  main { max-width: none; padding: 0; }
  button { display: none; }
  section, .top { break-inside: avoid; }
}
"""

#: The card page's Content-Security-Policy: nothing but its own style (by hash), inline
#: images and the print script asset; no frame may embed it.
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "img-src data:; script-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _row(label: str, value: str, testid: str, *, code: bool = True) -> str:
    shown = f'<code data-testid="{testid}">{_e(value)}</code>'
    if not code:
        shown = f'<span data-testid="{testid}">{_e(value)}</span>'
    return f"<dt>{_e(label)}</dt><dd>{shown}</dd>"


def _codes(card: InstallCard) -> str:
    t = card.texts
    return (
        f'<div class="codes"><h2>{_e(t["codes"])}</h2><dl>'
        + _row(t["smdp"], card.smdp_address, "card-smdp")
        + _row(t["matching_id"], card.matching_id, "card-matching-id")
        + _row(t["apn"], card.apn, "card-apn", code=False)
        + _row(t["lpa"], card.lpa, "card-lpa")
        + "</dl></div>"
    )


def _facts(card: InstallCard) -> str:
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in card.facts)
    heading = _e(card.texts["plan_heading"])
    return f'<section><h2>{heading}</h2><dl data-testid="card-facts">{rows}</dl></section>'


def _steps(card: InstallCard) -> str:
    blocks = "".join(
        f"<div><h3>{_e(name)}</h3><ol>{''.join(f'<li>{_e(s)}</li>' for s in steps)}</ol></div>"
        for name, steps in card.steps
    )
    return (
        f'<section><h2>{_e(card.texts["steps_heading"])}</h2><div class="steps">{blocks}</div>'
        f"<p><strong>{_e(card.install_once)}</strong></p></section>"
    )


def _support_links(contact: SupportContact) -> str:
    links = [f'<a href="mailto:{_e(contact.email)}">{_e(contact.email)}</a>']
    if contact.phone:
        tel = "".join(c for c in contact.phone if c.isdigit() or c == "+")
        links.append(f'<a href="tel:{_e(tel)}">{_e(contact.phone)}</a>')
    if contact.url:
        links.append(f'<a href="{_e(contact.url)}">{_e(contact.url)}</a>')
    return " · ".join(links)


def _support(card: InstallCard) -> str:
    t = card.texts
    said = _e(t["support"]).format(contacts=_support_links(card.support))
    heading = _e(t["support_heading"])
    return f'<section><h2>{heading}</h2><p data-testid="card-support">{said}</p></section>'


def card_html(card: InstallCard) -> str:
    """The whole card page (UTF-8 text), ``<html lang>`` the card's language. Serve with
    :data:`CSP`."""
    t = card.texts
    qr = base64.b64encode(card.qr_png).decode("ascii")
    confirmation = (
        f'<p class="notice" data-testid="card-confirmation">{_e(card.confirmation)}</p>'
        if card.confirmation
        else ""
    )
    return (
        f'<!doctype html><html lang="{_e(card.locale)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark"><meta name="robots" content="noindex">'
        f"<title>{_e(t['title'])} · TravelSIM</title><style>{STYLE}</style>"
        '<script src="/install-card.js" defer></script></head><body><main>'
        f'<header><p class="brand">TravelSIM</p><h1>{_e(t["title"])}</h1>'
        f'<p class="lead">{_e(t["lead"])}</p></header>'
        f'<div class="top"><figure class="qr"><img src="data:image/png;base64,{qr}" '
        f'alt="{_e(t["qr"])}" width="240" height="240" data-testid="card-qr"></figure>'
        f"{_codes(card)}</div>"
        f'<p class="secret">{_e(t["secret"])}</p>{confirmation}'
        f"{_facts(card)}{_steps(card)}{_support(card)}"
        f'<footer><button type="button" id="print-card" hidden>{_e(t["print"])}</button>'
        f'<p class="made">{_e(t["made"])}</p></footer>'
        "</main></body></html>"
    )
