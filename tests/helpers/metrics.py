"""Reading `/metrics` as Prometheus would: scraped over HTTP and parsed with
prometheus_client's own parser into samples looked up by name and labels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Samples:
    """Every sample of one scrape: (name, labels) → value."""

    values: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Samples:
        return cls(
            {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
        )

    def __call__(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the scrape has none (a counter never incremented)."""
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def label_values(self) -> set[str]:
        return {value for _, labels in self.values for _, value in labels}


async def scrape(http: httpx.AsyncClient, url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Samples.parse(response.text)


async def scraped_until(
    take: Callable[[], Awaitable[Samples]],
    holds: Callable[[Samples], bool],
    *,
    seconds: float = 20.0,
) -> Samples:
    """Scrape until `holds` (background work, such as a sync, takes its time); the last
    scrape, which the caller asserts on, if it never does."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        samples = await take()
        if holds(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.2)
