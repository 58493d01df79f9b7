"""The customers section of routing.yaml: values, defaults, and errors with file, line and key path."""

from __future__ import annotations

import pytest

from customers.config import ContinuityRule, CustomersConfig, settings
from router.config import load, loads
from router.errors import ConfigError

BASE = """channels: {voice: {capacity: 1}, chat: {capacity: 3}}
skills: [sales]
queues: {sales: {channels: [voice, chat], skills: {sales: 1}}}
"""


def test_values_and_defaults() -> None:
    text = BASE + """customers:
  default_region: br
  timeline_length: 10
  continuity_window: 7200
  fcr_days: 3
  retention_days: 90
  surveys: {chat: false, voice: true}
  continuity: {voice: {reuse_queue: true}}
"""
    c = settings(loads(text))
    assert c == CustomersConfig(
        default_region="BR", timeline_length=10, continuity_window=7200.0, fcr_days=3, retention_days=90,
        chat_survey=False, voice_survey=True, continuity={"voice": ContinuityRule(reuse_queue=True)},
    )
    assert c.rule("chat") == ContinuityRule()
    assert settings(loads(BASE)) == CustomersConfig()


def test_every_problem_is_reported_with_line_and_key_path() -> None:
    text = BASE + """customers:
  default_region: XX
  fcr_days: 0
  surveys: {chat: maybe}
  continuity: {fax: {reuse_queue: true}, voice: {reuse_quue: true}}
  colour: blue
"""
    with pytest.raises(ConfigError) as e:
        loads(text, "routing.yaml")
    got = [str(p) for p in e.value.problems]
    assert any(p.startswith("routing.yaml:5:19: customers.default_region: unknown region 'XX'") for p in got), got
    assert any(p.startswith("routing.yaml:6:13: customers.fcr_days: expected an integer from 1 to 365") for p in got)
    assert any(p.startswith("routing.yaml:7:19: customers.surveys.chat: expected true or false") for p in got), got
    assert any(p.startswith("routing.yaml:8:16: customers.continuity.fax: unknown channel 'fax'") for p in got), got
    assert any("customers.continuity.voice.reuse_quue: unknown key" in p and "did you mean 'reuse_queue'" in p
               for p in got), got
    assert any(p.startswith("routing.yaml:9:3: customers.colour: unknown key") for p in got), got


def test_the_shipped_routing_yaml_has_a_customers_section() -> None:
    c = settings(load("routing.yaml"))
    assert c.default_region and c.continuity
