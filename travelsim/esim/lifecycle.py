"""Where an eSIM stands on the platform, in the portal's words: the profile status (the
eSIM's download/installation on the phone) and the endpoint's lifecycle status and reason.

Pure functions, one rule used everywhere (install page, "My eSIMs", notices, staff pages).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "STAFF_REASON",
    "STAFF_REASONS",
    "SYSTEM_REASONS",
    "InstallState",
    "endpoint_state",
    "install_state",
    "suspended_by_staff",
]

#: The portal's classes of the eSIM profile status (:func:`install_state`).
InstallState = Literal["ready", "downloaded", "installed", "deleted", "error", "unknown"]

#: Lifecycle reasons (docs/sft-platform.md#endpointlifecyclechange) that mean "suspended by the
#: system" (automatic, e.g. for lack of balance): "1" System and "2" Dunning (non-payment). A
#: top-up may resume such an endpoint.
SYSTEM_REASONS = frozenset({"1", "2"})
#: "3" CSR: the reason staff suspensions are sent with (docs/business-rules.md#staff-suspension).
STAFF_REASON = "3"
#: Reasons that mean suspended by staff. A traveler cannot undo it by paying: contact support.
STAFF_REASONS = frozenset({STAFF_REASON})


def install_state(profile_status: str | None) -> InstallState:
    """Classify the platform's eSIM profile status (docs/esim.md#profile-states: the data
    stream values; the simulator also reports ``released`` before the first download).

    ``released`` → ``ready`` (QR not used yet); ``downloaded`` → ``downloaded`` (on the phone,
    not installed yet: the code cannot be used again); ``installed``/``enabled``/``disabled``
    → ``installed``; ``deleted``; ``error``; anything else or ``None`` → ``unknown``.
    """
    value = (profile_status or "").strip().lower()
    if value == "released":
        return "ready"
    if value == "downloaded":
        return "downloaded"
    if value in ("installed", "enabled", "disabled"):
        return "installed"
    if value == "deleted":
        return "deleted"
    if value == "error":
        return "error"
    return "unknown"


def endpoint_state(endpoint_status: str | None) -> str | None:
    """Normalised endpoint status: ``"preactive"``, ``"active"``, ``"suspended"``,
    ``"hold"``, ``"activetest"``, ... (lower case, no spaces/dashes/underscores), or ``None``."""
    if endpoint_status is None:
        return None
    return "".join(c for c in endpoint_status.lower() if c.isalnum()) or None


def suspended_by_staff(endpoint_status: str | None, lifecycle_reason: str | None) -> bool:
    """True when the endpoint is suspended with a staff reason (:data:`STAFF_REASONS`)."""
    return (
        endpoint_state(endpoint_status) == "suspended"
        and (lifecycle_reason or "").strip() in STAFF_REASONS
    )
