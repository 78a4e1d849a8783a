"""One-tap links and user-agent checks (docs/esim.md#install-links).

Failure scenarios covered: docs/esim.md#f4-characters-mangled, docs/esim.md#f5-in-app-browser,
docs/esim.md#f16-same-phone.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from travelsim.esim.activation_code import ActivationCode
from travelsim.esim.install_links import (
    android_link,
    device_platform,
    in_app_browser_name,
    ios_link,
    is_in_app_browser,
    is_mobile,
    lpa_uri,
)

SIMPLE = ActivationCode("smdp.example.com", "ABC-123")

# --- links: snapshots written by hand --------------------------------------------------------


def test_ios_link_snapshot() -> None:
    assert ios_link(SIMPLE) == (
        "https://esimsetup.apple.com/esim_qrcode_provisioning"
        "?carddata=LPA%3A1%24smdp.example.com%24ABC-123"
    )


def test_android_link_snapshot() -> None:
    assert android_link(SIMPLE) == (
        "https://esimsetup.android.com/esim_qrcode_provisioning"
        "?carddata=LPA%3A1%24smdp.example.com%24ABC-123"
    )


def test_link_snapshot_with_oid_and_flag() -> None:
    code = ActivationCode("smdp.example.com", "ABC-123", "1.3.6.1.4.1.31746", True)
    assert ios_link(code) == (
        "https://esimsetup.apple.com/esim_qrcode_provisioning"
        "?carddata=LPA%3A1%24smdp.example.com%24ABC-123%241.3.6.1.4.1.31746%241"
    )
    flag_only = ActivationCode("smdp.example.com", "ABC-123", confirmation_code_required=True)
    assert android_link(flag_only).endswith("carddata=LPA%3A1%24smdp.example.com%24ABC-123%24%241")


def test_reserved_characters_in_matching_id_are_encoded() -> None:
    code = ActivationCode("smdp.example.com", "A+B&C=D/E?F#G%H")
    assert ios_link(code).endswith(
        "carddata=LPA%3A1%24smdp.example.com%24A%2BB%26C%3DD%2FE%3FF%23G%25H"
    )


def test_lpa_uri_is_the_raw_code() -> None:
    assert lpa_uri(SIMPLE) == "LPA:1$smdp.example.com$ABC-123"


# --- links: carddata decodes to the stored code, byte for byte ----------------------------------

_label = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?\Z")
_mid_alphabet = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "$")
codes = st.builds(
    ActivationCode,
    smdp_address=st.builds(lambda a, b: f"{a}.{b}.com", _label, _label),
    matching_id=st.text(alphabet=_mid_alphabet, min_size=1, max_size=40),
    oid=st.none() | st.just("1.3.6.1.4.1.31746") | st.just("2.999"),
    confirmation_code_required=st.booleans(),
)


@pytest.mark.parametrize(
    ("link_fn", "host"),
    [(ios_link, "esimsetup.apple.com"), (android_link, "esimsetup.android.com")],
)
@given(code=codes)
def test_carddata_round_trips_byte_for_byte(link_fn, host, code: ActivationCode) -> None:
    stored = code.to_string(with_prefix=True)
    link = link_fn(code)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        host,
        "/esim_qrcode_provisioning",
    )
    # Exactly one query parameter, no fragment: nothing in the code leaked out of carddata.
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert list(query) == ["carddata"]
    assert parts.fragment == ""
    assert query["carddata"] == [stored]
    raw = parts.query.removeprefix("carddata=")
    assert unquote(raw).encode("utf-8") == stored.encode("utf-8")
    # '$' and ':' are percent-encoded, never literal (F4: templates and shells mangle them).
    assert "$" not in link
    assert ":" not in raw
    assert ActivationCode.parse(query["carddata"][0]) == code


# --- user agents ----------------------------------------------------------------------------

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)
IPHONE_CHROME = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1"
)
IPAD_SAFARI_LEGACY = (
    "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/125.0.6422.113 Mobile Safari/537.36"
)
ANDROID_SAMSUNG = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
WINDOWS_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
CHROMEOS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36"
)
WINDOWS_PHONE = (
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

INSTAGRAM_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 329.0.3.29.120 (iPhone15,3; iOS 17_4; en_US; "
    "en; scale=3.00; 1290x2796; 594876418)"
)
INSTAGRAM_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-G991B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.179 Mobile Safari/537.36 "
    "Instagram 331.0.0.37.90 Android (34/14; 480dpi; 1080x2176; samsung; SM-G991B; o1s; "
    "exynos2100; en_GB; 598323397)"
)
FACEBOOK_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.35.109;FBBV/589093735;"
    "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.4.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;"
    "FBRV/590555577]"
)
FACEBOOK_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/439.0.0.44.117;]"
)
LINE_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.5.0"
)
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 12; M2102J2SC Build/SKQ1.211006.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 "
    "XWEB/5061 MMWEBSDK/20230303 MMWEBID/6168 MicroMessenger/8.0.34.2340(0x2800223D) "
    "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
WECHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282c) NetType/WIFI "
    "Language/zh_CN"
)
TIKTOK_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 musical_ly_33.5.0 JsSdk/2.0 NetType/WIFI "
    "Channel/App Store ByteLocale/en Region/US ByteFullLocale/en isDarkMode/0 "
    "WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6"
)
TIKTOK_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 "
    "trill_330403 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/trill app_version/33.4.3 "
    "ByteLocale/en ByteFullLocale/en Region/GB BytedanceWebview/d8a21c6"
)
TWITTER_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/10.38"
)
LINKEDIN_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8421"
)
SNAPCHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Snapchat/12.83.0.40 (like Safari/8617.2.4.10.8, "
    "panda)"
)
ANDROID_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240505.004; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.53 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "name"),
    [
        (INSTAGRAM_IOS, "instagram"),
        (INSTAGRAM_ANDROID, "instagram"),
        (FACEBOOK_IOS, "facebook"),
        (FACEBOOK_ANDROID, "facebook"),
        (LINE_IOS, "line"),
        (WECHAT_ANDROID, "wechat"),
        (WECHAT_IOS, "wechat"),
        (TIKTOK_IOS, "tiktok"),
        (TIKTOK_ANDROID, "tiktok"),
        (TWITTER_IOS, "twitter"),
        (LINKEDIN_IOS, "linkedin"),
        (SNAPCHAT_IOS, "snapchat"),
        (ANDROID_WEBVIEW, "android-webview"),
    ],
)
def test_in_app_browsers_detected(ua: str, name: str) -> None:
    assert in_app_browser_name(ua) == name
    assert is_in_app_browser(ua) is True


@pytest.mark.parametrize(
    "ua",
    [
        IPHONE_SAFARI,
        IPHONE_CHROME,
        IPAD_SAFARI_LEGACY,
        ANDROID_CHROME,
        ANDROID_SAMSUNG,
        ANDROID_TABLET,
        WINDOWS_EDGE,
        WINDOWS_FIREFOX,
        MAC_SAFARI,
        LINUX_FIREFOX,  # "Linux" must not be mistaken for "Line"
        CHROMEOS,
        GOOGLEBOT,
        "",
        None,
    ],
)
def test_regular_browsers_not_in_app(ua: str | None) -> None:
    assert is_in_app_browser(ua) is False
    assert in_app_browser_name(ua) is None


@pytest.mark.parametrize(
    ("ua", "platform", "mobile"),
    [
        (IPHONE_SAFARI, "ios", True),
        (IPHONE_CHROME, "ios", True),
        (IPAD_SAFARI_LEGACY, "ios", True),
        (INSTAGRAM_IOS, "ios", True),
        (FACEBOOK_IOS, "ios", True),
        (ANDROID_CHROME, "android", True),
        (ANDROID_SAMSUNG, "android", True),
        (ANDROID_TABLET, "android", True),
        (INSTAGRAM_ANDROID, "android", True),
        (ANDROID_WEBVIEW, "android", True),
        (WINDOWS_EDGE, "windows", False),
        (WINDOWS_FIREFOX, "windows", False),
        (MAC_SAFARI, "other", False),
        (LINUX_FIREFOX, "other", False),
        (CHROMEOS, "other", False),
        (WINDOWS_PHONE, "other", True),
        (GOOGLEBOT, "other", False),
        ("", "other", False),
        (None, "other", False),
    ],
)
def test_platform_and_mobile(ua: str | None, platform: str, mobile: bool) -> None:
    assert device_platform(ua) == platform
    assert is_mobile(ua) is mobile
