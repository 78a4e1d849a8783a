"""Sessions on the security page name the browser and system, not the raw user-agent."""

from __future__ import annotations

import pytest

from travelsim.services.auth.sessions import describe_user_agent

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/126.0.2592.68"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WINDOWS, "Chrome 126 on Windows"),
        (SAFARI_IPHONE, "Safari 17 on iPhone"),
        (FIREFOX_MAC, "Firefox 128 on macOS"),
        (CHROME_ANDROID, "Chrome 126 on Android"),
        (EDGE_WINDOWS, "Edge 126 on Windows"),
    ],
)
def test_known_browsers_are_named_with_version_and_system(ua: str, expected: str) -> None:
    assert describe_user_agent(ua) == expected


@pytest.mark.parametrize("ua", ["", "   ", "python-httpx/0.28.1", "x" * 5000])
def test_unrecognised_agents_are_an_unknown_browser(ua: str) -> None:
    assert describe_user_agent(ua) == "Unknown browser"


def test_a_tool_without_a_system_is_named_alone() -> None:
    assert describe_user_agent("curl/8.5.0") == "curl 8"
