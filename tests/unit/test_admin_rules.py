"""Pure rules of the staff admin (``services.admin``): the refund rule of
docs/business-rules.md#voids-and-refunds, job health, paging bounds and destination parsing.
Expected values come from the documents (F1: a downloaded/installed/deleted profile's single-use
code is consumed; F2: a failed download gave the traveler nothing) and from arithmetic."""

from __future__ import annotations

import pytest

from travelsim.services import admin
from travelsim.services.admin import PageResult, refund_rule
from travelsim.services.admin.base import MAX_PER_PAGE
from travelsim.services.admin.catalogue import _parse_destinations


@pytest.mark.parametrize(
    ("profile", "used", "allowed"),
    [
        ("released", 0, True),  # never downloaded, nothing used
        ("error", 0, True),  # F2: the download failed
        ("downloaded", 0, False),  # F1: the code was used
        ("installed", 0, False),
        ("enabled", 0, False),
        ("disabled", 0, False),
        ("deleted", 0, False),  # F1: installed then deleted
        (None, 0, False),  # unknown install status proves nothing
        ("released", 1, False),  # any data used
        ("released", None, False),  # usage unknown
    ],
)
def test_refund_rule_for_a_new_esim(profile: str | None, used: int | None, allowed: bool) -> None:
    decision = refund_rule(kind="new_esim", profile_status=profile, used_bytes=used)
    assert decision.allowed is allowed
    assert decision.reason


@pytest.mark.parametrize(("used", "allowed"), [(0, True), (1_048_576, False), (None, False)])
def test_refund_rule_for_a_topup_looks_only_at_its_addon(used: int | None, allowed: bool) -> None:
    decision = refund_rule(kind="topup", profile_status="installed", used_bytes=used)
    assert decision.allowed is allowed


def test_refund_reason_names_the_usage() -> None:
    decision = refund_rule(kind="topup", profile_status=None, used_bytes=300 * 1_048_576)
    assert decision.reason == "300 MB of data already used"


def test_paging_bounds() -> None:
    assert admin.clamp_page(0, 0) == (1, 1)
    assert admin.clamp_page(3, 10_000) == (3, MAX_PER_PAGE)
    assert PageResult([], 0, 1, 20).pages == 1
    assert PageResult([], 41, 1, 20).pages == 3  # ceil(41 / 20)
    assert PageResult([], 40, 1, 20).pages == 2


def test_destinations_are_validated_iso_codes() -> None:
    assert _parse_destinations("fr, mc;BE  fr") == ["BE", "FR", "MC"]
    assert _parse_destinations("") == []
    with pytest.raises(admin.Refused):
        _parse_destinations("FR ZZ")


def test_action_result_ok() -> None:
    assert admin.ActionResult("ok", "done").ok
    assert not admin.ActionResult("refused", "no").ok
