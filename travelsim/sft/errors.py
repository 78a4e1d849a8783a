"""The SFT client's error hierarchy. Every failure of an SFT call is an :class:`SFTError`.

::

    SFTError
    ├── SFTAuthError              login/refresh refused, or a token still rejected after one replay
    ├── SFTRateLimited            rate limited (429 or "rate limit" body) past the retry bound
    ├── SFTBusinessError          envelope resultCode "1" (op code in ``result_code``, e.g. "9010")
    ├── SFTMalformedResponse      empty, non-JSON, HTML, or no/invalid ``Response`` envelope
    │   └── SFTMalformedOutcomeUnknown   ... to a state-changing call (also SFTOutcomeUnknown)
    ├── SFTTransportError         connection/timeout/5xx on a read, after bounded retries
    └── SFTOutcomeUnknown         a state-changing call may or may not have happened

Messages and attributes never contain tokens, passwords or matching IDs.
"""

from __future__ import annotations


class SFTError(Exception):
    """Base of every SFT client error.

    Attributes:
        operation: the SFT operation name (e.g. ``"SubscribeAddon"``).
        http_status: the HTTP status code, or ``None`` when no response arrived.
        result_code: the operation code from ``resultParam.resultCode`` (e.g. ``"9010"``), or
            ``None``.
        result_description: ``resultParam.resultDescription`` or a client-side explanation.
    """

    def __init__(
        self,
        operation: str,
        http_status: int | None = None,
        result_code: str | None = None,
        result_description: str | None = None,
    ) -> None:
        self.operation = operation
        self.http_status = http_status
        self.result_code = result_code
        self.result_description = result_description
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [self.operation]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.result_code is not None:
            parts.append(f"code {self.result_code}")
        if self.result_description:
            parts.append(self.result_description)
        return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep the four-argument constructor picklable (exceptions cross process pools).
        return (
            type(self),
            (self.operation, self.http_status, self.result_code, self.result_description),
        )


class SFTAuthError(SFTError):
    """Credentials refused at login, refresh impossible, or a token rejected again after the
    transparent re-logins/replays, at most ``MAX_REAUTHENTICATIONS`` per request
    (docs/sft-platform.md#authentication "Refused", docs/sft-platform.md#token-expiry)."""


class SFTRateLimited(SFTError):
    """Rate-limited answers (HTTP 429, or an HTTP 200 failure envelope saying "rate limit")
    kept coming back after the client's bounded back-off (docs/sft-platform.md#rate-limit).
    The request was never processed by the platform, so retrying later is safe."""


class SFTBusinessError(SFTError):
    """The platform answered with envelope ``resultCode "1"``.

    ``result_code`` carries the operation code from ``resultParam`` (e.g. ``"9005"`` invalid
    lifecycle transition, ``"9010"`` 15-add-on limit, ``"6420"`` no SIM linked); see
    ``travelsim.sft.wire`` ``CODE_*`` and docs/sft-platform.md#result-codes.
    """

    @property
    def code(self) -> str | None:
        """Alias of ``result_code``."""
        return self.result_code


class SFTMalformedResponse(SFTError):
    """The body was empty, not JSON, HTML, or lacked the ``Response`` envelope / an expected
    field of the documented shape. Raised instead of ``KeyError``/``AttributeError``/
    ``ValueError`` from parsing."""


class SFTTransportError(SFTError):
    """No usable answer to a read: connection failure, timeout, or HTTP 5xx, after the bounded
    retries for idempotent GETs (docs/sft-platform.md#timeouts-and-retries: "GET timed out:
    Retry")."""


class SFTOutcomeUnknown(SFTError):
    """A state-changing call (POST/PATCH) timed out, lost its connection mid-flight, got an
    HTTP 5xx or a "verify completion" code (10239/10240), so it may or may not have been
    applied. The client never resends it: the caller must re-read state (fetchSIM, add-on
    details, profile) and decide (docs/sft-platform.md#timeouts-and-retries,
    docs/business-rules.md#provisioning-steps)."""


class SFTMalformedOutcomeUnknown(SFTMalformedResponse, SFTOutcomeUnknown):
    """An unparseable body answered a state-changing call: the platform may have applied it.
    Catch it as either :class:`SFTMalformedResponse` or :class:`SFTOutcomeUnknown`."""
