"""What the traveler reads for a provisioning step (``orders.shown_step_status``).

A failed step is tried again while the order is ``provisioning`` (the next attempt of the
same run) or ``paid`` (the scheduled automatic retry, docs/business-rules.md
#provisioning-retries); only an order that ``needs_attention`` shows "failed"."""

from __future__ import annotations

from travelsim.services.orders import shown_step_status


def test_failed_step_reads_retrying_until_the_order_needs_attention() -> None:
    assert shown_step_status("provisioning", "failed") == "retrying"
    assert shown_step_status("paid", "failed") == "retrying"
    assert shown_step_status("needs_attention", "failed") == "failed"
    for step in ("pending", "running", "done"):
        assert shown_step_status("provisioning", step) == step
    assert shown_step_status("delivered", "done") == "done"
