"""Staff administration: figures, paged lists and audited actions. No Reflex.

One module per admin section, on a shared base:

* :mod:`.base`: who acts (:class:`Staff`, :func:`staff_user`), the audited action
  (:class:`ActionResult`, :class:`Refused`, one ``AuditLog`` row per action) and the list
  plumbing (:class:`PageResult`, paging, sorting, filters, display texts);
* :mod:`.overview`: the admin home page's figures, job health, SFT reachability;
* :mod:`.orders`: orders list and detail, retry provisioning, resend the installation email;
* :mod:`.refunds`: the refund rule, voids and refunds;
* :mod:`.travelers`: accounts list and detail, the staff role;
* :mod:`.esims`: eSIMs list and detail, refresh from SFT, staff suspension and resume;
* :mod:`.staff_orders`: the zero-amount staff order, used by :mod:`.goodwill` (a free add-on)
  and :mod:`.replacement` (a new eSIM carrying the old one's live plans);
* :mod:`.catalogue`: plans list, editing a plan;
* :mod:`.tax`: the VAT rate of each EU member state, editing one;
* :mod:`.outbox` and :mod:`.audit`: the email outbox and the audit log;
* :mod:`.simulator`: staff actions on the built-in simulator.

Each module's docstring states the rules it decides. This package re-exports the names the
admin pages' states call (``from travelsim.services import admin; admin.list_orders(...)``).
"""

from travelsim.services.admin.audit import list_audit
from travelsim.services.admin.base import (
    ActionResult,
    PageResult,
    Refused,
    Staff,
    clamp_page,
    count_of,
    parse_filter_day,
    staff_user,
)
from travelsim.services.admin.catalogue import (
    NetworkEdit,
    last_sync_skips,
    list_plans,
    update_plan,
)
from travelsim.services.admin.esims import esim_detail, list_esims, refresh_esim, set_suspended
from travelsim.services.admin.goodwill import goodwill_addon
from travelsim.services.admin.orders import (
    ORDER_STATUSES,
    list_orders,
    order_detail,
    resend_installation_email,
    retry_provisioning,
)
from travelsim.services.admin.outbox import (
    failed_emails,
    list_outbox,
    mail_delivery_hint,
    send_again,
)
from travelsim.services.admin.overview import Overview, check_sft, overview
from travelsim.services.admin.refunds import (
    FORCE_REASON_MIN,
    RefundDecision,
    refund_order,
    refund_rule,
)
from travelsim.services.admin.replacement import replace_esim
from travelsim.services.admin.simulator import (
    FAULT_KINDS,
    PROFILE_STATUSES,
    sim_advance_clock,
    sim_clear_faults,
    sim_consume,
    sim_fault,
    sim_profile_status,
    sim_state,
)
from travelsim.services.admin.tax import list_rates, update_rate
from travelsim.services.admin.travelers import list_travelers, set_staff, traveler_detail

__all__ = [
    "FAULT_KINDS",
    "FORCE_REASON_MIN",
    "ORDER_STATUSES",
    "PROFILE_STATUSES",
    "ActionResult",
    "NetworkEdit",
    "Overview",
    "PageResult",
    "RefundDecision",
    "Refused",
    "Staff",
    "check_sft",
    "clamp_page",
    "count_of",
    "esim_detail",
    "failed_emails",
    "goodwill_addon",
    "last_sync_skips",
    "list_audit",
    "list_esims",
    "list_orders",
    "list_outbox",
    "list_plans",
    "list_rates",
    "list_travelers",
    "mail_delivery_hint",
    "order_detail",
    "overview",
    "parse_filter_day",
    "refresh_esim",
    "refund_order",
    "refund_rule",
    "replace_esim",
    "resend_installation_email",
    "retry_provisioning",
    "send_again",
    "set_staff",
    "set_suspended",
    "sim_advance_clock",
    "sim_clear_faults",
    "sim_consume",
    "sim_fault",
    "sim_profile_status",
    "sim_state",
    "staff_user",
    "traveler_detail",
    "update_plan",
    "update_rate",
]
