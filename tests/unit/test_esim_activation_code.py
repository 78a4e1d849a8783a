"""Activation code parser/formatter (GSMA SGP.22 section 4.1, docs/esim.md#activation-code).

Expected strings are written by hand from the spec's grammar, never pasted from the code's output.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from travelsim.esim.activation_code import ActivationCode, InvalidActivationCode

MID = "K2-1ABCD-2EFGH3"  # a matching ID: must never appear in str/repr/messages
HOST = "rsp.example.com"
OID = "1.3.6.1.4.1.31746"

# --- strategies -------------------------------------------------------------------------------

_label = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?\Z")
_tld = st.from_regex(r"\A[a-z]{2,6}\Z")
fqdns = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=4),
    _tld,
)
# SGP.22 recommends upper-case alphanumerics and '-'; the parser accepts printable ASCII
# without spaces and '$', so generate from that wider alphabet.
_mid_alphabet = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "$")
matching_ids = st.text(alphabet=_mid_alphabet, min_size=1, max_size=64)
oids = st.builds(
    lambda first, rest: ".".join([str(first), *map(str, rest)]),
    st.integers(0, 2),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=10),
)
codes = st.builds(
    ActivationCode,
    smdp_address=fqdns,
    matching_id=matching_ids,
    oid=st.none() | oids,
    confirmation_code_required=st.booleans(),
)


def _canonical(host: str, mid: str, oid: str | None, flag: bool) -> str:
    """Independent formatter straight from the SGP.22 section 4.1 grammar."""
    s = f"LPA:1${host}${mid}"
    if oid is not None and flag:
        s += f"${oid}$1"
    elif oid is not None:
        s += f"${oid}"
    elif flag:
        s += "$$1"
    return s


# --- property tests ---------------------------------------------------------------------------


@given(codes, st.booleans())
def test_parse_of_format_is_identity(code: ActivationCode, with_prefix: bool) -> None:
    assert ActivationCode.parse(code.to_string(with_prefix=with_prefix)) == code


@given(fqdns, matching_ids, st.none() | oids, st.booleans())
def test_format_of_parse_is_canonical(host: str, mid: str, oid: str | None, flag: bool) -> None:
    canonical = _canonical(host, mid, oid, flag)
    code = ActivationCode.parse(canonical)
    assert (code.smdp_address, code.matching_id, code.oid, code.confirmation_code_required) == (
        host,
        mid,
        oid,
        flag,
    )
    assert code.to_string() == canonical
    assert code.to_string(with_prefix=False) == canonical.removeprefix("LPA:")


@given(
    fqdns,
    matching_ids,
    st.none() | oids,
    st.booleans(),
    st.sampled_from(["LPA:", "lpa:", "Lpa:", "lPa:", ""]),
    st.lists(st.text(alphabet=_mid_alphabet, max_size=8), max_size=3),
)
def test_prefix_case_and_unknown_trailing_fields(
    host: str, mid: str, oid: str | None, flag: bool, prefix: str, extra: list[str]
) -> None:
    body = _canonical(host, mid, oid, flag).removeprefix("LPA:")
    if extra:  # unknown trailing fields need the optional slots to be spelled out
        body = f"1${host}${mid}${oid or ''}${'1' if flag else ''}$" + "$".join(extra)
    code = ActivationCode.parse(prefix + body)
    assert code == ActivationCode(host, mid, oid, flag)


@given(codes)
def test_str_and_repr_never_reveal_matching_id(code: ActivationCode) -> None:
    # A short matching ID can be a substring of the host by chance; test with a distinctive one.
    distinctive = ActivationCode(
        code.smdp_address,
        "ZZ-SECRET-" + code.matching_id,
        code.oid,
        code.confirmation_code_required,
    )
    assert distinctive.matching_id not in str(distinctive)
    assert distinctive.matching_id not in repr(distinctive)
    assert "ZZ-SECRET" not in f"{distinctive}"


# --- examples: each rule ----------------------------------------------------------------------


def test_minimal_code() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}")
    assert code == ActivationCode(HOST, MID)
    assert code.oid is None
    assert code.confirmation_code_required is False
    assert code.to_string() == "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3"
    assert code.to_string(with_prefix=False) == "1$rsp.example.com$K2-1ABCD-2EFGH3"


@pytest.mark.parametrize("prefix", ["LPA:", "lpa:", "LpA:", ""])
def test_prefix_optional_any_case(prefix: str) -> None:
    assert ActivationCode.parse(f"{prefix}1${HOST}${MID}") == ActivationCode(HOST, MID)


def test_surrounding_whitespace_from_scanner_is_stripped() -> None:
    assert ActivationCode.parse(f"  LPA:1${HOST}${MID}\r\n") == ActivationCode(HOST, MID)


def test_with_oid() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}${OID}")
    assert code.oid == OID
    assert code.confirmation_code_required is False
    assert code.to_string() == "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3$1.3.6.1.4.1.31746"


def test_with_oid_and_flag() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}${OID}$1")
    assert code.oid == OID
    assert code.confirmation_code_required is True
    assert code.to_string() == "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3$1.3.6.1.4.1.31746$1"


def test_flag_without_oid_keeps_empty_slot() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}$$1")
    assert code.oid is None
    assert code.confirmation_code_required is True
    assert code.to_string() == "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3$$1"


def test_no_optional_fields_emitted_when_absent() -> None:
    assert ActivationCode(HOST, MID).to_string() == "LPA:1$rsp.example.com$K2-1ABCD-2EFGH3"


@pytest.mark.parametrize(
    "text",
    [
        f"LPA:1${HOST}${MID}$",  # empty OID, no flag
        f"LPA:1${HOST}${MID}$$",  # empty OID, empty flag
        f"LPA:1${HOST}${MID}$$0",  # explicit "not required"
    ],
)
def test_empty_optional_fields_normalise_away(text: str) -> None:
    code = ActivationCode.parse(text)
    assert code == ActivationCode(HOST, MID)
    assert code.to_string() == f"LPA:1${HOST}${MID}"


def test_unknown_trailing_fields_ignored() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}${OID}$1$future-field$another")
    assert code == ActivationCode(HOST, MID, OID, True)
    assert code.to_string() == f"LPA:1${HOST}${MID}${OID}$1"


@pytest.mark.parametrize("fmt", ["2", "0", "", "01", "1.0", "v1"])
def test_format_must_be_1(fmt: str) -> None:
    with pytest.raises(InvalidActivationCode, match="format"):
        ActivationCode.parse(f"LPA:{fmt}${HOST}${MID}")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("https://rsp.example.com", "scheme"),
        ("http://rsp.example.com", "scheme"),
        ("rsp.example.com:443", "port"),
        ("rsp.example.com/path", "path"),
        ("rsp.example.com?x=1", "path"),
        ("localhost", "fully qualified"),
        ("", "empty"),
        ("rsp..example.com", "host name"),
        ("-rsp.example.com", "host name"),
        ("rsp-.example.com", "host name"),
        ("rsp.example.com.", "host name"),
        ("rsp example.com", "host name"),
        ("rsp_x.example.com", "host name"),
        ("192.0.2.10", "IP address"),
        ("user@rsp.example.com", "user info"),
        ("a" * 64 + ".example.com", "host name"),
    ],
)
def test_smdp_address_must_be_bare_fqdn(address: str, reason: str) -> None:
    with pytest.raises(InvalidActivationCode, match=reason):
        ActivationCode.parse(f"LPA:1${address}${MID}")


def test_upper_case_host_is_kept_byte_for_byte() -> None:
    code = ActivationCode.parse(f"LPA:1$RSP.Example.COM${MID}")
    assert code.smdp_address == "RSP.Example.COM"
    assert code.to_string() == f"LPA:1$RSP.Example.COM${MID}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "LPA:",
        "LPA:1",
        f"LPA:1${HOST}",
        f"LPA:1${HOST}$",  # empty matching ID
        f"LPA:1$${MID}",  # empty address
    ],
)
def test_missing_mandatory_fields(text: str) -> None:
    with pytest.raises(InvalidActivationCode):
        ActivationCode.parse(text)


@pytest.mark.parametrize("mid", ["K2 ABC", "K2\tABC", "K2-ÄBC", "K2\x00ABC"])
def test_matching_id_characters(mid: str) -> None:
    with pytest.raises(InvalidActivationCode) as info:
        ActivationCode(HOST, mid)
    assert mid not in str(info.value)


def test_dollar_not_allowed_inside_fields_on_construction() -> None:
    with pytest.raises(InvalidActivationCode, match=r"'\$'"):
        ActivationCode(HOST, "AB$CD")
    with pytest.raises(InvalidActivationCode):
        ActivationCode("rsp$example.com", MID)
    with pytest.raises(InvalidActivationCode):
        ActivationCode(HOST, MID, oid="1.2$3")


def test_empty_oid_must_be_none() -> None:
    with pytest.raises(InvalidActivationCode, match="None"):
        ActivationCode(HOST, MID, oid="")


@pytest.mark.parametrize("flag", ["2", "true", "yes", "Y", " 1"])
def test_flag_values(flag: str) -> None:
    with pytest.raises(InvalidActivationCode, match="flag"):
        ActivationCode.parse(f"LPA:1${HOST}${MID}$${flag}")


def test_non_bool_flag_rejected() -> None:
    with pytest.raises(InvalidActivationCode):
        ActivationCode(HOST, MID, confirmation_code_required=1)  # type: ignore[arg-type]


# --- the known public-code bug: 4th field read as the confirmation code ------------------------


def test_fourth_field_is_oid_not_confirmation_code() -> None:
    code = ActivationCode.parse(f"LPA:1${HOST}${MID}${OID}")
    assert code.oid == OID
    # The buggy reading would have said "confirmation code = 1.3.6.1.4.1.31746" and/or flag set.
    assert code.confirmation_code_required is False
    assert not hasattr(code, "confirmation_code")


def test_fourth_field_holding_a_confirmation_code_is_rejected_with_hint() -> None:
    # Public code that writes the confirmation code (here "123456") into the 4th field
    # produces an invalid activation code: the 4th field must be an OID.
    with pytest.raises(InvalidActivationCode, match="OID") as info:
        ActivationCode.parse(f"LPA:1${HOST}${MID}$123456")
    assert "$$1" in str(info.value)
    assert MID not in str(info.value)
    assert "123456" not in str(info.value)  # a confirmation code is a secret too


def test_swapped_fields_do_not_echo_matching_id() -> None:
    # Matching ID put in the address slot: the message must not repeat it.
    with pytest.raises(InvalidActivationCode) as info:
        ActivationCode.parse(f"LPA:1$K2_SECRET.x${HOST}")
    assert "K2_SECRET" not in str(info.value)
    with pytest.raises(InvalidActivationCode) as info:
        ActivationCode.parse(f"LPA:{MID}${HOST}")
    assert MID not in str(info.value)


def test_flag_in_fourth_slot_is_rejected_with_hint() -> None:
    # "1$host$mid$1" is the flag written into the OID slot; it must be "$$1".
    with pytest.raises(InvalidActivationCode, match=r"empty OID slot"):
        ActivationCode.parse(f"LPA:1${HOST}${MID}$1")


def test_confirmation_code_in_flag_slot_is_rejected_without_echo() -> None:
    with pytest.raises(InvalidActivationCode, match="never belongs") as info:
        ActivationCode.parse(f"LPA:1${HOST}${MID}$$7391")
    assert "7391" not in str(info.value)


# --- secrecy -----------------------------------------------------------------------------------


def test_str_repr_mask_matching_id() -> None:
    code = ActivationCode(HOST, MID, OID, True)
    assert str(code) == "LPA:1$rsp.example.com$****$1.3.6.1.4.1.31746$1"
    assert repr(code) == (
        "ActivationCode(smdp_address='rsp.example.com', matching_id='****', "
        "oid='1.3.6.1.4.1.31746', confirmation_code_required=True)"
    )
    assert MID not in f"{code!s} {code!r} {[code]} {dict(c=code)}"


@pytest.mark.parametrize(
    "text",
    [
        f"LPA:2${HOST}${MID}",
        f"LPA:1$https://{HOST}${MID}",
        f"LPA:1${HOST}:443${MID}",
        f"LPA:1$localhost${MID}",
        f"LPA:1${HOST}${MID}$notanoid",
        f"LPA:1${HOST}${MID}$$x",
    ],
)
def test_error_messages_never_contain_matching_id(text: str) -> None:
    with pytest.raises(InvalidActivationCode) as info:
        ActivationCode.parse(text)
    assert MID not in str(info.value)
    assert MID not in repr(info.value)


def test_invalid_activation_code_is_value_error() -> None:
    assert issubclass(InvalidActivationCode, ValueError)


def test_frozen_and_hashable() -> None:
    code = ActivationCode(HOST, MID)
    with pytest.raises(AttributeError):
        code.matching_id = "X"  # type: ignore[misc]
    assert {code, ActivationCode(HOST, MID)} == {code}
