"""The three real apps served by uvicorn on loopback ports, for tests that need HTTP between them
(webhooks, a browser): each app runs in a thread with its own event loop and lifespan."""

import base64
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_app
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.settings import TaxonomySettings
from shared.migrations import upgrade
from tests.conftest import POSTGRES_URL, SERVICES, _create_postgres_databases, _drop_postgres_databases

STARTUP_SECONDS = 15.0


@contextmanager
def migrated_databases(folder: Path, prefix: str) -> Iterator[dict[str, str]]:
    """Fresh migrated databases for the three services (SQLite files in `folder`, or PostgreSQL when
    configured), so the apps under test share nothing with the rest of the session."""
    if POSTGRES_URL:
        run = uuid.uuid4().hex[:8]
        names = {service: f"credstack_{prefix}_{service}_{run}" for service in SERVICES}
        _create_postgres_databases(list(names.values()))
        base = POSTGRES_URL.rsplit("/", 1)[0]
        urls = {service: f"{base}/{name}" for service, name in names.items()}
    else:
        urls = {service: f"sqlite+aiosqlite:///{folder / service}.db" for service in SERVICES}
    for service, url in urls.items():
        upgrade(service, url)
    try:
        yield urls
    finally:
        if POSTGRES_URL:
            _drop_postgres_databases(list(names.values()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """The app on a real port in a background thread (its own event loop and lifespan), stopped after."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"the app on port {port} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)
        assert not thread.is_alive(), f"the app on port {port} did not stop"


@dataclass(frozen=True)
class Platform:
    taxonomy: Any
    issuer: Any
    gap_engine: Any
    urls: dict[str, str]


def build_platform(databases: dict[str, str], auth_key_file: Path, **issuer_overrides: Any) -> Platform:
    """The three apps, each knowing the others' loopback URLs (API and pages); not yet serving."""
    ports = {service: free_port() for service in SERVICES}
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    common = {
        "auth_private_key_file": auth_key_file,
        "environment": "dev",
        "access_log": False,
        "taxonomy_page_url": urls["taxonomy_api"],
        "issuer_page_url": urls["badge_issuer"],
        "gap_page_url": urls["gap_engine"],
    }
    taxonomy = create_taxonomy_app(
        TaxonomySettings(
            database_url=databases["taxonomy_api"],
            public_base_url=urls["taxonomy_api"],
            gap_engine_url=urls["gap_engine"],
            **common,
        )
    )
    issuer = create_issuer_app(
        IssuerSettings(
            database_url=databases["badge_issuer"],
            master_key=base64.b64encode(os.urandom(32)).decode(),
            taxonomy_url=urls["taxonomy_api"],
            public_base_url=urls["badge_issuer"],
            **{**common, **issuer_overrides},
        )
    )
    gap_engine = create_gap_app(
        GapSettings(
            database_url=databases["gap_engine"],
            taxonomy_url=urls["taxonomy_api"],
            issuer_url=urls["badge_issuer"],
            public_base_url=urls["gap_engine"],
            **common,
        )
    )
    return Platform(taxonomy=taxonomy, issuer=issuer, gap_engine=gap_engine, urls=urls)


@contextmanager
def serving_platform(platform: Platform) -> Iterator[Platform]:
    with ExitStack() as stack:
        for service, app in zip(SERVICES, (platform.taxonomy, platform.issuer, platform.gap_engine), strict=True):
            stack.enter_context(serving(app, int(platform.urls[service].rsplit(":", 1)[1])))
        yield platform
