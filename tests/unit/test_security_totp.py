"""TOTP (RFC 6238) and small security helpers.

Expected codes are the RFC 6238 Appendix B test vectors (SHA-1, secret
"12345678901234567890"), whose 8-digit values end with the 6-digit codes authenticator apps
show (HOTP truncation is ``value mod 10**digits``, RFC 4226 section 5.3).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from travelsim.services.auth import throttling, totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
# (unix time, 8-digit RFC 6238 SHA-1 value)
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


@pytest.mark.parametrize(("unix", "value"), RFC_VECTORS)
def test_rfc6238_vectors_are_accepted_in_their_step(unix: int, value: str) -> None:
    assert totp.matching_totp_step(RFC_SECRET, value[-6:], at(unix)) == unix // 30


def test_one_step_of_clock_drift_either_way() -> None:
    code = "287082"  # T = 59 s: step 1
    assert totp.matching_totp_step(RFC_SECRET, code, at(59 + 30)) == 1
    assert totp.matching_totp_step(RFC_SECRET, code, at(59 - 30)) == 1
    assert totp.matching_totp_step(RFC_SECRET, code, at(59 + 60)) is None


@pytest.mark.parametrize("code", ["", "28708", "2870822", "28708a", "abcdef", "287 08x"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp.matching_totp_step(RFC_SECRET, code, at(59)) is None


def test_spaces_inside_a_code_are_ignored() -> None:
    assert totp.matching_totp_step(RFC_SECRET, "287 082", at(59)) == 1


def test_a_new_secret_is_160_random_bits_of_base32() -> None:
    a, b = totp.new_totp_secret(), totp.new_totp_secret()
    assert a != b
    assert len(base64.b32decode(a)) == 20


def test_provisioning_uri_follows_the_key_uri_format() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, "ana@example.com", "TravelSIM")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/TravelSIM:ana@example.com"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["secret"] == RFC_SECRET and query["issuer"] == "TravelSIM"


def test_qr_is_an_svg_data_uri() -> None:
    assert totp.qr_svg_data_uri("otpauth://totp/x?secret=AAAA").startswith("data:image/svg+xml")


def test_throttle_account_keys() -> None:
    assert throttling.throttle_account(" Ana@Example.COM ") == "ana@example.com"
    assert throttling.throttle_account("Not An Email") == "not an email"
    assert throttling.totp_account(7) == "user:7"


def test_second_factor_path_keeps_next() -> None:
    assert totp.second_factor_path("/") == "/security/totp"
    assert totp.second_factor_path("/admin?x=1") == "/security/totp?next=%2Fadmin%3Fx%3D1"


def test_totp_step_of_an_aware_datetime() -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    assert totp.totp_step(moment + timedelta(seconds=29)) == totp.totp_step(moment)
    assert totp.totp_step(moment + timedelta(seconds=30)) == totp.totp_step(moment) + 1
