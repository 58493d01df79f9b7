"""The ivr section of routing.yaml: what it builds, and each load-time problem with its line and key path."""

from __future__ import annotations

import pytest

from ivr.config import IvrConfig, NodeType
from router.config.loader import load
from router.errors import ConfigError
from tests.ivr.yamls import IVR, line_of, load_ivr


def problems(ivr: str) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_ivr(ivr)
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def one_problem(ivr: str) -> tuple[int, str, str]:
    found = problems(ivr)
    assert len(found) == 1, found
    return found[0]


def test_the_test_flows_load_into_frozen_dataclasses():
    ivr = load_ivr().ivr
    assert isinstance(ivr, IvrConfig)
    main = ivr.flows["main"]
    assert main.start == "welcome"
    menu = main.nodes["main_menu"]
    assert menu.type is NodeType.MENU and menu.options["3"] == "account" and menu.retries == 2
    assert main.nodes["hours"].week[4] == ((8 * 60, 12 * 60), (13 * 60, 20 * 60))  # Friday, two spans
    assert main.nodes["hours"].week[6] == ()  # Sunday closed
    assert ivr.flow_for("sip:8100@10.0.0.1:5060").name == "billing_line"
    assert ivr.flow_for("5555").name == "main"
    assert ivr.prompt_path("welcome", "pt").endswith("prompts/pt/welcome.wav")
    assert ivr.prompt_path("jingle", "pt").endswith("audio/jingle.wav")
    with pytest.raises(AttributeError):
        main.nodes["sales"].queue = "general"  # frozen


def test_the_shipped_routing_yaml_has_marivias_flows():
    ivr = load("routing.yaml").ivr
    main = ivr.flows["main"]
    assert {"sales", "support", "billing", "general"} <= {n.queue for n in main.nodes.values() if n.queue}
    assert main.nodes["main_menu"].options["2"] == "support_menu"
    assert main.nodes["account"].type is NodeType.COLLECT
    assert ivr.languages == ("en", "pt", "es")


def test_an_unreachable_node_is_reported_at_the_node():
    goodbye = "        goodbye: {type: hangup"
    ivr = IVR.replace(goodbye, "        orphan: {type: hangup}\n" + goodbye)
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "orphan:"), "ivr.flows.main.nodes.orphan")
    assert "cannot be reached from start 'welcome'" in message


def test_an_undefined_branch_target_is_reported_at_the_branch():
    ivr = IVR.replace('options: {"1": internet, "2": mobile}', 'options: {"1": internet, "2": mobil}')
    found = problems(ivr)
    # mobile is now unreachable too; the undefined target is what the author mistyped.
    assert (line_of(ivr, "mobil}"), "ivr.flows.main.nodes.support_menu.options.2") in [(f[0], f[1]) for f in found]
    undefined = next(f for f in found if f[1].endswith("options.2"))
    assert "node 'mobil' is not defined in this flow (did you mean 'mobile'?)" in undefined[2]


def test_an_undefined_next_is_reported():
    ivr = IVR.replace("next: goodbye}", "next: good_bye}")
    found = problems(ivr)
    where = (line_of(ivr, "next: good_bye}"), "ivr.flows.main.nodes.voicemail.next")
    assert where in [(f[0], f[1]) for f in found]


def test_a_missing_prompt_is_reported_where_it_is_used():
    ivr = IVR.replace("closed: {type: play, prompt: closed,", "closed: {type: play, prompt: closd,")
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "prompt: closd"), "ivr.flows.main.nodes.closed.prompt")
    assert "prompt 'closd' is not declared in ivr.prompts" in message


def test_a_prompt_missing_a_language_is_reported():
    ivr = IVR.replace("bye: {en: Goodbye., pt: Adeus.}", "bye: {en: Goodbye.}")
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "bye: {en: Goodbye.}"), "ivr.prompts.bye")
    assert "no text in 'pt'" in message


def test_an_announcement_prompt_is_required_when_announcing():
    ivr = IVR.replace("    you_are_next: {en: You are next., pt: E o proximo.}\n", "")
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "announce:"), "ivr.announce")
    assert "prompt 'you_are_next'" in message


def test_a_loop_without_input_is_reported():
    ivr = IVR.replace("prompt: closed, next: voicemail}", "prompt: closed, next: hours}")
    found = problems(ivr)
    loops = [f for f in found if "loop without input" in f[2]]
    assert len(loops) == 1, found
    line, path, message = loops[0]
    assert "hours -> closed -> hours" in message or "closed -> hours -> closed" in message
    assert path in ("ivr.flows.main.nodes.hours", "ivr.flows.main.nodes.closed")
    assert line == line_of(ivr, "        " + path.rsplit(".", 1)[1] + ":")


def test_a_loop_through_a_menu_is_fine():
    tail = "\n          attribute: topic"
    ivr = IVR.replace("fallback: general" + tail, "fallback: main_menu" + tail)
    assert load_ivr(ivr).ivr.flows["main"].nodes["main_menu"].fallback == "main_menu"


def test_an_unknown_queue_is_reported():
    ivr = IVR.replace("{type: queue, queue: general}", "{type: queue, queue: genral}")
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "queue: genral"), "ivr.flows.main.nodes.general.queue")
    assert "unknown queue 'genral' (did you mean 'general'?)" in message


def test_an_unknown_skill_and_a_language_that_is_not_a_skill_are_reported():
    ivr = IVR.replace("skills: {support: 5}", "skills: {suport: 5}")
    ivr = ivr.replace("languages: [en, pt]", "languages: [en, pt, fr]")
    ivr = ivr.replace("english: {type: set, language: en,", "english: {type: set, language: fr,")
    found = {f[1]: f for f in problems(ivr)}
    assert "unknown skill 'suport'" in found["ivr.flows.main.nodes.internet.skills.suport"][2]
    assert "'fr' is not a declared skill" in found["ivr.flows.main.nodes.english.language"][2]
    assert found["ivr.flows.main.nodes.english.language"][0] == line_of(ivr, "language: fr,")


def test_a_transfer_off_the_allow_list_is_reported():
    ivr = IVR.replace('uri: "sip:billing@partner.example"', 'uri: "sip:billing@evil.example"')
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "evil.example"), "ivr.flows.billing_line.nodes.out.uri")
    assert "not on ivr.transfer_allow" in message


def test_bad_hours_time_zone_and_holiday_are_reported():
    ivr = IVR.replace("timezone: Europe/Lisbon", "timezone: Europe/Lisboa").replace("[2026-12-25]", "[2026-13-25]")
    ivr = ivr.replace('sat: "09:00-13:00"', 'sat: "13:00-09:00"')
    found = {f[1]: f for f in problems(ivr)}
    assert found["ivr.flows.main.nodes.hours.timezone"][0] == line_of(ivr, "Europe/Lisboa")
    assert "IANA time zone" in found["ivr.flows.main.nodes.hours.timezone"][2]
    assert "08:00-12:30" in found["ivr.flows.main.nodes.hours.week.sat"][2]
    assert "a date like 2026-12-25" in found["ivr.flows.main.nodes.hours.holidays[0]"][2]


def test_unknown_node_type_and_key_are_reported_with_a_suggestion():
    ivr = IVR.replace("{type: play, prompt: welcome, next: hours}", "{type: plya, prompt: welcome, next: hours}")
    ivr = ivr.replace("max_seconds: 60", "max_second: 60")
    found = {f[1]: f for f in problems(ivr)}
    assert len(found) == 2, found  # the nodes after the broken one are not called unreachable
    assert "did you mean 'play'?" in found["ivr.flows.main.nodes.welcome.type"][2]
    assert "did you mean 'max_seconds'?" in found["ivr.flows.main.nodes.voicemail.max_second"][2]


def test_an_empty_ivr_section_means_no_flows_and_a_section_without_flows_is_an_error():
    from router.config.loader import loads
    from tests.ivr.yamls import BASE

    assert dict(loads(BASE + "ivr: {}\n").ivr.flows) == {}
    line, path, message = one_problem("ivr:\n  language: en\n")
    assert (line, path) == (line_of("ivr:\n  language: en\n", "language: en"), "ivr.flows")
    assert "at least one flow" in message


def test_the_rejoin_window_defaults_to_two_minutes_and_must_be_a_day_or_less():
    assert load_ivr().ivr.rejoin_window == 120.0
    assert load("routing.yaml").ivr.rejoin_window == 120.0 and "welcome_back" in load("routing.yaml").ivr.prompts
    ivr = IVR.replace("ivr:\n", "ivr:\n  rejoin_window: 0\n", 1)
    assert load_ivr(ivr).ivr.rejoin_window == 0.0  # off
    ivr = IVR.replace("ivr:\n", "ivr:\n  rejoin_window: 90000\n", 1)
    line, path, message = one_problem(ivr)
    assert (line, path) == (line_of(ivr, "rejoin_window:"), "ivr.rejoin_window")
    assert "seconds" in message
