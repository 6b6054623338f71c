"""Rendering a page: one Jinja2 environment per service, autoescaping on, and the headers every page needs.

Credential content is attacker-controlled (a third party's badge name can hold `<script>`), so every
value goes through Jinja2's autoescape, the Content-Security-Policy allows scripts and styles only
from the service itself (no inline code at all), and no page may be framed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from shared.settings import ServiceSettings
from shared.web.session import read_page_user

WEB_DIR = Path(__file__).resolve().parent
SHARED_TEMPLATES = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static"


def content_security_policy(form_targets: Sequence[str]) -> str:
    """Scripts, styles and images only from this service (images also as data: URLs, for badge
    previews); forms may post to, and redirect to, the platform's own services."""
    targets = " ".join(dict.fromkeys(form_targets))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self' {targets}; frame-ancestors 'none'; base-uri 'none'"
    )


PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Site:
    """Where each service's pages are, as people reach them (links, sign-in redirects, allowed `next`)."""

    taxonomy: str
    issuer: str
    gap_engine: str

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Site:
        return cls(
            taxonomy=settings.taxonomy_page_url.rstrip("/"),
            issuer=settings.issuer_page_url.rstrip("/"),
            gap_engine=settings.gap_page_url.rstrip("/"),
        )

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(_origin(url) for url in (self.taxonomy, self.issuer, self.gap_engine))

    def is_own(self, url: str) -> bool:
        """Whether `url` is one of the platform's pages (a `next` that is not is an open redirect)."""
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and _origin(url) in self.origins

    def sign_in_url(self, next_url: str | None = None) -> str:
        target = f"{self.taxonomy}/sign-in"
        return f"{target}?next={quote(next_url, safe='')}" if next_url else target


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@cache
def _static_version(name: str) -> str:
    """A content hash in each asset URL, so a new release is never served a stale stylesheet."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={_static_version(name)}"


class Pages:
    """A service's page renderer: its own templates first, then the shared layout and partials."""

    def __init__(self, settings: ServiceSettings, templates: Path | None = None, *, service_title: str) -> None:
        loaders = [FileSystemLoader(str(templates))] if templates else []
        self.environment = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(str(SHARED_TEMPLATES))]),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.site = Site.from_settings(settings)
        self.service_title = service_title
        self.environment.globals.update(static_url=static_url, site=self.site, service_title=service_title)
        self.headers = {
            **PAGE_HEADERS,
            # A form's redirect is checked against form-action too: sign-in sends people on to any service.
            "Content-Security-Policy": content_security_policy(sorted(self.site.origins)),
        }

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("user", read_page_user(request))
        context.setdefault("page_url", str(request.url))
        html = self.environment.get_template(template).render(request=request, **context)
        return HTMLResponse(html, status_code=status, headers={**self.headers, **(headers or {})})


def install_pages(app: FastAPI, pages: Pages) -> None:
    """Every service serves the same stylesheet and script; app.state.pages renders its pages and errors."""
    app.state.pages = pages
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
