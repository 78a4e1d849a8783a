"""The allowed origins (``travelsim.origins``): one list for CORS, the websocket and the
cross-origin guard, never ``*``; origins written the way browsers write ``Origin``."""

from __future__ import annotations

import pytest

from travelsim.origins import allowed_origins, origin_of
from travelsim.settings import Settings


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Portal.Example/path?q=1", "https://portal.example"),
        ("https://portal.example:443/", "https://portal.example"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8000/x", "http://[::1]:8000"),
        ("null", None),
        ("/relative", None),
        ("ftp://files.example", None),
        ("http://host:notaport", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_production_allows_only_the_public_origin() -> None:
    settings = Settings(app_env="production", public_url="https://portal.example/")
    assert allowed_origins(settings) == ["https://portal.example"]


def test_demo_and_test_add_the_loopback_frontend() -> None:
    settings = Settings(app_env="test", public_url="https://portal.example", frontend_port=3001)
    assert allowed_origins(settings) == [
        "https://portal.example",
        "http://localhost:3001",
        "http://127.0.0.1:3001",
    ]
    same = Settings(app_env="demo", public_url="http://localhost:3000", frontend_port=3000)
    assert allowed_origins(same) == ["http://localhost:3000", "http://127.0.0.1:3000"]


def test_a_public_url_that_is_no_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        allowed_origins(Settings(app_env="test", public_url="portal.example"))
