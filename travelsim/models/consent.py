"""What a traveler agreed to before paying (docs/legal.md#acceptance-at-checkout): the columns
shared by ``checkout`` (recorded when the boxes are ticked), ``purchase_order`` (copied from
its checkout when the order is written) and ``auto_topup_rule`` (given when the rule was
turned on, copied onto each checkout it opens).

* ``terms_version``: the ``version`` of the terms page the traveler accepted
  (``services.content``), ``terms_accepted_at`` when (aware UTC).
* ``withdrawal_version``: the version of the wording by which they asked for the service to
  start at once and acknowledged losing the right of withdrawal (``services.consent.
  WITHDRAWAL_VERSION``), ``immediate_start_at`` when (aware UTC).

All ``NULL``: nothing recorded (an order placed before this was recorded, a checkout whose
boxes are not ticked)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime


class ConsentFields(SQLModel):
    """The four consent columns (a mixin of table models; see the module docstring)."""

    terms_version: str | None = Field(default=None, max_length=32)
    terms_accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawal_version: str | None = Field(default=None, max_length=32)
    immediate_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
