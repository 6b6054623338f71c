"""Reading a service's /metrics as Prometheus would (prometheus_client's own text parser)."""

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    samples: dict[tuple[str, frozenset], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value, summed over the labels not given (0 when it was never recorded)."""
        wanted = set(labels.items())
        return sum(value for (sample, keys), value in self.samples.items() if sample == name and wanted <= keys)

    def delta(self, before: "Scrape", name: str, **labels: str) -> float:
        return self.value(name, **labels) - before.value(name, **labels)


@dataclass(frozen=True)
class MetricsReader:
    client: httpx.AsyncClient

    async def read(self) -> Scrape:
        response = await self.client.get("/metrics")
        assert response.status_code == 200, response.text
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        return Scrape(samples)
