"""Every SFT path, header, field name and result code the portal uses, in one place.

The shapes follow docs/sft-platform.md (one table per operation under
docs/sft-platform.md#operations). Several names there come from production or third-party
client code, or are inferred (listed in docs/sft-platform.md#guesses-to-confirm-with-bics):
when a name is corrected against the real platform (or BICS's Postman collection), the fix is
a one-line change in this module. Nothing outside ``travelsim/sft/`` should import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

HttpMethod = Literal["GET", "POST", "PATCH"]

# --- values shared by many fields ---------------------------------------------------------
#: Strings the platform uses for "no value" (docs/sft-platform.md#conventions "No value").
ABSENT_VALUES: Final = frozenset({"-", ""})
#: Response date-times, in the platform's zone (setting ``SFT_PLATFORM_TIMEZONE``, default UTC),
#: converted to UTC on read (docs/sft-platform.md#conventions "Date-times").
DATETIME_FORMAT: Final = "%d/%m/%Y %H:%M:%S"
DATE_ONLY_FORMAT: Final = "%d/%m/%Y"
#: GetStatistics query and row dates (docs/sft-platform.md#getstatistics).
STATS_DATE_FORMAT: Final = "%Y%m%d"
#: GetStatistics volumes are MB strings; 1 MB = 1,048,576 bytes
#: (docs/sft-platform.md#getstatistics).
BYTES_PER_MB: Final = 1_048_576


# --- operations -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Operation:
    """One SFT API operation: how to call it and how the client may retry it.

    ``long_timeout``: the 180 s class of docs/sft-platform.md#timeouts-and-retries.
    ``state_changing``: a timeout/5xx/drop mid-flight raises ``SFTOutcomeUnknown`` instead of a
    retry (the platform keeps processing a timed-out POST/PATCH: verify with a GET, same
    section).
    """

    name: str
    method: HttpMethod
    path: str
    long_timeout: bool = False
    state_changing: bool = False


LOGIN: Final = Operation("login", "POST", "/api/login")
REFRESH_TOKEN: Final = Operation("RefreshToken", "GET", "/api/RefreshToken")
FETCH_SIM: Final = Operation("fetchSIM", "GET", "/api/fetchSIM")
ENDPOINT_ACTIVATION: Final = Operation(
    "EndPointActivation", "POST", "/api/EndPointActivation", long_timeout=True, state_changing=True
)
ENDPOINT_LIFECYCLE_CHANGE: Final = Operation(
    "EndPointLifeCycleChange",
    "POST",
    "/api/EndPointLifeCycleChange",
    long_timeout=True,
    state_changing=True,
)
SUBSCRIBE_ADDON: Final = Operation(
    "SubscribeAddon", "POST", "/api/SubscribeAddon", state_changing=True
)
#: docs/sft-platform.md#get-endpoint-add-on-details: the path is cut off in the release notes
#: (inferred); the simulator serves this one (and the alias ``/api/GetEndpointAddon``). The
#: setting ``SFT_ADDON_DETAILS_PATH`` (``SFTClient(addon_details_path=...)``) overrides it; when
#: the read fails the client falls back to GetEndPointProfile (same section).
DEFAULT_ADDON_DETAILS_PATH: Final = "/api/GetEndpointAddonDetails"
ADDON_DETAILS: Final = Operation("GetEndpointAddonDetails", "GET", DEFAULT_ADDON_DETAILS_PATH)
ENDPOINT_PROFILE: Final = Operation(
    "GetEndPointProfile", "GET", "/api/GetEndPointProfile", long_timeout=True
)
STATISTICS: Final = Operation("GetStatistics", "GET", "/api/GetStatistics")
QUERY_RATE_PLAN: Final = Operation("QueryRatePlan", "GET", "/api/QueryRatePlan")
MODIFY_ENDPOINT: Final = Operation("ModifyEndpoint", "PATCH", "/api/endpoint", state_changing=True)
DELINK_SIM: Final = Operation(
    "DeLinkSim", "POST", "/api/DeLinkSim", long_timeout=True, state_changing=True
)
# Not called by the portal yet; listed so the 180 s list of
# docs/sft-platform.md#timeouts-and-retries lives here in full.
LINK_SIM: Final = Operation(
    "LinkSim", "POST", "/api/LinkSim", long_timeout=True, state_changing=True
)
CREATE_ENDPOINT: Final = Operation(
    "CreateEndPoint", "POST", "/api/CreateEndPoint", long_timeout=True, state_changing=True
)


# --- headers (docs/sft-platform.md#conventions) ---------------------------------------------
HEADER_AUTHORIZATION: Final = "X-Authorization"
BEARER_PREFIX: Final = "Bearer "
HEADER_REQUESTED_WITH: Final = "X-Requested-With"
REQUESTED_WITH_VALUE: Final = "XMLHttpRequest"
HEADER_CONTENT_TYPE: Final = "Content-Type"
CONTENT_TYPE_JSON: Final = "application/json"
HEADER_ACCEPT: Final = "Accept"
HEADER_RATE_LIMIT_TPS: Final = "X-Rate-Limit-TPS"
HEADER_RETRY_AFTER: Final = "Retry-After"


# --- envelope (docs/sft-platform.md#conventions) --------------------------------------------
REQUEST: Final = "Request"
RESPONSE: Final = "Response"
REQUEST_PARAM: Final = "requestParam"
RESPONSE_PARAM: Final = "responseParam"
RESULT_CODE: Final = "resultCode"
RESULT_PARAM: Final = "resultParam"
RESULT_DESCRIPTION: Final = "resultDescription"
ENDPOINT_ID: Final = "endPointId"


# --- login / refresh (docs/sft-platform.md#login, docs/sft-platform.md#refreshtoken) -------
LOGIN_USERNAME: Final = "username"
LOGIN_PASSWORD: Final = "password"
LOGIN_TARGET_ACCOUNT_ID: Final = "targetAccountId"
ACCESS_TOKEN: Final = "AccessToken"
REFRESH_TOKEN_FIELD: Final = "RefreshToken"
#: docs/sft-platform.md#authentication "Lifetime": used when the token carries no readable JWT
#: ``exp``.
DEFAULT_ACCESS_TOKEN_LIFETIME_S: Final = 15 * 60.0
DEFAULT_REFRESH_TOKEN_LIFETIME_S: Final = 24 * 3600.0
JWT_EXP: Final = "exp"
JWT_IAT: Final = "iat"


# --- paging (docs/sft-platform.md#fetchsim) -------------------------------------------------
ROWS: Final = "rows"
TOTAL_COUNT: Final = "totalCount"
PAGE: Final = "page"
PER_PAGE: Final = "perPage"


# --- fetchSIM (docs/sft-platform.md#fetchsim) -----------------------------------------------
Q_SIM_STATUS_ID: Final = "simStatusId"
Q_SIM_ATTACH_STATUS_ID: Final = "simAttachStatusId"
Q_PAGE: Final = "page"
Q_PER_PAGE: Final = "perPage"
Q_ICCID: Final = "iccid"
SIM_STATUS_ID_PRE_ACTIVE: Final = 12
SIM_ATTACH_STATUS_ID_ATTACHED: Final = 1
SIM_ID: Final = "simId"
SIM_ICCID: Final = "iccid"
SIM_EID: Final = "eid"
SIM_ENDPOINT_ID: Final = "endPointId"
SIM_STATUS: Final = "simStatus"
SIM_ATTACH_STATUS: Final = "simAttachStatus"
#: Published spelling (account data stream, docs/sft-platform.md#fetchsim); read in any case, so
#: the older guess ``esimProfileStatus`` is understood too.
SIM_ESIM_PROFILE_STATUS: Final = "eSimProfileStatus"
SIM_MSISDN: Final = "msisdn"
SIM_IMSI: Final = "imsi"
SIM_ACTIVATION_CODE: Final = "activationCode"
ACTIVATION_TEXT_QR: Final = "textQrCode"
ACTIVATION_SMDP: Final = "smDpPlusAdress"  # sic, as on the platform
ACTIVATION_MATCHING_ID: Final = "matchingId"


# --- lifecycle (docs/sft-platform.md#endpointlifecyclechange) -------------------------------
LIFECYCLE: Final = "lifeCycle"
LIFECYCLE_REASON: Final = "reason"
LIFECYCLE_ACTIVE: Final = "A"
LIFECYCLE_SUSPENDED: Final = "S"
LIFECYCLE_REASON_SYSTEM: Final = "1"
CURRENT_STATUS: Final = "currentStatus"
PREVIOUS_STATUS: Final = "previousStatus"


# --- SubscribeAddon (docs/sft-platform.md#subscribeaddon) -----------------------------------
PLAN_ID: Final = "planId"
ADDON_DETAILS_FIELD: Final = "addonDetails"
UNIQUE_ID: Final = "uniqueId"


# --- Get Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details) ---------
Q_ADDON_ENDPOINT_ID: Final = "endPointId"
Q_ADDON_UNIQUE_ID: Final = "uniqueId"
Q_ADDON_ADDON_ID: Final = "addonId"
ADDON_UNIQUE_ID: Final = "uniqueId"
ADDON_ADDON_ID: Final = "addonId"
ADDON_PLAN_ID: Final = "planId"
ADDON_PLAN_NAME: Final = "planName"
ADDON_ENDPOINT_ID: Final = "endPointId"
ADDON_SERVICE: Final = "service"
ADDON_STATUS: Final = "status"
ADDON_ACTIVATED_BY: Final = "activatedBy"
ADDON_ACTIVATED_BY_NAME: Final = "activatedByName"
ADDON_PRIORITY: Final = "priority"
ADDON_SUBSCRIPTION_DATE: Final = "subscriptionDate"
ADDON_START_DATE: Final = "startDate"
ADDON_EXPIRY_DATE: Final = "expiryDate"
ADDON_DEACTIVATION_DATE: Final = "deactivationDate"  # simulator extra; absent is fine
ADDON_VALIDITY: Final = "validity"
ADDON_INITIAL_VOLUME: Final = "initialVolume"
ADDON_REMAINING_VOLUME: Final = "remainingVolume"
ADDON_USED_VOLUME: Final = "usedVolume"
ADDON_UNIT: Final = "unit"
#: Wire status string (lower-cased) -> ``AddonStatus`` member name.
ADDON_STATUS_VALUES: Final = {
    "subscribed": "WAITING",
    "active": "ACTIVE",
    "exhausted": "EXHAUSTED",
    "expired": "EXPIRED",
    "deactivated": "DEACTIVATED",
}
#: HTTP statuses meaning "no such operation here": the client stops asking for add-on details
#: and reads GetEndPointProfile instead (docs/sft-platform.md#get-endpoint-add-on-details).
HTTP_NO_SUCH_OPERATION: Final = frozenset({404, 405})
#: ``AddonDetail.status_raw`` of an add-on built from GetEndPointProfile (status inferred).
STATUS_RAW_INFERRED: Final = "inferred"
#: ``activatedBy`` code -> ``ActivatedBy`` member name
#: (docs/sft-platform.md#get-endpoint-add-on-details).
ACTIVATED_BY_CODES: Final = {"0": "ON_USAGE", "1": "IMMEDIATE"}
#: ``activatedByName`` text (lower-cased, spaces/dashes dropped) -> ``ActivatedBy`` member name.
ACTIVATED_BY_NAMES: Final = {"onusage": "ON_USAGE", "immediate": "IMMEDIATE"}


# --- GetEndPointProfile (docs/sft-platform.md#getendpointprofile) ---------------------------
PROFILE_INFO: Final = "info"
PROFILE_BASIC_INFO: Final = "basicInfo"
PROFILE_ICCID: Final = "iccid"
PROFILE_EID: Final = "eid"
PROFILE_NAME: Final = "name"
PROFILE_MSISDN: Final = "msisdn"
PROFILE_IMSI: Final = "imsi"
PROFILE_ENDPOINT_ID: Final = "endPointId"
PROFILE_STATUS: Final = "status"
PROFILE_LIFECYCLE_REASON: Final = "lifeCycleReason"
PROFILE_ESIM_PROFILE_STATUS: Final = "eSimProfileStatus"  # read in any case
#: The portal's older guess of that name (``sft check`` reports it as answered differently).
LEGACY_ESIM_PROFILE_STATUS: Final = "esimProfileStatus"
PROFILE_PROMOTIONAL_PLANS: Final = "promotionalPlans"
PROFILE_PLAN_LIST: Final = "plan"
PLAN_UNIQUE_ID: Final = "uniqueId"
PLAN_PLAN_ID: Final = "planId"
PLAN_PLAN_NAME: Final = "planName"
PLAN_SERVICE_NAME: Final = "planServiceName"
PLAN_START_DATE: Final = "planStartDate"
PLAN_EXPIRY_DATE: Final = "planExpiryDate"
PROFILE_BENEFIT_INFO: Final = "benefitInfo"
PROFILE_BENEFIT_LIST: Final = "benefit"
BENEFIT_NAME: Final = "name"
BENEFIT_UNIQUE_ID: Final = "uniqueId"
BENEFIT_START_DATE: Final = "startDate"
BENEFIT_EXPIRY_DATE: Final = "expiryDate"
BENEFIT_ACTUAL_BALANCE: Final = "actualBalance"
BENEFIT_BALANCE: Final = "balance"
#: The benefit name of data volume (production code); matched in any case.
BENEFIT_NAME_DATA: Final = "data"


# --- GetStatistics (docs/sft-platform.md#getstatistics) ------------------------------------
Q_STATS_ENDPOINT_ID: Final = "endPointId"
Q_STATS_FROM_DATE: Final = "from_date"
Q_STATS_TO_DATE: Final = "to_date"
STATS_DATA_USAGE: Final = "dataUsage"
STATS_DATE: Final = "date"
STATS_UPLINK: Final = "uplink"
STATS_DOWNLINK: Final = "downlink"
STATS_TOTAL_VOLUME: Final = "totalVolume"


# --- QueryRatePlan (docs/sft-platform.md#queryrateplan) -------------------------------------
Q_PLAN_CATEGORY: Final = "planCategory"
Q_PLAN_TYPE: Final = "planType"
PLAN_CATEGORY_ADDON: Final = "ADDON"
PLAN_TYPE_DEFAULT: Final = "0"
RP_PLAN_ID: Final = "planId"
RP_PLAN_NAME: Final = "planName"
RP_PLAN_CATEGORY: Final = "planCategory"
RP_PLAN_TYPE: Final = "planType"
RP_STATUS: Final = "status"
RP_VOLUME: Final = "volume"
RP_VALIDITY: Final = "validity"
RP_VALIDITY_TYPE: Final = "validityType"
RP_VALIDITY_FACTOR: Final = "validityFactor"
#: ``validityType`` for "Number of Days" (docs/sft-platform.md#queryrateplan ``validity``).
VALIDITY_TYPE_DAYS: Final = "1"
RP_ACTIVATED_BY: Final = "activatedBy"
RP_ACTIVATED_BY_NAME: Final = "activatedByName"
RP_PRIORITY: Final = "addOnPriority"
RP_RATE_ZONE: Final = "rateZone"
RP_RATE_ZONE_ID: Final = "id"
RP_RATE_ZONE_NAME: Final = "name"
RP_COUNTRIES: Final = "countries"
#: The nested add-on plan of the 4.13 release (docs/sft-platform.md#queryrateplan): ``basicInfo``
#: (planId, planName, planCategory, planStatus, addOnPriority), ``benefit[]`` (benefitId,
#: value, rateZone), ``subscription`` (reSubscription, reSubscriptionRule, occurrences,
#: activatedBy) and ``validity`` (validityType, validityFactor). The flat fields above are the
#: older guess, still read.
RP_BASIC_INFO: Final = "basicInfo"
RP_PLAN_STATUS: Final = "planStatus"
RP_BENEFIT: Final = "benefit"
RP_BENEFIT_ID: Final = "benefitId"
RP_BENEFIT_VALUE: Final = "value"
RP_BENEFIT_RATE_ZONE: Final = "rateZone"
#: Not published; honoured when present (inferred). Without it ``value`` is bytes (inferred).
RP_BENEFIT_UNIT: Final = "unit"
#: Unit name (upper-case) -> bytes per unit.
VOLUME_UNITS: Final = {
    "B": 1,
    "BYTE": 1,
    "BYTES": 1,
    "KB": 1024,
    "MB": BYTES_PER_MB,
    "GB": 1024 * BYTES_PER_MB,
}
RP_SUBSCRIPTION: Final = "subscription"
RP_RESUBSCRIPTION: Final = "reSubscription"
RP_RESUBSCRIPTION_RULE: Final = "reSubscriptionRule"
RP_OCCURRENCES: Final = "occurrences"
TRUE_VALUES: Final = frozenset({"true", "1", "yes"})


# --- Modify Endpoint (docs/sft-platform.md#modify-endpoint) ---------------------------------
ADD_ADDON_PLAN_IDS: Final = "addAddonPlanIds"
REMOVE_ADDON_UNIQUE_IDS: Final = "removeAddonUniqueIds"


# --- callbacks: CallBackNotification (docs/sft-platform.md#callbacks) ---------------------
#: ``Request.notification``: one object, or a list of them (a batch).
CALLBACK_NOTIFICATION: Final = "notification"
CALLBACK_ID: Final = "callbackId"
CALLBACK_TIMESTAMP: Final = "callbackTimestamp"
CALLBACK_MESSAGE: Final = "message"
#: In the message (or beside it, in the notification). The message's add-on fields are those
#: of Get Endpoint Add-on Details (``ADDON_*`` above).
EVENT_TYPE: Final = "eventType"
EVENT_TIMESTAMP: Final = "eventTimestamp"
EVENT_SEQUENCE: Final = "sequence"
EVENT_ICCID: Final = "iccid"
#: Published spelling (docs/sft-platform.md#esim-profile-status-events); keys are matched
#: ignoring case, so the ``esimProfileStatus`` of the legacy shapes is read too.
EVENT_ESIM_PROFILE_STATUS: Final = "eSimProfileStatus"
#: Data-stream events (docs/sft-platform.md#data-stream-events): the published
#: ``eSimProfileStatus`` (the lookup ignores case, so it is also ``esimProfileStatus``), the
#: published description text, and the inferred counter fields.
EVENT_DESCRIPTION: Final = "description"
EVENT_ACCOUNT_ID: Final = "accountId"
EVENT_COUNTER_NAME: Final = "counterName"
EVENT_THRESHOLD: Final = "threshold"
#: A Usage Events (Bulk) record carries this instead of an ``eventType``
#: (docs/sft-platform.md#data-stream-events).
USAGE_VOLUME_ACCUMULATED: Final = "volumeAccumulated"
#: The raw type stored for such a record (it has no ``eventType``).
USAGE_RECORD_TYPE: Final = "Usage Event"
#: Keys under which a data-stream body may hold its list of events (inferred; tried in this
#: order at the top level and inside ``Request``; else the only list of objects is taken).
STREAM_LIST_KEYS: Final = ("events", "event", "notifications", "data", "records")
#: Data-stream process names (docs/sft-platform.md#data-stream-events).
PROCESS_ACCOUNT_EVENTS: Final = "Account Events (Bulk)"
PROCESS_NOTIFICATION_ID: Final = "10011"
PROCESS_NOTIFICATION_NAME: Final = "CallBackNotification"
API_CALLBACK: Final = "apiCallback"
#: Event type name (lower-cased, letters and digits only) -> ``EventType`` member name
#: (``travelsim.sft.callbacks``; docs/sft-platform.md#callbacks "Event types handled").
EVENT_TYPES: Final = {
    "addonsubscription": "ADDON_SUBSCRIPTION",
    "addonactivation": "ADDON_ACTIVATION",
    "addonrenew": "ADDON_RENEWAL",
    "addonrenewal": "ADDON_RENEWAL",
    "addondeactivation": "ADDON_DEACTIVATION",
    "counterchange": "COUNTER_CHANGE",
    "counterchanges": "COUNTER_CHANGE",
    "esimprofilestatus": "PROFILE_STATUS",
    "profilestatus": "PROFILE_STATUS",
    "esimprofilestatusnotification": "PROFILE_STATUS",
    "esimprofilestatusnotifications": "PROFILE_STATUS",
    "usageevent": "USAGE",
    "usageevents": "USAGE",
    "datausage": "USAGE",
}
#: Published event types the portal stores but does not apply (``EventType.OTHER``,
#: marked ``ignored``): the rest of the account and endpoint data-stream catalogues.
#: Any type not here nor in ``EVENT_TYPES`` is unrecognised (shown to staff).
EVENT_TYPES_NOT_APPLIED: Final = frozenset(
    {
        "a2psmsstatus",
        "p2asms",
        "configuration",
        "execution",
        "modifydestinationgroup",
        "customeronboard",
        "mdbsubscription",
        "mdbactivation",
        "mdbdeactivation",
        "chargechanges",
        "simactivation",
        "simlink",
        "simdelink",
        "simswap",
        "planswap",
        "firstactivation",
        "endpointcreation",
        "endpointdeletion",
        "imeilock",
        "endpointnamechange",
        "endpointapnchange",
    }
)


# --- result codes (docs/sft-platform.md#result-codes) ---------------------------------------
ENVELOPE_SUCCESS: Final = "0"
ENVELOPE_FAILURE: Final = "1"
CODE_TOKEN_INVALID: Final = "401"
CODE_ENDPOINT_ACTIVATED: Final = "5014"
CODE_ALREADY_ACTIVE: Final = "2507"
CODE_SIM_NOT_ATTACHED: Final = "6420"
CODE_LIFECYCLE_OK: Final = frozenset({"5017", "9003"})
# 9005 and 9010 are not published: the simulator invented them (docs/sft-platform.md#result-codes).
CODE_INVALID_TRANSITION: Final = "9005"  # invented by the simulator
CODE_ADDON_LIMIT: Final = "9010"  # invented by the simulator
CODE_DELINK_OK: Final = "6413"
CODE_NO_DATA: Final = "1359"
#: "operation failed / timed out: verify completion" (docs/sft-platform.md#result-codes).
CODES_VERIFY_COMPLETION: Final = frozenset({"10239", "10240"})


# --- rate limit and endpoint status re-read (transport/lifecycle) ----------------------------
#: Lower-case text that marks a rate-limited answer inside an HTTP 2xx failure envelope's
#: ``resultDescription`` (matched case-insensitively; a public production client's check,
#: docs/sft-platform.md#rate-limit).
RATE_LIMIT_TEXT: Final = "rate limit"
