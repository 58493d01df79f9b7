"""Customer identifiers: what a channel tells us about who is on the other end, in one canonical form.

Pure: no I/O. An identifier is a ``(kind, value)`` pair. Phone-like kinds (``phone``, ``whatsapp``,
``sms``, and ``sip`` caller IDs) become E.164 through the ``phonenumbers`` library, with a default region
for numbers written without a country code; ``email`` is trimmed and lower-cased; ``crm`` ids and chat
form fields (``form:<field>``) are trimmed. Phone-like kinds share one namespace: a WhatsApp number and the
same number calling by SIP are the same identifier, so they find the same customer.

Errors never repeat the value they reject (it may be personal data that ends up in a log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from router.errors import OmnirouteError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SIP = re.compile(r"^(?:sips?:|tel:)?(?P<user>[^@;>]+)(?:@[^;>]*)?", re.IGNORECASE)
_FORM_FIELD = re.compile(r"[a-z0-9_.-]{1,40}")
MAX_VALUE = 256


class Kind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CRM = "crm"
    FORM = "form"  # written form:<field>, e.g. form:order_number


PHONE_ALIASES = frozenset({"phone", "whatsapp", "sms", "sip", "tel"})


class InvalidIdentifier(OmnirouteError, ValueError):
    """A value that can't be read as the identifier kind it was given as."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    """One canonical identifier; ``str()`` is ``kind:value``, the form stored in Redis."""

    kind: str  # "phone", "email", "crm" or "form:<field>"
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse_stored(cls, text: str) -> Identifier:
        """The inverse of ``str()`` (for values read back from Redis)."""
        if text.startswith("form:"):
            field, _, value = text[5:].partition(":")
            return cls(f"form:{field}", value)
        kind, _, value = text.partition(":")
        return cls(kind, value)


def phone(value: str, region: str) -> str:
    """``value`` as an E.164 number; ``region`` (ISO 3166 code, e.g. "US") applies to national numbers.

    Raises:
        InvalidIdentifier: not a possible, valid number.
    """
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as e:
        raise InvalidIdentifier("phone", f"not a phone number ({_reason(e)})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", f"not a valid number (default region {region or 'none'})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _reason(e: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country code and no default region",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "no digits",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(e.error_type, "unreadable")


def sip_caller(uri: str, region: str) -> str:
    """The E.164 number of a SIP caller ID such as ``sip:+15551234567@pbx.example;user=phone``."""
    text = uri.strip().strip("<>")
    m = _SIP.match(text)
    if not m:
        raise InvalidIdentifier("sip", "not a SIP URI with a number")
    user = m.group("user")
    if not re.fullmatch(r"\+?[0-9().\- ]{3,}", user):
        raise InvalidIdentifier("sip", "the caller ID's user part is not a number")
    return phone(user, region)


def email(value: str) -> str:
    text = value.strip().lower()
    if not _EMAIL.fullmatch(text):
        raise InvalidIdentifier("email", "not an email address (expected name@domain)")
    return text


def identifier(kind: str, value: str, region: str = "") -> Identifier:
    """The canonical form of ``value`` given as ``kind``.

    Kinds: phone, whatsapp, sms, tel, sip (all become ``phone``), email, crm, form:<field>.

    Raises:
        InvalidIdentifier: an unknown kind, an empty or too long value, or one that doesn't parse.
    """
    kind = kind.strip().lower()
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(kind, "empty value")
    if len(value) > MAX_VALUE:
        raise InvalidIdentifier(kind, f"longer than {MAX_VALUE} characters")
    if kind == "sip":
        return Identifier(Kind.PHONE, sip_caller(value, region))
    if kind in PHONE_ALIASES:
        return Identifier(Kind.PHONE, phone(value, region))
    if kind == Kind.EMAIL:
        return Identifier(Kind.EMAIL, email(value))
    if kind == Kind.CRM:
        return Identifier(Kind.CRM, value.strip())
    if kind.startswith("form:") and _FORM_FIELD.fullmatch(kind[5:]):
        return Identifier(kind, " ".join(value.split()).lower())
    known = ", ".join(sorted(PHONE_ALIASES | {"email", "crm", "form:<field>"}))
    raise InvalidIdentifier(kind or "(none)", f"unknown identifier kind; known: {known}")


def identifiers(given: Mapping[str, str] | Iterable[tuple[str, str]], region: str = "") -> list[Identifier]:
    """Canonical identifiers of a contact, without duplicates, skipping empty values (a form left blank).

    Raises:
        InvalidIdentifier: for the first value that doesn't parse.
    """
    pairs = given.items() if isinstance(given, Mapping) else given
    out: list[Identifier] = []
    for kind, value in pairs:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        ident = identifier(kind, value, region)
        if ident not in out:
            out.append(ident)
    return out
