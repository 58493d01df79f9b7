"""The gateway's state in Redis: chat transcripts and stream, agent sessions, connector conversations.

Every change is one Lua script in ``router/gateway/lua`` (run through the router's :class:`RedisStore`,
so keys share the tenant's hash tag and scripts are loaded once). Keys, all under ``or:{tenant}:``:

- ``transcript:<contact>``: list of the contact's messages (JSON), kept ``retention`` seconds.
- ``chat``: stream of every message (contact, message JSON, the agent holding the contact, connector and
  address), read by every gateway process to deliver messages to the sockets it holds; also carries
  control entries (``control=replaced``) when an agent's session moves to another connection.
- ``session:<agent>``: hash (gw, connected, since, disconnected_at, resume, resume_reason); ``sessions``
  is the set of agents that have one. ``gw:<process id>``: the process's heartbeat, with a TTL.
- ``conv:<channel>:<hash of sender>``: a connector sender's open conversation (contact id).
- ``chat_session:<contact>``: SHA-256 of the web-chat customer's session token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from router.store import RedisStore

SCRIPTS = ("chat_message", "session_open", "session_close", "session_expire", "conversation_claim", "sessions_read")
CHAT_MAXLEN = 100_000
RETENTION = 30 * 86400  # transcripts and chat sessions; issue 7's retention settings replace this


class Refused(Exception):
    """A script said no; ``code`` is its reason (not_found, forbidden, illegal_state)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Posted:
    """A message as stored, and where it goes."""

    message: dict[str, Any]
    holder: str  # the agent holding the contact ('' when queued)
    connector: str
    address: str
    customer: str  # the contact's customer ('' when unknown)
    channel: str


@dataclass(frozen=True, slots=True)
class Session:
    agent: str
    gw: str
    connected: bool
    since: str
    disconnected_at: str
    resume: str
    resume_reason: str

    @classmethod
    def from_hash(cls, agent: str, h: dict[str, str]) -> Session | None:
        if not h:
            return None
        return cls(
            agent=agent,
            gw=h.get("gw", ""),
            connected=h.get("connected") == "1",
            since=h.get("since", ""),
            disconnected_at=h.get("disconnected_at", ""),
            resume=h.get("resume", ""),
            resume_reason=h.get("resume_reason", ""),
        )


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class GatewayState:
    """The gateway's scripts and keys for one tenant, on the router's store."""

    def __init__(self, store: RedisStore, *, retention: float = RETENTION) -> None:
        self.store = store
        store.add_scripts("router.gateway", SCRIPTS)
        self.client = store.client
        self.prefix = store.keys.prefix
        self.chat = self.prefix + "chat"
        self.sessions = self.prefix + "sessions"
        self.retention = int(retention)

    def transcript_key(self, contact_id: str) -> str:
        return f"{self.prefix}transcript:{contact_id}"

    def session_key(self, agent_id: str) -> str:
        return f"{self.prefix}session:{agent_id}"

    def heartbeat_key(self, gw: str) -> str:
        return f"{self.prefix}gw:{gw}"

    def conversation_key(self, channel: str, sender: str) -> str:
        digest = hashlib.sha256(f"{channel}\0{sender}".encode()).hexdigest()[:32]  # no address in key names
        return f"{self.prefix}conv:{channel}:{digest}"

    def chat_session_key(self, contact_id: str) -> str:
        return f"{self.prefix}chat_session:{contact_id}"

    # -- messages -------------------------------------------------------------------------------------

    async def post(self, contact_id: str, kind: str, agent_id: str, text: str, now: float) -> Posted:
        """Append a message to a contact's conversation; raises :class:`Refused`."""
        keys = [self.store.keys.contact(contact_id), self.transcript_key(contact_id), self.chat]
        args = [contact_id, kind, agent_id, text, repr(now), CHAT_MAXLEN, self.retention]
        reply = await self.store.eval("chat_message", keys, args)
        if reply[0] != "ok":
            raise Refused(reply[1])
        return Posted(json.loads(reply[1]), *reply[2:7])

    async def transcript(self, contact_id: str, last: int = 200) -> list[dict[str, Any]]:
        return [json.loads(m) for m in await self.client.execute_command(*self.transcript_read(contact_id, last))]

    def transcript_read(self, contact_id: str, last: int = 200) -> tuple[Any, ...]:
        """The command that reads a transcript's last messages (JSON texts), to pipeline with others."""
        return ("LRANGE", self.transcript_key(contact_id), -last, -1)

    async def control(self, kind: str, **fields: str) -> None:
        await self.client.xadd(self.chat, {"control": kind, **fields}, maxlen=CHAT_MAXLEN, approximate=True)

    # -- agent sessions ----------------------------------------------------------------------------------

    async def open_session(self, agent_id: str, gw: str, now: float) -> Session | None:
        """Mark the agent connected here; returns the session it had before (None: none)."""
        keys = [self.session_key(agent_id), self.sessions]
        return Session.from_hash(agent_id, _pairs(await self.store.eval("session_open", keys, [gw, repr(now)])))

    async def session(self, agent_id: str) -> Session | None:
        return Session.from_hash(agent_id, await self.client.hgetall(self.session_key(agent_id)))

    async def close_session(self, agent_id: str, gw: str, since: str, now: float, resume: str, reason: str) -> bool:
        keys = [self.session_key(agent_id)]
        return bool(await self.store.eval("session_close", keys, [gw, since, repr(now), resume, reason]))

    async def expire_session(self, agent_id: str, disconnected_at: str) -> bool:
        keys = [self.session_key(agent_id), self.sessions]
        return bool(await self.store.eval("session_expire", keys, [agent_id, disconnected_at]))

    async def all_sessions(self, chunk: int = 500, *, here: str = "", held: Container[str] = ()) -> list[Session]:
        """Every session, read ``chunk`` at a time (one round trip each, so the event loop serves others between).

        With ``here`` (a process id), the sessions connected to that process whose agent is in ``held``
        (its own connections) are left out: the script answers those with one string instead of the
        whole hash, so the scan of 10,000 sessions makes few Python objects.
        """
        agents = sorted(await self.client.smembers(self.sessions))
        out: list[Session] = []
        for i in range(0, len(agents), chunk):
            part = agents[i : i + chunk]
            rows = await self.store.eval("sessions_read", [self.session_key(a) for a in part], [here])
            for agent_id, row in zip(part, rows, strict=True):
                if not isinstance(row, list):  # connected to ``here``
                    if agent_id in held:
                        continue
                    row = await self.client.hgetall(self.session_key(agent_id))
                    session = Session.from_hash(agent_id, row)
                else:
                    session = Session.from_hash(agent_id, _pairs(row))
                if session is not None:
                    out.append(session)
        return out

    async def beat(self, gw: str, ttl: float) -> None:
        await self.client.set(self.heartbeat_key(gw), "1", px=int(ttl * 1000))

    async def alive(self, gws: list[str]) -> dict[str, bool]:
        pipe = self.client.pipeline(transaction=False)
        for gw in gws:
            pipe.exists(self.heartbeat_key(gw))
        rows = await pipe.execute() if gws else []
        return {gw: bool(n) for gw, n in zip(gws, rows, strict=True)}

    # -- connector conversations -------------------------------------------------------------------------

    async def conversation(self, channel: str, sender: str) -> str:
        return await self.client.get(self.conversation_key(channel, sender)) or ""

    async def claim_conversation(self, channel: str, sender: str, seen: str, new_id: str) -> tuple[bool, str]:
        """(True, new_id) when claimed, (False, id) when another process's contact holds it now."""
        keys = [self.conversation_key(channel, sender)]
        status, contact_id = await self.store.eval("conversation_claim", keys, [seen, new_id, self.retention])
        return status == "new", contact_id

    # -- web-chat customers ------------------------------------------------------------------------------

    async def new_chat_session(self, contact_id: str, token: str) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        await self.client.set(self.chat_session_key(contact_id), digest, ex=self.retention)

    async def chat_session_ok(self, contact_id: str, token: str) -> bool:
        import hmac

        stored = await self.client.get(self.chat_session_key(contact_id))
        digest = hashlib.sha256(token.encode()).hexdigest()
        return stored is not None and hmac.compare_digest(stored, digest)
