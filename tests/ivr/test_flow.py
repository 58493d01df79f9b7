"""Stepping the IVR interpreter with fake digits and a fake clock: what the telephony worker would be told."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ivr.actions import Callback, Enqueue, Hangup, Play, Record, StopPlay, Transfer, Wait
from ivr.flow import FlowSession, session_for_call
from tests.ivr.yamls import load_ivr

LISBON = ZoneInfo("Europe/Lisbon")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    """A Lisbon wall-clock time as seconds since the epoch."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LISBON).timestamp()


MONDAY_10 = at(2026, 11, 23, 10)  # open


@pytest.fixture(scope="module")
def config():
    return load_ivr()


def call(config, called: str = "8000", caller: str = "+351910000001") -> FlowSession:
    return session_for_call(config, caller, called)


def prompts(actions) -> list[str]:
    return [a.prompt for a in actions if isinstance(a, Play)]


def to_main_menu(s: FlowSession, now: float = MONDAY_10, language: str = "1") -> None:
    assert prompts(s.start(now)) == ["welcome"]
    assert prompts(s.prompt_finished(now)) == ["lang"]
    actions = s.digit(language, now + 1)  # pressed during the language prompt
    assert actions[0] == StopPlay()
    assert prompts(actions) == ["main"]


def test_two_level_menu_reaches_the_support_queue_with_the_path_as_attributes(config):
    s = call(config)
    to_main_menu(s, language="2")
    now = MONDAY_10 + 2
    assert s.prompt_finished(now) == [Wait(now + 5)]  # the menu's timeout starts when its prompt ends
    actions = s.digit("2", now + 1)
    assert actions == [Play("support", actions[0].path, True)]
    assert actions[0].path.endswith("prompts/pt/support.wav")  # the caller chose Portuguese
    actions = s.digit("1", now + 2)
    assert actions[0] == StopPlay()
    (enqueue,) = actions[1:]
    assert isinstance(enqueue, Enqueue)
    assert enqueue.queue == "support" and enqueue.channel == "voice"
    assert enqueue.language == "pt"
    assert dict(enqueue.skills) == {"support": 5}  # set by the internet node
    assert enqueue.attrs["topic"] == "support_menu"
    assert enqueue.attrs["support_menu"] == "internet"
    assert enqueue.attrs["product"] == "internet"
    assert enqueue.attrs["ivr_flow"] == "main"
    assert enqueue.attrs["ivr_nodes"] == "welcome>hours>language>portuguese>main_menu>support_menu>internet>support"
    assert s.done and s.digit("1", now + 3) == []


def test_a_queue_prompt_plays_before_the_enqueue_and_priority_comes_along(config):
    s = call(config)
    to_main_menu(s)
    assert prompts(s.digit("1", MONDAY_10 + 2)) == ["connecting"]
    (enqueue,) = s.prompt_finished(MONDAY_10 + 4)
    assert enqueue.queue == "sales" and enqueue.language == "en" and enqueue.priority is None
    s = call(config)
    to_main_menu(s)
    s.digit("2", MONDAY_10 + 2)
    (_, enqueue) = s.digit("2", MONDAY_10 + 3)
    assert enqueue.priority == 3 and enqueue.attrs["product"] == "mobile"


def test_invalid_digits_replay_the_menu_then_go_to_the_fallback(config):
    s = call(config)
    to_main_menu(s)
    t = MONDAY_10 + 2
    for _ in range(2):  # retries: 2 -> the menu is heard three times
        assert prompts(s.digit("7", t)) == ["invalid"]
        assert prompts(s.prompt_finished(t + 1)) == ["main"]  # the invalid prompt ended: the menu again
        t += 2
    actions = s.digit("8", t)
    assert actions[0] == StopPlay()
    (enqueue,) = actions[1:]
    assert enqueue.queue == "general"  # the fallback
    assert enqueue.attrs["ivr_nodes"].endswith("main_menu>general")


def test_a_digit_during_the_invalid_prompt_counts(config):
    s = call(config)
    to_main_menu(s)
    s.digit("7", MONDAY_10 + 2)
    actions = s.digit("1", MONDAY_10 + 3)
    assert actions[0] == StopPlay() and prompts(actions) == ["connecting"]


def test_timeouts_replay_the_menu_and_a_stale_timer_is_ignored(config):
    s = call(config)
    to_main_menu(s)
    t = MONDAY_10 + 2
    assert s.prompt_finished(t) == [Wait(t + 5)]
    assert s.timer(t + 4) == []  # early (the worker re-armed): nothing happens
    assert prompts(s.timer(t + 5)) == ["main"]  # retry 1
    assert s.prompt_finished(t + 10) == [Wait(t + 15)]
    assert prompts(s.timer(t + 15)) == ["main"]  # retry 2
    assert s.prompt_finished(t + 20) == [Wait(t + 25)]
    (enqueue,) = s.timer(t + 25)  # no input three times: the fallback
    assert enqueue.queue == "general"
    assert s.timer(t + 30) == []


def test_no_choice_at_a_menu_without_retries_goes_to_its_fallback_language(config):
    s = call(config)
    s.start(MONDAY_10)
    s.prompt_finished(MONDAY_10)
    assert s.prompt_finished(MONDAY_10 + 3) == [Wait(MONDAY_10 + 8)]
    assert prompts(s.timer(MONDAY_10 + 8)) == ["main"]
    assert s.language == "en"


def test_collect_with_terminator_stores_the_account_number(config):
    s = call(config)
    to_main_menu(s)
    s.prompt_finished(MONDAY_10 + 2)
    assert prompts(s.digit("3", MONDAY_10 + 3)) == ["account"]
    actions = s.digit("1", MONDAY_10 + 4)  # typed during the prompt: stops it
    assert actions == [StopPlay(), Wait(MONDAY_10 + 10)]  # inter-digit timeout
    for i, d in enumerate("234"):
        assert s.digit(d, MONDAY_10 + 5 + i) == [Wait(MONDAY_10 + 11 + i)]
    assert prompts(s.digit("#", MONDAY_10 + 8)) == ["connecting"]
    (enqueue,) = s.prompt_finished(MONDAY_10 + 9)
    assert enqueue.queue == "billing" and enqueue.priority == 1
    assert enqueue.attrs["account"] == "1234"


def test_collect_too_short_replays_and_then_falls_back(config):
    s = call(config)
    to_main_menu(s)
    s.digit("3", MONDAY_10 + 2)
    s.prompt_finished(MONDAY_10 + 3)
    s.digit("1", MONDAY_10 + 4)
    assert prompts(s.digit("#", MONDAY_10 + 5)) == ["invalid"]  # 1 digit < min_digits 4
    assert prompts(s.prompt_finished(MONDAY_10 + 6)) == ["account"]
    s.prompt_finished(MONDAY_10 + 7)
    s.digit("9", MONDAY_10 + 8)
    (enqueue,) = s.digit("#", MONDAY_10 + 9)  # retries: 1 used up -> the fallback, no account attr
    assert enqueue.queue == "general" and "account" not in enqueue.attrs


def test_collect_ends_at_max_digits_or_on_a_pause_once_long_enough(config):
    s = call(config, called="sip:8100@127.0.0.1:5060")  # the billing line: max 4 digits, no terminator
    assert prompts(s.start(MONDAY_10)) == ["account"]
    for d in "987":
        s.digit(d, MONDAY_10 + 1)
    assert s.digit("6", MONDAY_10 + 2) == [Transfer("sip:billing@partner.example")]
    s = call(config)
    to_main_menu(s)
    s.digit("3", MONDAY_10 + 2)
    for i, d in enumerate("55512"):
        s.digit(d, MONDAY_10 + 3 + i)
    assert prompts(s.timer(MONDAY_10 + 7 + 6)) == ["connecting"]  # 5 digits >= 4, then silence
    assert s.attrs["account"] == "55512"


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (at(2026, 11, 23, 7, 59), False),  # Monday before opening
        (at(2026, 11, 23, 8, 0), True),
        (at(2026, 11, 23, 19, 59), True),
        (at(2026, 11, 23, 20, 0), False),
        (at(2026, 11, 27, 12, 30), False),  # Friday lunch break
        (at(2026, 11, 27, 13, 0), True),
        (at(2026, 11, 28, 12, 0), True),  # Saturday morning
        (at(2026, 11, 29, 12, 0), False),  # Sunday
        (at(2026, 12, 25, 10, 0), False),  # a Friday, but a holiday
        (at(2026, 7, 6, 8, 30), True),  # summer time (UTC+1): 07:30 UTC is 08:30 in Lisbon
    ],
)
def test_hours_in_the_flows_time_zone_with_holidays(config, when, is_open):
    s = call(config)
    s.start(when)
    expected = ["lang"] if is_open else ["closed"]
    assert prompts(s.prompt_finished(when)) == expected


def test_closed_branch_records_a_voicemail_for_the_queue(config):
    christmas = at(2026, 12, 25, 10)
    s = call(config)
    s.start(christmas)
    assert prompts(s.prompt_finished(christmas)) == ["closed"]
    assert s.digit("1", christmas + 1) == []  # a play node ignores digits
    assert prompts(s.prompt_finished(christmas + 3)) == ["message"]
    (record,) = s.prompt_finished(christmas + 5)
    assert isinstance(record, Record)
    assert record.queue == "general" and record.max_seconds == 60
    assert record.path.endswith(f"voicemail/{s.call_id}.wav")
    assert record.attrs["ivr_nodes"] == "welcome>hours>closed>voicemail"
    assert prompts(s.recording_finished(record.path, christmas + 30)) == ["bye"]
    assert s.prompt_finished(christmas + 32) == [Hangup("closed")]


def test_callback_from_the_menu(config):
    s = call(config, caller="+351910000002")
    to_main_menu(s)
    assert prompts(s.digit("9", MONDAY_10 + 2)) == ["bye"]
    (callback,) = s.prompt_finished(MONDAY_10 + 5)
    assert isinstance(callback, Callback)
    assert callback.queue == "general" and callback.number == "+351910000002"
    assert callback.attrs["topic"] == "callback"


def test_a_hangup_ends_the_session(config):
    s = call(config)
    to_main_menu(s)
    assert s.hangup(MONDAY_10 + 2) == []
    assert s.prompt_finished(MONDAY_10 + 3) == [] and s.timer(MONDAY_10 + 10) == [] and s.digit("1", 0) == []


def test_events_before_start_do_nothing(config):
    s = call(config)
    assert s.digit("1", MONDAY_10) == [] and s.timer(MONDAY_10) == [] and s.prompt_finished(MONDAY_10) == []


def test_a_call_without_flows_is_refused_with_a_clear_error():
    from router.config.loader import loads
    from router.errors import IvrError
    from tests.ivr.yamls import BASE

    with pytest.raises(IvrError, match="ivr: no flows configured"):
        session_for_call(loads(BASE + "ivr: {}\n", "x.yaml"), "+351910000009", "8000")
