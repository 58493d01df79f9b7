"""Key names of the customers package, all under ``or:{tenant}:cust:`` (the tenant's hash tag).

- ``cust:index``: hash ``kind:value`` -> customer id (every identifier of the tenant).
- ``cust:all``: zset customer id -> last activity (for retention and reports).
- ``cust:<id>``: the profile hash (id, created_at, updated_at, merged_into, merged_at).
- ``cust:<id>:ids`` set of identifiers; ``:timeline`` list of entries (JSON); ``:case`` hash;
  ``:contacts`` set of contact ids; ``:merged`` set of profiles merged into it; ``:merges`` set of merge ids.
- ``cust:merge:<merge id>``: the merge record (into, other, at, by, moved identifiers, undone_at).
- ``cust:contact:<contact id>``: the customer of a contact (expires with retention).

Erasing a customer also removes what other packages keep under the customer's or its contacts' names;
those names are listed in :meth:`CustomerKeys.foreign`.
"""

from __future__ import annotations

import hashlib


class CustomerKeys:
    def __init__(self, tenant: str) -> None:
        self.root = f"or:{{{tenant}}}:"
        self.prefix = self.root + "cust:"
        self.index = self.prefix + "index"
        self.all = self.prefix + "all"
        self.events = self.root + "events"  # router's lifecycle stream
        self.chat = self.root + "chat"  # gateway's message stream
        self.router_contacts = self.root + "contacts"  # router's set of unfinished contacts

    def profile(self, cid: str) -> str:
        return self.prefix + cid

    def ids(self, cid: str) -> str:
        return f"{self.prefix}{cid}:ids"

    def timeline(self, cid: str) -> str:
        return f"{self.prefix}{cid}:timeline"

    def case(self, cid: str) -> str:
        return f"{self.prefix}{cid}:case"

    def contacts(self, cid: str) -> str:
        return f"{self.prefix}{cid}:contacts"

    def merged(self, cid: str) -> str:
        return f"{self.prefix}{cid}:merged"

    def merges(self, cid: str) -> str:
        return f"{self.prefix}{cid}:merges"

    def merge(self, merge_id: str) -> str:
        return f"{self.prefix}merge:{merge_id}"

    def contact(self, contact_id: str) -> str:
        return f"{self.prefix}contact:{contact_id}"

    def own(self, cid: str) -> list[str]:
        """Every key of one profile."""
        return [self.profile(cid), self.ids(cid), self.timeline(cid), self.case(cid), self.contacts(cid),
                self.merged(cid), self.merges(cid)]

    def foreign(self, cid: str, contact_ids: list[str]) -> list[str]:
        """Keys of the router and the gateway named after the customer or its contacts."""
        out = [f"{self.root}customer:{cid}:last"]  # router: last-agent preference
        for c in contact_ids:
            out += [
                f"{self.root}contact:{c}",  # router: the contact hash (customer, attributes)
                f"{self.root}transcript:{c}",  # gateway: chat transcript
                f"{self.root}chat_session:{c}",  # gateway: web-chat session token digest
                self.contact(c),
            ]
        return out

    def conversation(self, channel: str, sender: str) -> str:
        """The gateway's open-conversation key of a connector sender (as ``GatewayState.conversation_key``)."""
        digest = hashlib.sha256(f"{channel}\0{sender}".encode()).hexdigest()[:32]
        return f"{self.root}conv:{channel}:{digest}"
