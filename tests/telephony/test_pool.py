"""The pool behind Kamailio: failover spreads calls, a dead worker's calls end cleanly, the ACL and flood limit."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from router.events import EventType
from router.lifecycle import AgentState
from tests.telephony import rawsip, sipp
from tests.telephony.harness import VoiceStack


async def _queued(stack: VoiceStack, queue: str, count: int, timeout: float = 20) -> list[str]:
    return await stack.wait_for(
        lambda: _at_least(stack.store.queue_ids(queue), count), timeout, f"{count} contacts in {queue}"
    )


async def _at_least(ids, count: int):
    found = await ids
    return found if len(found) >= count else None


async def test_an_agent_phone_that_does_not_answer_sends_the_call_back_in_its_place(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch, offer_timeout=3) as stack:
        phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=None), tmp_path, "phone", target=None, port=stack.ports.phones,
            media_port=stack.ports.media + 10,
        )  # fmt: skip
        first = sipp.start_sipp(
            sipp.caller("13", hold_ms=9000), tmp_path, "first", target=stack.target, media_port=stack.ports.media
        )
        await _queued(stack, "sales", 1)
        second = sipp.start_sipp(
            sipp.caller("13", hold_ms=6000), tmp_path, "second", target=stack.target, media_port=stack.ports.media + 20
        )
        try:
            ahead, behind = await _queued(stack, "sales", 2)
            await stack.router_client.set_agent_state("a1", AgentState.AVAILABLE)
            offer = await stack.wait_event(EventType.CONTACT_OFFERED, 10)
            assert offer.contact["id"] == ahead  # the longest waiting
            await stack.router_client.accept(ahead, "a1", offer.contact["offer_id"])
            requeued = await stack.wait_event(EventType.CONTACT_REQUEUED, 10, ahead)
            assert requeued.extra["reason"] == "no_answer"
            assert await stack.store.queue_ids("sales") == [ahead, behind]  # back in its place, not at the back
            agent = await stack.store.agent("a1")
            assert agent["state"] == "away" and agent["reason"] == "no_answer"
            assert await asyncio.to_thread(phone.wait, 10) == 0, phone.output()  # rang, then was cancelled
            assert await asyncio.to_thread(first.wait, 15) == 0, first.output()  # heard music on hold again
            assert await asyncio.to_thread(second.wait, 15) == 0, second.output()
        finally:
            for s in (phone, first, second):
                s.stop()
        abandoned = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, ahead)
        assert abandoned.extra["reason"] == "caller_hangup"


async def test_more_calls_than_one_worker_holds_are_spread_over_the_pool(tmp_path, redis_url, tenant, monkeypatch):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch, workers=3) as stack:
        callers = sipp.start_sipp(
            sipp.caller("2", hold_ms=4000), tmp_path, "callers", target=stack.target, media_port=stack.ports.media,
            calls=5, rate=10, extra=("-l", "5"),
        )  # fmt: skip
        try:
            ids = await _queued(stack, "general", 5)
            states = [await stack.worker_state(i) for i in range(3)]
            legs = [int(s["legs"]) for s in states]
            assert sum(legs) == 5 and max(legs) == 2, states  # 2 callers per worker: all three take calls
            holders = {json.loads((await stack.store.contact(c))["attrs"])["worker"] for c in ids}
            assert len(holders) == 3
            assert await asyncio.to_thread(callers.wait, 20) == 0, callers.output()  # no call failed (486 -> next)
        finally:
            callers.stop()
        await stack.wait_for(lambda: len(stack.of_type(EventType.CONTACT_ABANDONED)) == 5, 10, "5 abandons")


async def test_kill_9_of_a_worker_drops_only_its_calls_and_it_comes_back(tmp_path, redis_url, tenant, monkeypatch):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch, workers=2) as stack:
        # valid numbers (fictional range), so each caller ID is one customer (the call back below)
        one = sipp.start_sipp(
            sipp.caller("2", hold_ms=8000, caller_id="+12025550143"), tmp_path, "one", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        two = sipp.start_sipp(
            sipp.caller("2", hold_ms=8000, caller_id="+12025550144"), tmp_path, "two", target=stack.target,
            media_port=stack.ports.media + 20,
        )  # fmt: skip
        try:
            ids = await _queued(stack, "general", 2)
            workers = {c: json.loads((await stack.store.contact(c))["attrs"])["worker"] for c in ids}
            assert len(set(workers.values())) == 2, workers  # round-robin: one call on each worker
            victim_contact = ids[0]
            index = next(i for i in range(2) if stack.pool.worker_id(i) == workers[victim_contact])
            survivor = ids[1]
            old_pid = stack.pool.processes[index].pid
            os.kill(old_pid, signal.SIGKILL)
            lost = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, victim_contact)
            assert lost.extra["reason"] == "worker_lost"
            assert (await stack.store.contact(survivor))["state"] == "queued"  # the other worker's call goes on
            await stack.wait_for(lambda: _pid_is_new(stack, index, old_pid), 15, "the restarted worker's heartbeat")
            assert stack.pool.restarts[index] == 1
            assert (
                await stack.client.smembers(
                    f"{stack.store.keys.prefix}tel:worker:{stack.pool.worker_id(index)}:contacts"
                )
                == set()
            )
            survivor_id = json.loads((await stack.store.contact(survivor))["attrs"])["caller_id"]
            survivor_caller = two if survivor_id == "+12025550144" else one
            assert await asyncio.to_thread(survivor_caller.wait, 20) == 0, survivor_caller.output()
            ended = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, survivor)
            assert ended.extra["reason"] == "caller_hangup"
            # nothing stuck: no contact of this tenant is left waiting
            assert await stack.store.queue_ids("general") == []
            after = sipp.start_sipp(
                sipp.caller("2", hold_ms=1000), tmp_path, "after", target=stack.target,
                media_port=stack.ports.media + 40, calls=2, rate=5,
            )  # fmt: skip
            assert await asyncio.to_thread(after.wait, 20) == 0, after.output()  # the pool takes calls again
            # The caller cut off calls back within the rejoin window: the old place, not the back of the line.
            victim_id = json.loads((await stack.store.contact(victim_contact))["attrs"])["caller_id"]
            back = sipp.start_sipp(
                sipp.caller("2", hold_ms=3000, caller_id=victim_id), tmp_path, "back", target=stack.target,
                media_port=stack.ports.media + 60,
            )  # fmt: skip
            try:
                rejoined = await stack.wait_for(
                    lambda: [e for e in stack.of_type(EventType.CONTACT_ARRIVED) if e.extra.get("rejoined")],
                    10,
                    "the cut-off caller's call back",
                )
                assert rejoined[0].extra["rejoined"] == victim_contact
                old = await stack.store.contact(victim_contact)
                new = rejoined[0].contact
                assert (new["queue"], new["seq"], new["enqueued_at"]) == (old["queue"], old["seq"], old["enqueued_at"])
            finally:
                back.stop()
        finally:
            one.stop()
            two.stop()


async def _pid_is_new(stack: VoiceStack, index: int, old_pid: int) -> bool:
    state = await stack.worker_state(index)
    return bool(state) and state.get("pid") not in ("", str(old_pid))


async def test_a_source_outside_the_acl_and_an_invite_flood_are_refused_while_calls_go_on(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(
        tmp_path, redis_url, tenant, monkeypatch, allow="[127.0.0.1/32, 127.0.0.3/32]",
        flood="{requests: 10, per: 2}",
    ) as stack:  # fmt: skip
        call = sipp.start_sipp(
            sipp.caller("2", hold_ms=6000), tmp_path, "call", target=stack.target, media_port=stack.ports.media
        )
        try:
            (cid,) = await _queued(stack, "general", 1)
            target = ("127.0.0.1", stack.ports.sip)
            outside = await asyncio.to_thread(rawsip.send_invites, target, "127.0.0.2", 1, 1.0)
            assert outside == {403: 1}
            flood = await asyncio.to_thread(rawsip.send_invites, target, "127.0.0.3", 100, 2.0)
            assert flood.get(503, 0) >= 80, flood  # pike: at most ~10 per 2 s get through to a worker
            assert await asyncio.to_thread(call.wait, 20) == 0, call.output()  # the call in progress went on
        finally:
            call.stop()
        ended = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, cid)
        assert ended.extra["reason"] == "caller_hangup"


async def test_a_stuck_worker_is_killed_its_calls_ended_and_it_is_replaced(tmp_path, redis_url, tenant, monkeypatch):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch, workers=1) as stack:
        call = sipp.start_sipp(
            sipp.caller("2", hold_ms=20000), tmp_path, "call", target=stack.target, media_port=stack.ports.media
        )
        try:
            (cid,) = await _queued(stack, "general", 1)
            old_pid = stack.pool.processes[0].pid
            os.kill(old_pid, signal.SIGSTOP)  # alive, but silent: no heartbeat
            lost = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, cid)
            assert lost.extra["reason"] == "worker_lost"
            await stack.wait_for(lambda: _pid_is_new(stack, 0, old_pid), 15, "the replacement's heartbeat")
        finally:
            call.stop()
