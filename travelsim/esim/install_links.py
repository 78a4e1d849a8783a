"""One-tap install links and user-agent checks (docs/esim.md#install-links).

Failure scenarios handled here: docs/esim.md#f4-characters-mangled,
docs/esim.md#f5-in-app-browser and docs/esim.md#f16-same-phone.

- iOS 17.4+: ``https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=<LPA string>``
- Android:   ``https://esimsetup.android.com/esim_qrcode_provisioning?carddata=<LPA string>``
- Windows 11: the ``LPA:1$...`` string itself is a clickable link.

``carddata`` is the full ``LPA:`` activation code (GSMA SGP.22 section 4.1), percent-encoded with
``urllib.parse.quote(s, safe="")`` so that ``$``, ``:`` and every other reserved character is
encoded (``$`` → ``%24``, ``:`` → ``%3A``). The links contain the secret matching ID: render them
only for the code's owner and never log them.

User-agent checks are heuristics for choosing the order of install options on a page. They
never gate access: every page still offers every path (one-tap, QR, manual).
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from travelsim.esim.activation_code import ActivationCode

__all__ = [
    "ANDROID_SETUP_URL",
    "IOS_SETUP_URL",
    "Platform",
    "android_link",
    "device_platform",
    "in_app_browser_name",
    "ios_link",
    "is_in_app_browser",
    "is_mobile",
    "lpa_uri",
]

IOS_SETUP_URL = "https://esimsetup.apple.com/esim_qrcode_provisioning"
ANDROID_SETUP_URL = "https://esimsetup.android.com/esim_qrcode_provisioning"

Platform = Literal["ios", "android", "windows", "other"]


def _carddata(code: ActivationCode) -> str:
    """The ``LPA:`` string, percent-encoded with no safe characters (RFC 3986 section 2.1)."""
    return quote(code.to_string(with_prefix=True), safe="")


def ios_link(code: ActivationCode) -> str:
    """Apple's one-tap eSIM install link (iOS 17.4+), docs/esim.md#install-links.

    Args:
        code: the activation code.

    Returns:
        ``https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=<quoted LPA string>``,
        e.g. ``...?carddata=LPA%3A1%24smdp.example.com%24ABC-123``. Contains the matching ID.
        It does not fire inside in-app browsers (see :func:`is_in_app_browser`).
    """
    return f"{IOS_SETUP_URL}?carddata={_carddata(code)}"


def android_link(code: ActivationCode) -> str:
    """Google's one-tap eSIM install link (recent Google Play services), docs/esim.md#install-links.

    Args:
        code: the activation code.

    Returns:
        ``https://esimsetup.android.com/esim_qrcode_provisioning?carddata=<quoted LPA string>``.
        Contains the matching ID.
    """
    return f"{ANDROID_SETUP_URL}?carddata={_carddata(code)}"


def lpa_uri(code: ActivationCode) -> str:
    """The ``LPA:1$...`` URI, clickable on Windows 11 (docs/esim.md#install-links,
    SGP.22 section 4.1).

    Returns:
        ``code.to_string(with_prefix=True)`` unchanged (``$`` is legal in a URI path and must
        stay literal for the LPA handler). When put in an HTML attribute, escape it with the
        template's normal attribute escaping; do not percent-encode it. Contains the matching ID.
    """
    return code.to_string(with_prefix=True)


# --- user-agent heuristics --------------------------------------------------------------------

# (name, pattern) in priority order. Sources: the apps' published or widely observed UA tokens.
_IN_APP_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("instagram", re.compile(r"\bInstagram\b")),
    ("facebook", re.compile(r"\bFB(?:AN|AV|_IAB|IOS|4A)\b|\[FB")),
    ("messenger", re.compile(r"\bFBAN/Messenger|\bMessengerForiOS\b|\bOrca-Android\b")),
    ("line", re.compile(r"\bLine/\d", re.IGNORECASE)),
    ("wechat", re.compile(r"\bMicroMessenger/", re.IGNORECASE)),
    ("tiktok", re.compile(r"\b(?:musical_ly|BytedanceWebview|TikTok|trill|ByteLocale)\b")),
    ("twitter", re.compile(r"\bTwitter(?:Android)?\b")),
    ("linkedin", re.compile(r"\bLinkedInApp\b")),
    ("snapchat", re.compile(r"\bSnapchat\b")),
    ("android-webview", re.compile(r";\s*wv\)")),
)


def in_app_browser_name(user_agent: str | None) -> str | None:
    """Name the in-app browser (embedded web view) a user agent belongs to (F5).

    Args:
        user_agent: the ``User-Agent`` header, or ``None``.

    Returns:
        One of ``"instagram"``, ``"facebook"``, ``"messenger"``, ``"line"``, ``"wechat"``,
        ``"tiktok"``, ``"twitter"``, ``"linkedin"``, ``"snapchat"``, ``"android-webview"``
        (any Android WebView, ``"; wv)"``), or ``None`` for a regular browser or no header.
    """
    if not user_agent:
        return None
    for name, pattern in _IN_APP_BROWSERS:
        if pattern.search(user_agent):
            return name
    return None


def is_in_app_browser(user_agent: str | None) -> bool:
    """Whether the page is open inside an app's embedded browser (docs/esim.md#f5-in-app-browser).

    One-tap install links do not fire there; the page should offer "open in browser", the QR
    and manual entry. Detects Instagram, Facebook (FBAN/FBAV), Messenger, Line, WeChat
    (MicroMessenger), TikTok, Twitter/X, LinkedIn, Snapchat and Android WebView (``; wv)``).

    Args:
        user_agent: the ``User-Agent`` header, or ``None``.

    Returns:
        ``True`` if :func:`in_app_browser_name` recognises it.
    """
    return in_app_browser_name(user_agent) is not None


def device_platform(user_agent: str | None) -> Platform:
    """Classify the device's OS for choosing the install path (docs/esim.md#install-links).

    Args:
        user_agent: the ``User-Agent`` header, or ``None``.

    Returns:
        ``"ios"`` for iPhone/iPad/iPod (including Chrome ``CriOS`` and Firefox ``FxiOS`` on iOS),
        ``"android"`` for Android, ``"windows"`` for Windows desktop (``Windows NT``),
        ``"other"`` otherwise (macOS, Linux, ChromeOS, Windows Phone, bots, missing header).
        iPadOS 13+ in its default "desktop" mode reports a Mac UA and so yields ``"other"``:
        keep every install option reachable.
    """
    if not user_agent:
        return "other"
    if "Windows Phone" in user_agent:
        return "other"
    if re.search(r"\b(?:iPhone|iPad|iPod)\b", user_agent):
        return "ios"
    if "Android" in user_agent:
        return "android"
    if "Windows NT" in user_agent:
        return "windows"
    return "other"


def is_mobile(user_agent: str | None) -> bool:
    """Whether the device is a phone or tablet (docs/esim.md#f16-same-phone).

    On such a device the QR on screen cannot be scanned by the same device, so the page shows
    one-tap and manual entry first. Tablets count as mobile: they install eSIMs the same way.

    Args:
        user_agent: the ``User-Agent`` header, or ``None``.

    Returns:
        ``True`` for iOS/Android devices and any UA with the ``Mobi`` token (MDN's recommended
        mobile check); ``False`` otherwise, including a missing header.
    """
    if not user_agent:
        return False
    if device_platform(user_agent) in ("ios", "android"):
        return True
    return "Mobi" in user_agent
