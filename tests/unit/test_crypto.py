"""Encryption at rest (travelsim/crypto.py)."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from travelsim.crypto import DecryptionError, SecretBox, generate_key, load_or_create_key

CODE = "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3$$1"


def test_generate_key_shape() -> None:
    key = generate_key()
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert generate_key() != key


@given(st.text())
def test_round_trip(plaintext: str) -> None:
    box = SecretBox([generate_key()])
    assert box.decrypt(box.encrypt(plaintext)) == plaintext


def test_ciphertext_hides_plaintext_and_is_randomised() -> None:
    box = SecretBox([generate_key()])
    a, b = box.encrypt(CODE), box.encrypt(CODE)
    assert a != b
    for token in (a, b):
        assert token.isascii()
        assert CODE not in token
        assert "K2-1ABCD-2EFGH3" not in token
        assert b"K2-1ABCD-2EFGH3" not in base64.urlsafe_b64decode(token)


def test_tampering_detected() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(CODE)
    raw = bytearray(base64.urlsafe_b64decode(token))
    for i in (0, 9, 30, len(raw) - 40, len(raw) - 1):  # version, timestamp, IV, body, HMAC
        flipped = raw.copy()
        flipped[i] ^= 0x01
        with pytest.raises(DecryptionError):
            box.decrypt(base64.urlsafe_b64encode(bytes(flipped)).decode())
    with pytest.raises(DecryptionError):
        box.decrypt(token[:-4])  # truncated
    with pytest.raises(DecryptionError):
        box.decrypt("not a token")
    with pytest.raises(DecryptionError):
        box.decrypt("")
    with pytest.raises(DecryptionError):
        box.decrypt("ü")


def test_error_message_does_not_echo_token() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(CODE)[:-4]
    with pytest.raises(DecryptionError) as info:
        box.decrypt(token)
    assert token not in str(info.value)


def test_wrong_key_fails() -> None:
    token = SecretBox([generate_key()]).encrypt(CODE)
    with pytest.raises(DecryptionError):
        SecretBox([generate_key()]).decrypt(token)


def test_rotation_first_key_encrypts_all_decrypt() -> None:
    old, new = generate_key(), generate_key()
    old_token = SecretBox([old]).encrypt(CODE)
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(old_token) == CODE
    new_token = rotated_box.encrypt(CODE)
    assert SecretBox([new]).decrypt(new_token) == CODE  # encrypted under the first key
    with pytest.raises(DecryptionError):
        SecretBox([old]).decrypt(new_token)
    # rotate() re-encrypts an old token under the first key; afterwards the old key can go.
    re_encrypted = rotated_box.rotate(old_token)
    assert SecretBox([new]).decrypt(re_encrypted) == CODE
    with pytest.raises(DecryptionError):
        rotated_box.rotate("garbage")


def test_from_key_list_and_bytes_keys() -> None:
    k1, k2 = generate_key(), generate_key()
    token = SecretBox([k2]).encrypt(CODE)
    box = SecretBox.from_key_list(f" {k1} , {k2},")
    assert box.decrypt(token) == CODE
    assert SecretBox([k1.encode()]).decrypt(SecretBox([k1]).encrypt(CODE)) == CODE


@pytest.mark.parametrize("keys", [[], ["short"], ["!" * 44]])
def test_bad_keys_rejected(keys: list[str]) -> None:
    with pytest.raises(ValueError):
        SecretBox(keys)
    with pytest.raises(ValueError):
        SecretBox.from_key_list(",".join(keys))


def test_repr_hides_keys() -> None:
    key = generate_key()
    assert key not in repr(SecretBox([key]))


def test_encrypt_requires_str() -> None:
    with pytest.raises(TypeError):
        SecretBox([generate_key()]).encrypt(b"bytes")  # type: ignore[arg-type]


def test_load_or_create_key_creates_0600_and_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "secret.key"
    old_umask = os.umask(0o000)  # even a permissive umask must not widen the mode
    try:
        key = load_or_create_key(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert load_or_create_key(path) == key
    assert SecretBox([key]).decrypt(SecretBox([key]).encrypt(CODE)) == CODE
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp file left


def test_load_or_create_key_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(ValueError):
        load_or_create_key(path)


def test_load_or_create_key_warns_on_open_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret.key"
    key = generate_key()
    path.write_text(key + "\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="travelsim.crypto"):
        assert load_or_create_key(path) == key
    assert "readable by group or others" in caplog.text
    assert key not in caplog.text
