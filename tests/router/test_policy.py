"""The pure policy on a hand-built RoutingState: no Redis, no clock."""

from __future__ import annotations

import math

from router.config.model import Agent, Channel, Config, Queue, RoutingDefaults, Strategy
from router.lifecycle import AgentState, ContactState
from router.policy import EndWrapup, ExpireOffer, RoutingPolicy
from router.state import AgentView, ContactView, RoutingState
from skills.model import SkillRequirement as R


def make_config(*agents: Agent, strategy: Strategy = Strategy.LONGEST_IDLE) -> Config:
    return Config(
        source="test",
        tenant="t",
        routing=RoutingDefaults(),
        channels={"voice": Channel(name="voice", capacity=1, exclusive=True), "chat": Channel(name="chat", capacity=3)},
        skills=("sales", "es"),
        queues={
            "sales": Queue(
                name="sales",
                channels=("voice", "chat"),
                requirements=(R(skill="sales", min_level=1),),
                strategy=strategy,
            )
        },
        profiles={},
        agents={a.id: a for a in agents},
    )


def agent(agent_id: str, **skills: int) -> Agent:
    return Agent(id=agent_id, name=agent_id, skills=skills or {"sales": 5}, channels=("voice", "chat"))


def contact(cid: str, seq: int, channel: str = "voice", **kw) -> ContactView:
    return ContactView(id=cid, queue="sales", channel=channel, priority=0, enqueued_at=float(seq), seq=seq, **kw)


def test_contacts_go_in_arrival_order_to_agents_in_idle_order():
    state = RoutingState(make_config(agent("a1"), agent("a2"), agent("a3")))
    for i, agent_id in enumerate(("a2", "a3", "a1")):
        state.put_agent(AgentView(id=agent_id, state=AgentState.AVAILABLE, idle_since=float(i)))
    for i in (3, 1, 2):
        state.put_contact(contact(f"c{i}", i))
    offers = RoutingPolicy().decide(state, now=10.0)
    assert [(o.contact_id, o.agent_id) for o in offers] == [("c1", "a2"), ("c2", "a3"), ("c3", "a1")]


def test_a_blocked_voice_contact_does_not_hold_back_chats_behind_it():
    state = RoutingState(make_config(agent("a1")))
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE, load={"chat": 1}))
    state.put_contact(contact("call", 1, "voice"))
    state.put_contact(contact("chat", 2, "chat"))
    offers = RoutingPolicy().decide(state, now=10.0)
    assert [o.contact_id for o in offers] == ["chat"]


def test_a_contact_waiting_for_its_preferred_agent_is_passed_over_and_named():
    state = RoutingState(make_config(agent("a1"), agent("a2")))
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE))
    state.put_agent(AgentView(id="a2", state=AgentState.AWAY, reason="lunch"))
    state.put_contact(contact("loyal", 1, preferred_agent="a2", preferred_until=100.0))
    state.put_contact(contact("next", 2))
    offers = RoutingPolicy().decide(state, now=10.0)
    assert [(o.contact_id, o.agent_id, o.passed) for o in offers] == [("next", "a1", ("loyal",))]


def test_decide_leaves_the_state_alone_and_is_repeatable():
    state = RoutingState(make_config(agent("a1")))
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE))
    state.put_contact(contact("c1", 1))
    policy = RoutingPolicy()
    assert policy.decide(state, 5.0) == policy.decide(state, 5.0)
    assert state.contacts["c1"].state == ContactState.QUEUED


def test_due_timers_and_next_deadline():
    state = RoutingState(make_config(agent("a1"), agent("a2")))
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE, load={"voice": 1}))
    state.put_agent(AgentView(id="a2", state=AgentState.AVAILABLE, load={"voice": 1}))
    state.put_contact(contact("c1", 1, state=ContactState.OFFERED, agent="a1", offer_id="o1", offer_expires=30.0))
    state.put_contact(contact("c2", 2, state=ContactState.WRAPUP, agent="a2", wrapup_until=20.0))
    policy = RoutingPolicy()
    assert policy.next_deadline(state, 10.0) == 20.0
    assert policy.due(state, 19.0) == []
    assert policy.due(state, 20.0) == [EndWrapup(contact_id="c2", agent_id="a2")]
    assert policy.due(state, 30.0) == [
        ExpireOffer(contact_id="c1", agent_id="a1", offer_id="o1"),
        EndWrapup(contact_id="c2", agent_id="a2"),
    ]


def test_a_decision_that_is_not_committed_is_made_again():
    """Regression: a lane emptied by the offers of one level used to be dropped from the index at the
    next level, so a contact whose offer was refused in Redis stayed queued but was never routed again."""
    from router.config.model import Profile, ProfileQueue

    config = make_config(agent("a1"))
    blended = Agent(id="b1", name="b1", skills={"sales": 5}, channels=("voice",), profile="late")
    config = Config(
        **{f: getattr(config, f) for f in ("source", "tenant", "routing", "channels", "skills", "queues")},
        profiles={"late": Profile(name="late", queues=(ProfileQueue(queue="sales", priority=2),))},
        agents={"a1": config.agents["a1"], "b1": blended},
    )
    state = RoutingState(config)
    assert state.levels == (1, 2)
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE))
    state.put_agent(AgentView(id="b1", state=AgentState.AVAILABLE, idle_since=-1.0))
    state.put_contact(contact("c1", 1))
    policy = RoutingPolicy()
    first = policy.decide(state, 5.0)
    assert [o.contact_id for o in first] == ["c1"]
    assert policy.decide(state, 5.0) == first  # the commit was refused: the state did not change


def test_an_agent_promised_a_call_in_a_pass_gets_no_chat_in_the_same_pass():
    """Regression: the exclusivity check looked only at the agent's load, not at this pass's promises."""
    state = RoutingState(make_config(agent("a1")))
    state.put_agent(AgentView(id="a1", state=AgentState.AVAILABLE))
    state.put_contact(contact("call", 1, "voice"))
    state.put_contact(contact("chat", 2, "chat"))
    assert [o.contact_id for o in RoutingPolicy().decide(state, now=10.0)] == ["call"]


def test_an_escalation_deadline_is_never_one_ulp_early():
    # (16375.1 + 30.0) - 16375.1 < 30.0 in floating point: the deadline must be the first time at which the
    # contact has waited 30 s as the policy computes it, or the simulator spins at that instant.
    from router.policy import _when_waited

    since = 16375.1
    assert (since + 30.0) - since < 30.0  # the case that hung a simulation
    for seconds in (30.0, 60.0, 0.1, 7.3):
        t = _when_waited(since, seconds)
        assert t - since >= seconds
        assert math.nextafter(t, -math.inf) - since < seconds


def test_a_waiting_contact_replaced_by_a_newer_snapshot_is_routed_once_as_the_newer_one():
    """The live mirror replaces views with snapshots; the lane must route the one it holds now, once."""
    state = RoutingState(make_config(agent("a1"), agent("a2")))
    for i, agent_id in enumerate(("a1", "a2")):
        state.put_agent(AgentView(id=agent_id, state=AgentState.AVAILABLE, idle_since=float(i)))
    state.put_contact(contact("c1", 1, ver=1))
    newer = contact("c1", 1, ver=2, customer="k9")
    state.put_contact(newer)
    state.put_contact(contact("c2", 2, ver=1))
    state.put_contact(contact("c2", 2, ver=2, state=ContactState.OFFERED, agent="a9", offer_id="o1"))
    offers = RoutingPolicy().decide(state, now=10.0)
    assert [(o.contact_id, o.agent_id) for o in offers] == [("c1", "a1")]
    assert offers[0].contact is newer
    assert state.lane_head(state.lane_of(newer)) is newer
    state.drop_contact("c1")
    assert RoutingPolicy().decide(state, now=10.0) == []
