"""Identifier arithmetic: ICCID Luhn check digit, EID ISO 7064 mod 97-10, matching IDs."""

from __future__ import annotations

import random
import string

ICCID_PREFIX = "8932"  # 89 = telecom (ISO/IEC 7812 MII), 32 = Belgium (E.164 country code)
ICCID_ISSUER = "07"  # issuer identifier digits of the simulated operator
EID_PREFIX = "89049032"  # 89 + 049 (eUICC manufacturer block used in many real EIDs) + 032
MATCHING_ID_ALPHABET = string.ascii_uppercase + string.digits


def luhn_check_digit(payload: str) -> str:
    """Return the Luhn (mod 10) check digit for a string of digits.

    Doubling starts with the rightmost payload digit (it is in an even position once the
    check digit is appended).
    """
    if not payload.isdigit():
        raise ValueError("payload must be digits")
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True if ``number`` (digits, check digit last) passes the Luhn test."""
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def mod97_check_digits(payload: str) -> str:
    """ISO 7064 MOD 97-10 check digits (2 digits) for ``payload`` (as for an EID or IBAN).

    ``check = 98 - (int(payload + "00") mod 97)``, so that ``int(payload + check) mod 97 == 1``.
    """
    if not payload.isdigit():
        raise ValueError("payload must be digits")
    return f"{98 - int(payload + '00') % 97:02d}"


def eid_valid(eid: str) -> bool:
    """True if ``eid`` is 32 digits and passes ISO 7064 MOD 97-10."""
    return len(eid) == 32 and eid.isdigit() and int(eid) % 97 == 1


def make_iccid(serial: int) -> str:
    """19-digit ICCID: ``8932`` + issuer ``07`` + 12-digit serial + Luhn digit."""
    payload = f"{ICCID_PREFIX}{ICCID_ISSUER}{serial:012d}"
    return payload + luhn_check_digit(payload)


def make_eid(rng: random.Random) -> str:
    """32-digit EID: ``89049032`` + 22 random digits + 2 mod 97-10 check digits."""
    body = EID_PREFIX + "".join(rng.choice(string.digits) for _ in range(22))
    return body + mod97_check_digits(body)


def make_matching_id(rng: random.Random) -> str:
    """Matching ID like ``K2Q8-7ZLD-P0XM-4RTA`` (4 groups of 4 upper-case letters/digits)."""
    return "-".join("".join(rng.choice(MATCHING_ID_ALPHABET) for _ in range(4)) for _ in range(4))
