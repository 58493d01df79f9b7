import pytest

from router.errors import IllegalTransition
from router.lifecycle import (
    AgentEvent,
    AgentState,
    ContactEvent,
    ContactState,
    contact_sources,
    next_agent_state,
    next_contact_state,
)


def test_the_happy_path():
    state = ContactState.QUEUED
    for event, expected in [
        (ContactEvent.OFFER, ContactState.OFFERED),
        (ContactEvent.ACCEPT, ContactState.CONNECTED),
        (ContactEvent.COMPLETE, ContactState.WRAPUP),
        (ContactEvent.END_WRAPUP, ContactState.DONE),
    ]:
        state = next_contact_state(state, event)
        assert state == expected


def test_a_failed_offer_goes_back_to_queued():
    for event in (ContactEvent.REJECT, ContactEvent.EXPIRE, ContactEvent.REVOKE):
        assert next_contact_state(ContactState.OFFERED, event) == ContactState.QUEUED


def test_moves_not_in_the_table_are_illegal():
    with pytest.raises(IllegalTransition, match="can't handle 'accept' in state 'queued'"):
        next_contact_state(ContactState.QUEUED, ContactEvent.ACCEPT)
    with pytest.raises(IllegalTransition):
        next_contact_state(ContactState.DONE, ContactEvent.ABANDON)
    with pytest.raises(IllegalTransition):
        next_agent_state(AgentState.OFFLINE, AgentEvent.OFFLINE)


def test_sources_feed_the_scripts():
    assert contact_sources(ContactEvent.OFFER) == (ContactState.QUEUED,)
    assert set(contact_sources(ContactEvent.ABANDON)) == {ContactState.QUEUED, ContactState.OFFERED}
