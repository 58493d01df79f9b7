"""Prometheus metrics of one ``omniroute serve`` process, served at ``/metrics``.

Counters follow the tenant's event stream from the moment the process started, so every process of a
tenant counts every contact: aggregate them across processes with ``max``, not ``sum``. Gauges (queue
depth, oldest wait, agents by state) are set every ``gateway.stats_every`` seconds from the figures the
gateway follows from the event stream (:mod:`router.gateway.board`). Open
connections are this process's own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from router.events import Event, EventType
from router.stats import QueueStats

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600)
_OFFER_OUTCOMES = {
    EventType.CONTACT_OFFERED: "sent",
    EventType.CONTACT_ACCEPTED: "accepted",
    EventType.CONTACT_REJECTED: "rejected",
    EventType.CONTACT_OFFER_EXPIRED: "expired",
    EventType.CONTACT_OFFER_REVOKED: "revoked",
}


class Metrics:
    """The process's registry and the series in it."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.queue_waiting = Gauge("omniroute_queue_waiting", "Contacts waiting in the queue", ["queue"], registry=r)
        self.queue_oldest = Gauge(
            "omniroute_queue_oldest_wait_seconds",
            "Wait of the oldest waiting contact (0 when none)",
            ["queue"],
            registry=r,
        )
        self.service_level = Gauge(
            "omniroute_queue_service_level_ratio",
            "Today's answered within target over answered",
            ["queue"],
            registry=r,
        )
        self.agents = Gauge("omniroute_agents", "Configured agents by state", ["state"], registry=r)
        self.offered = Counter(
            "omniroute_contacts_offered", "Contacts that arrived in a queue", ["queue", "channel"], registry=r
        )
        self.answered = Counter(
            "omniroute_contacts_answered", "Contacts an agent accepted", ["queue", "channel"], registry=r
        )
        self.abandoned = Counter(
            "omniroute_contacts_abandoned",
            "Contacts whose customer left before an answer",
            ["queue", "channel"],
            registry=r,
        )
        self.wait = Histogram(
            "omniroute_wait_seconds",
            "Wait from arrival to answer",
            ["queue", "channel"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.offers = Counter("omniroute_offers", "Offers to agents by outcome", ["outcome"], registry=r)
        self.connections = Gauge(
            "omniroute_websocket_connections", "Open websocket connections of this process", ["endpoint"], registry=r
        )
        self.messages = Counter(
            "omniroute_chat_messages", "Chat messages delivered by this process", ["sender"], registry=r
        )
        self.errors = Counter("omniroute_protocol_errors", "Error replies sent by this process", ["code"], registry=r)
        self.surveys = Counter(
            "omniroute_survey_answers", "Customer satisfaction answers by score", ["score"], registry=r
        )
        self.csat_today = Gauge(
            "omniroute_csat_today_ratio", "Today's survey answers of 4 or 5 over all answers (UTC day)", registry=r
        )
        self.fcr_today = Gauge(
            "omniroute_fcr_today_ratio",
            "Today's handled contacts with no repeat contact by the same customer so far (provisional)",
            registry=r,
        )
        for outcome in _OFFER_OUTCOMES.values():
            self.offers.labels(outcome)

    def update_today(self, kpis: dict) -> None:
        """Today's CSAT and FCR (router/gateway/today.py); absent until there is something to count."""
        if kpis.get("csat") is not None:
            self.csat_today.set(kpis["csat"])
        if kpis.get("fcr") is not None:
            self.fcr_today.set(kpis["fcr"])

    def observe(self, event: Event) -> None:
        """Count one lifecycle event."""
        outcome = _OFFER_OUTCOMES.get(event.type)
        if outcome is not None:
            self.offers.labels(outcome).inc()
        contact = event.contact
        if contact is None:
            return
        labels = (contact.get("queue", ""), contact.get("channel", ""))
        if event.type == EventType.CONTACT_ARRIVED:
            self.offered.labels(*labels).inc()
        elif event.type == EventType.CONTACT_ACCEPTED:
            self.answered.labels(*labels).inc()
            self.wait.labels(*labels).observe(max(0.0, event.at - float(contact.get("enqueued_at") or event.at)))
        elif event.type == EventType.CONTACT_ABANDONED:
            self.abandoned.labels(*labels).inc()

    def update(self, queues: list[QueueStats], agents_by_state: dict[str, int]) -> None:
        """Set the gauges from the live figures."""
        for q in queues:
            self.queue_waiting.labels(q.queue).set(q.waiting)
            self.queue_oldest.labels(q.queue).set(q.oldest_wait or 0.0)
            level = q.today.of_answered
            if level is not None:
                self.service_level.labels(q.queue).set(level)
        for state, n in agents_by_state.items():
            self.agents.labels(state).set(n)

    def exposition(self) -> bytes:
        """The Prometheus text format (0.0.4) of every series."""
        return generate_latest(self.registry)
