"""The queue announcer's schedule, sentences and callback key, stepped once a second on a fake clock."""

from __future__ import annotations

import pytest

from ivr.actions import Callback, Play, StopPlay
from ivr.announce import Announcer, QueueStatus, estimated_minutes
from tests.ivr.yamls import IVR, load_ivr


@pytest.fixture(scope="module")
def ivr():
    return load_ivr().ivr


def names(actions) -> list[str]:
    return [a.prompt for a in actions if isinstance(a, Play)]


def run(announcer: Announcer, positions: dict[int, int], seconds: int) -> dict[int, list[str]]:
    """Tick every second for ``seconds``; ``positions`` gives the position from each second on."""
    heard, position = {}, None
    for t in range(seconds):
        position = positions.get(t, position)
        actions = announcer.tick(1000.0 + t, QueueStatus(position, (120.0, 180.0), 2))
        if actions:
            heard[t] = names(actions)
    return heard


def test_first_tick_announces_position_wait_and_the_callback_offer(ivr):
    a = Announcer(ivr, "support", "pt", "+351910000003")
    actions = a.tick(1000.0, QueueStatus(position=4, handle_times=(120.0, 180.0), agents=2))
    # 4 x 150 s / 2 agents = 300 s = 5 minutes
    assert names(actions) == ["position_is", "number_4", "in_line", "wait_is", "number_5", "minutes", "callback_offer"]
    assert all(a.interruptible for a in actions)  # the callback key can cut in
    assert actions[1].path.endswith("prompts/pt/number_4.wav")


def test_announces_every_frequency_when_nothing_changes(ivr):
    heard = run(Announcer(ivr, "support", "en", "x"), {0: 3}, 200)
    assert sorted(heard) == [0, 60, 120, 180]


def test_a_position_change_is_announced_but_never_within_min_frequency(ivr):
    heard = run(Announcer(ivr, "support", "en", "x"), {0: 5, 3: 4, 20: 3, 50: 2, 70: 1}, 140)
    # 0: the first. Position 4 (from 3) waits until 15. Position 3 (from 20) is 5 s after that one, so it
    # waits until 30. Positions 2 (at 50) and 1 (at 70) are 20 s apart: at once. Then 60 s after 70.
    assert sorted(heard) == [0, 15, 30, 50, 70, 130]
    assert heard[15][:3] == ["position_is", "number_4", "in_line"]
    assert heard[70] == ["you_are_next", "callback_offer"]  # no wait estimate at the front


def test_estimated_wait_is_rounded_to_the_minute():
    assert estimated_minutes(QueueStatus(1, (100.0,), 1)) == 2  # 100 s -> 1.67 -> 2
    assert estimated_minutes(QueueStatus(1, (80.0,), 1)) == 1  # 1.33 -> 1
    assert estimated_minutes(QueueStatus(1, (20.0,), 4)) == 1  # at least a minute
    assert estimated_minutes(QueueStatus(10, (60.0, 120.0), 3)) == 5  # 10 x 90 / 3 = 300 s
    assert estimated_minutes(QueueStatus(3, (), 2)) is None  # no history yet
    assert estimated_minutes(QueueStatus(3, (60.0,), 0)) is None  # nobody serving


def test_no_estimate_means_no_wait_sentence_and_one_minute_is_singular(ivr):
    a = Announcer(ivr, "support", "en", "x")
    assert names(a.tick(0.0, QueueStatus(2, (), 0))) == ["position_is", "number_2", "in_line", "callback_offer"]
    b = Announcer(ivr, "support", "en", "x")
    assert names(b.tick(0.0, QueueStatus(2, (30.0,), 1)))[3:6] == ["wait_is", "number_1", "minute"]


def test_the_callback_key_leaves_a_callback_for_the_same_queue(ivr):
    a = Announcer(ivr, "support", "en", "+351910000004", {"topic": "support_menu"})
    assert a.digit("5", 10.0) == []
    actions = a.digit("9", 10.0)
    assert actions[0] == StopPlay()
    assert actions[1] == Callback("support", "+351910000004", {"topic": "support_menu", "callback_from": "support"})


def test_without_a_callback_key_there_is_no_offer():
    ivr = load_ivr(IVR.replace(', callback_key: "9"', "").replace(
        "    callback_offer: {en: Press 9 for a callback., pt: Prima 9.}\n", ""
    )).ivr
    a = Announcer(ivr, "support", "en", "x")
    assert "callback_offer" not in names(a.tick(0.0, QueueStatus(3, (60.0,), 1)))
    assert a.digit("9", 1.0) == []
