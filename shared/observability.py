"""Structured JSON logs with a request id, and Prometheus metrics, per service."""

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

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

    def count(self, event: str, amount: int = 1) -> None:
        """One more (or `amount` more) of a background outcome, e.g. webhook_delivery_dead."""
        if amount:
            self.background.labels(self.service, event).inc(amount)
