"""Identifier arithmetic of the simulator, checked against independent computations."""

from __future__ import annotations

import random

import pytest

from travelsim.sft_simulator.ids import (
    eid_valid,
    luhn_check_digit,
    luhn_valid,
    make_eid,
    make_iccid,
    make_matching_id,
    mod97_check_digits,
)


def test_luhn_known_values() -> None:
    # Classic textbook example: 7992739871 -> check digit 3.
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    # Payment-card test number.
    assert luhn_valid("4111111111111111")


def test_iccid_shape_and_check_digit() -> None:
    iccid = make_iccid(510_000_000_001)
    assert iccid == "893207510000000001" + luhn_check_digit("893207510000000001")
    # By hand, payload digits from the right, doubling positions 0, 2, 4, ...:
    # 1->2, eight zeros, 1->2, 5, 7->14->5, 0, 2->4, 3, 9->18->9, 8 ; sum 38 -> (10-8) = 2
    assert iccid[-1] == "2"
    assert len(iccid) == 19 and iccid.startswith("8932") and luhn_valid(iccid)


def test_mod97_known_eid() -> None:
    # The example EID of GSMA SGP.29: 89049032123451234512345678901235.
    assert mod97_check_digits("890490321234512345123456789012") == "35"
    assert eid_valid("89049032123451234512345678901235")
    assert not eid_valid("89049032123451234512345678901236")
    # IBAN-style sanity: int(payload + check) mod 97 == 1 for any payload.
    payload = "890490320000000000000000000000"
    assert int(payload + mod97_check_digits(payload)) % 97 == 1


def test_eid_generation_valid_and_deterministic() -> None:
    a = [make_eid(random.Random(42)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(7)
    for _ in range(500):
        eid = make_eid(rng)
        assert len(eid) == 32 and eid.startswith("8904") and eid_valid(eid)
        assert int(eid) % 97 == 1


def test_eid_invalid_detected() -> None:
    eid = make_eid(random.Random(1))
    broken = eid[:-1] + str((int(eid[-1]) + 1) % 10)
    assert not eid_valid(broken)


def test_matching_id_format() -> None:
    mid = make_matching_id(random.Random(3))
    groups = mid.split("-")
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)
    assert all(c.isdigit() or c.isupper() for c in mid.replace("-", ""))


@pytest.mark.parametrize("bad", ["12a4", ""])
def test_luhn_rejects_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        luhn_check_digit(bad)
