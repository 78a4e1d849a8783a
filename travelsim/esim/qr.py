"""QR rendering of an activation code (docs/esim.md#qr-code, ISO/IEC 18004,
GSMA SGP.22 section 4.1).

The symbol holds exactly ``LPA:`` + the activation code: no URL wrapper, no confirmation code.
It is encoded in byte mode with error correction level **M** (never boosted), a 4-module quiet
zone, dark modules on a light background, an integer number of pixels per module, and the
smallest version that fits. No logo overlay.

The rendered image contains the secret matching ID: serve it only to its owner, from an
authenticated route, cacheable only privately.
"""

from __future__ import annotations

import base64
import io

import segno

from travelsim.esim.activation_code import ActivationCode

__all__ = [
    "DARK",
    "ERROR_CORRECTION",
    "LIGHT",
    "QUIET_ZONE",
    "make_qr",
    "qr_data_uri_png",
    "qr_png",
    "qr_svg",
]

ERROR_CORRECTION = "M"
"""QR error-correction level used for every activation code (docs/esim.md#qr-code)."""

QUIET_ZONE = 4
"""Quiet zone (border) in modules; ISO/IEC 18004 requires 4 for QR codes."""

DARK = "#000000"
LIGHT = "#ffffff"

_MAX_SCALE = 64


def _check_scale(scale: int) -> None:
    """Raise ``ValueError`` unless ``scale`` is an ``int`` in ``1..64`` (pixels per module)."""
    if isinstance(scale, bool) or not isinstance(scale, int):
        raise ValueError("scale must be an integer number of pixels per module")
    if not 1 <= scale <= _MAX_SCALE:
        raise ValueError(f"scale must be between 1 and {_MAX_SCALE} pixels per module")


def make_qr(code: ActivationCode) -> segno.QRCode:
    """Build the QR symbol for ``code``.

    Args:
        code: the activation code.

    Returns:
        A ``segno.QRCode`` holding exactly ``code.to_string(with_prefix=True)`` in byte mode,
        error correction M (``boost_error=False``), regular QR (not Micro QR), smallest
        version that fits. A typical 70-character code gives version 5 (37 x 37 modules).

    Raises:
        segno.DataOverflowError: if the code is too long for any QR version at level M
            (more than 2331 bytes; an activation code never is).
    """
    return segno.make(
        code.to_string(with_prefix=True),
        mode="byte",
        error=ERROR_CORRECTION.lower(),
        boost_error=False,
        micro=False,
        encoding="utf-8",
    )


def qr_png(code: ActivationCode, scale: int = 8) -> bytes:
    """Render the activation-code QR as a PNG image.

    Args:
        code: the activation code.
        scale: pixels per module, an integer in ``1..64``.

    Returns:
        PNG bytes of a square image, ``(modules + 2 * 4) * scale`` pixels wide, black modules
        on white (e.g. 360 x 360 px for version 5 at scale 8).

    Raises:
        ValueError: if ``scale`` is not an integer in ``1..64``.
    """
    _check_scale(scale)
    buf = io.BytesIO()
    make_qr(code).save(buf, kind="png", scale=scale, border=QUIET_ZONE, dark=DARK, light=LIGHT)
    return buf.getvalue()


def qr_svg(code: ActivationCode, scale: int = 8) -> bytes:
    """Render the activation-code QR as a standalone SVG document.

    Args:
        code: the activation code.
        scale: user units per module, an integer in ``1..64``.

    Returns:
        UTF-8 SVG bytes (with XML declaration) whose ``width``/``height`` are
        ``(modules + 2 * 4) * scale``, black modules on a white background.

    Raises:
        ValueError: if ``scale`` is not an integer in ``1..64``.
    """
    _check_scale(scale)
    buf = io.BytesIO()
    make_qr(code).save(
        buf,
        kind="svg",
        scale=scale,
        border=QUIET_ZONE,
        dark=DARK,
        light=LIGHT,
        xmldecl=True,
        svgns=True,
        title="eSIM activation QR code",
        encoding="utf-8",
    )
    return buf.getvalue()


def qr_data_uri_png(code: ActivationCode, scale: int = 8) -> str:
    """Render the QR as a ``data:image/png;base64,...`` URI for inline ``<img>`` in email/HTML.

    Args:
        code: the activation code.
        scale: pixels per module, an integer in ``1..64``.

    Returns:
        ``"data:image/png;base64," + base64(qr_png(code, scale))``.

    Raises:
        ValueError: if ``scale`` is not an integer in ``1..64``.
    """
    return "data:image/png;base64," + base64.b64encode(qr_png(code, scale)).decode("ascii")
