"""The ``customers`` section of routing.yaml: identity, timeline, continuity, surveys, KPIs, retention.

Registered in :data:`router.config.loader.SECTION_READERS`; problems carry file, line, column and key
path like every other section. Documented in docs/configuration.md and docs/customers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers
from yaml.nodes import Node

from router.config._sections import SECONDS
from router.config._yamlnodes import Reader, at, is_null
from router.config.model import Config, frozen_map

KEYS = (
    "default_region",
    "timeline_length",
    "timeline_max",
    "continuity_window",
    "fcr_days",
    "retention_days",
    "surveys",
    "continuity",
)
SURVEY_KEYS = ("chat", "voice")
RULE_KEYS = ("reuse_queue", "reuse_skills")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinuityRule:
    """What a returning customer's open case gives a new contact on one channel."""

    reuse_queue: bool = False  # go straight to the case's queue (a caller skips the IVR menu)
    reuse_skills: bool = False  # and ask for the case's skills


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomersConfig:
    default_region: str = ""  # ISO 3166 region for phone numbers written without a country code
    timeline_length: int = 20  # timeline entries an offer carries
    timeline_max: int = 5000  # entries kept per profile (oldest dropped beyond)
    continuity_window: float = 86400.0  # seconds: a customer back within this continues the case
    fcr_days: int = 7  # first-contact resolution: no repeat contact within this many days
    retention_days: int = 365  # profiles idle this long are erased, older timeline entries dropped (purge)
    chat_survey: bool = True  # ask for a 1-5 CSAT score in the widget after a chat
    voice_survey: bool = False  # a DTMF 1-5 survey after a call
    continuity: Mapping[str, ContinuityRule] = field(default_factory=frozen_map)  # channel -> rule

    @property
    def retention(self) -> float:
        return self.retention_days * 86400.0

    def rule(self, channel: str) -> ContinuityRule:
        return self.continuity.get(channel) or ContinuityRule()


def read_section(r: Reader, node: Node | None, path: str, config: Config) -> CustomersConfig:
    """The ``customers`` section (defaults when absent)."""
    base = CustomersConfig()
    if is_null(node):
        return base
    f = r.fields(node, path, KEYS)
    if f is None:
        return base
    region = f.text("default_region", base.default_region, what="a region code such as US or BR")
    if region and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        r.problem(f.get("default_region"), f.at("default_region"), f"unknown region '{region}' (expected e.g. US, BR)")
        region = base.default_region
    chat_survey, voice_survey = base.chat_survey, base.voice_survey
    if "surveys" in f:
        s = r.fields(f.get("surveys"), f.at("surveys"), SURVEY_KEYS)
        if s is not None:
            chat_survey = s.boolean("chat", chat_survey)
            voice_survey = s.boolean("voice", voice_survey)
    rules: dict[str, ContinuityRule] = {}
    if "continuity" in f:
        entries = r.entries(f.get("continuity"), f.at("continuity")) or {}
        for channel, (key_node, value) in entries.items():
            where = at(f.at("continuity"), channel)
            if channel not in config.channels:
                declared = ", ".join(sorted(config.channels))
                r.problem(key_node, where, f"unknown channel '{channel}'; declared: {declared}")
                continue
            c = r.fields(value, where, RULE_KEYS)
            if c is not None:
                rules[channel] = ContinuityRule(
                    reuse_queue=c.boolean("reuse_queue", False), reuse_skills=c.boolean("reuse_skills", False)
                )
    return CustomersConfig(
        default_region=region.upper(),
        timeline_length=f.integer("timeline_length", base.timeline_length, lo=0, hi=1000),
        timeline_max=f.integer("timeline_max", base.timeline_max, lo=1),
        continuity_window=f.number("continuity_window", base.continuity_window, lo=0, what=SECONDS),
        fcr_days=f.integer("fcr_days", base.fcr_days, lo=1, hi=365),
        retention_days=f.integer("retention_days", base.retention_days, lo=1),
        chat_survey=chat_survey,
        voice_survey=voice_survey,
        continuity=frozen_map(rules),
    )


def settings(config: Config) -> CustomersConfig:
    """The customers settings of a loaded config (defaults when the loader kept the section raw)."""
    value = config.customers
    return value if isinstance(value, CustomersConfig) else CustomersConfig()
