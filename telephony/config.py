"""The ``telephony`` section of routing.yaml: the IVR worker pool and Kamailio in front of it.

Registered in :data:`router.config.loader.SECTION_READERS`; problems carry file, line, column and key
path like every other section. Documented in docs/telephony.md.

Ports: Kamailio listens on ``sip_port`` (the one address callers dial); worker ``i`` (0-based) listens on
``worker_port + i`` and sends RTP from ``rtp_port + 100 * i`` upwards.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from yaml.nodes import Node

from router.config._sections import SECONDS
from router.config._yamlnodes import Reader, is_null
from router.config.model import Config

HOST = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
CALLBACK_URI = re.compile(r"sips?:[^{}\s]*\{number\}[^{}\s]*")
KEYS = (
    "enabled",
    "host",
    "sip_port",
    "workers",
    "worker_port",
    "rtp_port",
    "callers_per_worker",
    "allow",
    "flood",
    "music_on_hold",
    "probe_interval",
    "heartbeat",
    "restart_delay",
    "callback_uri",
    "callback_ring",
    "transfer_ring",
)
MAX_WORKERS = 256  # a worker is ~45 MB and holds 2 callers: 256 workers are ~11 GB and 512 callers
RTP_PORTS_PER_WORKER = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodLimit:
    """Kamailio's pike module: more than ``requests`` from one address within ``per`` seconds is refused."""

    requests: int = 200
    per: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class TelephonyConfig:
    enabled: bool = False
    host: str = "127.0.0.1"  # the address Kamailio and the workers bind to
    sip_port: int = 5060  # Kamailio: where callers and trunks send INVITEs
    workers: int = 2  # IVR worker processes (each one pjsua2 Endpoint, at most 4 legs)
    worker_port: int = 5100  # worker i listens on worker_port + i
    rtp_port: int = 20000  # worker i sends RTP from rtp_port + 100 * i
    callers_per_worker: int = 2  # each caller keeps a leg free for the agent's phone: 2 x 2 legs = 4
    allow: tuple[str, ...] = ("127.0.0.0/8",)  # source networks Kamailio accepts INVITEs from
    flood: FloodLimit = FloodLimit()
    music_on_hold: str = ""  # a WAV loop (8 kHz mono); empty: silence while queued
    probe_interval: int = 2  # seconds between Kamailio's OPTIONS probes of each worker
    heartbeat: float = 1.0  # seconds between a worker's free-legs records in Redis (TTL 3x)
    restart_delay: float = 0.5  # seconds before a dead worker is started again
    callback_uri: str = ""  # how to dial a callback number, e.g. "sip:{number}@trunk.example:5060"; empty: none
    callback_ring: float = 30.0  # seconds a callback rings the customer before it counts as not answered
    transfer_ring: float = 30.0  # seconds a SIP URI an agent transferred a call to rings before the caller is let go

    def worker_ports(self) -> list[int]:
        return [self.worker_port + i for i in range(self.workers)]


def read_section(r: Reader, node: Node | None, path: str, config: Config) -> TelephonyConfig:
    """The ``telephony`` section (defaults, disabled, when absent)."""
    base = TelephonyConfig()
    if is_null(node):
        return base
    f = r.fields(node, path, KEYS)
    if f is None:
        return base
    allow = base.allow
    if "allow" in f:
        items = r.sequence(f.get("allow"), f.at("allow"), non_empty=True)
        if items is not None:
            nets = []
            for i, item in enumerate(items):
                text = r.text(item, f"{f.at('allow')}[{i}]", what="a network like 10.0.0.0/8")
                if text is None:
                    continue
                try:
                    nets.append(str(ipaddress.ip_network(text, strict=False)))
                except ValueError:
                    r.expected(item, f"{f.at('allow')}[{i}]", "a network like 10.0.0.0/8")
            allow = tuple(nets)
    flood = base.flood
    if "flood" in f:
        fl = r.fields(f.get("flood"), f.at("flood"), ("requests", "per"))
        if fl is not None:
            flood = FloodLimit(
                requests=fl.integer("requests", flood.requests, lo=1), per=fl.integer("per", flood.per, lo=1)
            )
    workers = f.integer("workers", base.workers, lo=1, hi=MAX_WORKERS)
    worker_port = f.integer("worker_port", base.worker_port, lo=1024, hi=65535 - workers)
    sip_port = f.integer("sip_port", base.sip_port, lo=1, hi=65535)
    if worker_port <= sip_port < worker_port + workers:
        r.problem(f.get("sip_port"), f.at("sip_port"), f"port {sip_port} is also a worker's port")
    rtp_port = f.integer("rtp_port", base.rtp_port, lo=1024, hi=65535 - RTP_PORTS_PER_WORKER * workers)
    uris = [a.sip_uri for a in config.agents.values() if a.sip_uri]
    for port in range(worker_port, worker_port + workers):
        for uri in uris:
            if uri.endswith(f":{port}") or f":{port};" in uri:
                where = f.get("worker_port") or f.get("workers") or f.node
                r.problem(where, f.at("worker_port"), f"worker port {port} is an agent's phone ({uri})")
    return TelephonyConfig(
        enabled=f.boolean("enabled", base.enabled),
        host=f.matching("host", HOST, "an IPv4 address", base.host),
        sip_port=sip_port,
        workers=workers,
        worker_port=worker_port,
        rtp_port=rtp_port,
        callers_per_worker=f.integer("callers_per_worker", base.callers_per_worker, lo=1, hi=4),
        allow=allow,
        flood=flood,
        music_on_hold=f.text("music_on_hold", base.music_on_hold, what="a WAV file"),
        probe_interval=f.integer("probe_interval", base.probe_interval, lo=1, hi=60),
        heartbeat=f.number("heartbeat", base.heartbeat, above=0, what=SECONDS),
        restart_delay=f.number("restart_delay", base.restart_delay, lo=0, what=SECONDS),
        callback_uri=f.matching("callback_uri", CALLBACK_URI, 'a SIP URI with {number}, e.g. "sip:{number}@host"', ""),
        callback_ring=f.number("callback_ring", base.callback_ring, above=0, what=SECONDS),
        transfer_ring=f.number("transfer_ring", base.transfer_ring, above=0, what=SECONDS),
    )
