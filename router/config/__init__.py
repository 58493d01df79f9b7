"""routing.yaml: parsed once, at the edge, into frozen dataclasses (see ``model``)."""

from router.config.loader import load, loads
from router.config.model import (
    Agent,
    Aging,
    Channel,
    Config,
    EscalationStep,
    MaxWait,
    MaxWaitAction,
    Profile,
    ProfileQueue,
    Queue,
    RoutingDefaults,
    ServiceLevel,
    SkillRequirement,
    Strategy,
)

__all__ = [
    "Agent",
    "Aging",
    "Channel",
    "Config",
    "EscalationStep",
    "MaxWait",
    "MaxWaitAction",
    "Profile",
    "ProfileQueue",
    "Queue",
    "RoutingDefaults",
    "ServiceLevel",
    "SkillRequirement",
    "Strategy",
    "load",
    "loads",
]
