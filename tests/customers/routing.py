"""Contacts run through the real router store (its Lua scripts), for tests that need real events."""

from __future__ import annotations

from router.config import loads
from router.config.model import Config
from router.lifecycle import AgentState
from router.policy import Offer
from router.store import RedisStore

YAML = """tenant: {tenant}
channels: {{voice: {{capacity: 1, exclusive: true}}, chat: {{capacity: 3}}, whatsapp: {{capacity: 3}}}}
routing: {{last_agent: 30}}
skills: [sales]
queues:
  sales: {{channels: [voice, chat, whatsapp], skills: {{sales: 1}}, wrapup: 0}}
  support: {{channels: [voice, chat, whatsapp], skills: {{sales: 1}}, wrapup: 0}}
agents:
  - {{id: a1, skills: {{sales: 5}}, channels: [voice, chat, whatsapp]}}
  - {{id: a2, skills: {{sales: 5}}, channels: [voice, chat, whatsapp]}}
customers:
  default_region: US
  continuity_window: 3600
  fcr_days: 2
  continuity: {{voice: {{reuse_queue: true}}}}
"""


def config(tenant: str) -> Config:
    return loads(YAML.format(tenant=tenant))


async def agents_available(store: RedisStore, now: float) -> None:
    for agent in store.config.agents:
        await store.set_agent_state(agent, AgentState.AVAILABLE, now)


async def arrive(
    store: RedisStore, contact: str, queue: str, channel: str, customer: str, at: float, attrs: dict | None = None
) -> None:
    result = await store.enqueue(contact, queue, channel, at, customer=customer, attrs=attrs)
    assert result.ok, result


async def answer(store: RedisStore, contact: str, agent: str, at: float) -> None:
    fields = await store.contact(contact)
    lane = (fields["queue"], fields["channel"], int(fields["priority"]), fields["skills"])
    offer = Offer(contact_id=contact, agent_id=agent, queue=fields["queue"], channel=fields["channel"], lane=lane,
                  expires_at=at + 30)
    (made,) = await store.offer_many([offer], at)
    assert made.ok, made
    await store.accept(contact, agent, (await store.contact(contact))["offer_id"], at)


async def handle(
    store: RedisStore, contact: str, queue: str, channel: str, customer: str, agent: str,
    at: float, wait: float, talk: float, disposition: str = "", note: str = "", attrs: dict | None = None,
) -> None:
    """A contact arrives at ``at``, is answered after ``wait`` and completed ``talk`` seconds later."""
    await arrive(store, contact, queue, channel, customer, at, attrs)
    await answer(store, contact, agent, at + wait)
    await store.complete(contact, agent, at + wait + talk, disposition=disposition, note=note)
