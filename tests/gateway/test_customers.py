"""Customer profiles over the protocol: link and merge from the desktop and the wallboard, surveys, today's KPIs."""

from __future__ import annotations

import asyncio

from tests.gateway.stack import Peer, Stack, agent, customer, gateway_config

EXTRA = "customers: {default_region: BR}\n"


async def _supervisor(url: str) -> Peer:
    p = await Peer.open(url, "/v1/supervisor")
    assert (await p.call("login", supervisor="boss", token="tok-boss"))["type"] == "ack"
    return p


async def test_agent_links_and_merges_profiles_of_its_contacts_and_undoes(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, extra=EXTRA), redis_url) as s:
        ana = await agent(s.url, "a1")
        _, by_email = await customer(s.url, "hello", email="maria@example.com")
        offer = await ana.expect("offer")
        mine = offer["contact"]["customer"]["id"]
        _, by_phone = await customer(s.url, "hi again", phone="+55 11 98888 7777")
        other_offer = await ana.expect("offer")
        theirs = other_offer["contact"]["customer"]["id"]
        assert mine != theirs

        bruno = await agent(s.url, "a2")
        refused = await bruno.call("merge", into=mine, other=theirs)
        assert refused["code"] == "forbidden"  # Bruno holds no contact of either
        bad = await ana.call("link", customer=mine, kind="phone", value="not a number")
        assert bad["code"] == "bad_field" and "not a number" not in bad["message"]
        taken = await ana.call("link", customer=mine, kind="phone", value="+5511988887777")
        assert taken["code"] == "illegal_state"  # the other profile has it: a merge is the way

        merged = await ana.call("merge", into=mine, other=theirs)
        assert merged["type"] == "ack", merged
        profile = (await s.gateway.profiles.profile(mine)).to_json()
        assert {"email:maria@example.com", "phone:+5511988887777"} <= set(map(str, profile["identifiers"]))
        linked = await ana.call("link", customer=mine, kind="crm", value="CRM-42")
        assert linked["type"] == "ack" and linked["linked"] is True

        boss = await _supervisor(s.url)
        undone = await boss.call("unmerge", merge=merged["merge"])
        assert undone["type"] == "ack"
        assert await s.gateway.profiles.resolve(theirs) == theirs
        kinds = [e.kind for e in await s.gateway.profiles.timeline(mine)]
        assert "merge" in kinds and "unmerge" in kinds
        assert (await boss.call("unmerge", merge=merged["merge"]))["code"] == "illegal_state"
        assert by_email["contact"] != by_phone["contact"]


async def test_surveys_reach_the_timeline_and_todays_csat(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, extra=EXTRA), redis_url) as s:
        s.gateway.tick = 0.1
        ana = await agent(s.url, "a1")
        maria, started = await customer(s.url, "hello", phone="+5511977776666")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        await ana.call("complete", contact=started["contact"], disposition="resolved")
        await maria.expect("ended")
        assert (await maria.call("survey", score=7))["code"] == "bad_field"
        assert (await maria.call("survey", score=5))["type"] == "ack"

        bridge = await Peer.open(s.url, "/v1/connector")
        await bridge.call("login", connector="wa", token="tok-wa")
        wa = await bridge.call("inbound", channel="whatsapp", **{"from": "+5511966665555"}, text="oi")
        assert (await bridge.call("survey", contact=started["contact"], score=1))["code"] == "forbidden"
        assert (await bridge.call("survey", contact=wa["contact"], score=2))["type"] == "ack"

        customer_id = offer["contact"]["customer"]["id"]
        scores = [e.data["score"] for e in await s.gateway.profiles.timeline(customer_id) if e.kind == "survey"]
        assert scores == [5]
        from router.gateway import today

        kpis = await today.todays_kpis(s.gateway, s.gateway.clock())
        assert kpis["surveys"] == 2 and kpis["csat"] == 0.5 and kpis["csat_mean"] == 3.5
        assert kpis["handled"] == 1 and kpis["fcr"] == 1.0
        boss = await _supervisor(s.url)
        s.gateway.today = kpis  # what the ticker recomputes every 30 s
        stats = await boss.expect("stats", timeout=5, today=kpis)
        assert stats["today"]["fcr"] == 1.0


async def test_a_connector_passes_a_crm_id_and_the_gateway_runs_the_daily_retention_purge(
    redis_url: str, tenant: str
) -> None:
    import time

    from customers.store import CustomerError, CustomerStore
    from router.store import connect

    config = gateway_config(tenant, extra="customers: {default_region: BR, retention_days: 30}\n")
    client = await connect(redis_url, tenant=tenant)
    old = CustomerStore(client, tenant, time.time)  # a customer last seen 400 days ago
    stale = await old.identify({"email": "old@example.com"}, now=time.time() - 400 * 86400)
    await client.aclose()
    async with Stack(config, redis_url) as s:
        bridge = await Peer.open(s.url, "/v1/connector")
        await bridge.call("login", connector="wa", token="tok-wa")
        got = await bridge.call("inbound", channel="whatsapp", **{"from": "+5511955554444"}, text="oi", crm="SF-981")
        customer = await s.gateway.profiles.customer_of(got["contact"])
        identifiers = (await s.gateway.profiles.profile(customer)).to_json()["identifiers"]
        assert {"phone:+5511955554444", "crm:SF-981"} <= set(identifiers)
        for _ in range(50):
            try:
                await s.gateway.profiles.profile(stale)
            except CustomerError:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the stale profile was not purged")
        assert await s.gateway.profiles.profile(customer)  # a recent one stays
