"""Prometheus metrics, on a registry of the app's own (two apps in one process, as in tests, do not clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from pvoice.serving.services.cases import open_counts
from pvoice.serving.services.outbox import status_counts

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, so they are right whichever process wrote the rows."""

    def __init__(self, factory: sessionmaker[Session]):
        self.factory = factory

    def collect(self):
        cases = GaugeMetricFamily("pvoice_open_cases", "Cases not yet resolved", labels=["status", "urgency"])
        outbox = GaugeMetricFamily("pvoice_alerts", "Alerts in the outbox by status", labels=["status"])
        try:
            with self.factory() as session:
                for (status, urgency), n in open_counts(session).items():
                    cases.add_metric([status, urgency], n)
                for status, n in status_counts(session).items():
                    outbox.add_metric([status], n)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is away
            return
        yield cases
        yield outbox


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("pvoice_request_seconds", "Request latency", ["method", "route", "status"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.server_errors = Counter("pvoice_server_errors", "Responses with a status of 500 or more",
                                     ["route", "status"], registry=r)
        self.predictions = Counter("pvoice_predictions", "Predicted labels", ["head", "label"], registry=r)
        self.model_calls = Counter("pvoice_model_calls", "Batched model calls", registry=r)
        self.batch_texts = Histogram("pvoice_model_batch_texts", "Texts per model call",
                                     buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.alerts_sent = Counter("pvoice_alerts_delivered", "Alerts delivered", ["channel"], registry=r)
        self.alert_failures = Counter("pvoice_alert_failures", "Failed alert deliveries", ["channel", "code"],
                                      registry=r)
        self.dead_letters = Counter("pvoice_alert_dead_letters", "Alerts given up on", ["channel"], registry=r)
        self.timers_fired = Counter("pvoice_sla_timers_fired", "SLA timers fired", registry=r)

    def watch_database(self, factory: sessionmaker[Session]) -> None:
        self.registry.register(_DatabaseCollector(factory))

    def count_model_call(self, texts: int) -> None:
        self.model_calls.inc()
        self.batch_texts.observe(texts)

    def count_prediction(self, pred) -> None:
        self.predictions.labels("urgency", pred.urgency).inc()
        self.predictions.labels("sentiment", pred.sentiment).inc()
        for t in pred.touchpoints:
            self.predictions.labels("touchpoints", t).inc()
        for r in pred.urgent_reasons:
            self.predictions.labels("urgent_reasons", r).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
