"""Simulated BICS "SIM for Things" (SFT) platform: one Enterprise account, over HTTP.

A standalone product: it imports nothing from the rest of ``travelsim``. Public API::

    from travelsim.sft_simulator import create_app, SimulatorConfig
    app = create_app(SimulatorConfig(db_path=Path("sim.db")))   # a Starlette ASGI app

``create_app`` opens (and on first start seeds) the SQLite file synchronously, so the app
works in-process through ``httpx.ASGITransport`` (which runs no lifespan events) as well as
under uvicorn (``python -m travelsim.sft_simulator serve --port 8040``). The
:class:`~travelsim.sft_simulator.app.Simulator` behind an app is ``app.state.simulator``.

Wire format (follows ``sft-api.md``)
====================================
* API paths under ``/api/`` are matched case-insensitively; unknown path -> HTTP 404, wrong
  method -> 405 (both with a failure envelope).
* Envelope ``{"Response": {"resultCode": "0"|"1", "resultParam": {"resultCode",
  "resultDescription"}, "responseParam": {...}, "responseId", "responseTimestamp":
  "dd/mm/yyyy HH:MM:SS"}}`` (UTC,
  simulator clock). Every scalar is emitted as a string; ids and numbers are accepted as string
  or number on input (field names are matched case-insensitively).
* Business failures: HTTP 200 + ``resultCode "1"``. Malformed JSON body: HTTP 400. A missing or
  wrongly typed field: HTTP 200, resultParam ``1001`` "Invalid parameter <name>: ..."
  (invented code). Unknown ``endPointId``: HTTP 200, resultParam ``1359`` "No data available".
  Never a 500 for bad input.
* Every response (also 404/429 and controls) has ``X-Rate-Limit-TPS: <tps>``.

Open-gap decisions (sft-api.md §4)
==================================
* Add-on details: ``GET /api/GetEndpointAddonDetails`` and alias ``/api/GetEndpointAddon``;
  ``endPointId`` | ``uniqueId`` | ``addonId`` (``planId`` accepted as a synonym), at least one
  (else resultCode 1 / 1359). Rows ordered by uniqueId. Unknown endPointId -> 1359; filters
  that match nothing -> success with ``rows: []``.
* SubscribeAddon: ``endPointId`` at ``Request`` top level or in ``requestParam``; ``planId``;
  optional ``action`` "ADD" (default) | "REMOVE" (+ ``uniqueId``). Success resultParam
  ``0`` "Addon subscribed successfully" (removal: "Addon removed successfully") with
  ``responseParam{addonDetails, promotionalPlan, benefit[], counter[]}``. Unknown plan ->
  ``9011``; remove of an unknown or no longer live instance -> ``9012`` (invented codes).
* ``uniqueId``: monotonic numeric string from 7000001; the counter survives ``reset``.
* fetchSIM: simStatusId 10 Ready To Activate, 12 Pre-Active, 13 Active, 14 Suspended;
  simAttachStatusId 1 attached, 0 not attached; any other id value matches nothing; a
  non-integer value -> 1001; unknown parameters are ignored. 1-based ``page``, ``perPage``
  default 10 and capped at 250; ascending ``simId``; ``responseParam{rows, totalCount, page,
  perPage}``. Concurrent callers get the same "first free SIM" (no reservation).
* Activation code in the fetchSIM row: ``activationCode{textQrCode "LPA:1$<smdp>$<matchingId>",
  smDpPlusAdress (sic), matchingId}``; plus ``esimProfileStatus``.
* Tokens: opaque random strings stored in ``sim_tokens`` (valid across restarts). Access TTL
  900 s, refresh TTL 86400 s, measured on the REAL wall clock (advancing the simulator clock
  does not expire tokens). Refreshing does not revoke the old pair (each expires by TTL).
  Missing/unknown token -> "Invalid token", expired -> "Token expired", both resultParam
  ``401``, HTTP 401 by default or HTTP 200 when ``expiry_shape="http200"`` (config or
  ``POST /_sim/settings``). Login failure: HTTP 401 ``Invalid credentials``. ``targetAccountId``
  is accepted and ignored (one Enterprise account).
* Rate limit: one token bucket per account (wall clock), refilled at ``rate_limit_tps`` with
  capacity ``rate_limit_burst`` (default max(1, tps)); every ``/api/`` call counts, login
  included, also calls that then fail; ``/_sim/`` controls are not limited. Over budget: HTTP
  429 with resultParam ``429`` "API rate limit exceeded (too many requests)". ``0`` = no limit.
* Lifecycle: EndPointActivation Pre-Active -> Active (5014); already Active -> resultCode 1 /
  ``2507`` "Endpoint already active" (treat as idempotent success); Hold (no SIM) -> ``6420``;
  Suspended -> ``9005``. EndPointLifeCycleChange ``lifeCycle`` A|S (``reason`` 1|2|3, default
  1): Pre-Active -A-> Active, Active -S-> Suspended, Suspended -A-> Active, success ``5017`` with
  ``responseParam{currentStatus, previousStatus}``; anything else (including Active -A->, "AI",
  any change on Hold) -> ``9005`` with ``responseParam.currentStatus``. Missing/invalid
  lifeCycle or reason -> 1001. The SIM status follows the endpoint. The reason of the last
  suspension is kept and shown as ``basicInfo.lifeCycleReason`` ("-" if never suspended).
* DeLinkSim: endpoint -> Hold, SIM -> "Ready To Activate" and NOT ATTACHED, ``6413``; on an
  endpoint already in Hold -> resultCode 1 / ``6420``. Add-on instances stay on the endpoint.
* PATCH ``/api/endpoint``: ``addAddonPlanIds`` / ``removeAddonUniqueIds`` (lists, or a
  comma-separated string), applied all-or-nothing with the same rules as SubscribeAddon;
  success resultParam ``0`` with ``responseParam{endPointId}`` only (no uniqueIds).
* GetEndPointProfile: ``Response.info{basicInfo, promotionalPlans.plan[], benefitInfo.benefit[]}``
  lists the LIVE instances only (Subscribed and Active; history is in add-on details).
* GetStatistics: ``from_date``/``to_date`` YYYYMMDD (inclusive, required); one row per day
  with rated billed usage, MB = bytes / 1048576 with 3 decimals; uplink = billed // 10 bytes,
  downlink = the rest; ``simulated: "true"``. The day is the consume ``date`` or the
  simulator-clock day of the consume.
* QueryRatePlan: ``planCategory`` (default ADDON), ``planType`` (default 0), ``planId``; the
  catalogue is fixed in ``catalogue.py`` (plan ids 870101 ... 870401).
* Webhooks/callbacks (§3.13): with ``callback_url`` set (config ``SFT_SIM_CALLBACK_URL`` or
  ``POST /_sim/callbacks``) a background thread POSTs CallBackNotification batches (process
  10011) every ``callback_interval_seconds`` (60), at most ``callback_max_events`` (800) events
  each, ``X-Authorization: Bearer <callback_token>``, no retries. Events are the changes of
  the visible state since the previous batch: Addon Subscription / Activation / Deactivation,
  Counter Changes, eSIM Profile Status (no Addon Renew: no recurring plans). Shapes and rules:
  ``callbacks.py``.

Add-on life model
=================
* Each instance copies its plan's volume (bytes; 1 MB = 1,048,576, 1 GB = 1,073,741,824),
  validity (days) and ``addOnPriority``; expiry = start + validity x 86400 s exactly.
* Allowed on Pre-Active, Active and Suspended endpoints; refused on Hold (``6420``). At most 15
  LIVE instances (Subscribed + Active, as currently visible) per endpoint: the 16th ->
  resultCode 1 / ``9010`` "max 15 active addons per endpoint". Exhausted, Expired and
  Deactivated ones do not count.
* Immediate (``activatedBy "1"``): starts at subscription if the endpoint has already been
  Active once, else at the endpoint's first activation. On Usage (``activatedBy "0"``): waits
  ("Subscribed", startDate/expiryDate "-") until traffic needs it; starts at that traffic.
* Draw order: traffic at time t is drawn from started instances usable at t (t < expiry,
  remaining > 0) ordered by (priority asc, subscription time asc, uniqueId asc), one exhausted
  before the next. When none has balance, the next waiting On Usage instance (same order)
  starts at t. Traffic left when nothing can carry it is NOT billed.
* Status at read time (lazy, simulator clock): Deactivated (removed) > Subscribed (not
  started) > Exhausted (remaining 0) > Expired (now >= expiry) > Active.
* Usage enters only through the control ``POST /_sim/consume {endPointId, bytes, date?}``. It is
  refused entirely (recorded with 0 billed bytes) unless the endpoint is Active; otherwise the
  part no add-on can carry is recorded as unbilled. Billing is decided at consume time from
  all recorded usage; a record becomes visible (add-on details, profile balances, statistics,
  and the 15-live count) only once ``rating_delay_seconds`` of simulator time have passed.
  An On Usage add-on started by not-yet-rated traffic still reads "Subscribed".
* Billed traffic needs a profile enabled on a phone: data used on a SIM whose profile is
  ``released`` first takes it through ``downloaded``, ``installed`` to ``enabled`` (the
  order a phone takes a profile; from ``downloaded`` or ``installed`` only the remaining
  steps, from ``disabled`` back to ``enabled``), at once (no rating delay), and the callback
  stream reports each step as its own ``eSIM Profile Status`` event. ``deleted`` and
  ``error`` (only ever set through the control) are left alone. Refused or unbilled traffic
  changes nothing.
* Simulator clock = real UTC now + an offset persisted in ``sim_meta``; ``POST
  /_sim/clock/advance {seconds}`` only moves it forward.

Seed (first start of an empty DB only; ``random.Random(seed=42)``, deterministic)
=================================================================================
``seed_esims`` (default 200, max 10000) eSIMs, each linked to its own endpoint, both Pre-Active
and attached, profile status "released": simId 100001+i, endPointId str(50000001+i), ICCID
``8932`` + issuer ``07`` + 12-digit serial 510000000001+i + Luhn digit (19 digits), EID
``89049032`` + 22 random digits + ISO 7064 mod 97-10 check digits (32 digits), matching ID four
groups of four upper-case letters/digits (distinct), MSISDN ``32470`` + (100000+i), IMSI
``20601`` + (5000000001+i). The first k eSIMs are the same whatever N >= k.

Controls (``/_sim/``, no SFT auth, no rate limit; JSON in and out; bad input -> HTTP 400)
=========================================================================================
``POST consume {endPointId|iccid, bytes, date?}``; ``POST profile-status {iccid|endPointId,
status}`` (released, downloaded, installed, enabled, disabled, deleted, error); ``POST clock/advance
{seconds}``, ``GET clock``; ``POST reset {esims?}`` (also clears faults and the call log);
``POST faults {operation ("*" or a path name, any case), kind, probability? | count?,
latency_seconds?, status?}``, ``GET faults``, ``DELETE faults`` (or ``POST faults/clear``);
``POST settings {expiry_shape?, rate_limit_tps?, rate_limit_burst?, rating_delay_seconds?}``,
``GET settings``; ``POST tokens/expire``; ``GET state``; ``GET calls?limit=&operation=``,
``DELETE calls``; ``POST callbacks {url|null, token?, interval_seconds?, max_events?}``,
``POST callbacks/flush``, ``GET callbacks``.

Fault kinds (only on ``/api/``; applied after the rate limiter, before auth; in memory):
``latency`` (sleep latency_seconds, default 1, then answer normally); ``http500`` (HTTP 500
envelope resultParam 10239, nothing done); ``timeout_after_commit`` (do the operation, then
sleep latency_seconds, default 200, before answering); ``429_burst`` (HTTP 429 rate-limit
envelope, nothing done); ``malformed`` (HTTP 200, truncated JSON, nothing done); ``html``
(HTTP ``status`` default 502, an HTML error page, nothing done); ``token_expiry`` (expire
every current access token now, so this call and later ones get the 401 answer). ``count`` =
next N matching calls; ``probability`` = random on every matching call until cleared; neither
= count 1.
"""

from .app import Simulator, create_app
from .config import SimulatorConfig

__all__ = ["Simulator", "SimulatorConfig", "create_app"]
