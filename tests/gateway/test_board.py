"""The gateway's live figures follow the event stream's snapshots (router/gateway/board.py): pure, no Redis."""

from router.config import loads
from router.events import Event, EventType
from router.gateway.board import Board

CONFIG = """
tenant: t
channels: {chat: {capacity: 2}}
skills: [sales]
queues: {sales: {channels: [chat], skills: {sales: 1}}, other: {channels: [chat], skills: {sales: 1}}}
agents:
  - {id: a1, name: Ann One, skills: {sales: 5}, channels: [chat]}
  - {id: a2, name: Bo Two, skills: {sales: 5}, channels: [chat]}
"""


def board() -> Board:
    config = loads(CONFIG)
    return Board(config, lambda agent_id: ("sales", "other"))


def event(type_: EventType, contact: dict | None = None, agent: dict | None = None, at: float = 100.0) -> Event:
    return Event(id="1-0", type=type_, at=at, contact=contact, agent=agent)


def contact(state: str, ver: int, **more: str) -> dict:
    return {"id": "c1", "queue": "sales", "channel": "chat", "state": state, "enqueued_at": "90.0", "ver": str(ver),
            **more}


def test_agents_by_state_and_per_queue_move_with_each_newer_snapshot():
    b = board()
    assert b.by_state == {"available": 0, "away": 0, "offline": 2, "busy": 0}
    b.observe(event(EventType.AGENT_STATE_CHANGED, agent={"id": "a1", "state": "available", "ver": "1"}))
    assert b.by_state["available"] == 1 and b.by_state["offline"] == 1
    assert b.available["sales"] == 1 and b.serving["other"] == 1
    b.observe(event(EventType.CONTACT_ACCEPTED, agent={"id": "a1", "state": "available", "load:chat": "1", "ver": "2"}))
    assert b.by_state["busy"] == 1 and b.by_state["available"] == 0
    assert b.available["sales"] == 1  # available with room, as before
    b.observe(event(EventType.AGENT_STATE_CHANGED, agent={"id": "a1", "state": "available", "ver": "1"}))  # older
    assert b.by_state["busy"] == 1
    b.observe(event(EventType.AGENT_STATE_CHANGED, agent={"id": "a1", "state": "away", "reason": "lunch", "ver": "3"}))
    assert b.by_state == {"available": 0, "away": 1, "offline": 1, "busy": 0}
    assert b.available["sales"] == 0 and b.serving["sales"] == 1
    assert b.agents["a1"].reason == "lunch"


def test_queue_figures_follow_a_contact_through_its_lifecycle():
    b = board()
    b.observe(event(EventType.CONTACT_ARRIVED, contact("queued", 1)))
    [sales, other] = b.queue_stats(100.0, {"sales|answered": "3"})
    assert (sales.waiting, sales.oldest_wait, sales.offered, sales.connected) == (1, 10.0, 0, 0)
    assert sales.today.answered == 3 and other.waiting == 0
    b.observe(event(EventType.CONTACT_OFFERED, contact("offered", 2)))
    b.observe(event(EventType.CONTACT_ARRIVED, contact("queued", 1)))  # an older snapshot changes nothing
    [sales, _] = b.queue_stats(100.0, {})
    assert (sales.waiting, sales.oldest_wait, sales.offered) == (0, None, 1)
    b.observe(event(EventType.CONTACT_ACCEPTED, contact("connected", 3)))
    b.observe(event(EventType.CONTACT_COMPLETED, contact("wrapup", 4)))
    assert b.queue_stats(100.0, {})[0].connected == 1
    b.observe(event(EventType.CONTACT_DONE, contact("done", 5)))
    [sales, _] = b.queue_stats(100.0, {})
    assert (sales.waiting, sales.offered, sales.connected) == (0, 0, 0)
    assert "c1" not in b.contacts
