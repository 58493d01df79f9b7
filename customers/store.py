"""Customer profiles in Redis: identity, timeline, case, merge and undo, export, erase, retention.

Every change is one Lua script from ``customers/lua`` (loaded once, called by SHA, with the package's
``_lib.lua`` prepended). Reads are plain commands. Scripts that depend on what the store read first (which
profile an identifier points at) re-check it and answer ``retry`` when it changed; the store then reads
again. The client must decode responses (``router.store.connect`` gives one that does).

Logs carry customer and contact ids only, never identifiers or message text.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from customers.config import CustomersConfig
from customers.identity import Identifier, InvalidIdentifier, identifiers
from customers.keys import CustomerKeys
from customers.timeline import Case, Entry, EntryKind
from router.errors import OmnirouteError

log = logging.getLogger(__name__)

SCRIPTS = ("identify", "link", "append", "merge", "unmerge", "erase", "purge_timeline")
MAX_HOPS = 32  # merged_into chains longer than this are a bug
RETRIES = 10
SCAN_BATCH = 1000


class CustomerError(OmnirouteError):
    """A customer operation refused: ``code`` says why (not_found, merged, taken, same, undone, ...)."""

    def __init__(self, operation: str, code: str, detail: str = "") -> None:
        super().__init__(f"{operation}: {code}" + (f" ({detail})" if detail else ""))
        self.operation = operation
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    id: str
    created_at: float
    updated_at: float
    identifiers: tuple[Identifier, ...]  # its own, and those of profiles merged into it
    merged_into: str = ""  # set while it is merged into another profile
    merged: tuple[str, ...] = ()  # profiles merged into it

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "identifiers": [str(i) for i in self.identifiers],
            "merged_into": self.merged_into,
            "merged": list(self.merged),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """What :meth:`CustomerStore.start_contact` did with the customer's case."""

    case: Case
    continued: bool  # the contact continues a case opened earlier


def _script(name: str) -> str:
    folder = resources.files("customers") / "lua"
    return (folder / "_lib.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


class CustomerStore:
    """The customers of one tenant.

    Args:
        client: a ``redis.asyncio`` client with ``decode_responses=True``.
        tenant: the tenant name (keys ``or:{tenant}:cust:...``).
        clock: returns "now" in seconds since the epoch.
        config: the ``customers`` settings.
    """

    def __init__(
        self, client: Any, tenant: str, clock: Callable[[], float], config: CustomersConfig | None = None
    ) -> None:
        self.client = client
        self.tenant = tenant
        self.clock = clock
        self.config = config or CustomersConfig()
        self.keys = CustomerKeys(tenant)
        self._source = {name: _script(name) for name in SCRIPTS}
        self._sha: dict[str, str] = {}

    async def _eval(self, name: str, keys: list[str], args: list[Any]) -> Any:
        sha = self._sha.get(name)
        if sha is None:  # load all, then publish at once: concurrent callers never see half the scripts
            self._sha = {n: await self.client.script_load(text) for n, text in self._source.items()}
            sha = self._sha[name]
        try:
            return await self.client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            self._sha = {}
            return await self._eval(name, keys, args)

    # -- identity ---------------------------------------------------------------------------------------

    def parse(self, given: Any, *, strict: bool = True) -> list[Identifier]:
        """Canonical identifiers from raw channel data (``{"phone": "...", "email": ""}``) or parsed ones.

        With ``strict=False`` values that don't parse are left out (logged by kind only) instead of raising.
        """
        items = list(given.items()) if isinstance(given, Mapping) else list(given)
        if all(isinstance(i, Identifier) for i in items):
            return list(dict.fromkeys(items))
        if strict:
            return identifiers(items, self.config.default_region)
        out: list[Identifier] = []
        for kind, value in items:
            try:
                out += [i for i in identifiers([(kind, value)], self.config.default_region) if i not in out]
            except InvalidIdentifier as e:
                log.info("identifier of kind %s left out: %s", e.kind, e.reason)
        return out

    async def identify(
        self, given: Any, *, contact_id: str = "", now: float | None = None, strict: bool = True
    ) -> str:
        """The customer these identifiers belong to; a new profile when none is known. Atomic.

        Identifiers not yet known are linked to the customer found. When they point at different
        customers, the first known one (in the order given) wins; the others are left alone (merging is
        a person's decision). With no identifier at all, an anonymous profile is made.

        Raises:
            InvalidIdentifier: a value doesn't parse (with ``strict=False`` it is left out instead).
        """
        idents = [str(i) for i in self.parse(given, strict=strict)]
        now = self.clock() if now is None else now
        for _ in range(RETRIES):
            owners = await self.client.hmget(self.keys.index, idents) if idents else []
            found = next((o for o in owners if o), None)
            cid, mode = (found, "existing") if found else (new_id("c"), "new")
            keys = [self.keys.index, self.keys.all, self.keys.profile(cid), self.keys.ids(cid),
                    self.keys.contacts(cid), self.keys.contact(contact_id) if contact_id else self.keys.index]
            args = [cid, mode, repr(now), contact_id, int(self.config.retention), *idents]
            reply = await self._eval("identify", keys, args)
            if reply[0] == "ok":
                log.info("customer %s %s for contact %s", cid, "created" if mode == "new" else "found", contact_id)
                return cid
        raise CustomerError("identify", "contention", "the index kept changing")

    async def resolve(self, cid: str) -> str:
        """The live profile ``cid`` stands for now (following merges); raises when there is none."""
        for _ in range(MAX_HOPS):
            into = await self.client.hget(self.keys.profile(cid), "merged_into")
            if into is None and not await self.client.exists(self.keys.profile(cid)):
                raise CustomerError("resolve", "not_found", cid)
            if not into:
                return cid
            cid = into
        raise CustomerError("resolve", "merge_loop", cid)

    async def customer_of(self, contact_id: str) -> str:
        """The customer a contact was identified as ('' when unknown)."""
        return await self.client.get(self.keys.contact(contact_id)) or ""

    async def link(self, cid: str, kind: str, value: str, *, by: str = "", now: float | None = None) -> bool:
        """Link an identifier to a customer; False when it already was.

        Raises:
            InvalidIdentifier: the value doesn't parse.
            CustomerError: ``taken`` (another customer has it: merge them instead), ``not_found``.
        """
        ident = self.parse([(kind, value)])[0]
        now = self.clock() if now is None else now
        cid = await self.resolve(cid)
        entry = Entry(kind=EntryKind.LINK, at=now, agent=by, data={"identifier": str(ident)})
        k = self.keys
        reply = await self._eval(
            "link",
            [k.index, k.profile(cid), k.ids(cid), k.timeline(cid), k.all],
            [cid, str(ident), repr(now), entry.dumps(), self.config.timeline_max],
        )
        if reply[0] != "ok":
            raise CustomerError("link", reply[1], reply[2])
        log.info("customer %s: identifier of kind %s linked", cid, ident.kind)
        return reply[1] == "linked"

    # -- merge ------------------------------------------------------------------------------------------

    async def merge(self, into: str, other: str, *, by: str = "", now: float | None = None) -> str:
        """Merge profile ``other`` into ``into``; returns the merge id (for :meth:`undo_merge`).

        Raises:
            CustomerError: same, not_found, merged (either one was merged away already).
        """
        now = self.clock() if now is None else now
        mid = new_id("m")
        k = self.keys
        data = {"merge": mid, "into": into, "other": other}
        e_into = Entry(kind=EntryKind.MERGE, at=now, agent=by, data=data).dumps()
        keys = [k.index, k.merge(mid), k.profile(into), k.profile(other), k.ids(into), k.ids(other), k.merged(into),
                k.timeline(into), k.timeline(other), k.merges(into), k.merges(other), k.all]
        reply = await self._eval("merge", keys, [mid, into, other, repr(now), by, e_into, e_into,
                                                 self.config.timeline_max])
        if reply[0] != "ok":
            raise CustomerError("merge", reply[1], reply[2])
        log.info("customer %s merged into %s (merge %s)", other, into, mid)
        return mid

    async def undo_merge(self, merge_id: str, *, by: str = "", now: float | None = None) -> None:
        """Undo a merge: both profiles and their identifiers are as before it.

        Raises:
            CustomerError: not_found, undone, into_merged (undo the later merge first), changed.
        """
        now = self.clock() if now is None else now
        k = self.keys
        rec = await self.client.hgetall(k.merge(merge_id))
        if not rec:
            raise CustomerError("unmerge", "not_found", merge_id)
        into, other = rec["into"], rec["other"]
        entry = Entry(kind=EntryKind.UNMERGE, at=now, agent=by,
                      data={"merge": merge_id, "into": into, "other": other}).dumps()
        keys = [k.index, k.merge(merge_id), k.profile(into), k.profile(other), k.ids(into), k.merged(into),
                k.timeline(into), k.timeline(other), k.all]
        reply = await self._eval("unmerge", keys, [merge_id, into, other, repr(now), entry, entry,
                                                   self.config.timeline_max])
        if reply[0] != "ok":
            raise CustomerError("unmerge", reply[1], reply[2])
        log.info("merge %s undone: customer %s split from %s", merge_id, other, into)

    # -- timeline and case ------------------------------------------------------------------------------

    async def append(
        self, cid: str, entry: Entry, *, queue: str = "", skills: str = "", source: str = ""
    ) -> Started | None:
        """Add an entry to the customer's timeline (to the profile it was merged into, if it was).

        A ``contact.started`` entry continues the customer's case when they are back within the
        continuity window, else opens a new case; it returns what happened to the case. ``source``
        (``"<stream id>-<n>"``) makes it idempotent: an entry not after the last one applied is skipped.

        Raises:
            CustomerError: not_found.
        """
        k = self.keys
        for _ in range(RETRIES):
            cid = await self.resolve(cid)
            keys = [k.profile(cid), k.timeline(cid), k.all, k.contacts(cid),
                    k.contact(entry.contact) if entry.contact else k.all, k.case(cid)]
            args = [cid, repr(entry.at), entry.dumps(), self.config.timeline_max, entry.contact, str(entry.kind),
                    repr(self.config.continuity_window), new_id("k"), entry.channel, queue, skills, entry.agent,
                    int(self.config.retention), source]
            reply = await self._eval("append", keys, args)
            if reply[0] == "dup":
                return None
            if reply[0] == "ok":
                log.debug("customer %s: %s entry for contact %s", cid, entry.kind, entry.contact)
                if entry.kind != EntryKind.CONTACT_STARTED:
                    return None
                return Started(case=Case.from_hash(json.loads(reply[1])), continued=reply[2] == "1")
            if reply[1] != "merged":
                raise CustomerError("append", reply[1], cid)
        raise CustomerError("append", "contention", cid)

    async def start_contact(
        self, cid: str, contact_id: str, channel: str, queue: str, *, skills: str = "", now: float | None = None
    ) -> Started:
        """A contact of the customer was enqueued: timeline entry, and the case continued or opened."""
        now = self.clock() if now is None else now
        entry = Entry(kind=EntryKind.CONTACT_STARTED, at=now, channel=channel, contact=contact_id,
                      data={"queue": queue, "skills": skills})
        started = await self.append(cid, entry, queue=queue, skills=skills)
        assert started is not None
        log.info("customer %s: contact %s on %s (case %s%s)", cid, contact_id, channel, started.case.id,
                 ", continued" if started.continued else "")
        return started

    async def record_survey(
        self, contact_id: str, score: int, *, question: str = "csat", channel: str = "", agent: str = "",
        now: float | None = None,
    ) -> str:
        """A customer's 1-5 answer for a contact; returns the customer id ('' when the contact is unknown).

        Raises:
            ValueError: the score is not an integer from 1 to 5.
        """
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError(f"a survey score is an integer from 1 to 5, got {score!r}")
        cid = await self.customer_of(contact_id)
        if not cid:
            log.info("survey for contact %s without a known customer: not recorded", contact_id)
            return ""
        now = self.clock() if now is None else now
        entry = Entry(kind=EntryKind.SURVEY, at=now, channel=channel, agent=agent, contact=contact_id,
                      data={"score": score, "question": question})
        await self.append(cid, entry)
        return await self.resolve(cid)

    async def family(self, cid: str) -> list[str]:
        """``cid`` and every profile merged into it, recursively."""
        out, todo = [], [cid]
        while todo and len(out) < 10_000:
            c = todo.pop()
            if c in out:
                continue
            out.append(c)
            todo += sorted(await self.client.smembers(self.keys.merged(c)))
        return out

    async def timeline(self, cid: str, limit: int | None = None) -> list[Entry]:
        """The customer's entries, oldest first, with those of merged-in profiles; the last ``limit``."""
        cid = await self.resolve(cid)
        entries: list[Entry] = []
        for c in await self.family(cid):
            count = -limit if limit else 0
            raw = await self.client.lrange(self.keys.timeline(c), count, -1)
            entries += [Entry.loads(t, c) for t in raw]
        entries.sort(key=lambda e: e.at)
        return entries[-limit:] if limit else entries

    async def case(self, cid: str) -> Case | None:
        """The customer's latest case (across merged-in profiles)."""
        cid = await self.resolve(cid)
        cases = [Case.from_hash(await self.client.hgetall(self.keys.case(c))) for c in await self.family(cid)]
        live = [c for c in cases if c is not None]
        return max(live, key=lambda c: c.updated_at) if live else None

    async def profile(self, cid: str) -> Profile:
        """The profile as stored (not resolved: a merged-away profile says where it went)."""
        h = await self.client.hgetall(self.keys.profile(cid))
        if not h:
            raise CustomerError("profile", "not_found", cid)
        idents = sorted(Identifier.parse_stored(t) for t in await self.client.smembers(self.keys.ids(cid)))
        return Profile(
            id=cid,
            created_at=float(h.get("created_at") or 0),
            updated_at=float(h.get("updated_at") or 0),
            identifiers=tuple(idents),
            merged_into=h.get("merged_into", ""),
            merged=tuple(sorted(await self.client.smembers(self.keys.merged(cid)))),
        )

    async def for_offer(self, cid: str) -> dict[str, Any]:
        """What an offer carries: the profile, the open case and the last ``timeline_length`` entries.

        One round trip after resolving the profile and its family.
        """
        cid = await self.resolve(cid)
        family = await self.family(cid)
        k, limit = self.keys, self.config.timeline_length
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(k.profile(cid))
        pipe.smembers(k.ids(cid))
        pipe.smembers(k.merged(cid))
        for c in family:
            pipe.hgetall(k.case(c))
            pipe.lrange(k.timeline(c), -max(limit, 1), -1)
        h, ids, merged, *rest = await pipe.execute()
        cases = [Case.from_hash(x) for x in rest[0::2]]
        live = [x for x in cases if x is not None]
        case = max(live, key=lambda x: x.updated_at) if live else None
        entries = sorted((Entry.loads(t, c) for c, raw in zip(family, rest[1::2], strict=True) for t in raw),
                         key=lambda e: e.at)
        profile = Profile(
            id=cid,
            created_at=float(h.get("created_at") or 0),
            updated_at=float(h.get("updated_at") or 0),
            identifiers=tuple(sorted(Identifier.parse_stored(t) for t in ids)),
            merged_into=h.get("merged_into", ""),
            merged=tuple(sorted(merged)),
        )
        return {
            "profile": profile.to_json(),
            "case": case.to_json() if case else None,
            "timeline": [e.to_json() for e in (entries[-limit:] if limit else [])],
        }

    # -- privacy (customers/privacy.py) ---------------------------------------------------------------

    async def export(self, cid: str) -> dict[str, Any]:
        """Everything held about the customer (and profiles merged into it), as JSON-able data."""
        from customers import privacy

        return await privacy.export(self, cid)

    async def erase(self, cid: str) -> dict[str, int]:
        """Remove everything held about the customer; see :func:`customers.privacy.erase`."""
        from customers import privacy

        return await privacy.erase(self, cid)

    async def purge(self, now: float | None = None) -> dict[str, int]:
        """Retention; see :func:`customers.privacy.purge`. Run it daily (``omniroute customer purge``)."""
        from customers import privacy

        return await privacy.purge(self, self.clock() if now is None else now)

    # -- reading for reports ----------------------------------------------------------------------------

    async def entries_between(self, start: float, end: float, kinds: Iterable[EntryKind] = ()) -> list[Entry]:
        """Timeline entries of every customer with ``start <= at < end`` (optionally of some kinds)."""
        wanted = {str(x) for x in kinds}
        out: list[Entry] = []
        async for cid, _ in self.client.zscan_iter(self.keys.all):
            for text in await self.client.lrange(self.keys.timeline(cid), 0, -1):
                e = Entry.loads(text, cid)
                if start <= e.at < end and (not wanted or e.kind in wanted):
                    out.append(e)
        out.sort(key=lambda e: e.at)
        return out
