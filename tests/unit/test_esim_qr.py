"""QR rendering (docs/esim.md#qr-code, ISO/IEC 18004).

Every image is decoded with zxing-cpp, an independent decoder. Expected versions and sizes come
from the QR spec's capacity table, not from the code under test.
"""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from travelsim.esim.activation_code import ActivationCode
from travelsim.esim.qr import qr_data_uri_png, qr_png, qr_svg

# ISO/IEC 18004:2015 Table 7: data capacity in byte mode at error correction level M.
BYTE_CAPACITY_M = {1: 14, 2: 26, 3: 42, 4: 62, 5: 84, 6: 106, 7: 122, 8: 152, 9: 180, 10: 213}
QUIET_ZONE = 4

# A typical code: 70 characters including the "LPA:" prefix.
TYPICAL = ActivationCode("smdp.plus.travelsim-example.com", "AB12C-DE34F-GH56I-JK78L-MN90P-QR")
TYPICAL_TEXT = "LPA:1$smdp.plus.travelsim-example.com$AB12C-DE34F-GH56I-JK78L-MN90P-QR"


def expected_version(n_bytes: int) -> int:
    return min(v for v, cap in BYTE_CAPACITY_M.items() if cap >= n_bytes)


def modules(version: int) -> int:
    return 17 + 4 * version  # ISO/IEC 18004 section 5.3.1


def version_of(result: zxingcpp.Result) -> str:
    extra: dict[str, object] = result.extra  # type: ignore[assignment]
    return str(extra["Version"])


def decode(png: bytes) -> zxingcpp.Result:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0]


def test_typical_code_is_70_chars_and_version_5_by_the_table() -> None:
    assert TYPICAL.to_string() == TYPICAL_TEXT
    assert len(TYPICAL_TEXT) == 70
    # 70 bytes do not fit version 4-M (62) but fit version 5-M (84).
    assert expected_version(70) == 5
    assert modules(5) == 37


@pytest.mark.parametrize("scale", [1, 3, 8])
def test_typical_png_decodes_exactly_with_ecc_m_version_5(scale: int) -> None:
    png = qr_png(TYPICAL, scale=scale)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    side = (37 + 2 * QUIET_ZONE) * scale
    assert img.size == (side, side)
    if scale >= 2:  # zxing needs a little resolution
        result = decode(png)
        assert result.text == TYPICAL_TEXT
        assert result.bytes == TYPICAL_TEXT.encode("ascii")
        assert result.ec_level == "M"
        assert version_of(result) == "5"


CODES = [
    ActivationCode("rsp.example.com", "ABC-123"),
    ActivationCode("rsp.example.com", "ABC-123", oid="1.3.6.1.4.1.31746"),
    ActivationCode("rsp.example.com", "ABC-123", confirmation_code_required=True),
    ActivationCode("rsp.example.com", "ABC-123", "1.3.6.1.4.1.31746", True),
    ActivationCode("lower.case.smdp.example.net", "k2-lower-case-and-Mixed~!"),
    ActivationCode("a.b", "X"),
]


@pytest.mark.parametrize("code", CODES, ids=str)
def test_png_content_is_exactly_the_lpa_string(code: ActivationCode) -> None:
    text = code.to_string(with_prefix=True)
    result = decode(qr_png(code, scale=6))
    assert result.text == text
    assert result.bytes == text.encode("ascii")
    assert result.ec_level == "M"  # never boosted, even when a higher level would fit
    version = expected_version(len(text.encode()))
    assert version_of(result) == str(version)
    assert (
        Image.open(io.BytesIO(qr_png(code, scale=6))).size
        == ((modules(version) + 2 * QUIET_ZONE) * 6,) * 2
    )


def test_dark_on_light_with_quiet_zone() -> None:
    scale = 5
    img = Image.open(io.BytesIO(qr_png(TYPICAL, scale=scale))).convert("L")
    side = img.size[0]
    # The quiet zone (4 modules on every side) is entirely light.
    qz = QUIET_ZONE * scale
    for x in range(side):
        for y in (*range(qz), *range(side - qz, side)):
            assert img.getpixel((x, y)) == 255
            assert img.getpixel((y, x)) == 255
    # The top-left finder pattern starts right after it with a dark module, and each module is
    # exactly `scale` pixels (integer scaling, no anti-aliasing).
    for dx in range(scale):
        for dy in range(scale):
            assert img.getpixel((qz + dx, qz + dy)) == 0
    assert set(img.getdata()) == {0, 255}


@pytest.mark.parametrize("scale", [0, -1, 65, 2.5, "8", True])
def test_scale_must_be_a_positive_integer(scale: object) -> None:
    with pytest.raises(ValueError, match="scale"):
        qr_png(TYPICAL, scale=scale)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        qr_svg(TYPICAL, scale=scale)  # type: ignore[arg-type]


def test_svg_dimensions_colours_and_no_secret_in_markup() -> None:
    scale = 4
    svg = qr_svg(TYPICAL, scale=scale)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = (37 + 2 * QUIET_ZONE) * scale
    assert root.attrib["width"] == str(side)
    assert root.attrib["height"] == str(side)
    text = svg.decode("utf-8")
    assert 'fill="#fff"' in text  # light background
    assert 'stroke="#000"' in text  # dark modules
    # The matching ID is only in the modules, never as readable text in the markup.
    assert TYPICAL.matching_id not in text


def test_data_uri_is_the_png() -> None:
    uri = qr_data_uri_png(TYPICAL, scale=4)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    png = base64.b64decode(uri[len(prefix) :], validate=True)
    assert png == qr_png(TYPICAL, scale=4)
    assert decode(png).text == TYPICAL_TEXT


def test_rendering_is_deterministic() -> None:
    assert qr_png(TYPICAL) == qr_png(TYPICAL)
    assert qr_svg(TYPICAL) == qr_svg(TYPICAL)
