"""router/lua/no_answer.lua on its own: who may be sent back, and what it refuses."""

from __future__ import annotations

import pytest

from router.config import loads
from router.errors import StaleDecision
from router.lifecycle import AgentState
from router.policy import Offer
from router.store import RedisStore, connect

YAML = """tenant: {tenant}
channels: {{voice: {{capacity: 1, exclusive: true}}}}
skills: [sales]
queues:
  sales: {{channels: [voice], skills: {{sales: 1}}}}
agents:
  - {{id: a1, skills: {{sales: 5}}, channels: [voice], sip_uri: "sip:a1@127.0.0.1:5999"}}
"""


async def test_no_answer_requeues_only_a_contact_connected_to_that_agent(redis_url, tenant):
    config = loads(YAML.format(tenant=tenant))
    client = await connect(redis_url, tenant=tenant)
    store = RedisStore(client, config)
    try:
        await _scenario(store)
    finally:
        await client.aclose()


async def _scenario(store: RedisStore) -> None:
    now = 1000.0
    await store.enqueue("c1", "sales", "voice", now)
    with pytest.raises(StaleDecision, match="not_connected"):
        await store.no_answer("c1", "a1", now + 1)  # still queued
    with pytest.raises(StaleDecision, match="not_connected"):
        await store.no_answer("nope", "a1", now + 1)
    await store.set_agent_state("a1", AgentState.AVAILABLE, now)
    fields = await store.contact("c1")
    offer = Offer(
        contact_id="c1", agent_id="a1", queue="sales", channel="voice", lane=("sales", "voice", int(fields["priority"]),
        fields["skills"]), expires_at=now + 20,
    )  # fmt: skip
    (made,) = await store.offer_many([offer], now + 2)
    assert made.ok, made
    offer_id = (await store.contact("c1"))["offer_id"]
    await store.accept("c1", "a1", offer_id, now + 3)
    result = await store.no_answer("c1", "a1", now + 25)
    assert result.contact.state == "queued" and result.agent.state == "away"
    contact, agent = await store.contact("c1"), await store.agent("a1")
    assert contact["seq"] == fields["seq"] and contact["enqueued_at"] == fields["enqueued_at"]  # its place
    assert agent["reason"] == "no_answer" and agent["load:voice"] == "0"
    assert await store.queue_ids("sales") == ["c1"]
    with pytest.raises(StaleDecision, match="not_connected"):
        await store.no_answer("c1", "a1", now + 26)  # only once
