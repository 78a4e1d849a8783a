"""The eSIM activation code: one parser and one formatter (GSMA SGP.22 section 4.1).

Shape of the string (docs/esim.md#activation-code, fields in docs/esim.md#activation-code-fields)::

    [LPA:]1$<SM-DP+ address>$<matching ID>[$<SM-DP+ OID>[$<confirmation-code-required flag>]]

- ``LPA:`` is the scheme prefix used in QR codes and links; it is accepted with or without, in
  any case, and emitted as upper-case ``LPA:`` by :meth:`ActivationCode.to_string`.
- ``1`` is the activation-code format; anything else is rejected.
- The SM-DP+ address is a bare FQDN: no scheme, no port, no path.
- The matching ID (AC token) is a secret until used: it never appears in ``str()``, ``repr()``
  or exception messages produced by this module.
- The 4th field is the SM-DP+ **OID**, not the confirmation code (a common bug in public code).
  When the flag follows without an OID, the OID slot stays, empty: ``1$host$MID$$1``.
- The 5th field is the confirmation-code-required flag: ``1`` means the device will ask for a
  confirmation code, which is never inside the activation code itself.
- ``$`` separates fields and cannot occur inside one; fields after the 5th (added by newer
  spec versions) are ignored.

Pure functions only: no Reflex, no database, no network, no logging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "LPA_PREFIX",
    "MASK",
    "ActivationCode",
    "InvalidActivationCode",
    "replace_matching_id",
]

LPA_PREFIX = "LPA:"
"""Scheme prefix put in front of the activation code in QR codes and links."""

FORMAT = "1"
"""The only activation-code format defined by SGP.22 section 4.1."""

SEPARATOR = "$"

MASK = "****"
"""What replaces the matching ID in every human-readable rendering."""

_MAX_FQDN_LENGTH = 253
_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Printable ASCII without space and without the field separator '$'.
# SGP.22 asks SM-DP+ servers to issue upper-case alphanumerics and '-'; we accept the wider
# printable set so that codes from lenient servers still round-trip byte for byte.
_MATCHING_ID_RE = re.compile(r"^[!-#%-~]+$")
# Dotted-decimal object identifier (ITU-T X.660): first arc 0..2, at least two arcs,
# no leading zeros in an arc.
_OID_RE = re.compile(r"^[0-2](?:\.(?:0|[1-9][0-9]*))+$")
_MAX_MATCHING_ID_LENGTH = 255
_MAX_OID_LENGTH = 255


class InvalidActivationCode(ValueError):
    """An activation code that does not follow GSMA SGP.22 section 4.1.

    Messages name the offending field and rule but never echo field values: a misplaced field
    may hold the matching ID or a confirmation code.
    """


def _validate_smdp_address(address: str) -> None:
    """Check that ``address`` is a bare FQDN (SGP.22 section 4.1: "SM-DP+ Address").

    Raises:
        InvalidActivationCode: on an empty value, a scheme, a port, a path, whitespace, or a
            label that is not a valid DNS host label.
    """
    if not address:
        raise InvalidActivationCode("SM-DP+ address is empty")
    if "://" in address or address.lower().startswith(("http:", "https:")):
        raise InvalidActivationCode(
            "SM-DP+ address must be a bare FQDN without a scheme (no 'https://')"
        )
    if "/" in address or "?" in address or "#" in address:
        raise InvalidActivationCode("SM-DP+ address must be a bare FQDN without a path")
    if ":" in address:
        raise InvalidActivationCode("SM-DP+ address must be a bare FQDN without a port")
    if "@" in address:
        raise InvalidActivationCode("SM-DP+ address must be a bare FQDN without user info")
    if len(address) > _MAX_FQDN_LENGTH:
        raise InvalidActivationCode(f"SM-DP+ address is longer than {_MAX_FQDN_LENGTH} characters")
    labels = address.split(".")
    if len(labels) < 2:
        raise InvalidActivationCode(
            "SM-DP+ address must be a fully qualified domain name (at least one dot)"
        )
    for label in labels:
        if not _LABEL_RE.match(label):
            raise InvalidActivationCode(
                "SM-DP+ address is not a valid host name "
                "(labels of 1-63 letters, digits or '-', not starting or ending with '-')"
            )
    if labels[-1].isdigit():
        raise InvalidActivationCode("SM-DP+ address must be a domain name, not an IP address")


def _validate_matching_id(matching_id: str) -> None:
    """Check the matching ID (SGP.22 section 4.1: "AC_Token"); messages never contain its value.

    Raises:
        InvalidActivationCode: on an empty value, a ``$``, whitespace or non-printable-ASCII
            characters, or more than 255 characters.
    """
    if not matching_id:
        raise InvalidActivationCode("matching ID is empty")
    if SEPARATOR in matching_id:
        raise InvalidActivationCode("matching ID must not contain the field separator '$'")
    if len(matching_id) > _MAX_MATCHING_ID_LENGTH:
        raise InvalidActivationCode(
            f"matching ID is longer than {_MAX_MATCHING_ID_LENGTH} characters"
        )
    if not _MATCHING_ID_RE.match(matching_id):
        raise InvalidActivationCode(
            "matching ID must consist of printable ASCII characters without spaces"
        )


def _validate_oid(oid: str) -> None:
    """Check the SM-DP+ OID (SGP.22 section 4.1: "SM-DP+ OID"), a dotted-decimal object identifier.

    Raises:
        InvalidActivationCode: if ``oid`` is not dotted decimal with at least two arcs. The
            message points at the common bug of reading the 4th field as the confirmation
            code or the flag.
    """
    if SEPARATOR in oid:
        raise InvalidActivationCode("SM-DP+ OID must not contain the field separator '$'")
    if len(oid) > _MAX_OID_LENGTH or not _OID_RE.match(oid):
        raise InvalidActivationCode(
            "4th field is not an SM-DP+ OID (dotted decimal, e.g. '1.3.6.1.4.1.31746'). "
            "The 4th field is the OID, not the confirmation code or its flag; a flag without "
            "an OID keeps an empty OID slot: '1$<host>$<matching ID>$$1' (SGP.22 section 4.1)"
        )


def _parse_flag(value: str) -> bool:
    """Read the 5th field, the confirmation-code-required flag (SGP.22 section 4.1).

    ``"1"`` → ``True``; ``""`` or ``"0"`` → ``False``.

    Raises:
        InvalidActivationCode: for any other value (for example a confirmation code put there
            by mistake; the value is not echoed since it may be a secret).
    """
    if value == "1":
        return True
    if value in ("", "0"):
        return False
    raise InvalidActivationCode(
        "5th field (confirmation-code-required flag) must be '1', '0' or empty; "
        "the confirmation code itself never belongs in the activation code"
    )


@dataclass(frozen=True, repr=False)
class ActivationCode:
    """A parsed, validated eSIM activation code (GSMA SGP.22 section 4.1).

    Attributes:
        smdp_address: FQDN of the SM-DP+ profile server, e.g. ``"rsp.example.com"``.
        matching_id: the one-time AC token; a secret until used.
        oid: SM-DP+ OID, dotted decimal, or ``None`` when absent (the usual case).
        confirmation_code_required: whether the device will ask for a confirmation code,
            which is delivered separately and never part of this value.

    Construction validates every field and raises :class:`InvalidActivationCode`. Equality
    and hashing compare all fields. ``str()`` and ``repr()`` mask the matching ID; use
    :meth:`to_string` for the real value (QR content, links, encrypted storage).
    """

    smdp_address: str
    matching_id: str
    oid: str | None = None
    confirmation_code_required: bool = False

    def __post_init__(self) -> None:
        """Validate the fields (SGP.22 section 4.1). Raises :class:`InvalidActivationCode`."""
        if not isinstance(self.smdp_address, str):
            raise InvalidActivationCode("SM-DP+ address must be a string")
        if not isinstance(self.matching_id, str):
            raise InvalidActivationCode("matching ID must be a string")
        if self.oid is not None and not isinstance(self.oid, str):
            raise InvalidActivationCode("SM-DP+ OID must be a string or None")
        if not isinstance(self.confirmation_code_required, bool):
            raise InvalidActivationCode("confirmation_code_required must be a bool")
        _validate_smdp_address(self.smdp_address)
        _validate_matching_id(self.matching_id)
        if self.oid is not None:
            if self.oid == "":
                raise InvalidActivationCode("SM-DP+ OID must be None, not empty, when absent")
            _validate_oid(self.oid)

    @classmethod
    def parse(cls, text: str) -> ActivationCode:
        """Parse an activation code string (GSMA SGP.22 section 4.1).

        Args:
            text: ``[LPA:]1$<SM-DP+ address>$<matching ID>[$<OID>[$<flag>]][$<ignored>...]``.
                The ``LPA:`` prefix is optional and case-insensitive; surrounding whitespace
                (e.g. a newline from a scanner) is stripped. An empty 4th field means "no OID";
                an empty or ``0`` 5th field means "no confirmation code required". Fields after
                the 5th are ignored (newer spec versions may add them).

        Returns:
            The validated :class:`ActivationCode`.

        Raises:
            InvalidActivationCode: if the format is not ``1``, a mandatory field is missing or
                empty, the SM-DP+ address is not a bare FQDN, the 4th field is not an OID, or
                the flag is not ``1``/``0``/empty. Messages never include the matching ID.
        """
        if not isinstance(text, str):
            raise InvalidActivationCode("activation code must be a string")
        body = text.strip()
        if body[: len(LPA_PREFIX)].upper() == LPA_PREFIX:
            body = body[len(LPA_PREFIX) :]
        if not body:
            raise InvalidActivationCode("activation code is empty")
        fields = body.split(SEPARATOR)
        if fields[0] != FORMAT:
            raise InvalidActivationCode(
                "activation code format (first field after 'LPA:') must be '1' (SGP.22 section 4.1)"
            )
        if len(fields) < 3:
            raise InvalidActivationCode(
                "activation code needs at least '1$<SM-DP+ address>$<matching ID>'"
            )
        smdp_address, matching_id = fields[1], fields[2]
        oid_field = fields[3] if len(fields) > 3 else ""
        flag_field = fields[4] if len(fields) > 4 else ""
        # fields[5:] are optional fields of newer spec versions: ignored on purpose.
        return cls(
            smdp_address=smdp_address,
            matching_id=matching_id,
            oid=oid_field or None,
            confirmation_code_required=_parse_flag(flag_field),
        )

    def to_string(self, with_prefix: bool = True) -> str:
        """Format the canonical activation code (GSMA SGP.22 section 4.1).

        Args:
            with_prefix: put ``LPA:`` in front (QR content, links); ``False`` gives the bare
                ``1$...`` form.

        Returns:
            ``LPA:1$<address>$<matching ID>`` plus ``$<OID>`` when an OID is set, plus
            ``$1`` when the confirmation code is required (with an empty OID slot, ``$$1``, when
            there is no OID). Nothing optional is emitted when absent. This string contains
            the secret matching ID: never log it.
        """
        parts = [FORMAT, self.smdp_address, self.matching_id]
        if self.oid is not None or self.confirmation_code_required:
            parts.append(self.oid or "")
        if self.confirmation_code_required:
            parts.append("1")
        body = SEPARATOR.join(parts)
        return LPA_PREFIX + body if with_prefix else body

    def masked(self) -> str:
        """The ``LPA:1$...`` string with the matching ID replaced by ``****``; safe to log."""
        return replace_matching_id(self, MASK)

    def __str__(self) -> str:
        """Same as :meth:`masked`: never reveals the matching ID."""
        return self.masked()

    def __repr__(self) -> str:
        """Dataclass-like repr with the matching ID masked."""
        return (
            f"ActivationCode(smdp_address={self.smdp_address!r}, matching_id={MASK!r}, "
            f"oid={self.oid!r}, confirmation_code_required={self.confirmation_code_required!r})"
        )


def replace_matching_id(code: ActivationCode, placeholder: str) -> str:
    """Format ``code`` like :meth:`ActivationCode.to_string` with ``placeholder`` as matching ID.

    Used for masked, loggable renderings. Does not validate ``placeholder``.
    """
    parts = [LPA_PREFIX + FORMAT, code.smdp_address, placeholder]
    if code.oid is not None or code.confirmation_code_required:
        parts.append(code.oid or "")
    if code.confirmation_code_required:
        parts.append("1")
    return SEPARATOR.join(parts)
