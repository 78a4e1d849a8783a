"""The install card as a one-page A4 PDF (fpdf2), the same content as the HTML card
(docs/esim.md#offline-install-card).

fpdf2's core fonts are Latin-1 only, and the card's texts hold typographic quotes, bullets,
the euro sign and whatever a translation or a plan name brings: the text is set in DejaVu
Sans, shipped in ``travelsim/fonts/`` (Bitstream Vera licence, ``LICENSE-DejaVu.txt`` beside
it) and embedded as a subset, with a ToUnicode map so the PDF's text can be searched and copied.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from travelsim.services.install_card import InstallCard

__all__ = ["FONT_DIR", "card_pdf"]

#: The shipped fonts (package data, see pyproject ``[tool.setuptools.package-data]``).
FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
_SANS, _MONO = "DejaVuSans", "DejaVuSansMono"
_QR_MM = 62.0
_LINE = 5.2


def _pdf(card: InstallCard, now: datetime) -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font(_SANS, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(_SANS, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_font(_MONO, "", str(FONT_DIR / "DejaVuSansMono.ttf"))
    pdf.set_lang(card.locale)
    pdf.set_title(f"{card.texts['title']} · TravelSIM")
    pdf.set_creator("TravelSIM")
    pdf.set_creation_date(now)
    pdf.add_page()
    return pdf


def _text(pdf: FPDF, text: str, size: float = 10, style: str = "", gap: float = 1.5) -> None:
    pdf.set_font(_SANS, style, size)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=Align.L)
    pdf.ln(gap)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    _text(pdf, text, size=12.5, style="B", gap=1)


def _header(pdf: FPDF, card: InstallCard) -> None:
    pdf.set_text_color(13, 116, 206)
    _text(pdf, "TravelSIM", size=10, style="B", gap=0.5)
    pdf.set_text_color(0, 0, 0)
    _text(pdf, card.texts["title"], size=18, style="B", gap=1)
    _text(pdf, card.texts["lead"], size=10)


def _codes(pdf: FPDF, card: InstallCard) -> None:
    """The QR on the left, the manual-entry fields on its right."""
    top = pdf.get_y() + 2
    left = pdf.l_margin
    pdf.image(BytesIO(card.qr_png), x=left, y=top, w=_QR_MM, h=_QR_MM)
    x = left + _QR_MM + 8
    width = pdf.w - pdf.r_margin - x
    pdf.set_xy(x, top)
    pdf.set_font(_SANS, "B", 12.5)
    pdf.multi_cell(width, 6.5, card.texts["codes"], new_x=XPos.LEFT, new_y=YPos.NEXT)
    rows = (
        (card.texts["smdp"], card.smdp_address),
        (card.texts["matching_id"], card.matching_id),
        (card.texts["apn"], card.apn),
        (card.texts["lpa"], card.lpa),
    )
    for label, value in rows:
        pdf.set_x(x)
        pdf.set_font(_SANS, "", 8.5)
        pdf.set_text_color(80, 80, 80)
        pdf.multi_cell(width, 4.2, label, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(_MONO, "", 10)
        pdf.multi_cell(
            width, _LINE, value, new_x=XPos.LEFT, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR
        )
        pdf.ln(1.2)
    pdf.set_xy(left, max(pdf.get_y(), top + _QR_MM) + 4)


def _facts(pdf: FPDF, card: InstallCard) -> None:
    _heading(pdf, card.texts["plan_heading"])
    label_w = 38.0
    for label, value in card.facts:
        pdf.set_font(_SANS, "B", 9.5)
        y = pdf.get_y()
        pdf.multi_cell(label_w, _LINE, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font(_SANS, "", 9.5)
        pdf.multi_cell(0, _LINE, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=Align.L)
        pdf.set_y(max(pdf.get_y(), y + _LINE) + 0.6)


def _steps(pdf: FPDF, card: InstallCard) -> None:
    _heading(pdf, card.texts["steps_heading"])
    for name, steps in card.steps:
        _text(pdf, name, size=10.5, style="B", gap=0.5)
        for number, step in enumerate(steps, start=1):
            _text(pdf, f"{number}. {step}", size=9.5, gap=0.4)
        pdf.ln(1)
    _text(pdf, card.install_once, size=9.5, style="B")


def _support(pdf: FPDF, card: InstallCard) -> None:
    _heading(pdf, card.texts["support_heading"])
    contact = card.support
    ways = [contact.email, *(v for v in (contact.phone, contact.url) if v)]
    _text(pdf, card.texts["support"].format(contacts=" · ".join(ways)), size=9.5)


def card_pdf(card: InstallCard, now: datetime) -> bytes:
    """The card as PDF bytes (A4, text in the card's language, ``now``, aware UTC, as its
    creation date). Raises ``FileNotFoundError`` when the shipped fonts are missing."""
    pdf = _pdf(card, now)
    _header(pdf, card)
    _codes(pdf, card)
    _text(pdf, card.texts["secret"], size=9.5, style="B")
    if card.confirmation:
        _text(pdf, card.confirmation, size=9.5)
    _facts(pdf, card)
    _steps(pdf, card)
    _support(pdf, card)
    pdf.set_text_color(90, 90, 90)
    _text(pdf, card.texts["made"], size=8)
    return bytes(pdf.output())
