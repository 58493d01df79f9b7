"""Routing behaviour against real Redis: the live router, its scripts and the policy, on a moved clock."""

from __future__ import annotations

from tests.router.harness import Harness, config_for, run

BASE = """
channels:
  voice: {capacity: 1, exclusive: true}
  chat: {capacity: 3}
skills: [sales, support, es]
"""


def agents(*specs: str) -> str:
    """YAML for agents given as 'id:skill=level,skill=level' (all on voice and chat)."""
    lines = ["agents:"]
    for spec in specs:
        agent_id, _, skills = spec.partition(":")
        levels = ", ".join(f"{s.split('=')[0]}: {s.split('=')[1]}" for s in skills.split(",") if s)
        lines.append(f"  - {{id: {agent_id}, name: {agent_id}, skills: {{{levels}}}, channels: [voice, chat]}}")
    return "\n".join(lines) + "\n"


def one_queue(strategy: str, extra: str = "") -> str:
    return (
        BASE
        + f"""
queues:
  sales:
    channels: [voice, chat]
    skills: {{sales: 1}}
    strategy: {strategy}
{extra}"""
    )


def test_longest_idle_offers_to_the_agent_idle_longest(redis_url, tenant):
    config = config_for(tenant, one_queue("longest-idle") + agents("a1:sales=5", "a2:sales=5", "a3:sales=5"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a2")
            await h.advance(1)
            await h.login("a3")
            await h.advance(1)
            await h.login("a1")
            await h.advance(1)
            await h.arrive("c1", "sales")
            assert await h.offered_to("c1") == "a2"
            await h.serve("c1")  # a2 is idle again from now
            await h.advance(1)
            await h.arrive("c2", "sales")
            assert await h.offered_to("c2") == "a3"
            await h.arrive("c3", "sales")
            assert await h.offered_to("c3") == "a1"

    run(body)


def test_most_skilled_offers_to_the_highest_proficiency(redis_url, tenant):
    config = config_for(tenant, one_queue("most-skilled") + agents("a1:sales=3", "a2:sales=9", "a3:sales=6"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1", "a2", "a3")
            await h.arrive("c1", "sales")
            await h.arrive("c2", "sales")
            await h.arrive("c3", "sales")
            assert [await h.offered_to(c) for c in ("c1", "c2", "c3")] == ["a2", "a3", "a1"]

    run(body)


def test_least_occupied_weighs_load_against_capacity(redis_url, tenant):
    yaml = (
        one_queue("least-occupied")
        + agents("a1:sales=5")
        + ("  - {id: a2, name: a2, skills: {sales: 5}, channels: [voice, chat], capacity: {chat: 5}}\n")
    )
    config = config_for(tenant, yaml)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")  # a1 idles longer, and holds 1 of 4 (25%)
            await h.advance(5)
            await h.login("a2")  # a2 will hold 1 of 6 (17%)
            await h.arrive("c1", "sales", "chat")
            await h.arrive("c2", "sales", "chat")
            assert {await h.offered_to("c1"), await h.offered_to("c2")} == {"a1", "a2"}
            await h.arrive("c3", "sales", "chat")
            assert await h.offered_to("c3") == "a2"

    run(body)


def test_round_robin_takes_agents_in_turn_whatever_their_idle_time(redis_url, tenant):
    config = config_for(tenant, one_queue("round-robin") + agents("a1:sales=5", "a2:sales=5", "a3:sales=5"))

    async def body():
        async with Harness(config, redis_url) as h:
            for agent in ("a3", "a2", "a1"):
                await h.login(agent)
                await h.advance(1)
            served = []
            for i in range(5):
                await h.arrive(f"c{i}", "sales")
                served.append(await h.serve(f"c{i}"))
                await h.advance(1)
            assert served == ["a1", "a2", "a3", "a1", "a2"]

    run(body)


def test_random_is_reproducible_with_its_seed(redis_url, tenant):
    async def assignments(suffix: str, seed: int) -> list[str]:
        config = config_for(
            tenant + suffix,
            f"routing: {{seed: {seed}}}\n"
            + one_queue("random")
            + agents("a1:sales=5", "a2:sales=5", "a3:sales=5", "a4:sales=5"),
        )
        async with Harness(config, redis_url) as h:
            await h.login("a1", "a2", "a3", "a4")
            out = []
            for i in range(24):
                await h.arrive(f"c{i}", "sales")
                out.append(await h.serve(f"c{i}"))
            await h.store.delete_tenant()
            return out

    async def body():
        first = await assignments("x", 7)
        again = await assignments("y", 7)
        other = await assignments("z", 8)
        assert first == again
        assert first != other
        assert set(first) == {"a1", "a2", "a3", "a4"}

    run(body)


PRIORITY = (
    BASE
    + """
routing:
  aging: {every: 10, step: 1, max_boost: 10}
queues:
  vip: {channels: [voice], skills: {sales: 1}, priority: 5}
  normal: {channels: [voice], skills: {sales: 1}, priority: 0}
"""
    + agents("a1:sales=5")
)


def test_higher_priority_goes_first_until_aging_lifts_the_older_contact(redis_url, tenant):
    config = config_for(tenant, PRIORITY)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("n1", "normal")  # will have waited 40 s: 0 + 4 = 4
            await h.advance(30)
            await h.arrive("v1", "vip")  # will have waited 10 s: 5 + 1 = 6
            await h.advance(10)
            await h.login("a1")
            assert await h.offered_to("v1") == "a1"
            await h.accept("v1")
            await h.arrive("v2", "vip")  # 5 against n1's 4 (40 s waited)
            await h.complete("v1")
            assert await h.offered_to("v2") == "a1"
            await h.accept("v2")
            await h.advance(30)  # n1 has waited 70 s: 7
            await h.arrive("v3", "vip")  # 5
            await h.complete("v2")
            assert await h.offered_to("n1") == "a1"

    run(body)


def test_equal_priority_is_first_come_first_served_across_queues(redis_url, tenant):
    config = config_for(tenant, PRIORITY.replace("priority: 5", "priority: 0"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("n1", "normal")
            await h.advance(1)
            await h.arrive("v1", "vip")
            await h.advance(1)
            await h.arrive("n2", "normal")
            await h.login("a1")
            order = []
            for _ in range(3):
                offered = await h.offers()
                assert len(offered) == 1
                (cid,) = offered
                order.append(cid)
                await h.serve(cid)
            assert order == ["n1", "v1", "n2"]

    run(body)


ESCALATION = (
    BASE
    + """
queues:
  support:
    channels: [voice]
    skills: {support: 7}
    escalation:
      - {after: 30, skills: {support: 4}}
      - {after: 60, skills: {support: 1}}
"""
)


def test_escalation_widens_the_requirement_and_the_contact_keeps_its_place(redis_url, tenant):
    config = config_for(tenant, ESCALATION + agents("mid:support=5", "low:support=2"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("mid", "low")
            await h.arrive("c1", "support")
            seq1 = (await h.contact("c1"))["seq"]
            await h.advance(10)
            await h.arrive("c2", "support")
            await h.advance(19)  # c1 has waited 29 s: still needs level 7
            assert await h.offers() == {}
            await h.advance(1)  # 30 s: level 4 will do, c2 (20 s) still needs 7
            assert await h.offers() == {"c1": "mid"}
            await h.reject("c1")  # back in line, in front of c2
            assert await h.queue_order("support") == ["c1", "c2"]
            assert (await h.contact("c1"))["seq"] == seq1
            assert (await h.contact("c1"))["enqueued_at"] == repr(h.now - 30)
            await h.advance(30)  # c1 at 60 s: anyone with the skill; c2 at 50 s: level 4
            assert await h.offers() == {"c1": "low", "c2": "mid"}

    run(body)


PROFILES = (
    BASE
    + """
queues:
  sales: {channels: [voice, chat], skills: {sales: 1}}
  support: {channels: [voice, chat], skills: {support: 1}}
profiles:
  blended:
    queues:
      - {queue: sales, priority: 1}
      - {queue: support, priority: 2, delay: 20}
  support_first:
    queues:
      - {queue: support, priority: 1}
    capacity: {chat: 5}
agents:
  - {id: b1, name: b1, skills: {sales: 5, support: 5}, channels: [voice, chat], profile: blended}
  - {id: s1, name: s1, skills: {support: 5}, channels: [voice, chat], profile: support_first}
  - {id: s2, name: s2, skills: {support: 5}, channels: [voice, chat], profile: support_first, capacity: {chat: 2}}
"""
)


def test_profile_queue_priority_beats_an_older_contact_of_a_later_queue(redis_url, tenant):
    config = config_for(tenant, PROFILES)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("sup", "support")
            await h.advance(30)  # past b1's delay for support
            await h.arrive("sal", "sales")
            await h.login("b1")
            assert await h.offers() == {"sal": "b1"}

    run(body)


def test_profile_delay_holds_a_contact_back_from_that_agent(redis_url, tenant):
    config = config_for(tenant, PROFILES)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("b1")
            await h.arrive("sup", "support")
            await h.advance(19)
            assert await h.offers() == {}
            await h.advance(1)
            assert await h.offers() == {"sup": "b1"}

    run(body)


def test_capacity_overrides_per_profile_and_per_agent(redis_url, tenant):
    config = config_for(tenant, PROFILES)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("s1", "s2")
            for i in range(10):
                await h.arrive(f"c{i}", "support", "chat")
            held: dict[str, int] = {}
            for agent in (await h.offers()).values():
                held[agent] = held.get(agent, 0) + 1
            assert held == {"s1": 5, "s2": 2}

    run(body)


def test_voice_blocks_other_channels_and_chat_fills_to_capacity(redis_url, tenant):
    config = config_for(tenant, one_queue("longest-idle") + agents("a1:sales=5"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")
            await h.arrive("chat1", "sales", "chat")
            await h.arrive("call1", "sales", "voice")
            assert await h.offers() == {"chat1": "a1"}  # a voice call needs an agent with no other work
            await h.arrive("chat2", "sales", "chat")
            await h.arrive("chat3", "sales", "chat")
            await h.arrive("chat4", "sales", "chat")
            assert set(await h.offers()) == {"chat1", "chat2", "chat3"}  # 3 chats at most
            await h.serve("chat1")
            assert await h.offered_to("chat4") == "a1"  # the call still needs an agent with no other work
            for cid in ("chat2", "chat3", "chat4"):
                await h.serve(cid)
            assert await h.offers() == {"call1": "a1"}
            await h.accept("call1")
            await h.arrive("chat5", "sales", "chat")
            assert await h.offers() == {}  # nothing beside a call

    run(body)


def test_last_agent_preference_waits_for_the_previous_agent_within_its_window(redis_url, tenant):
    config = config_for(
        tenant, "routing: {last_agent: 30}\n" + one_queue("longest-idle") + agents("a1:sales=5", "a2:sales=5")
    )

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")
            await h.advance(1)
            await h.login("a2")
            await h.advance(1)
            await h.arrive("first", "sales", customer="cust-9")
            assert await h.serve("first") == "a1"
            await h.arrive("busy", "sales")
            assert await h.offered_to("busy") == "a2"
            await h.accept("busy")
            await h.advance(100)  # a2 is on a call
            await h.arrive("again", "sales", customer="cust-9")
            assert await h.offered_to("again") == "a1"
            await h.accept("again")
            await h.complete("busy")  # a2 free, a1 on the customer's second contact
            await h.arrive("third", "sales", customer="cust-9")
            assert await h.offered_to("third") is None  # waits for a1, who served cust-9 last ...
            await h.advance(10)
            await h.complete("again")
            assert await h.offered_to("third") == "a1"  # ... who frees up within the window
            await h.accept("third")
            await h.arrive("fourth", "sales", customer="cust-9")
            assert await h.offered_to("fourth") is None
            await h.advance(30)  # the window has passed: anyone may take it
            assert await h.offered_to("fourth") == "a2"

    run(body)


TIMERS = one_queue(
    "longest-idle",
) + agents("a1:sales=5", "a2:sales=5")


def test_offer_expiry_requeues_in_place_and_the_agent_backs_off(redis_url, tenant):
    config = config_for(tenant, "routing: {offer_timeout: 10, no_answer_delay: 30, max_missed_offers: 5}\n" + TIMERS)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("c1", "sales")
            await h.advance(1)
            await h.arrive("c2", "sales")
            await h.login("a1")
            assert await h.offers() == {"c1": "a1"}
            await h.advance(9.9)
            assert await h.offers() == {"c1": "a1"}
            await h.advance(0.1)
            assert await h.offers() == {}  # expired; a1 backs off for 30 s
            assert await h.queue_order("sales") == ["c1", "c2"]
            await h.login("a2")
            assert await h.offers() == {"c1": "a2"}
            await h.accept("c1")
            await h.advance(30)
            assert await h.offers() == {"c2": "a1"}

    run(body)


def test_reject_requeues_in_place_and_backs_off_for_the_reject_delay(redis_url, tenant):
    config = config_for(tenant, "routing: {reject_delay: 5}\n" + TIMERS)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")
            await h.arrive("c1", "sales")
            await h.arrive("c2", "sales")
            await h.reject("c1")
            assert await h.queue_order("sales") == ["c1", "c2"]
            assert await h.offers() == {}
            await h.advance(4.9)
            assert await h.offers() == {}
            await h.advance(0.1)
            assert await h.offers() == {"c1": "a1"}

    run(body)


def test_an_agent_missing_offers_in_a_row_is_set_away(redis_url, tenant):
    config = config_for(tenant, "routing: {offer_timeout: 5, no_answer_delay: 0, max_missed_offers: 2}\n" + TIMERS)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")
            await h.arrive("c1", "sales")
            await h.advance(5)  # missed 1, offered again at once
            assert await h.offers() == {"c1": "a1"}
            await h.advance(5)  # missed 2
            agent = await h.agent("a1")
            assert (agent["state"], agent["reason"]) == ("away", "missed_offers")
            assert await h.offers() == {}
            await h.login("a1")
            assert await h.offers() == {"c1": "a1"}

    run(body)


def test_wrapup_holds_the_agent_until_it_ends(redis_url, tenant):
    config = config_for(tenant, one_queue("longest-idle", "    wrapup: 15\n") + agents("a1:sales=5"))

    async def body():
        async with Harness(config, redis_url) as h:
            await h.login("a1")
            await h.arrive("c1", "sales")
            await h.accept("c1")
            await h.complete("c1")
            assert (await h.contact("c1"))["state"] == "wrapup"
            await h.arrive("c2", "sales")
            await h.advance(14.9)
            assert await h.offers() == {}
            await h.advance(0.1)
            assert (await h.contact("c1"))["state"] == "done"
            assert await h.offers() == {"c2": "a1"}

    run(body)


def test_a_backlog_drains_as_soon_as_agents_log_in(redis_url, tenant):
    config = config_for(tenant, one_queue("longest-idle") + agents("a1:sales=5", "a2:sales=5"))

    async def body():
        async with Harness(config, redis_url) as h:
            for i in range(5):
                await h.arrive(f"c{i}", "sales")
            assert await h.offers() == {}
            await h.login("a1", "a2")
            assert set(await h.offers()) == {"c0", "c1"}
            await h.serve("c0")
            assert set(await h.offers()) == {"c1", "c2"}

    run(body)


def test_max_wait_overflows_to_another_queue_keeping_the_place(redis_url, tenant):
    yaml = (
        BASE
        + """
queues:
  sales: {channels: [voice], skills: {sales: 1}, max_wait: {seconds: 60, action: overflow, queue: general}}
  general: {channels: [voice], skills: {support: 1}}
  brief: {channels: [voice], skills: {sales: 1}, max_wait: {seconds: 10, action: end}}
"""
        + agents("s1:support=5")
    )
    config = config_for(tenant, yaml)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("g1", "general")  # arrives before the overflowing contact ...
            await h.advance(1)
            await h.arrive("c1", "sales")
            await h.arrive("b1", "brief")
            await h.advance(1)
            await h.arrive("g2", "general")  # ... and this one after it
            await h.advance(10)
            assert (await h.contact("b1"))["state"] == "overflowed"
            await h.advance(50)
            assert (await h.contact("c1"))["queue"] == "general"
            assert await h.queue_order("general") == ["g1", "c1", "g2"]

    run(body)


def test_abandon_and_transfer(redis_url, tenant):
    yaml = (
        BASE
        + """
queues:
  sales: {channels: [voice], skills: {sales: 1}}
  support: {channels: [voice], skills: {support: 1}}
"""
        + agents("a1:sales=5", "s1:support=5")
    )
    config = config_for(tenant, yaml)

    async def body():
        async with Harness(config, redis_url) as h:
            await h.arrive("gone", "sales")
            await h.advance(12)
            await h.store.abandon("gone", h.now)
            await h.settle()
            assert (await h.contact("gone"))["state"] == "abandoned"
            await h.login("a1")
            await h.arrive("c1", "sales")
            await h.accept("c1")
            await h.store.transfer("c1", "a1", "support", h.now)
            await h.settle()
            assert (await h.contact("c1"))["queue"] == "support"
            await h.login("s1")
            assert await h.offers() == {"c1": "s1"}
            stats = await h.store.stats(h.now)
            assert stats["sales|abandoned"] == "1"
            assert stats["sales|answered"] == "1"

    run(body)
