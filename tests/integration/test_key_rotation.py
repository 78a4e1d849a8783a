"""ENCRYPTION_KEY rotation: every stored secret re-encrypted under the newest key, resumable
(travelsim.services.key_rotation; `python -m travelsim.cli keys status|rotate`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from travelsim import db
from travelsim.crypto import SecretBox, generate_key
from travelsim.models import AuthSession, Esim, SessionFactor, User, UserTotp
from travelsim.models.columns import utcnow
from travelsim.services import key_rotation
from travelsim.settings import Settings

OLD, NEW = generate_key(), generate_key()
CODES = [f"LPA:1$smdp.example.com$MATCH{i:04d}" for i in range(5)]


async def _store_under(box: SecretBox) -> None:
    """Five eSIMs with codes, a TOTP secret and a provider session's ID token, under ``box``."""
    async with db.session() as s:
        user = User(email="keys@example.com", password_hash="x")
        s.add(user)
        await s.flush()
        assert user.id is not None
        for i, code in enumerate(CODES):
            s.add(
                Esim(
                    iccid=f"89000000000000{i:05d}",
                    endpoint_id=f"ep{i}",
                    activation_code_enc=box.encrypt(code),
                )
            )
        s.add(Esim(iccid="8900000000000099999", endpoint_id="ep-none"))  # no code yet
        s.add(UserTotp(user_id=user.id, secret_enc=box.encrypt("JBSWY3DPEHPK3PXP")))
        auth = AuthSession(
            token_hash="h" * 64, user_id=user.id, expires_at=utcnow() + timedelta(days=1)
        )
        s.add(auth)
        await s.flush()
        assert auth.id is not None
        s.add(SessionFactor(session_id=auth.id, method="oidc", id_token_enc=box.encrypt("eyJ.x.y")))
        await s.commit()


async def _plaintexts(box: SecretBox) -> tuple[list[str], str, str]:
    async with db.session() as s:
        codes = (
            await s.exec(
                select(Esim.activation_code_enc)
                .where(Esim.activation_code_enc.is_not(None))  # type: ignore[union-attr]
                .order_by(Esim.id)  # type: ignore[arg-type]
            )
        ).all()
        totp = (await s.exec(select(UserTotp.secret_enc))).one()
        token = (await s.exec(select(SessionFactor.id_token_enc))).one()
    assert token is not None
    return [box.decrypt(c) for c in codes if c], box.decrypt(totp), box.decrypt(token)


@pytest.mark.usefixtures("dispose_engines")
async def test_rotation_moves_every_secret_to_the_new_key(any_db: Settings) -> None:
    await _store_under(SecretBox([OLD]))
    both = SecretBox([NEW, OLD])
    before = await key_rotation.key_status(both, db.session)
    assert before.by_key == {
        "esim.activation_code_enc": {1: 5},
        "user_totp.secret_enc": {1: 1},
        "session_factor.id_token_enc": {1: 1},
    }
    assert before.old_key_values == 7 and before.unreadable_values == 0

    report = await key_rotation.rotate_all(both, db.session, batch=2)
    assert sum(report.rotated.values()) == 7
    after = await key_rotation.key_status(both, db.session)
    assert after.old_key_values == 0
    # The old key can go: the new key alone opens everything, and the values are unchanged.
    assert await _plaintexts(SecretBox([NEW])) == (CODES, "JBSWY3DPEHPK3PXP", "eyJ.x.y")
    with pytest.raises(Exception, match="could not be decrypted"):
        await _plaintexts(SecretBox([OLD]))


@pytest.mark.usefixtures("dispose_engines")
async def test_an_interrupted_rotation_resumes_where_it_stopped(sqlite_db: Settings) -> None:
    await _store_under(SecretBox([OLD]))
    both = SecretBox([NEW, OLD])

    class Stop(Exception):
        pass

    def stop_after_first(table: str, rotated: int) -> None:
        if table == "esim.activation_code_enc" and rotated == 2:
            raise Stop

    with pytest.raises(Stop):
        await key_rotation.rotate_all(both, db.session, batch=2, after_batch=stop_after_first)
    halfway = await key_rotation.key_status(both, db.session)
    assert halfway.by_key["esim.activation_code_enc"] == {0: 2, 1: 3}  # one batch committed

    again = await key_rotation.rotate_all(both, db.session, batch=2)
    assert again.rotated == {
        "esim.activation_code_enc": 3,  # the two already done are skipped
        "user_totp.secret_enc": 1,
        "session_factor.id_token_enc": 1,
    }
    assert (await key_rotation.key_status(both, db.session)).old_key_values == 0
    assert (await _plaintexts(SecretBox([NEW])))[0] == CODES


@pytest.mark.usefixtures("dispose_engines")
async def test_values_no_key_opens_are_counted_and_left_alone(sqlite_db: Settings) -> None:
    lost = generate_key()
    await _store_under(SecretBox([lost]))
    box = SecretBox([NEW, OLD])  # the key they were written under was removed
    report = await key_rotation.rotate_all(box, db.session)
    assert report.unreadable_values == 7 and sum(report.rotated.values()) == 0
    assert (await _plaintexts(SecretBox([lost])))[0] == CODES  # untouched


def test_key_index_names_the_key_that_opens_a_value() -> None:
    box = SecretBox([NEW, OLD])
    assert box.key_index(SecretBox([NEW]).encrypt("a")) == 0
    assert box.key_index(SecretBox([OLD]).encrypt("a")) == 1
    assert box.key_index(SecretBox([generate_key()]).encrypt("a")) is None
    assert box.key_index("not a token") is None
