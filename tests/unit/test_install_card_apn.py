"""The install card's APN line comes from the plan's network facts (docs/esim.md#network-facts)."""

from travelsim.i18n import using
from travelsim.models import Plan
from travelsim.services.installation import apn_for


def _plan(apn: str | None) -> Plan:
    return Plan(plan_id="870301", sft_name="Europe 3 GB", volume_bytes=3 * 2**30, apn=apn)


def test_the_plans_apn_when_it_must_be_set_by_hand() -> None:
    assert apn_for(_plan("bicsapn")) == "bicsapn"
    assert apn_for(_plan("  bicsapn ")) == "bicsapn"


def test_set_automatically_otherwise_in_the_travelers_language() -> None:
    assert apn_for(_plan(None)) == "Set automatically"
    assert apn_for(_plan("  ")) == "Set automatically"
    assert apn_for(None) == "Set automatically"
    with using("fr"):
        assert apn_for(_plan(None)) != "Set automatically"
