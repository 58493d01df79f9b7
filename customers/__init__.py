"""One customer across channels: identity, timeline, continuity, surveys, KPIs, privacy (docs/customers.md)."""

from customers.config import ContinuityRule, CustomersConfig, settings
from customers.continuity import Continuity, continuity
from customers.identity import Identifier, InvalidIdentifier, identifier, identifiers
from customers.store import CustomerError, CustomerStore, Profile, Started
from customers.timeline import Case, Entry, EntryKind, message

__all__ = [
    "Case",
    "Continuity",
    "ContinuityRule",
    "CustomerError",
    "CustomerStore",
    "CustomersConfig",
    "Entry",
    "EntryKind",
    "Identifier",
    "InvalidIdentifier",
    "Profile",
    "Started",
    "continuity",
    "identifier",
    "identifiers",
    "message",
    "settings",
]
