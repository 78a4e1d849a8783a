"""Pure rules of accounts and the auth routes: email normalisation, password policy,
safe ``next`` redirects, same-origin checks, cookie parsing, email MIME and backoff."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from starlette.requests import Request

from travelsim.models import OutboxEmail
from travelsim.routes.http import same_origin
from travelsim.services.auth import errors, passwords, sessions, signup
from travelsim.services.auth.credentials import check_password_policy, normalise_email
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.signin import safe_next
from travelsim.services.email import backoff_delay, build_message
from travelsim.settings import Settings

# --- email addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Lopez@Example.COM ", "ana.lopez@example.com"),
        ("BOB+trip@Mail.Example.org", "bob+trip@mail.example.org"),
    ],
)
def test_normalise_email_lowercases_and_trims(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "ana", "ana@", "@example.com", "ana@@example.com", "ana example@x.com", "a@b"],
)
def test_normalise_email_rejects_malformed(raw: str) -> None:
    with pytest.raises(AccountError) as info:
        normalise_email(raw)
    assert info.value.code == "email_invalid"
    assert isinstance(info.value, ValueError)
    assert info.value.message  # a sentence for the user


# --- password policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("a" * 9, "password_too_short"),
        ("a" * 129, "password_too_long"),
        (" " * 12, "password_blank"),
        ("\t \n" * 4, "password_blank"),
        ("ana@example.com", "password_is_email"),
        ("ANA@EXAMPLE.COM", "password_is_email"),
        ("  ana@example.com ", "password_is_email"),
    ],
)
def test_password_policy_refuses(password: str, code: str) -> None:
    with pytest.raises(AccountError) as info:
        check_password_policy(password, "ana@example.com")
    assert info.value.code == code


@pytest.mark.parametrize("password", ["a" * 10, "b" * 128, "correct horse", "  spaced pass  "])
def test_password_policy_accepts_bounds(password: str) -> None:
    check_password_policy(password, "ana@example.com")


def test_every_error_code_has_a_message() -> None:
    for code in (
        "email_invalid",
        "email_taken",
        "password_too_short",
        "password_too_long",
        "password_blank",
        "password_is_email",
        "invalid_credentials",
        "unverified",
        "token_invalid",
        "token_used",
        "token_expired",
        "csrf",
    ):
        assert errors.message_for(code) != errors.message_for("no-such-code")
    assert AccountError("token_used").message == errors.ERROR_MESSAGES["token_used"]


def test_password_hash_is_argon2id_and_never_the_password() -> None:
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed


# --- redirects and origins ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["/", "/esims", "/esims/12?tab=install#qr", "/checkout/abc-def?plan=EU-5GB"]
)
def test_safe_next_keeps_relative_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "esims",
        "/ok\r\nSet-Cookie: x=1",
        "/\tevil",
        "/" + "a" * 2000,
    ],
)
def test_safe_next_refuses_other_sites(value: str | None) -> None:
    assert safe_next(value) == "/"


def _request(
    headers: dict[str, str], host: str = "portal.example", scheme: str = "https"
) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": scheme,
        "path": "/auth/signin",
        "query_string": b"",
        "headers": [(b"host", host.encode())]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": (host, 443),
    }
    return Request(scope)


SETTINGS = Settings(public_url="https://www.travelsim.example")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://portal.example"},
        {"Origin": "https://PORTAL.example:443"},
        {"Origin": "https://www.travelsim.example"},
        {"Referer": "https://portal.example/signin?next=/"},
        {"Referer": "https://www.travelsim.example/signup"},
    ],
)
def test_same_origin_accepts(headers: dict[str, str]) -> None:
    assert same_origin(_request(headers), SETTINGS)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://portal.example"},  # scheme differs
        {"Origin": "https://portal.example:8443"},  # port differs
        {"Origin": "https://portal.example.evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        # Origin wins over a same-site Referer.
        {"Origin": "https://evil.example", "Referer": "https://portal.example/"},
    ],
)
def test_same_origin_refuses(headers: dict[str, str]) -> None:
    assert not same_origin(_request(headers), SETTINGS)


# --- cookies -----------------------------------------------------------------------------------


def test_token_from_cookie_header() -> None:
    header = f"theme=dark; {sessions.COOKIE_NAME}=abc_DEF-123; other=1"
    assert sessions.token_from_cookie_header(header) == "abc_DEF-123"
    assert sessions.token_from_cookie_header("theme=dark") is None
    assert sessions.token_from_cookie_header(None) is None
    assert sessions.token_from_cookie_header("") is None


def test_session_constants_follow_the_rules() -> None:
    assert sessions.COOKIE_NAME == "travelsim_session"
    assert sessions.SESSION_ABSOLUTE_TTL == timedelta(days=30)
    assert sessions.SESSION_IDLE_TTL == timedelta(days=7)
    assert signup.VERIFY_TOKEN_TTL == timedelta(hours=24)


# --- email -------------------------------------------------------------------------------------


def test_backoff_doubles_from_one_minute_and_is_capped() -> None:
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert backoff_delay(30) == timedelta(hours=1)
    with pytest.raises(ValueError):
        backoff_delay(0)


PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _row(**kw: object) -> OutboxEmail:
    values: dict[str, object] = {
        "id": 7,
        "kind": "installation",
        "to_address": "ana@example.com",
        "subject": "Your eSIM for Japan",
        "body_text": "Scan the QR code.",
        "body_html": '<p>Scan:</p><img src="cid:qr-7">',
        "attachments": [
            {
                "filename": "esim-qr.png",
                "content_type": "image/png",
                "content_id": "qr-7",
                "data_b64": base64.b64encode(PNG_1PX).decode(),
            }
        ],
        "created_at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    }
    values.update(kw)
    return OutboxEmail(**values)  # type: ignore[arg-type]


def _roundtrip(msg: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_build_message_text_html_and_inline_image() -> None:
    msg = _roundtrip(
        build_message(_row(), Settings(mail_from="TravelSIM <hello@travelsim.example>"))
    )
    assert msg["To"] == "ana@example.com"
    assert msg["Subject"] == "Your eSIM for Japan"
    assert msg["From"] == "TravelSIM <hello@travelsim.example>"
    assert msg["Message-ID"].endswith("@travelsim.example>")
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = list(msg.iter_parts())
    assert text_part.get_content_type() == "text/plain"
    assert text_part.get_content().strip() == "Scan the QR code."
    assert related.get_content_type() == "multipart/related"
    html_part, image = list(related.iter_parts())
    assert html_part.get_content_type() == "text/html"
    assert 'src="cid:qr-7"' in html_part.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<qr-7>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG_1PX


def test_build_message_text_only() -> None:
    msg = _roundtrip(build_message(_row(body_html=None, attachments=[]), Settings()))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "Scan the QR code."
