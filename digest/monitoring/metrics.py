"""/metrics in the Prometheus text format, written by prometheus-client.

Gauges are read at scrape time (gauges.py: a fixed handful of queries); counters come from the
worker processes through Redis (counters.py). Names follow
https://prometheus.io/docs/practices/naming/ (base units, `_total` for counters); the alert rules
that use them are in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from digest.models import Paper
from digest.monitoring.counters import counters_read
from digest.monitoring.gauges import PROVIDER_EVENTS, pipeline_figures

# Counters the workers add to, with their help text and labels (declared even when still zero).
COUNTERS = {
    "digest_messages": (
        "Digest emails handed to the email backend, by outcome",
        ("backend", "outcome"),
    ),
    "digest_task_failures": ("Celery tasks that raised, by task name", ("task",)),
}


def _timestamp(value: object) -> float:
    return value.timestamp() if value is not None else 0.0  # type: ignore[attr-defined]


class PipelineCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        figures = pipeline_figures()
        deliveries = GaugeMetricFamily(
            "digest_deliveries",
            "Delivery rows of today's and yesterday's digest (UTC) by status",
            labels=["day", "status"],
        )
        for (day, status), n in sorted(figures.deliveries.items()):
            deliveries.add_metric([day, status], n)
        yield deliveries
        yield GaugeMetricFamily(
            "digest_oldest_queued_age_seconds",
            "Age of the oldest delivery row still queued (0: none)",
            value=figures.oldest_queued_seconds,
        )
        yield GaugeMetricFamily(
            "digest_oldest_sending_age_seconds",
            "Time since the oldest row still sending was claimed (0: none)",
            value=figures.oldest_sending_seconds,
        )
        yield GaugeMetricFamily(
            "digest_unknown_deliveries",
            "Rows of the last 7 digest days left unknown (maybe sent; never resent)",
            value=figures.unknown_7d,
        )
        yield GaugeMetricFamily(
            "digest_sent_24h", "Digests sent in the last 24 hours", value=figures.sent_24h
        )
        events = GaugeMetricFamily(
            "digest_provider_events_24h",
            "Hard bounces and complaints reported by the provider in the last 24 hours",
            labels=["type"],
        )
        rates = GaugeMetricFamily(
            "digest_provider_event_ratio_24h",
            "Bounces or complaints of the last 24 hours over digests sent in them",
            labels=["type"],
        )
        for kind in PROVIDER_EVENTS:
            events.add_metric([kind], figures.provider_events_24h[kind])
            rates.add_metric([kind], figures.provider_event_rate(kind))
        yield events
        yield rates
        last = GaugeMetricFamily(
            "digest_source_last_success_timestamp_seconds",
            "When the source's last successful fetch finished (Unix time; 0: never)",
            labels=["source"],
        )
        listing_in = GaugeMetricFamily(
            "digest_source_listing_in",
            "1 when today's listing (UTC) of the source has been fetched",
            labels=["source"],
        )
        stale = GaugeMetricFamily(
            "digest_source_stale",
            "1 when today's listing is stale: the day before's list again, or no mailing",
            labels=["source", "reason"],
        )
        for source, found in figures.sources.items():
            last.add_metric([source], _timestamp(found.last_success))
            listing_in.add_metric([source], float(found.listing_in))
            for reason in ("repeat", "no_mailing"):
                if source == Paper.Source.HF and reason == "no_mailing":
                    continue
                stale.add_metric([source, reason], float(found.stale == reason))
        yield last
        yield listing_in
        yield stale
        jobs = GaugeMetricFamily(
            "digest_job_last_success_timestamp_seconds",
            "When the job (fetch, plan, send) last succeeded (Unix time; 0: not in the cache)",
            labels=["job"],
        )
        for job, at in figures.job_last_success.items():
            jobs.add_metric([job], _timestamp(at))
        yield jobs
        yield GaugeMetricFamily(
            "digest_last_delivery_hour_utc",
            "The latest UTC hour of the day at which an active reader's digest falls due",
            value=-1 if figures.last_delivery_hour_utc is None else figures.last_delivery_hour_utc,
        )
        readers = GaugeMetricFamily("digest_readers", "Readers by status", labels=["status"])
        for status, n in figures.readers.items():
            readers.add_metric([status], n)
        yield readers
        counted = counters_read()
        for name, (documentation, labels) in COUNTERS.items():
            counter = CounterMetricFamily(name, documentation, labels=list(labels))
            for label_values, value in sorted(counted.get(name, {}).items()):
                values = dict(label_values)
                counter.add_metric([values.get(label, "") for label in labels], value)
            yield counter


def metrics_text() -> tuple[bytes, str]:
    """The exposition and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
