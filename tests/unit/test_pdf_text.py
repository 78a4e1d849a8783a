"""The tests' PDF reader takes each stream by its ``/Length`` (ISO 32000-1 §7.3.8.1).

About one compressed stream in 256 ends in the byte 0x0D; a reader that looks for
``\\r\\nendstream`` drops that byte and cannot inflate the stream, which once failed the
install-card test at random.
"""

import random
import string
import zlib

from fpdf import FPDF

from tests.pdf_text import pdf_text


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(text=text)
    return bytes(pdf.output())


def _content_stream(pdf: bytes) -> bytes:
    """The page's compressed content stream, cut by its /Length (the first stream fpdf2 writes)."""
    head = pdf.index(b"/Length ") + len(b"/Length ")
    length = int(pdf[head : pdf.index(b"\n", head)])
    start = pdf.index(b"stream\n", head) + len(b"stream\n")
    return pdf[start : start + length]


def test_a_stream_whose_compressed_bytes_end_in_a_carriage_return() -> None:
    rng = random.Random(7)  # seeded: the same texts every run
    texts = ("".join(rng.choices(string.ascii_letters, k=24)) for _ in range(20_000))
    text, pdf = next((t, p) for t in texts if _content_stream(p := _pdf(t)).endswith(b"\r"))
    assert zlib.decompress(_content_stream(pdf))  # the stream is whole as cut by /Length
    assert text in pdf_text(pdf).splitlines()


def test_plain_text_reads_back() -> None:
    assert pdf_text(_pdf("Carte (1) \\ fin")) == "Carte (1) \\ fin"
