"""Which worker the pool hands a router event to (telephony/events.py): no SIP, no Redis."""

from __future__ import annotations

import json

from router.events import Event, EventType
from telephony.events import targets

WORKERS = {"h:127.0.0.1:5100", "h:127.0.0.1:5101"}


def _event(kind: EventType, **attrs: str) -> Event:
    contact = {"id": "c1", "queue": "general", "attrs": json.dumps(attrs)}
    return Event(id="1-0", type=kind, at=0.0, contact=contact)


def test_an_event_goes_only_to_the_worker_holding_the_call():
    event = _event(EventType.CONTACT_ACCEPTED, worker="h:127.0.0.1:5101")
    assert list(targets(event, WORKERS, callbacks=True, handle_times=False)) == ["h:127.0.0.1:5101"]


def test_a_call_of_another_pool_or_a_chat_goes_to_no_worker():
    assert not targets(_event(EventType.CONTACT_COMPLETED, worker="other:1:5100"), WORKERS, callbacks=True,
                       handle_times=False)  # fmt: skip
    assert not targets(_event(EventType.CONTACT_ACCEPTED), WORKERS, callbacks=True, handle_times=False)


def test_an_accepted_callback_goes_to_every_worker_when_callbacks_are_dialled():
    event = _event(EventType.CONTACT_ACCEPTED, callback="+15550100", worker="gone:1:5100")
    assert set(targets(event, WORKERS, callbacks=True, handle_times=False)) == WORKERS
    assert not targets(event, WORKERS, callbacks=False, handle_times=False)


def test_with_announcements_every_worker_sees_handle_times():
    accepted = _event(EventType.CONTACT_ACCEPTED)
    completed = _event(EventType.CONTACT_COMPLETED)
    requeued = _event(EventType.CONTACT_REQUEUED)
    assert set(targets(accepted, WORKERS, callbacks=False, handle_times=True)) == WORKERS
    assert set(targets(completed, WORKERS, callbacks=False, handle_times=True)) == WORKERS
    assert not targets(requeued, WORKERS, callbacks=False, handle_times=True)
