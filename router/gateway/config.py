"""The ``gateway`` section of routing.yaml: the websockets server, its limits, and who may connect.

Registered in :data:`router.config.loader.SECTION_READERS`; problems are reported like every other
section (file, line, column, key path). Documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from yaml.nodes import Node

from router.config._sections import SECONDS
from router.config._yamlnodes import NAME, NAME_RULE, Reader, at, is_null
from router.config.model import Config, frozen_map

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HOST = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
KEYS = (
    "host",
    "port",
    "tls",
    "grace",
    "heartbeat",
    "max_message",
    "rate",
    "token_secret_env",
    "stats_every",
    "chat",
    "supervisors",
    "connectors",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """Who may log in on the supervisor or connector endpoint, and what its token hashes to."""

    name: str
    token_sha256: str
    channels: tuple[str, ...] = ()  # connectors: the channels it may post
    queue: str = ""  # connectors: the queue its new conversations go to (default: the first taking the channel)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatSettings:
    """The web-chat widget: the queue a chat goes to, by topic."""

    queue: str = ""  # default queue (the first queue taking the chat channel when empty)
    channel: str = "chat"
    topics: Mapping[str, str] = field(default_factory=frozen_map)  # topic shown in the widget -> queue


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: str = ""  # PEM files; both given: wss and https
    tls_key: str = ""
    grace: float = 30.0  # a disconnected agent's open contacts are held this long for a reconnect
    heartbeat: float = 10.0  # ping every (jittered); a peer silent for another period is dead; process liveness TTL x 3
    max_message: int = 64 * 1024  # bytes; larger frames get error too_large (over 16x this, the socket closes)
    rate_messages: int = 20  # per connection ...
    rate_per: float = 1.0  # ... per this many seconds; past it: error rate_limited
    token_secret_env: str = "OMNIROUTE_TOKEN_SECRET"  # HMAC secret for signed agent tokens (see auth.py)
    stats_every: float = 1.0  # supervisor statistics and metrics gauges
    chat: ChatSettings = field(default_factory=ChatSettings)
    supervisors: Mapping[str, Credential] = field(default_factory=frozen_map)
    connectors: Mapping[str, Credential] = field(default_factory=frozen_map)


def read_section(r: Reader, node: Node | None, path: str, config: Config) -> GatewayConfig:
    """The ``gateway`` section (defaults when absent)."""
    base = GatewayConfig()
    if is_null(node):
        return base
    f = r.fields(node, path, KEYS)
    if f is None:
        return base
    tls_cert = tls_key = ""
    if "tls" in f:
        t = r.fields(f.get("tls"), f.at("tls"), ("cert", "key"), required=("cert", "key"))
        if t is not None:
            tls_cert, tls_key = t.text("cert", ""), t.text("key", "")
    rate_messages, rate_per = base.rate_messages, base.rate_per
    if "rate" in f:
        rt = r.fields(f.get("rate"), f.at("rate"), ("messages", "per"), required=("messages",))
        if rt is not None:
            rate_messages = rt.integer("messages", rate_messages, lo=1)
            rate_per = rt.number("per", rate_per, above=0, what=SECONDS)
    return GatewayConfig(
        host=f.matching("host", HOST, "a host name or address", base.host),
        port=f.integer("port", base.port, lo=0, hi=65535),
        tls_cert=tls_cert,
        tls_key=tls_key,
        grace=f.number("grace", base.grace, lo=0, what=SECONDS),
        heartbeat=f.number("heartbeat", base.heartbeat, above=0, what=SECONDS),
        max_message=f.integer("max_message", base.max_message, lo=256),
        rate_messages=rate_messages,
        rate_per=rate_per,
        token_secret_env=f.matching("token_secret_env", ENV_VAR, "an environment variable name", base.token_secret_env),
        stats_every=f.number("stats_every", base.stats_every, above=0, what=SECONDS),
        chat=_chat(r, f.get("chat"), f.at("chat"), config),
        supervisors=frozen_map(_credentials(r, f.get("supervisors"), f.at("supervisors"), config, connectors=False)),
        connectors=frozen_map(_credentials(r, f.get("connectors"), f.at("connectors"), config, connectors=True)),
    )


def _chat(r: Reader, node: Node | None, path: str, config: Config) -> ChatSettings:
    if is_null(node):
        return ChatSettings()
    f = r.fields(node, path, ("queue", "channel", "topics"))
    if f is None:
        return ChatSettings()
    channel = f.reference("channel", tuple(config.channels), "channel", "chat")
    queue = f.reference("queue", tuple(config.queues), "queue", "")
    topics: dict[str, str] = {}
    topic_node = f.get("topics")
    if not is_null(topic_node):
        for topic, (_key, value) in (r.entries(topic_node, f.at("topics")) or {}).items():
            target = r.reference(value, at(f.at("topics"), topic), tuple(config.queues), "queue")
            if target is not None:
                topics[topic] = target
    return ChatSettings(queue=queue, channel=channel, topics=frozen_map(topics))


def _credentials(r: Reader, node: Node | None, path: str, config: Config, *, connectors: bool) -> dict[str, Credential]:
    out: dict[str, Credential] = {}
    if is_null(node):
        return out
    allowed = ("token_sha256", "channels", "queue") if connectors else ("token_sha256",)
    for name, (key_node, value) in (r.entries(node, path) or {}).items():
        where = at(path, name)
        if not NAME.fullmatch(name):
            r.problem(key_node, where, f"expected {NAME_RULE}")
            continue
        f = r.fields(value, where, allowed, required=("token_sha256", "channels") if connectors else ("token_sha256",))
        if f is None:
            continue
        token = f.matching("token_sha256", SHA256, "the SHA-256 of the token, as 64 hex digits", "")
        channels: tuple[str, ...] = ()
        if connectors:
            items = r.sequence(f.get("channels"), f.at("channels"), non_empty=True) or []
            channels = tuple(
                c
                for i, item in enumerate(items)
                if (c := r.reference(item, at(f.at("channels"), i), tuple(config.channels), "channel")) is not None
            )
        out[name] = Credential(
            name=name,
            token_sha256=token.lower(),
            channels=channels,
            queue=f.reference("queue", tuple(config.queues), "queue", "") if connectors else "",
        )
    return out
