"""The outbound policy deploy/ gives the issuer in production lets its webhooks reach the gap engine
inside the deployment, and keeps every other private or plain-http address refused."""

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.safe_fetch import SafeFetcher, URLRefused
from tests.deploy.deployment_files import Workload, all_workloads, compose_workloads, k8s_workloads, reachable_services
from tests.deploy.production import PlatformKeys, build_settings

pytestmark = pytest.mark.anyio
ISSUERS = [workload for workload in all_workloads() if workload.service == "badge_issuer"]


async def _private_resolver(host: str, port: int) -> list[str]:
    """Every name resolves to a private address here, as a cluster's service names do."""
    return ["10.96.0.20"]


@pytest.mark.parametrize("workload", ISSUERS, ids=lambda workload: workload.label)
async def test_issuer_delivers_webhooks_to_the_gap_engine_and_nowhere_else_private(
    workload: Workload, tmp_path: Path
) -> None:
    """The demo's subscription points at the gap engine's receiver by its internal URL (plain http,
    private address): the outbound policy must let exactly that through in production."""
    keys = PlatformKeys.generate()
    settings = build_settings(workload, "badge_issuer", keys, tmp_path)
    gap = next(
        w
        for w in (compose_workloads() if workload.origin == "compose" else k8s_workloads())
        if w.service == "gap_engine"
    )
    gap_url = build_settings(gap, "gap_engine", keys, tmp_path).public_base_url
    internal = {host for (host, _), service in reachable_services(workload.origin).items() if service == "gap_engine"}
    fetcher = SafeFetcher(settings.fetch_policy(), resolver=_private_resolver)
    try:
        for host in internal:
            await fetcher.vet(f"http://{host}:8000/v1/webhooks/issuer/{uuid.uuid4()}")
        for refused in ("https://taxonomy-api/", "https://10.0.0.1/", f"http://{urlsplit(gap_url).hostname}/"):
            with pytest.raises(URLRefused):
                await fetcher.vet(refused)
    finally:
        await fetcher.aclose()
