"""The text of a PDF, read with no PDF library (none is installed; fpdf2 only writes PDFs).

An independent reader of the PDF 1.7 structures (ISO 32000-1) a text-only PDF uses: every
``stream … endstream`` is inflated with :mod:`zlib` when its dictionary says
``/FlateDecode``; a font's ``/ToUnicode`` CMap (§9.10.3: ``bfchar`` and ``bfrange``) maps its
2-byte glyph codes back to Unicode; the content streams' text operators (``Tf`` selects a
font, ``Tj``/``TJ`` show strings, hex ``<…>`` or literal ``(…)``) give the text, one string
per shown run, in page order. Enough to assert what a page says, not a general parser.
"""

from __future__ import annotations

import re
import zlib

_OBJ_START = re.compile(rb"(\d+) 0 obj")
_STREAM_START = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length (\d+)(?! \d+ R)")
_FONT_REF = re.compile(rb"/(F\w+) (\d+) 0 R")
_TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
_DESCENDANT = re.compile(rb"/DescendantFonts \[\s*(\d+) 0 R")
_SHOW = re.compile(rb"/(F\w+) [\d.]+ Tf|<([0-9A-Fa-f]*)>|\(((?:\\.|[^\\)])*)\)|(T[jJ]|ET)")


def _objects(pdf: bytes) -> dict[int, bytes]:
    """Object number → its body (dictionary and any stream), up to ``endobj``.

    A stream's bytes are taken by its ``/Length`` (§7.3.8.1), never by searching for
    ``endstream``/``endobj``: compressed data may hold those bytes, or end in a byte that
    looks like the end-of-line before ``endstream``.
    """
    objects: dict[int, bytes] = {}
    pos = 0
    while (start := _OBJ_START.search(pdf, pos)) is not None:
        body_start = start.end()
        end = pdf.index(b"endobj", body_start)
        stream = _STREAM_START.search(pdf, body_start, end)
        length = _LENGTH.search(pdf, body_start, stream.start()) if stream else None
        if stream is not None and length is not None:
            data_end = stream.end() + int(length.group(1))
            end = pdf.index(b"endobj", data_end)
        objects[int(start.group(1))] = pdf[body_start:end]
        pos = end + len(b"endobj")
    return objects


def _stream(body: bytes) -> bytes:
    """A body's stream data: exactly ``/Length`` bytes, inflated when ``/FlateDecode``."""
    found = _STREAM_START.search(body)
    if found is None:
        return b""
    length = _LENGTH.search(body, 0, found.start())
    raw = body[found.end() : found.end() + int(length.group(1))] if length else b""
    return zlib.decompress(raw) if b"/FlateDecode" in body[: found.start()] else raw


def _cmap(text: bytes) -> dict[int, str]:
    """A ToUnicode CMap's code → text (``bfchar`` pairs and ``bfrange`` runs)."""
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            first = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[code] = chr(first + i)
    return mapping


def _fonts(objects: dict[int, bytes]) -> dict[bytes, dict[int, str]]:
    """Resource name (``F1``) → its ToUnicode map (empty for a font without one)."""
    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        for name, ref in _FONT_REF.findall(body):
            font = objects.get(int(ref), b"")
            to_unicode = _TO_UNICODE.search(font)
            if to_unicode is None and (d := _DESCENDANT.search(font)):
                to_unicode = _TO_UNICODE.search(objects.get(int(d.group(1)), b""))
            fonts[name] = _cmap(_stream(objects[int(to_unicode.group(1))])) if to_unicode else {}
    return fonts


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    """A literal string's bytes (§7.3.4.2: ``\\n`` and friends, ``\\ddd`` octal, ``\\(``)."""

    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _ESCAPES.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def _decode(data: bytes, cmap: dict[int, str]) -> str:
    """2-byte codes through the font's ToUnicode map; a simple font's bytes as Latin-1."""
    if not cmap:
        return data.decode("latin-1")
    codes = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return "".join(cmap.get(c, "\ufffd") for c in codes)


def pdf_runs(pdf: bytes) -> list[str]:
    """Every text object (``BT … ET``) of every content stream, decoded, in stream order."""
    objects = _objects(pdf)
    fonts = _fonts(objects)
    runs: list[str] = []
    for body in objects.values():
        if b"/Length" not in body or b"/Type /XObject" in body or b"/Length1" in body:
            continue
        content = _stream(body)
        if b" Tf" not in content:
            continue
        cmap: dict[int, str] = {}
        current = ""
        for m in _SHOW.finditer(content):
            font, hexed, literal, op = m.groups()
            if font is not None:
                cmap = fonts.get(font, {})
            elif hexed is not None:
                current += _decode(bytes.fromhex(hexed.decode()), cmap)
            elif literal is not None:
                current += _decode(_unescape(literal), cmap)
            elif op == b"ET" and current:
                runs.append(current)
                current = ""
    return runs


def pdf_text(pdf: bytes) -> str:
    """:func:`pdf_runs` joined by newlines."""
    return "\n".join(pdf_runs(pdf))
