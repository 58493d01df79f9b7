"""Identifiers in canonical form, and clear errors that don't repeat the rejected value."""

from __future__ import annotations

import pytest

from customers.identity import Identifier, InvalidIdentifier, identifier, identifiers


def test_phone_kinds_share_e164() -> None:
    assert identifier("phone", "(202) 555-0143", "US") == Identifier("phone", "+12025550143")
    assert identifier("whatsapp", "+55 11 98765-4321", "US") == Identifier("phone", "+5511987654321")
    assert identifier("sms", "+1 202 555 0143") == Identifier("phone", "+12025550143")
    assert identifier("sip", "<sip:+12025550143@pbx.example.com;user=phone>") == Identifier("phone", "+12025550143")
    assert identifier("sip", "sip:2025550143@10.0.0.1", "US") == Identifier("phone", "+12025550143")


def test_email_crm_and_form_fields() -> None:
    assert identifier("email", "  Ana.Silva@Example.COM ") == Identifier("email", "ana.silva@example.com")
    assert identifier("crm", " SF-00123 ") == Identifier("crm", "SF-00123")
    assert identifier("form:order", " AB  12 ") == Identifier("form:order", "ab 12")
    assert str(Identifier("form:order", "ab 12")) == "form:order:ab 12"
    assert Identifier.parse_stored("form:order:ab 12") == Identifier("form:order", "ab 12")
    assert Identifier.parse_stored("phone:+12025550143") == Identifier("phone", "+12025550143")


def test_blank_values_are_skipped_and_duplicates_dropped() -> None:
    got = identifiers({"email": "", "phone": "202-555-0143", "whatsapp": "+12025550143"}, "US")
    assert got == [Identifier("phone", "+12025550143")]


@pytest.mark.parametrize(
    ("kind", "value", "region", "message"),
    [
        ("phone", "12345", "US", "phone: not a valid number"),
        ("phone", "2025550143", "", "no country code and no default region"),
        ("phone", "call me", "US", "phone: not a phone number"),
        ("email", "ana at example", "US", "email: not an email address"),
        ("sip", "sip:alice@example.com", "US", "sip: the caller ID's user part is not a number"),
        ("fax", "1", "US", "fax: unknown identifier kind"),
        ("email", "   ", "US", "email: empty value"),
    ],
)
def test_unparseable_values_are_clear_errors_without_the_value(
    kind: str, value: str, region: str, message: str
) -> None:
    with pytest.raises(InvalidIdentifier) as e:
        identifier(kind, value, region)
    assert message in str(e.value)
    if value.strip():
        assert value not in str(e.value)
