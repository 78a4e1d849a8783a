"""The simulator's callback emitter: SFT "data stream" / CallBackNotification pushes.

Follows ``docs/sft-platform.md#callbacks`` (the simulator's choices:
``docs/simulator.md#callbacks-platform-push``): batched POSTs every ``interval_seconds``
(default 60), at most ``max_events`` (≤ 800) events per POST, **no retries** (a batch that
fails is lost, as on the platform; it is counted in the status), no replay of history.

How events arise: at every flush the emitter compares the account's visible state (add-on
details rows with the rating delay applied, and every SIM's eSIM profile status) with the
state it saw at the previous flush (or when it was switched on) and emits one event per change:

======================== ==========================================================
``Addon Subscription``   a new add-on instance appeared
``Addon Activation``     an instance started (``startDate`` set; status Active)
``Addon Deactivation``   an instance ended: removed (``Deactivated``), ``Exhausted`` or
                         ``Expired``; ``status`` says which
``Counter Changes``      an instance's ``remainingVolume`` changed
``eSIM Profile Status``  a SIM's ``esimProfileStatus`` changed: one event per step
                         the store recorded (data used on a ``released`` profile gives
                         ``downloaded``, ``installed``, ``enabled`` in that order), else
                         one event from the previous to the current status
``Addon Renew``          never (the simulated catalogue has no recurring add-ons)
======================== ==========================================================

So lazy transitions (expiry after ``/_sim/clock/advance``, rating delay) are reported at the
next flush after they become visible, like the platform's periodic streams.

Body of one POST (header ``X-Authorization: Bearer <token>`` when a token is configured)
depends on the answer shapes (``Simulator.shapes``, ``docs/simulator.md#answer-shapes``):

``documented``: a data-stream delivery ("Account Events (Bulk)",
``docs/sft-platform.md#data-stream-events``), a JSON array of flat events::

    [{"eventType": "Counter Changes", "eventTimestamp": "dd/mm/yyyy HH:MM:SS",
      "sequence": "7", "accountId": "41094429",
      "description": "<the published success text, filled in>",
      "endPointId", "iccid", "uniqueId", "planId", "planName", "status", "activatedBy",
      "subscriptionDate", "startDate", "expiryDate", "initialVolume", "remainingVolume",
      "usedVolume", "unit", "counterName"},
     {"eventType": "eSIM Profile Status", …, "endPointId", "iccid",
      "eSimProfileStatus", "previousStatus"}, …]

``legacy``: the plan-notification envelope (process 10011) with the same fields as JSON text
in ``message`` (``esimProfileStatus`` spelt so)::

    {"Request": {
        "apiCallback": {"accountId", "callbackProcessId": "10011",
                        "callbackProcessName": "CallBackNotification", "callbackUri": <url>},
        "notification": [
            {"callbackId": "<16 digits>", "callbackTimestamp": "dd/mm/yyyy HH:MM:SS",
             "eventType": "Counter Changes",
             "message": "<JSON text: {eventType, eventTimestamp, sequence, endPointId, iccid,
                          uniqueId, planId, planName, status, activatedBy, subscriptionDate,
                          startDate, expiryDate, initialVolume, remainingVolume, usedVolume,
                          unit, esimProfileStatus, previousStatus}>"},
            ...]}}

Add-on fields are the Get Endpoint Add-on Details row
(``docs/sft-platform.md#get-endpoint-add-on-details``), all scalars strings, dates in
simulator-clock UTC. ``sequence`` increases by one per event of this emitter (it restarts with
the process).

Controls: ``POST /_sim/callbacks {url, token?, interval_seconds?, max_events?}`` (``url:
null`` switches it off), ``POST /_sim/callbacks/flush`` (emit now; returns what was sent),
``GET /_sim/callbacks`` (settings without the token, counters, and the last 50 batches sent
with their HTTP status, so tests can replay them).
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import httpx

from .store import Store, fmt_ts

log = logging.getLogger(__name__)

MAX_EVENTS_LIMIT = 800
PROCESS_ID = "10011"
PROCESS_NAME = "CallBackNotification"
#: The published success descriptions of the account data stream
#: (docs/sft-platform.md#data-stream-events), filled in by the documented shape.
_NETWORK = "TravelSIM simulator"
_DESCRIPTIONS = {
    "Addon Subscription": (
        "Addon {planName}({planId}) Subscribed to the customer {net} successfully"
    ),
    "Addon Activation": "Addon {planName}({planId}) Activated to the customer {net} successfully",
    "Addon Deactivation": (
        "Addon {planName}({planId}) Deactivated from the customer {net} successfully"
    ),
    "Counter Changes": "{planName} Counter threshold updated to {usedVolume} for {net}",
}
_ADDON_FIELDS = (
    "endPointId",
    "iccid",
    "uniqueId",
    "planId",
    "planName",
    "status",
    "activatedBy",
    "subscriptionDate",
    "startDate",
    "expiryDate",
    "initialVolume",
    "remainingVolume",
    "usedVolume",
    "unit",
)
_ENDED = ("Deactivated", "Exhausted", "Expired")


def _s(value: Any) -> str:
    return "-" if value is None else str(value)


class CallbackEmitter:
    """Batches state changes of one simulated account into CallBackNotification POSTs.

    Args:
        store: the simulator's store.
        rating_delay: returns the current rating delay (visibility of usage), in seconds.
        account_id: ``apiCallback.accountId`` (``accountId`` of data-stream events).
        shapes: returns ``"documented"`` (data-stream batches, the default) or ``"legacy"``
            (10011 envelopes), read at each flush.
    """

    def __init__(
        self,
        store: Store,
        rating_delay: Callable[[], float],
        account_id: str,
        shapes: Callable[[], str] = lambda: "documented",
    ) -> None:
        self.store = store
        self._rating_delay = rating_delay
        self._shapes = shapes
        self.account_id = account_id
        self.url: str | None = None
        self._token: str | None = None
        self.interval = 60.0
        self.max_events = MAX_EVENTS_LIMIT
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._addons: dict[int, dict[str, Any]] = {}
        self._sims: dict[str, dict[str, Any]] = {}
        self._profile_seq = 0
        self._seq = 0
        self._documented = True
        self._id_base = random.SystemRandom().randrange(10**15, 9 * 10**15)
        self.sent_batches = 0
        self.sent_events = 0
        self.failed_batches = 0
        self.last_error: str | None = None
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=50)

    # ------------------------------------------------------------------ configuration
    def configure(
        self,
        url: str | None,
        *,
        token: str | None = None,
        interval_seconds: float | None = None,
        max_events: int | None = None,
    ) -> None:
        """Switch the emitter on (``url``) or off (``None``). Switching on takes the current
        state as the baseline (no history is sent) and starts the flush thread."""
        if interval_seconds is not None and interval_seconds <= 0:
            raise ValueError("interval_seconds must be > 0")
        if max_events is not None and not 1 <= max_events <= MAX_EVENTS_LIMIT:
            raise ValueError(f"max_events must be within 1..{MAX_EVENTS_LIMIT}")
        self.stop()
        with self._lock:
            self.url = url or None
            self._token = token or None
            if interval_seconds is not None:
                self.interval = float(interval_seconds)
            if max_events is not None:
                self.max_events = int(max_events)
            if self.url is None:
                return
            self._addons, self._sims = self.store.callback_snapshot(self._rating_delay())
            self._profile_seq = self.store.profile_seq
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop,), name="sft-sim-callbacks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the flush thread (pending changes are not sent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=15)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # never let the thread die
                log.exception("callback flush failed")

    # ------------------------------------------------------------------ events
    def _event(self, event_type: str, fields: dict[str, Any], now: str) -> dict[str, Any]:
        """One event in the shape of this flush: a flat data-stream event (documented), or a
        10011 notification with the fields as JSON text in ``message`` (legacy)."""
        self._seq += 1
        message = {
            "eventType": event_type,
            "eventTimestamp": now,
            "sequence": str(self._seq),
            **{k: _s(v) for k, v in fields.items()},
        }
        if self._documented:
            if "esimProfileStatus" in message:
                message["eSimProfileStatus"] = message.pop("esimProfileStatus")
            template = _DESCRIPTIONS.get(event_type)
            extra: dict[str, str] = {"accountId": self.account_id}
            if template is not None:
                extra["description"] = template.format(
                    net=f"{_NETWORK}({self.account_id})",
                    **{k: message.get(k, "-") for k in ("planName", "planId", "usedVolume")},
                )
            if event_type == "Counter Changes":
                extra["counterName"] = message.get("planName", "-")
            return {**message, **extra}
        return {
            "callbackId": str(self._id_base + self._seq),
            "callbackTimestamp": now,
            "eventType": event_type,
            "message": json.dumps(message, separators=(",", ":")),
        }

    def _diff(self) -> list[dict[str, Any]]:
        addons, sims = self.store.callback_snapshot(self._rating_delay())
        changes = self.store.profile_changes_since(self._profile_seq)
        if changes:
            self._profile_seq = changes[-1]["seq"]
        now = fmt_ts(self.store.now())
        events: list[dict[str, Any]] = []
        for uid in sorted(addons):
            cur = addons[uid]
            fields = {k: cur.get(k) for k in _ADDON_FIELDS}
            prev = self._addons.get(uid)
            if prev is None:
                events.append(self._event("Addon Subscription", fields, now))
                if cur["startDate"] != "-":
                    events.append(self._event("Addon Activation", fields, now))
                if cur["status"] in _ENDED:
                    events.append(self._event("Addon Deactivation", fields, now))
                continue
            if prev.get("startDate") == "-" and cur["startDate"] != "-":
                events.append(self._event("Addon Activation", fields, now))
            if prev.get("remainingVolume") != cur["remainingVolume"]:
                events.append(self._event("Counter Changes", fields, now))
            if cur["status"] != prev.get("status") and cur["status"] in _ENDED:
                events.append(
                    self._event(
                        "Addon Deactivation", {**fields, "previousStatus": prev.get("status")}, now
                    )
                )
        for iccid in sorted(sims):
            cur_sim = sims[iccid]
            prev_sim = self._sims.get(iccid)
            if prev_sim is None or prev_sim["esimProfileStatus"] == cur_sim["esimProfileStatus"]:
                continue
            steps = [c for c in changes if c["iccid"] == iccid]
            if not (
                steps
                and steps[0]["previousStatus"] == prev_sim["esimProfileStatus"]
                and steps[-1]["esimProfileStatus"] == cur_sim["esimProfileStatus"]
            ):  # changed by another process on the same file: report the difference
                steps = [
                    {
                        "previousStatus": prev_sim["esimProfileStatus"],
                        "esimProfileStatus": cur_sim["esimProfileStatus"],
                    }
                ]
            for step in steps:
                events.append(
                    self._event(
                        "eSIM Profile Status",
                        {
                            **cur_sim,
                            "esimProfileStatus": step["esimProfileStatus"],
                            "previousStatus": step["previousStatus"],
                        },
                        now,
                    )
                )
        self._addons, self._sims = addons, sims
        return events

    def _envelope(self, notes: list[dict[str, Any]]) -> Any:
        if self._documented:
            return notes
        return {
            "Request": {
                "apiCallback": {
                    "accountId": self.account_id,
                    "callbackProcessId": PROCESS_ID,
                    "callbackProcessName": PROCESS_NAME,
                    "callbackUri": self.url or "-",
                },
                "notification": notes,
            }
        }

    def flush(self) -> dict[str, Any]:
        """Emit the changes since the last flush now: one POST per ``max_events`` events, no
        retries, in the current answer shapes (class docstring). Returns ``{"events": n,
        "batches": [{"events", "status", "error"}]}``."""
        with self._lock:
            if self.url is None:
                return {"events": 0, "batches": []}
            self._documented = self._shapes() != "legacy"
            events = self._diff()
            out: list[dict[str, Any]] = []
            headers = {"Content-Type": "application/json"}
            if self._token:
                headers["X-Authorization"] = f"Bearer {self._token}"
            for i in range(0, len(events), self.max_events):
                chunk = events[i : i + self.max_events]
                body = self._envelope(chunk)
                status: int | None = None
                error: str | None = None
                try:
                    r = httpx.post(self.url, json=body, headers=headers, timeout=10.0)
                    status = r.status_code
                    if not 200 <= status < 300:
                        error = f"HTTP {status}"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                if error is None:
                    self.sent_batches += 1
                    self.sent_events += len(chunk)
                else:
                    self.failed_batches += 1
                    self.last_error = error
                    log.warning("callback batch not delivered (no retry): %s", error)
                record = {"events": len(chunk), "status": status, "error": error}
                self.history.append({**record, "body": body})
                out.append(record)
            return {"events": len(events), "batches": out}

    def status(self) -> dict[str, Any]:
        """Settings (never the token), counters and the last batches (with bodies)."""
        return {
            "enabled": self.url is not None,
            "url": self.url,
            "token_set": self._token is not None,
            "interval_seconds": self.interval,
            "max_events": self.max_events,
            "sent_batches": self.sent_batches,
            "sent_events": self.sent_events,
            "failed_batches": self.failed_batches,
            "last_error": self.last_error,
            "history": list(self.history),
        }
