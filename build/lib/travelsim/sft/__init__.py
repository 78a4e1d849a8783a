"""SFT (BICS SIM for Things) client: transport, auth, rate budget, typed responses, errors.

No Reflex and no database here. Typical use::

    from travelsim.sft import Priority, build_client

    async with build_client(get_settings()) as sft:
        rows, total = await sft.fetch_sims(priority=Priority.PROVISIONING, per_page=5)

Every SFT path and field name lives in :mod:`travelsim.sft.wire`.
"""

from travelsim.sft.client import SFTClient
from travelsim.sft.errors import (
    SFTAuthError,
    SFTBusinessError,
    SFTError,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
    SFTRateLimited,
    SFTTransportError,
)
from travelsim.sft.factory import build_client, get_rate_budget, reset_rate_budget
from travelsim.sft.models import (
    ActivatedBy,
    AddonDetail,
    AddonStatus,
    Benefit,
    DailyUsage,
    EndpointProfile,
    LifecycleResult,
    OperationResult,
    Priority,
    PromotionalPlan,
    RatePlan,
    RateZone,
    SimRecord,
    SubscribeResult,
)
from travelsim.sft.ratelimit import LocalRateBudget, RateBudget

__all__ = [
    "ActivatedBy",
    "AddonDetail",
    "AddonStatus",
    "Benefit",
    "DailyUsage",
    "EndpointProfile",
    "LifecycleResult",
    "LocalRateBudget",
    "OperationResult",
    "Priority",
    "PromotionalPlan",
    "RateBudget",
    "RatePlan",
    "RateZone",
    "SFTAuthError",
    "SFTBusinessError",
    "SFTClient",
    "SFTError",
    "SFTMalformedOutcomeUnknown",
    "SFTMalformedResponse",
    "SFTOutcomeUnknown",
    "SFTRateLimited",
    "SFTTransportError",
    "SimRecord",
    "SubscribeResult",
    "build_client",
    "get_rate_budget",
    "reset_rate_budget",
]
