"""routing.yaml -> :class:`~router.config.model.Config`, reporting every problem with file, line and key path.

The schema is documented key by key in ``docs/configuration.md``. Sections are read in dependency order
(routing, channels, skills, queues, profiles, agents) whatever their order in the file. Names are
declared by the keys of ``channels``, ``queues`` and ``profiles`` and the items of ``skills`` before any
reference is checked, so a reference is reported as unknown only when no such name was declared, even
if the declaration itself has other problems.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from os import PathLike
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node

from router.config._sections import SECONDS, Known, read_agents, read_aging, read_profile, read_queue
from router.config._yamlnodes import Reader, at, found, is_null
from router.config.model import (
    Channel,
    Config,
    RoutingDefaults,
    Strategy,
    frozen_map,
)
from router.errors import ConfigError, ConfigProblem

TOP_KEYS = (
    "tenant",
    "routing",
    "channels",
    "skills",
    "queues",
    "profiles",
    "agents",
    "gateway",
    "telephony",
    "ivr",
    "simulation",
    "customers",
)
OPAQUE_SECTIONS = ("gateway", "telephony", "ivr", "simulation", "customers")
# Sections read by their own package: section -> "module:function", called as
# function(reader, node_or_None, path, config_so_far) -> value stored on Config. A section not listed here
# is kept as a plain read-only mapping.
SECTION_READERS: dict[str, str] = {
    "gateway": "router.gateway.config:read_section",
    "telephony": "telephony.config:read_section",
    "simulation": "simulations.scenario:read_section",
    "customers": "customers.config:read_section",
    "ivr": "ivr.config:read_section",
}
ROUTING_KEYS = (
    "strategy",
    "offer_timeout",
    "reject_delay",
    "no_answer_delay",
    "max_missed_offers",
    "wrapup",
    "last_agent",
    "aging",
    "seed",
)
CHANNEL_KEYS = ("capacity", "exclusive", "offer_timeout")
TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def load(path: str | PathLike[str]) -> Config:
    """Read and validate a routing.yaml.

    Raises:
        ConfigError: the file can't be read, isn't YAML, or doesn't fit the schema; lists every problem.
    """
    return loads(read_text(path), str(path))


def read_text(path: str | PathLike[str]) -> str:
    """A configuration, scenario or replay file's text.

    Raises:
        ConfigError: no such file, or it can't be read as UTF-8 (naming the file).
    """
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(source, 0, 0, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([ConfigProblem(source, 0, 0, "", f"cannot read the file: {e}")]) from None


def loads(text: str, source: str = "<string>") -> Config:
    """Validate routing.yaml text; ``source`` names it in problems.

    Raises:
        ConfigError: the text isn't YAML or doesn't fit the schema; lists every problem.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise ConfigError([_syntax_problem(source, e)]) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        problem = ConfigProblem(source, line, column, "", f"invalid YAML: {e.reason} (#x{code:04x})")
        raise ConfigError([problem]) from None
    except yaml.YAMLError as e:
        raise ConfigError([ConfigProblem(source, 0, 0, "", f"invalid YAML: {e}")]) from None
    reader = Reader(source)
    if is_null(root):
        reader.problem(None, "", "the file is empty: expected a mapping with at least 'channels' and 'queues'")
        raise ConfigError(reader.problems)
    config = _config(reader, root)
    if reader.problems or config is None:
        unique = list(dict.fromkeys(reader.problems))
        raise ConfigError(sorted(unique, key=lambda p: (p.line, p.column)))
    return config


def _syntax_problem(source: str, e: yaml.MarkedYAMLError) -> ConfigProblem:
    """PyYAML's error as one problem at the mark where parsing failed."""
    mark = e.problem_mark or e.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    if e.context and e.problem and e.problem.startswith("but "):
        message = f"{e.context}, {e.problem}"  # "expected a single document ..., but found another document"
    elif e.context and e.problem:
        where = f" on line {e.context_mark.line + 1}" if e.context_mark is not None else ""
        message = f"{e.problem} ({e.context}{where})"
    else:
        message = e.problem or e.context or "unreadable"
    return ConfigProblem(source, line, column, "", f"invalid YAML: {message}")


def _config(r: Reader, root: Node) -> Config | None:
    if not isinstance(root, MappingNode):
        sections = ", ".join(TOP_KEYS)
        r.problem(root, "", f"expected a mapping of sections ({sections}) at the top level, found {found(root)}")
        return None
    top = r.fields(root, "", TOP_KEYS, required=("channels", "queues"))
    if top is None:
        return None
    tenant = top.matching("tenant", TENANT, "a tenant name of letters, digits, '_' or '-'", "default")
    routing = _routing(r, top.get("routing"), "routing")
    known = Known(channels=_channels(r, top.get("channels"), "channels"))
    known.skills = _skills(r, top.get("skills"), "skills")
    queue_items = _declare(r, top.get("queues"), "queues", required=True)
    known.queues = tuple(queue_items)
    queues = {name: read_queue(r, name, n, at("queues", name), routing, known) for name, n in queue_items.items()}
    profile_items = _declare(r, top.get("profiles"), "profiles")
    known.profiles = tuple(profile_items)
    profiles = {name: read_profile(r, name, n, at("profiles", name), known) for name, n in profile_items.items()}
    agents = read_agents(r, top.get("agents"), "agents", known)
    opaque = {}
    for section in OPAQUE_SECTIONS:
        node = top.get(section)
        if section in SECTION_READERS:
            continue
        if isinstance(node, MappingNode):
            opaque[section] = frozen_map(r.plain(node, section))
        elif not is_null(node):
            r.expected(node, section, "a mapping")
    if r.problems:
        return None
    config = Config(
        source=r.source,
        tenant=tenant,
        routing=routing,
        channels=frozen_map(known.channels),
        skills=known.skills,
        queues=frozen_map(queues),
        profiles=frozen_map(profiles),
        agents=frozen_map(agents),
        **opaque,
    )
    sections = {}
    for section, where in SECTION_READERS.items():
        module, function = where.split(":")
        read = getattr(importlib.import_module(module), function)
        sections[section] = read(r, top.get(section), section, config)
    if r.problems:
        return None
    return dataclasses.replace(config, **sections) if sections else config


def _routing(r: Reader, node: Node | None, path: str) -> RoutingDefaults:
    base = RoutingDefaults()
    f = None if is_null(node) else r.fields(node, path, ROUTING_KEYS)
    if f is None:
        return base
    return RoutingDefaults(
        strategy=f.choice("strategy", Strategy, base.strategy),
        offer_timeout=f.number("offer_timeout", base.offer_timeout, above=0, what=SECONDS),
        reject_delay=f.number("reject_delay", base.reject_delay, lo=0, what=SECONDS),
        no_answer_delay=f.number("no_answer_delay", base.no_answer_delay, lo=0, what=SECONDS),
        max_missed_offers=f.integer("max_missed_offers", base.max_missed_offers, lo=1),
        wrapup=f.number("wrapup", base.wrapup, lo=0, what=SECONDS),
        last_agent=f.number("last_agent", base.last_agent, lo=0, what=SECONDS),
        aging=read_aging(r, f, base.aging),
        seed=f.integer("seed", base.seed),
    )


def _declare(r: Reader, node: Node | None, path: str, *, required: bool = False) -> dict[str, Node]:
    """A mapping of name -> settings: the well-formed names, each with its settings node."""
    if is_null(node):
        if required and node is not None:
            r.expected(node, path, "a mapping with at least one entry")
        return {}
    entries = r.entries(node, path)
    if entries is None:
        return {}
    if required and not entries:
        r.problem(node, path, "expected a mapping with at least one entry, found an empty mapping")
    out = {}
    for key, (key_node, value_node) in entries.items():
        if r.name(key_node, at(path, key)) is not None:
            out[key] = value_node
    return out


def _channels(r: Reader, node: Node | None, path: str) -> dict[str, Channel | None]:
    out: dict[str, Channel | None] = {}
    for name, value in _declare(r, node, path, required=True).items():
        out[name] = None
        f = r.fields(value, at(path, name), CHANNEL_KEYS, required=("capacity",))
        if f is not None:
            out[name] = Channel(
                name=name,
                capacity=f.integer("capacity", 1, lo=1),
                exclusive=f.boolean("exclusive", False),
                offer_timeout=f.number("offer_timeout", None, above=0, what=SECONDS),
            )
    return out


def _skills(r: Reader, node: Node | None, path: str) -> tuple[str, ...]:
    items = [] if is_null(node) else r.sequence(node, path) or []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name = r.name(item, at(path, i))
        if name is not None and name in seen:
            r.problem(item, at(path, i), f"duplicate skill '{name}' (first on line {seen[name]})")
        elif name is not None:
            seen[name] = item.start_mark.line + 1
    return tuple(seen)
