"""Phone numbers in the one form Twilio takes (E.164, ``+8613800138000``), from what PBXs and people write.

Why this exists: a PBX hands over the caller id as its trunk delivered it, most
often in national format (``013800138000``, ``(415) 555-2671``), sometimes with
the international prefix (``0044 20 7946 0958``); Twilio's Messages and Calls
APIs refuse anything but E.164 (error 21211, "Invalid 'To' Phone Number"). A
national number can only be read in the country it was dialled in: each tenant
names it as ``region`` in routing.yaml (an ISO 3166 code, ``Region`` below).
Validity is libphonenumber's (the ``phonenumbers`` package): a number its
metadata does not know (an internal extension, ``0000000000``) is refused here,
with the reason, rather than by Twilio after the outbox has queued it.
"""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import AfterValidator

__all__ = ["NotAPhone", "Region", "e164"]


class NotAPhone(ValueError):
    """``raw`` cannot be made an E.164 number, for ``reason``; a ValueError, so a pydantic field error as is."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")


def _region(value: str) -> str:
    code = value.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not a region phone numbers are known for: use an ISO 3166 country "
                         "code such as CN, US or GB")
    return code


#: The country a tenant's national numbers are dialled in (ISO 3166 alpha-2, any case; kept upper case).
Region = Annotated[str, AfterValidator(_region)]


def e164(raw: str, region: str | None) -> str:
    """``raw`` as E.164, reading a national number as dialled in ``region``; raises ``NotAPhone`` with why not."""
    text = raw.strip()
    if not text or text.lower() == "anonymous":
        raise NotAPhone(raw, "withheld")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        national = (exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and region is None
                    and not text.startswith("+"))
        raise NotAPhone(raw, "national format and no region to read it in: write it as +<country code>..., or "
                        "set the tenant's region in routing.yaml" if national else "not a phone number") from exc
    if phonenumbers.is_possible_number_with_reason(number) in (
            phonenumbers.ValidationResult.TOO_SHORT, phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        raise NotAPhone(raw, "too short for a phone number (an internal extension?)")
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        raise NotAPhone(raw, f"not a valid phone number (read as {formatted})")
    return formatted
