"""The ``ivr`` section of routing.yaml: prompts, languages, entry numbers, voice flows and announcements.

Registered in :data:`router.config.loader.SECTION_READERS`; every problem carries file, line, column and key
path. Documented in docs/configuration.md ("ivr") and docs/ivr.md. Load-time checks on each flow: every node
reachable from ``start``, every branch target defined, every prompt declared (in every language), no loop
through nodes none of which waits for a digit, queues, skills and languages declared, transfer URIs on the
allow-list.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode
from yaml.nodes import Node as YNode

from router.config._sections import SECONDS, SIP_URI
from router.config._yamlnodes import NAME, NAME_RULE, Fields, Reader, at, is_null, suggest
from router.config.model import Config, frozen_map
from skills.model import MAX_LEVEL, MIN_LEVEL

KEYS = (
    "language",
    "languages",
    "prompts_dir",
    "voicemail_dir",
    "music_on_hold",
    "transfer_allow",
    "rejoin_window",
    "entry",
    "prompts",
    "announce",
    "flows",
)
ENTRY_KEYS = ("default", "numbers")
FLOW_KEYS = ("start", "nodes")
ANNOUNCE_KEYS = ("frequency", "min_frequency", "position", "wait", "callback_key", "callback_queue", "max_position")
DIGITS = "0123456789*#"
LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RANGE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])")
# Prompts the queue announcer plays (ivr.announce); checked when announcements are on.
ANNOUNCE_PROMPTS = ("position_is", "in_line", "you_are_next", "wait_is", "minute", "minutes", "callback_offer")
REJOIN_PROMPT = "welcome_back"  # played (when declared) to a caller who gets their old place back
MAX_REJOIN_WINDOW = 86400.0  # an abandoned contact's record is kept a day
NUMBER_PROMPTS = 99  # `prompts build` renders the numbers 1..99 per language as prompts number_1 ... number_99


class NodeType(StrEnum):
    PLAY = "play"
    MENU = "menu"
    COLLECT = "collect"
    HOURS = "hours"
    SET = "set"
    QUEUE = "queue"
    CALLBACK = "callback"
    TRANSFER = "transfer"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"


INPUT_NODES = (NodeType.MENU, NodeType.COLLECT)  # the nodes that wait for a digit
NODE_KEYS: dict[NodeType, tuple[str, ...]] = {
    NodeType.PLAY: ("prompt", "next"),
    NodeType.MENU: ("prompt", "options", "timeout", "retries", "invalid", "fallback", "attribute"),
    NodeType.COLLECT: (
        "prompt",
        "attribute",
        "min_digits",
        "max_digits",
        "terminator",
        "timeout",
        "retries",
        "invalid",
        "next",
        "fallback",
    ),
    NodeType.HOURS: ("timezone", "week", "holidays", "open", "closed"),
    NodeType.SET: ("priority", "skills", "language", "attrs", "next"),
    NodeType.QUEUE: ("prompt", "queue", "priority", "skills"),
    NodeType.CALLBACK: ("prompt", "queue", "number_attribute"),
    NodeType.TRANSFER: ("prompt", "uri"),
    NodeType.VOICEMAIL: ("prompt", "queue", "max_seconds", "next"),
    NodeType.HANGUP: ("prompt", "reason"),
}
REQUIRED: dict[NodeType, tuple[str, ...]] = {
    NodeType.PLAY: ("prompt", "next"),
    NodeType.MENU: ("prompt", "options"),
    NodeType.COLLECT: ("prompt", "attribute", "next"),
    NodeType.HOURS: ("timezone", "week", "open", "closed"),
    NodeType.QUEUE: ("queue",),
    NodeType.CALLBACK: ("queue",),
    NodeType.TRANSFER: ("uri",),
    NodeType.VOICEMAIL: ("prompt", "queue"),
}


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt: text per language (rendered by ``omniroute prompts build``) or one recorded WAV."""

    name: str
    text: Mapping[str, str] = field(default_factory=frozen_map)  # language -> text
    file: str = ""  # an absolute WAV path; set instead of text


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowNode:
    """One step of a flow; which fields matter depends on ``type`` (see docs/ivr.md)."""

    name: str
    type: NodeType
    line: int  # where it is declared, for messages
    prompt: str = ""
    next: str = ""
    options: Mapping[str, str] = field(default_factory=frozen_map)  # menu: digit -> node
    timeout: float = 5.0  # menu/collect: seconds to wait for a (next) digit
    retries: int = 2  # menu/collect: replays after a timeout or invalid input, then the fallback
    invalid: str = ""  # menu/collect: prompt played on invalid input
    fallback: str = ""  # menu/collect: node after the retries; empty: hang up
    attribute: str = ""  # menu: where the choice is kept (default the node's name); collect: the digits
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"
    timezone: str = "UTC"  # hours
    week: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=frozen_map)  # weekday -> minutes
    holidays: frozenset[dt.date] = frozenset()
    open: str = ""
    closed: str = ""
    priority: int | None = None  # set, queue
    skills: Mapping[str, int] = field(default_factory=frozen_map)  # set, queue: skill -> min level
    language: str = ""  # set
    attrs: Mapping[str, str] = field(default_factory=frozen_map)  # set
    queue: str = ""  # queue, callback, voicemail
    number_attribute: str = ""  # callback: a collected number to call back instead of the caller ID
    uri: str = ""  # transfer
    max_seconds: float = 120.0  # voicemail
    reason: str = "completed"  # hangup

    def targets(self) -> tuple[str, ...]:
        """The nodes this one can go to."""
        found = (*self.options.values(), self.next, self.fallback, self.open, self.closed)
        return tuple(t for t in dict.fromkeys(found) if t)


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, FlowNode]


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """Queue announcements while a caller waits (see :mod:`ivr.announce`)."""

    frequency: float = 60.0  # announce again after this long even if nothing changed; 0: only on change
    min_frequency: float = 15.0  # never announce more often than this
    position: bool = True
    wait: bool = True
    callback_key: str = ""  # a digit that asks for a callback while queued; empty: not offered
    callback_queue: str = ""  # where the callback waits; empty: the queue the caller is in
    max_position: int = NUMBER_PROMPTS  # positions above this are not spoken (only the wait)


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrConfig:
    language: str = "en"
    languages: tuple[str, ...] = ("en",)
    prompts_dir: str = ""  # absolute
    voicemail_dir: str = ""  # absolute
    music_on_hold: str = ""  # absolute; empty: prompts_dir/music_on_hold.wav made by `prompts build`
    transfer_allow: tuple[str, ...] = ()  # fnmatch patterns
    rejoin_window: float = 120.0  # seconds: a caller who hung up while queued and calls again gets their place back
    entry_default: str = ""
    entry_numbers: Mapping[str, str] = field(default_factory=frozen_map)  # number dialled -> flow
    prompts: Mapping[str, Prompt] = field(default_factory=frozen_map)
    announce: Announce | None = None
    flows: Mapping[str, Flow] = field(default_factory=frozen_map)

    def prompt_path(self, name: str, language: str) -> str:
        """The WAV of prompt ``name`` in ``language``."""
        prompt = self.prompts.get(name)
        if prompt is not None and prompt.file:
            return prompt.file
        return str(Path(self.prompts_dir) / language / f"{name}.wav")

    def moh_path(self) -> str:
        return self.music_on_hold or str(Path(self.prompts_dir) / "music_on_hold.wav")

    def flow_for(self, called: str) -> Flow:
        """The flow a call to ``called`` (a number, or a SIP URI whose user part is the number) starts."""
        number = called
        if called.startswith(("sip:", "sips:")):
            number = called.split(":", 1)[1].split("@", 1)[0]
        return self.flows[self.entry_numbers.get(number, self.entry_numbers.get(called, self.entry_default))]

    def transfer_allowed(self, uri: str) -> bool:
        return any(fnmatch.fnmatchcase(uri, p) for p in self.transfer_allow)


def read_section(r: Reader, node: YNode | None, path: str, config: Config) -> IvrConfig:
    """The ``ivr`` section (no flows when absent or ``{}``; otherwise ``flows`` is required)."""
    base = IvrConfig()
    here = Path(config.source).resolve().parent if config.source and not config.source.startswith("<") else Path()
    if is_null(node) or (isinstance(node, MappingNode) and not node.value):  # absent or {}: no IVR
        return IvrConfig(prompts_dir=str(here / "prompts"), voicemail_dir=str(here / "voicemail"))
    f = r.fields(node, path, KEYS)
    if f is None:
        return base
    languages = _languages(r, f)
    language = f.matching("language", LANGUAGE, "a language code such as en or pt-br", languages[0])
    if "language" in f and language not in languages:
        r.problem(f.get("language"), f.at("language"), f"'{language}' is not in languages ({', '.join(languages)})")

    def file(key: str, default: str) -> str:
        value = f.text(key, default)
        return str(here / value) if value else ""

    allow: tuple[str, ...] = ()
    if "transfer_allow" in f:
        items = r.sequence(f.get("transfer_allow"), f.at("transfer_allow")) or []
        allow = tuple(
            v
            for i, item in enumerate(items)
            if (v := r.matching(item, at(f.at("transfer_allow"), i), SIP_URI, "a SIP URI pattern (sip:...)"))
        )
    prompts = _prompts(r, f, languages, here)
    flow_nodes = {} if f.get("flows") is None else (_names(r, f.get("flows"), f.at("flows")) or {})
    if not flow_nodes:
        r.problem(f.get("flows") or f.node, f.at("flows"), "expected a mapping of at least one flow")
    ctx = _Context(r, config, languages, prompts, allow)
    flows = {name: ctx.flow(name, n, at(f.at("flows"), name)) for name, n in flow_nodes.items()}
    default, numbers = _entry(r, f, tuple(flow_nodes))
    announce = None
    if "announce" in f:
        announce = _announce(r, f.get("announce"), f.at("announce"), config)
        if announce is not None:
            for name in ANNOUNCE_PROMPTS:
                if name != "callback_offer" or announce.callback_key:
                    ctx.need_prompt(f.get("announce"), f.at("announce"), name)
    return IvrConfig(
        language=language,
        languages=languages,
        prompts_dir=file("prompts_dir", "prompts"),
        voicemail_dir=file("voicemail_dir", "voicemail"),
        music_on_hold=file("music_on_hold", ""),
        transfer_allow=allow,
        rejoin_window=f.number("rejoin_window", base.rejoin_window, lo=0, hi=MAX_REJOIN_WINDOW, what=SECONDS),
        entry_default=default or (next(iter(flow_nodes), "")),
        entry_numbers=frozen_map(numbers),
        prompts=frozen_map(prompts),
        announce=announce,
        flows=frozen_map({k: v for k, v in flows.items() if v is not None}),
    )


def _names(r: Reader, node: YNode, path: str, keys: dict[str, YNode] | None = None) -> dict[str, YNode] | None:
    """A mapping of name -> value node for the well-formed names; ``keys`` gets each name's key node."""
    entries = r.entries(node, path)
    if entries is None:
        return None
    out = {k: v for k, (kn, v) in entries.items() if r.name(kn, at(path, k)) is not None}
    if keys is not None:
        keys.update({k: entries[k][0] for k in out})
    return out


def _languages(r: Reader, f: Fields) -> tuple[str, ...]:
    if "languages" not in f:
        return ("en",)
    items = r.sequence(f.get("languages"), f.at("languages"), non_empty=True) or []
    what = "a language code such as en or pt-br"
    found = [v for i, n in enumerate(items) if (v := r.matching(n, at(f.at("languages"), i), LANGUAGE, what))]
    return tuple(dict.fromkeys(found)) or ("en",)


def _prompts(r: Reader, f: Fields, languages: tuple[str, ...], here: Path) -> dict[str, Prompt]:
    out: dict[str, Prompt] = {}
    for name, node in ((_names(r, f.get("prompts"), f.at("prompts")) or {}) if "prompts" in f else {}).items():
        path = at(f.at("prompts"), name)
        entries = r.entries(node, path)
        if entries is None:
            continue
        if "file" in entries:
            pf = r.fields(node, path, ("file",))
            value = pf.text("file", "") if pf else ""
            out[name] = Prompt(name, file=str(here / value) if value else "")
            continue
        text = {}
        for lang, (key_node, value) in entries.items():
            if lang not in languages:
                r.problem(key_node, at(path, lang), f"'{lang}' is not in ivr.languages ({', '.join(languages)})")
            elif (t := r.text(value, at(path, lang), what="the prompt's text")) is not None:
                text[lang] = t
        for lang in languages:
            if lang not in entries:
                r.problem(node, path, f"no text in '{lang}' (every language in ivr.languages needs one, or 'file')")
        out[name] = Prompt(name, text=frozen_map(text))
    return out


def _entry(r: Reader, f: Fields, flows: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    if "entry" not in f:
        return "", {}
    e = r.fields(f.get("entry"), f.at("entry"), ENTRY_KEYS)
    if e is None:
        return "", {}
    default = e.reference("default", flows, "flow", "")
    numbers = {}
    if "numbers" in e:
        for number, (_, value) in (r.entries(e.get("numbers"), e.at("numbers")) or {}).items():
            if (flow := r.reference(value, at(e.at("numbers"), number), flows, "flow")) is not None:
                numbers[number] = flow
    return default, numbers


def _announce(r: Reader, node: YNode, path: str, config: Config) -> Announce | None:
    base = Announce()
    f = r.fields(node, path, ANNOUNCE_KEYS)
    if f is None:
        return None
    key = f.text("callback_key", "")
    if key and (len(key) != 1 or key not in DIGITS):
        r.expected(f.get("callback_key"), f.at("callback_key"), "one key: 0-9, * or #")
    a = Announce(
        frequency=f.number("frequency", base.frequency, lo=0, what=SECONDS),
        min_frequency=f.number("min_frequency", base.min_frequency, lo=1, what=SECONDS),
        position=f.boolean("position", base.position),
        wait=f.boolean("wait", base.wait),
        callback_key=key,
        callback_queue=f.reference("callback_queue", config.queues, "queue", ""),
        max_position=f.integer("max_position", base.max_position, lo=1, hi=NUMBER_PROMPTS),
    )
    if a.frequency and a.frequency < a.min_frequency:
        r.problem(f.get("frequency"), f.at("frequency"), f"must be 0 or at least min_frequency ({a.min_frequency:g})")
    return a


class _Context:
    """What reading a flow checks against: the config so far, the languages, prompts and allow-list."""

    def __init__(
        self, r: Reader, config: Config, languages: tuple[str, ...], prompts: dict[str, Prompt], allow: tuple
    ) -> None:
        self.r, self.config, self.languages, self.prompts, self.allow = r, config, languages, prompts, allow

    def need_prompt(self, node: YNode | None, path: str, name: str) -> None:
        if name not in self.prompts:
            declared = ", ".join(sorted(self.prompts)) or "none"
            self.r.problem(node, path, f"prompt '{name}' is not declared in ivr.prompts (declared: {declared})")

    def flow(self, name: str, node: YNode, path: str) -> Flow | None:
        r = self.r
        f = r.fields(node, path, FLOW_KEYS, required=("start", "nodes"))
        if f is None or "nodes" not in f:
            return None
        self.keys: dict[str, YNode] = {}
        raw = _names(r, f.get("nodes"), f.at("nodes"), self.keys) or {}
        nodes: dict[str, FlowNode] = {}
        for node_name, n in raw.items():
            built = self.node(node_name, n, at(f.at("nodes"), node_name))
            if built is not None:
                nodes[node_name] = built
        start = f.reference("start", tuple(raw), "node", "")
        if not start:
            return None
        self._check_graph(f, nodes, raw, start)
        return Flow(name, start, frozen_map(nodes))

    def node(self, name: str, node: YNode, path: str) -> FlowNode | None:
        r = self.r
        entries = r.entries(node, path)
        if entries is None:
            return None
        if "type" not in entries:
            r.problem(node, path, f"missing required key 'type' (one of {', '.join(NodeType)})")
            return None
        kind = r.choice(entries["type"][1], at(path, "type"), NodeType)
        if kind is None:
            return None
        f = r.fields(node, path, ("type", *NODE_KEYS[kind]), required=REQUIRED.get(kind, ()))
        if f is None:
            return None
        kw: dict = {}
        if "prompt" in f:
            kw["prompt"] = f.text("prompt", "")
            self.need_prompt(f.get("prompt"), f.at("prompt"), kw["prompt"])
        if "invalid" in f:
            kw["invalid"] = f.text("invalid", "")
            self.need_prompt(f.get("invalid"), f.at("invalid"), kw["invalid"])
        for key in ("next", "fallback", "open", "closed", "attribute", "number_attribute", "reason"):
            if key in f:
                kw[key] = f.matching(key, NAME, NAME_RULE, "")
        if "timeout" in f:
            kw["timeout"] = f.number("timeout", 5.0, above=0, what=SECONDS)
        if "retries" in f:
            kw["retries"] = f.integer("retries", 2, lo=0, hi=10)
        if kind is NodeType.MENU:
            kw["options"] = self._options(f)
        if kind is NodeType.COLLECT:
            kw["min_digits"] = f.integer("min_digits", 1, lo=1, hi=64)
            kw["max_digits"] = f.integer("max_digits", 20, lo=1, hi=64)
            if kw["max_digits"] < kw["min_digits"]:
                r.problem(f.get("max_digits"), f.at("max_digits"), "must be at least min_digits")
            kw["terminator"] = f.text("terminator", "#")
            if kw["terminator"] not in ("", "#", "*"):
                r.expected(f.get("terminator"), f.at("terminator"), "'#', '*' or ''")
        if kind is NodeType.HOURS:
            self._hours(f, kw)
        if "priority" in f:
            kw["priority"] = f.integer("priority", None, lo=0)
        if "skills" in f:
            kw["skills"] = self._skills(f)
        if "language" in f:
            kw["language"] = f.text("language", "")
            if kw["language"] not in self.languages:
                r.problem(f.get("language"), f.at("language"), f"'{kw['language']}' is not in ivr.languages")
            elif kw["language"] not in self.config.skills:
                r.problem(f.get("language"), f.at("language"), f"'{kw['language']}' is not a declared skill")
        if "attrs" in f:
            items = r.entries(f.get("attrs"), f.at("attrs")) or {}
            kw["attrs"] = frozen_map(
                {k: t for k, (_, v) in items.items() if (t := r.text(v, at(f.at("attrs"), k))) is not None}
            )
        if "queue" in f:
            kw["queue"] = f.reference("queue", self.config.queues, "queue", "")
            q = self.config.queues.get(kw["queue"])
            if q is not None and "voice" not in q.channels:
                r.problem(f.get("queue"), f.at("queue"), f"queue '{kw['queue']}' does not take voice")
        if "uri" in f:
            kw["uri"] = f.matching("uri", SIP_URI, "a SIP URI (sip:...)", "")
            if kw["uri"] and not any(fnmatch.fnmatchcase(kw["uri"], p) for p in self.allow):
                r.problem(f.get("uri"), f.at("uri"), f"'{kw['uri']}' is not on ivr.transfer_allow")
        if "max_seconds" in f:
            kw["max_seconds"] = f.number("max_seconds", 120.0, above=0, hi=3600, what=SECONDS)
        return FlowNode(name=name, type=kind, line=node.start_mark.line + 1, **kw)

    def _options(self, f: Fields) -> Mapping[str, str]:
        out = {}
        for digit, (key_node, value) in (self.r.entries(f.get("options"), f.at("options")) or {}).items():
            path = at(f.at("options"), digit)
            if len(digit) != 1 or digit not in DIGITS:
                self.r.problem(key_node, path, "expected one key: 0-9, * or #")
            elif (target := self.r.name(value, path)) is not None:
                out[digit] = target
        return frozen_map(out)

    def _skills(self, f: Fields) -> Mapping[str, int]:
        out = {}
        for skill, (key_node, value) in (self.r.entries(f.get("skills"), f.at("skills")) or {}).items():
            path = at(f.at("skills"), skill)
            if self.r.reference(key_node, path, self.config.skills, "skill") is None:
                continue
            level = self.r.integer(value, path, lo=MIN_LEVEL, hi=MAX_LEVEL, what="a level")
            if level is not None:
                out[skill] = level
        return frozen_map(out)

    def _hours(self, f: Fields, kw: dict) -> None:
        r = self.r
        tz = f.text("timezone", "UTC")
        try:
            ZoneInfo(tz)
            kw["timezone"] = tz
        except (ZoneInfoNotFoundError, ValueError):
            r.expected(f.get("timezone"), f.at("timezone"), "an IANA time zone such as Europe/Lisbon")
        week: dict[int, tuple[tuple[int, int], ...]] = {}
        wf = r.fields(f.get("week"), f.at("week"), WEEKDAYS) if "week" in f else None
        for day, key in enumerate(WEEKDAYS):
            if wf is None or key not in wf:
                continue
            spans = []
            text = wf.text(key, "")
            for part in (p.strip() for p in text.split(",")) if text not in ("", "closed") else ():
                m = RANGE.fullmatch(part)
                lo, hi = (int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])) if m else (0, 0)
                if not m or hi <= lo or hi > 24 * 60:
                    r.expected(wf.get(key), wf.at(key), "'closed' or times like '08:00-12:30, 14:00-18:00'")
                    break
                spans.append((lo, hi))
            week[day] = tuple(spans)
        kw["week"] = frozen_map(week)
        holidays = set()
        items = (r.sequence(f.get("holidays"), f.at("holidays")) or []) if "holidays" in f else []
        for i, item in enumerate(items):
            text = r.text(item, at(f.at("holidays"), i), what="a date like 2026-12-25")
            try:
                holidays.add(dt.date.fromisoformat(text or ""))
            except ValueError:
                r.expected(item, at(f.at("holidays"), i), "a date like 2026-12-25")
        kw["holidays"] = frozenset(holidays)

    def _check_graph(self, f: Fields, nodes: dict[str, FlowNode], raw: dict[str, YNode], start: str) -> None:
        r = self.r
        base = f.at("nodes")
        for node in nodes.values():
            for key in ("next", "fallback", "open", "closed"):
                target = getattr(node, key)
                if target and target not in raw:
                    fields = r.entries(raw[node.name], at(base, node.name)) or {}
                    r.problem(fields[key][1], at(at(base, node.name), key), _undefined(target, raw))
            for digit, target in node.options.items():
                if target not in raw:
                    opts = r.entries(raw[node.name], at(base, node.name)) or {}
                    where = (r.entries(opts["options"][1], "") or {})[digit][1]
                    r.problem(where, at(at(at(base, node.name), "options"), digit), _undefined(target, raw))
        seen, todo = {start}, [start]
        while todo:
            for target in nodes[n].targets() if (n := todo.pop()) in nodes else ():
                if target in raw and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in raw if len(nodes) == len(raw) else ():  # a node with errors hides its branches: no guess
            if name not in seen:
                r.problem(self.keys[name], at(base, name), f"node '{name}' cannot be reached from start '{start}'")
        # A cycle among nodes that never wait for a digit would spin forever.
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            state[name] = 1
            for target in nodes[name].targets():
                t = nodes.get(target)
                if t is None or t.type in INPUT_NODES:
                    continue
                if state.get(target) == 1:
                    loop = " -> ".join([*trail[trail.index(target) :], target])
                    r.problem(self.keys[target], at(base, target), f"loop without input: {loop} (no menu or collect)")
                elif target not in state:
                    visit(target, [*trail, target])
            state[name] = 2

        for name, node in nodes.items():
            if node.type not in INPUT_NODES and name not in state:
                visit(name, [name])


def _undefined(target: str, raw: Mapping[str, YNode]) -> str:
    return f"node '{target}' is not defined in this flow{suggest(target, raw)}; defined: {', '.join(sorted(raw))}"
