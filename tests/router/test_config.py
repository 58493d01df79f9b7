"""routing.yaml -> Config: the shipped example, the schema's defaults, and the problems it reports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from router.config import load, loads
from router.config.model import MaxWaitAction, Strategy
from router.errors import ConfigError
from router.gateway.config import GatewayConfig
from skills.model import SkillRequirement as R

ROUTING_YAML = Path(__file__).resolve().parents[2] / "routing.yaml"

# A small valid file; the cases below break one line of it. Line numbers are in the comments.
BASE = """\
tenant: test
channels:
  voice: {capacity: 1, exclusive: true}
  chat: {capacity: 3}
skills: [sales, support, en]
queues:
  sales:
    channels: [voice, chat]
    skills: {sales: 5, en: 1}
    strategy: most-skilled
    max_wait: {seconds: 120, action: overflow, queue: support}
  support:
    channel: voice
    skills: {support: 7}
    escalation:
      - {after: 30, skills: {support: 4}}
      - {after: 60, skills: {support: 1}}
profiles:
  blended:
    queues:
      - {queue: sales, priority: 1}
      - {queue: support, priority: 2, delay: 20}
    capacity: {chat: 5}
agents:
  - id: a01
    name: Ana
    skills: {sales: 8, en: 9}
    channels: [voice, chat]
    profile: blended
    capacity: {chat: 4}
  - id: a02
    skills: {support: 5}
    channels: [chat]
"""


def error_text(tmp_path: Path, text: str) -> tuple[str, str]:
    """Write ``text`` to a file, load it, and return (the file's name, the error's text)."""
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(path), str(info.value)


def broken(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


# The shipped example


def test_the_shipped_routing_yaml_loads():
    config = load(ROUTING_YAML)
    assert config.source == str(ROUTING_YAML)
    assert config.tenant == "marivia"
    assert list(config.channels) == ["voice", "chat", "whatsapp", "email"]
    assert config.skills == ("sales", "billing", "support", "en", "es", "pt")
    assert set(config.queues) == {"sales", "support", "billing", "general"}
    assert len(config.profiles) >= 2
    assert len(config.agents) == 12
    assert isinstance(config.gateway, GatewayConfig)  # the gateway package reads its own section


def test_values_of_the_shipped_file_land_in_the_dataclasses():
    config = load(ROUTING_YAML)
    voice, email = config.channels["voice"], config.channels["email"]
    assert (voice.capacity, voice.exclusive, voice.offer_timeout) == (1, True, None)
    assert (email.capacity, email.exclusive, email.offer_timeout) == (5, False, 60.0)

    sales = config.queues["sales"]
    assert sales.strategy == Strategy.MOST_SKILLED
    assert sales.requirements == (R(skill="sales", min_level=3),)
    assert sales.max_wait is not None
    assert (sales.max_wait.action, sales.max_wait.queue) == (MaxWaitAction.OVERFLOW, "general")
    assert (sales.service_level.target_seconds, sales.service_level.percent) == (20.0, 80.0)
    general = config.queues["general"]
    assert general.requirements == ()
    assert general.max_wait is not None and general.max_wait.action == MaxWaitAction.END
    billing = config.queues["billing"]
    assert billing.aging.every == 60 and billing.aging.max_boost == 5
    assert billing.aging.step == config.routing.aging.step  # a key left out comes from routing.aging

    blended = config.profiles["support_blended"]
    assert [(pq.queue, pq.priority, pq.delay) for pq in blended.queues] == [
        ("support", 1, 0.0),
        ("billing", 2, 20.0),
        ("general", 3, 0.0),
    ]
    assert dict(blended.capacity) == {"chat": 4}

    a01 = config.agents["a01"]
    assert (a01.name, a01.profile) == ("Ana Souza", "sales_first")
    assert a01.channels == ("voice", "chat", "whatsapp")
    assert dict(a01.skills) == {"sales": 8, "billing": 4, "en": 7, "pt": 10, "es": 6}
    assert a01.sip_uri == "sip:a01@127.0.0.1:5071"


def test_the_shipped_tokens_are_the_documented_demo_tokens():
    config = load(ROUTING_YAML)
    assert "demo-a01" in ROUTING_YAML.read_text()
    for agent in config.agents.values():
        assert agent.token_sha256 == hashlib.sha256(f"demo-{agent.id}".encode()).hexdigest(), agent.id


def test_mapping_fields_are_read_only():
    config = load(ROUTING_YAML)
    with pytest.raises(TypeError):
        config.queues["x"] = config.queues["sales"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.agents["a01"].skills["sales"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        config.profiles["support_blended"].capacity["chat"] = 9  # type: ignore[index]


def test_requirements_at_follows_the_escalation_steps():
    support = load(ROUTING_YAML).queues["support"]
    assert support.requirements_at(0) == (R(skill="support", min_level=7),)
    assert support.requirements_at(29.9) == (R(skill="support", min_level=7),)
    assert support.requirements_at(30) == (R(skill="support", min_level=4),)
    assert support.requirements_at(59) == (R(skill="support", min_level=4),)
    assert support.requirements_at(60) == (R(skill="support", min_level=1),)
    assert support.requirements_at(3600) == (R(skill="support", min_level=1),)


def test_capacity_comes_from_the_agent_then_the_profile_then_the_channel():
    config = load(ROUTING_YAML)
    a = config.agents
    assert config.capacity(a["a08"], "chat") == 2  # agent override beats its profile's 4
    assert config.capacity(a["a05"], "chat") == 4  # profile support_blended
    assert config.capacity(a["a01"], "chat") == 3  # the channel's
    assert config.capacity(a["a11"], "email") == 8  # agent beats profile billing_desk's 6
    assert config.capacity(a["a10"], "email") == 6
    assert config.capacity(a["a01"], "email") == 0  # a channel the agent doesn't work


# Defaults and forms the schema allows


def test_defaults_follow_routing_and_channels():
    config = loads(
        "routing: {strategy: round-robin, wrapup: 7, offer_timeout: 15, aging: {every: 10}}\n"
        "channels: {email: {capacity: 5, offer_timeout: 90}, chat: {capacity: 2}}\n"
        "queues:\n"
        "  mail: {channel: email, skills: {}}\n"
        "  both: {channels: [email, chat], skills: {}, aging: {max_boost: 3}}\n"
    )
    assert config.tenant == "default"
    mail, both = config.queues["mail"], config.queues["both"]
    assert (mail.strategy, mail.wrapup, mail.channels) == (Strategy.ROUND_ROBIN, 7.0, ("email",))
    assert mail.offer_timeout == 90.0  # its one channel's
    assert both.offer_timeout == 15.0  # routing's
    assert (both.aging.every, both.aging.step, both.aging.max_boost) == (10.0, 1, 3)
    assert config.skills == () and dict(config.agents) == {} and dict(config.profiles) == {}
    assert config.source == "<string>"


def test_names_are_text_and_merge_keys_work():
    config = loads(
        "channels: {voice: &ch {capacity: 1}, chat: {<<: *ch, capacity: 3}}\n"
        "skills: [no, '01']\n"
        "queues: {q: {channel: voice, skills: {no: 2}}}\n"
        "profiles: {p: {queues: [q]}}\n"
        "agents: [{id: 007, skills: {'01': 3}, channels: [voice], profile: p}]\n"
    )
    assert config.skills == ("no", "01")  # not False and 1
    assert config.channels["chat"].capacity == 3
    assert list(config.agents) == ["007"]
    assert config.profiles["p"].queues[0].queue == "q"


# Problems: each names the file, line, column and key path


def test_bad_yaml_syntax_gives_the_parser_position(tmp_path):
    path, text = error_text(tmp_path, broken("  chat: {capacity: 3}\n", "  chat: {capacity: 3\n"))
    assert text.startswith(f"{path}:5:7: invalid YAML: ")
    assert "line 4" in text  # where the unclosed mapping started


def test_wrong_type(tmp_path):
    path, text = error_text(tmp_path, broken("chat: {capacity: 3}", "chat: {capacity: three}"))
    assert text == f"{path}:4:20: channels.chat.capacity: expected an integer >= 1, found 'three'"


def test_unknown_key_names_it_and_lists_the_allowed(tmp_path):
    path, text = error_text(tmp_path, broken("    strategy: most-skilled", "    stratgy: most-skilled"))
    assert text.startswith(f"{path}:10:5: queues.sales.stratgy: unknown key 'stratgy' (did you mean 'strategy'?);")
    assert "allowed: channel, channels, skills, priority, strategy," in text


def test_unknown_skill_reference(tmp_path):
    path, text = error_text(tmp_path, broken("{support: 7}", "{suport: 7}"))
    assert text == (
        f"{path}:14:14: queues.support.skills.suport: unknown skill 'suport' (did you mean 'support'?);"
        " declared: en, sales, support"
    )


def test_negative_capacity(tmp_path):
    path, text = error_text(tmp_path, broken("capacity: {chat: 4}", "capacity: {chat: -1}"))
    assert text == f"{path}:30:22: agents[0].capacity.chat: expected an integer >= 0, found -1"


def test_level_11(tmp_path):
    path, text = error_text(tmp_path, broken("{sales: 5, en: 1}", "{sales: 11, en: 1}"))
    assert text == f"{path}:9:21: queues.sales.skills.sales: expected an integer from 1 to 10, found 11"


def test_bad_strategy_lists_the_allowed(tmp_path):
    path, text = error_text(tmp_path, broken("strategy: most-skilled", "strategy: best"))
    assert text == (
        f"{path}:10:15: queues.sales.strategy: expected one of longest-idle, most-skilled, least-occupied,"
        " round-robin, random; found 'best'"
    )


def test_duplicate_agent_id(tmp_path):
    path, text = error_text(tmp_path, broken("  - id: a02", "  - id: a01"))
    assert text == f"{path}:31:9: agents[1].id: duplicate agent id 'a01' (first on line 25)"


def test_overflow_to_an_unknown_queue(tmp_path):
    path, text = error_text(tmp_path, broken("queue: support}", "queue: suport}"))
    assert text.startswith(f"{path}:11:55: queues.sales.max_wait.queue: unknown queue 'suport'")


def test_overflow_to_itself(tmp_path):
    path, text = error_text(tmp_path, broken("queue: support}", "queue: sales}"))
    assert text == f"{path}:11:55: queues.sales.max_wait.queue: queue 'sales' can't overflow to itself"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("profile: blended", "profile: blend", "29:14: agents[0].profile: unknown profile 'blend'"),
        ("channels: [chat]", "channels: [fax]", "33:16: agents[1].channels[0]: unknown channel 'fax'"),
        ("en: 9}", "fr: 9}", "27:24: agents[0].skills.fr: unknown skill 'fr'"),
        ("{queue: sales,", "{queue: sale,", "21:17: profiles.blended.queues[0].queue: unknown queue 'sale'"),
        (
            "[voice, chat]\n    skills: {sales",
            "[voice, fax]\n    skills: {sales",
            "8:23: queues.sales.channels[1]: ",
        ),
        ("{after: 60,", "{after: 30,", "17:17: queues.support.escalation[1].after: expected more than 30"),
        (
            "action: overflow,",
            "action: end,",
            "11:43: queues.sales.max_wait.queue: action end takes no queue",
        ),
        (
            "channel: voice",
            "channel: voice\n    channels: [voice]",
            "14:5: queues.support.channels: give either",
        ),
        (
            "chat: {capacity: 3}",
            "chat: {capacity: 3}\n  chat: {capacity: 4}",
            "5:3: channels.chat: duplicate key",
        ),
        ("support, en]", "support, sales]", "5:26: skills[2]: duplicate skill 'sales' (first on line 5)"),
        ("tenant: test", "tenant: 'a{b}'", "1:9: tenant: expected a tenant name"),
        ("id: a02", "id: 'a:2'", "31:9: agents[1].id: expected a name of letters"),
        ("name: Ana", "name: Ana\n    colour: red", "27:5: agents[0].colour: unknown key 'colour'"),
        (
            "tenant: test",
            "tenant: test\nrouting: {max_missed_offers: 0}",
            "2:30: routing.max_missed_offers: ",
        ),
        (
            "name: Ana",
            "name: Ana\n    token_sha256: abc",
            "27:19: agents[0].token_sha256: expected the SHA-256",
        ),
        (
            "id: a02\n",
            "id: a02\n    capacity: {voice: 1}\n",
            "32:16: agents[1].capacity.voice: the agent doesn't",
        ),
    ],
)
def test_each_problem_names_line_and_path(tmp_path, old, new, expected):
    path, text = error_text(tmp_path, broken(old, new))
    assert text.startswith(f"{path}:{expected}"), text


def test_several_problems_are_reported_together_in_line_order(tmp_path):
    text = BASE
    for old, new in [
        ("{capacity: 3}", "{capacity: -3}"),
        ("{sales: 5, en: 1}", "{sales: 11, en: 1}"),
        ("queue: support}", "queue: nowhere}"),
        ("    profile: blended", "    profile: blend"),
        ("  - id: a02", "  - id: a01"),
    ]:
        text = text.replace(old, new)
    path, message = error_text(tmp_path, text)
    lines = message.splitlines()
    assert [line.split(":")[1] for line in lines] == ["4", "9", "11", "29", "31"]
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "channels.chat.capacity" in lines[0]
    assert "queues.sales.skills.sales" in lines[1]
    assert "queues.sales.max_wait.queue" in lines[2]
    assert "agents[0].profile" in lines[3]
    assert "agents[1].id" in lines[4]


def test_problems_carry_their_parts():
    with pytest.raises(ConfigError) as info:
        loads(BASE.replace("{sales: 5, en: 1}", "{sales: 0, en: 1}"), source="x.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == ("x.yaml", 9, 21)
    assert problem.path == "queues.sales.skills.sales"
    assert problem.message == "expected an integer from 1 to 10, found 0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "routing.yaml: the file is empty"),
        ("# nothing but a comment\n", "routing.yaml: the file is empty"),
        ("- a\n- b\n", "routing.yaml:1:1: expected a mapping of sections"),
        ("just text\n", "routing.yaml:1:1: expected a mapping of sections"),
        ("tenant: x\n", "routing.yaml:1:1: missing required key 'channels'"),
        ("channels: {}\nqueues: {}\n", "routing.yaml:1:11: channels: expected a mapping with at least one"),
    ],
)
def test_empty_or_non_mapping_files(tmp_path, text, expected):
    _, message = error_text(tmp_path, text)
    assert message.startswith(str(tmp_path / expected))


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_the_config_is_read_only_and_travels_to_worker_processes():
    import pickle

    config = load(Path(__file__).resolve().parents[2] / "routing.yaml")
    with pytest.raises(TypeError):
        config.queues["extra"] = None  # type: ignore[index]
    assert pickle.loads(pickle.dumps(config)) == config
