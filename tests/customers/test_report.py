"""KPIs over a generated week: contacts run through the real router store, surveys and messages through the
customer store, the report read back by ``omniroute report``; figures checked against hand computation."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime

import pytest

from customers.store import CustomerStore
from customers.timeline import message
from router.cli import main
from router.store import RedisStore, connect
from tests.customers import routing

DAY, HOUR = 86400.0, 3600.0
T0 = datetime(2026, 9, 21, tzinfo=UTC).timestamp()  # Monday; the report covers [T0, T0 + 7 days)

# (contact, customer, channel, queue, arrival, agent or None for abandoned, wait, talk, survey score)
WEEK = [
    ("k0", "B", "chat", "sales", T0 - DAY, "a1", 10, 60, None),  # before the week: makes k3 a repeat
    ("k1", "A", "chat", "support", T0 + HOUR, "a1", 10, 300, 2),
    ("k2", "A", "voice", "support", T0 + DAY + HOUR, "a2", 20, 200, 5),  # repeat of k1: k1 not resolved
    ("k3", "B", "chat", "sales", T0 + 2 * HOUR, "a1", 30, 100, 4),
    ("k4", "C", "whatsapp", "support", T0 + 2 * DAY, "a1", 5, 400, None),
    ("k6", "C", "voice", "support", T0 + 3 * DAY, "a2", 25, 250, None),  # repeat of k4
    ("k7", "D", "chat", "sales", T0 + 4 * DAY, None, 0, 0, None),  # abandoned
    ("k8", "D", "voice", "sales", T0 + 4 * DAY + HOUR, "a1", 15, 150, 5),  # repeat of k7
    ("k5", "A", "chat", "sales", T0 + 5 * DAY, "a2", 10, 300, 3),  # 4 days after k2: not a repeat
    ("k9", "E", "chat", "support", T0 + 6 * DAY, "a2", 10, 120, 1),
    ("k10", "E", "voice", "support", T0 + 7 * DAY + HOUR, "a1", 10, 60, None),  # after the week, repeat of k9
]
# Hand computation (fcr_days: 2):
#   contacts in the week: k1..k9 = 9; repeats: k3 (k0), k2 (k1), k6 (k4), k8 (k7) -> 4/9
#   handled: k1 k2 k3 k4 k5 k6 k8 k9 = 8; followed within 2 days: k1, k4, k9 (by k10) -> FCR 5/8
#   surveys: 2 5 4 3 5 1 -> CSAT (4-5) 3/6, mean 20/6
#   AHT: (300+200+100+400+250+150+300+120)/8 = 227.5; ASA: (10+20+30+5+25+15+10+10)/8 = 15.625
#   chat: contacts k1 k3 k7 k5 k9 = 5, repeats k3 -> 1/5, handled k1 k3 k5 k9, resolved k3 k5 -> 2/4,
#         CSAT 2 4 3 1 -> 1/4; response of k1: (40 + 30) / 2 = 35
#   voice: k2 k6 k8 all repeats -> 3/3, all resolved -> 3/3, CSAT 5 5 -> 2/2


async def generate_week(client, tenant: str, clock) -> None:
    config = routing.config(tenant)
    router = RedisStore(client, config)
    customers = CustomerStore(client, tenant, clock, config.customers)
    await routing.agents_available(router, T0 - 2 * DAY)
    ids = {}
    for contact, who, channel, queue, at, agent, wait, talk, score in WEEK:
        clock.now = at
        if who not in ids:
            ids[who] = await customers.identify({"crm": who}, contact_id=contact)
        else:
            assert await customers.identify({"crm": who}, contact_id=contact) == ids[who]
        if agent is None:
            await routing.arrive(router, contact, queue, channel, ids[who], at)
            await router.abandon(contact, at + 40)
            continue
        await routing.handle(router, contact, queue, channel, ids[who], agent, at, wait, talk)
        if score is not None:
            await customers.record_survey(contact, score, channel=channel, agent=agent, now=at + wait + talk + 5)
    # k1's messages: a reply after 40 s; then two customer messages answered 30 s after the first.
    k1 = T0 + HOUR + 10
    for dt, who in ((0, "customer"), (40, "agent"), (100, "customer"), (110, "customer"), (130, "agent")):
        await customers.append(ids["A"], message(k1 + dt, who, f"m{dt}", channel="chat", contact="k1"))


def test_a_week_of_contacts_gives_the_hand_computed_kpis(redis_url, tenant, clock, tmp_path, capsys) -> None:
    async def generate() -> None:
        client = await connect(redis_url, tenant=tenant)
        try:
            await generate_week(client, tenant, clock)
        finally:
            await client.aclose()

    asyncio.run(generate())  # the command runs its own event loop
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(routing.YAML.format(tenant=tenant))
    out = tmp_path / "kpis.csv"
    code = main(["report", "--config", str(config_file), "--redis", redis_url, "--from", "2026-09-21",
                 "--to", "2026-09-28", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    rows = {(r["channel"], r["queue"]): r for r in csv.DictReader(out.open())}
    total = rows[("*", "*")]
    assert int(total["contacts"]) == 9 and int(total["handled"]) == 8 and int(total["abandoned"]) == 1
    assert float(total["repeat_rate"]) == pytest.approx(4 / 9)
    assert float(total["fcr"]) == pytest.approx(5 / 8)
    assert float(total["csat"]) == pytest.approx(3 / 6) and float(total["csat_mean"]) == pytest.approx(20 / 6)
    assert int(total["surveys"]) == 6
    assert float(total["aht"]) == pytest.approx(227.5) and float(total["asa"]) == pytest.approx(15.625)
    chat, voice = rows[("chat", "*")], rows[("voice", "*")]
    assert int(chat["contacts"]) == 5 and float(chat["repeat_rate"]) == pytest.approx(1 / 5)
    assert float(chat["fcr"]) == pytest.approx(2 / 4) and float(chat["csat"]) == pytest.approx(1 / 4)
    assert float(chat["response"]) == pytest.approx(35)
    assert float(voice["repeat_rate"]) == 1 and float(voice["fcr"]) == 1 and float(voice["csat"]) == 1
    assert float(rows[("whatsapp", "support")]["fcr"]) == 0
    assert ("chat", "sales") in rows and ("chat", "support") in rows
    assert "62.5%" in printed and "44.4%" in printed  # the table shows FCR and repeat rate as percentages


def test_report_refuses_an_empty_period(tmp_path, capsys) -> None:
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(routing.YAML.format(tenant="x"))
    assert main(["report", "--config", str(config_file), "--from", "2026-09-28", "--to", "2026-09-21"]) == 2
    assert "--to must be after --from" in capsys.readouterr().err
