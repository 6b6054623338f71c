"""Structured JSON logs with a request id, and Prometheus metrics, per service."""

import contextvars
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SECRET_WORDS = ("authorization", "secret", "password", "token", "private")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, carrying the request id; never the values of secret-looking fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = "[redacted]" if any(word in key.lower() for word in _SECRET_WORDS) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(handler.formatter, JsonLogFormatter) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLogFormatter())
        root.handlers = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every outgoing request at INFO: a service's own access log says what it did, and the
    # demo's "where to look" was lost among a thousand lines of its calls. Failures still log as warnings.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


logger = logging.getLogger(__name__)
# Signing and verifying take milliseconds; a remote fetch (did:web, a status list) can take seconds.
_WORK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# What a probe reads from the database at scrape time: a gauge's value, in its unit.
DatabaseProbe = Callable[[AsyncSession], Awaitable[float]]


@dataclass(frozen=True, slots=True)
class _ScrapedGauge:
    name: str
    gauge: Gauge
    probe: DatabaseProbe


class ServiceMetrics:
    """A registry per app, so several services can live in one process (tests, the embedded platform)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.service = service
        self.background = Counter(
            "credstack_background_events_total",
            "Outcomes of background work: webhook deliveries given up (dead), status re-checks, reconciliation",
            ["service", "event"],
            registry=self.registry,
        )

        self.credentials_issued = Counter(
            "credstack_credentials_issued_total",
            "Assessment results answered by the issuer, by proof format and outcome (issued, refused, failed, "
            "replayed); a capstone awarded with a credential counts as one more issued",
            ["service", "format", "outcome"],
            registry=self.registry,
        )
        self.issuance_latency = Histogram(
            "credstack_issuance_duration_seconds",
            "Time to judge, sign and commit one assessment result that was issued (capstones included)",
            ["service", "format"],
            registry=self.registry,
            buckets=_WORK_BUCKETS,
        )
        self.verifications = Counter(
            "credstack_verifications_total",
            "Credentials verified (the public API and page), by format and verdict (verified, failed)",
            ["service", "format", "verdict"],
            registry=self.registry,
        )
        self.verification_latency = Histogram(
            "credstack_verification_duration_seconds",
            "Time to verify one presented credential, remote fetches included",
            ["service", "format"],
            registry=self.registry,
            buckets=_WORK_BUCKETS,
        )
        self._scraped: list[_ScrapedGauge] = []

    def count(self, event: str, amount: int = 1) -> None:
        """One more (or `amount` more) of a background outcome, e.g. webhook_delivery_dead."""
        if amount:
            self.background.labels(self.service, event).inc(amount)

    def observe_issuance(self, proof_format: str, outcome: str, seconds: float | None = None, amount: int = 1) -> None:
        """`amount` assessment results answered with `outcome`; the latency is kept for issued ones."""
        self.credentials_issued.labels(self.service, proof_format, outcome).inc(amount)
        if seconds is not None:
            self.issuance_latency.labels(self.service, proof_format).observe(seconds)

    def observe_verification(self, credential_format: str, verified: bool, seconds: float) -> None:
        verdict = "verified" if verified else "failed"
        self.verifications.labels(self.service, credential_format, verdict).inc()
        self.verification_latency.labels(self.service, credential_format).observe(seconds)

    def gauge_from_database(self, name: str, documentation: str, probe: DatabaseProbe) -> None:
        """A gauge read from the database at each scrape, not kept in this process: with several
        replicas on one database (the outbox, the status sweep) every replica reports the same, true,
        value, whichever did the work."""
        gauge = Gauge(name, documentation, ["service"], registry=self.registry)
        self._scraped.append(_ScrapedGauge(name, gauge, probe))

    async def refresh_from_database(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Reads every database gauge; one that cannot be read (the database away) keeps its last value
        and counts a metrics_probe_failed, so /metrics still answers."""
        if not self._scraped:
            return
        async with sessions() as session:
            for scraped in self._scraped:
                try:
                    scraped.gauge.labels(self.service).set(await scraped.probe(session))
                except Exception:  # noqa: BLE001 - a scrape must answer whatever the database does
                    logger.warning("metrics probe %s failed", scraped.name, exc_info=True)
                    self.count("metrics_probe_failed")
                    await session.rollback()
