"""Pages for people who check a badge: the verify page, and the HTML forms of the public credential and
issuer URLs (public.py hands a browser's request for those here).

All public, no account, rate limited like the public API (the same per-address budget). The verdict and
every fact shown come from the domain (verification, verdicts, credential_page), the same code the JSON
API answers with.
"""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from services.badge_issuer.api.deps import base_url, verify_and_count
from services.badge_issuer.db.tables import Credential, Issuer
from services.badge_issuer.domain import issuers, presented
from services.badge_issuer.domain.credential_page import describe_credential
from services.badge_issuer.domain.verdicts import verdict_of
from shared.db import get_session
from shared.errors import ProblemError, Unprocessable, problem_response
from shared.links import safe_url
from shared.rate_limit import public_rate_limit
from shared.schemas.issuer import VerificationOut
from shared.uploads import bounded_form
from shared.web.negotiation import prefers_html
from shared.web.pages import Pages
from shared.web.session import OptionalUser, check_form_origin

router = APIRouter(tags=["pages", "public"], dependencies=[Depends(public_rate_limit)])


def form_input_bound(max_body_bytes: int) -> int:
    """The largest paste or upload the page takes: the API's body bound less room for the rest of the
    form, so a too-large one is answered on the page (a body over the bound itself is refused whole)."""
    return max_body_bytes - max(512, max_body_bytes // 16)


def _pages(request: Request) -> Pages:
    return request.app.state.pages


def _own_bases(request: Request) -> tuple[str, ...]:
    return (base_url(request), _pages(request).site.issuer)


async def _verify(request: Request, session: AsyncSession, shown: dict[str, Any]) -> VerificationOut:
    return await verify_and_count(request, session, shown)


def _render_verify(request: Request, *, status: int = 200, **context: Any) -> Response:
    settings = request.app.state.settings
    values: dict[str, Any] = {
        "verdict": None,
        "view": None,
        "jwt": None,
        "error": None,
        "error_field": None,
        "pasted": "",
        "url": "",
        "input_bound": form_input_bound(settings.max_body_bytes),
    }
    values.update(context)
    return _pages(request).render(request, "verify.html", status=status, **values)


@router.get("/verify", include_in_schema=False)
async def verify_page(request: Request, user: OptionalUser) -> Response:
    """Public, no account. Paste a credential, drop a baked badge image, or give a credential's link."""
    return _render_verify(request)


@router.post("/verify", include_in_schema=False)
async def verify_page_submit(
    request: Request, user: OptionalUser, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public, no account, under the public rate limit of POST /v1/verify; the form must come from
    this platform's pages (Origin / Referer). Answers the verdict and every check; a paste or upload
    that cannot be read is answered on the same page with its reason (413 / 422), the form refilled."""
    check_form_origin(request)
    settings = request.app.state.settings
    bound = form_input_bound(settings.max_body_bytes)
    pasted = url = ""
    try:
        async with bounded_form(request, max_files=1, max_fields=5, max_part_size=settings.max_body_bytes) as form:
            upload = form.get("file")
            pasted_field, url_field = form.get("credential"), form.get("url")
            pasted = pasted_field if isinstance(pasted_field, str) else ""
            url = url_field if isinstance(url_field, str) else ""
            if isinstance(upload, UploadFile) and upload.filename:
                shown = presented.from_image(await upload.read(bound + 1), bound)
            elif pasted.strip():
                shown = presented.from_pasted_text(pasted, bound)
            elif url.strip():
                shown = await presented.from_url(
                    session, url, own_bases=_own_bases(request), fetcher=request.app.state.fetcher, max_bytes=bound
                )
            else:
                raise Unprocessable(
                    "Nothing to check: paste a credential, choose a badge image, or give a credential's address."
                )
    except ProblemError as error:
        if error.status not in (404, 413, 422):
            raise
        field = error.extensions.get("field")
        refill = "" if error.status == 413 else pasted  # an oversized paste is not sent back
        return _render_verify(
            request, status=error.status, error=error.detail, error_field=field, pasted=refill, url=url
        )
    result = await _verify(request, session, shown)
    credential = presented.shown_credential(shown)
    readable = result.format != "unknown" and (credential is not None or result.extracted is not None)
    view = describe_credential(credential or {}, result) if readable else None
    token = shown.get("jwt") if isinstance(shown.get("jwt"), str) else None
    return _render_verify(request, verdict=verdict_of(result), view=view, jwt=token, pasted=pasted[:bound], url=url)


@router.get("/v1/verify", include_in_schema=False)
async def verify_api_opened_in_a_browser(request: Request) -> Response:
    """Public. The API is POST; a browser that opens its address is sent to the page, a program is
    told to POST (405 with Allow)."""
    if prefers_html(request.headers.get("accept")):
        return RedirectResponse("/verify", status_code=303)
    return problem_response(
        405,
        "Method not allowed",
        "POST a credential to /v1/verify (see /docs); people can use the page at /verify.",
        "http-405",
        headers={"Allow": "POST"},
    )


# --- the HTML forms of public URLs (public.py decides when a browser gets them) --------------------


def credential_paths(credential: Credential) -> dict[str, str | None]:
    path = f"/v1/public/credentials/{credential.id}"
    return {
        "page": path,
        "png": f"{path}/baked.png",
        "svg": f"{path}/baked.svg",
        "json": f"{path}?format=json",
        "jwt": f"{path}?format=jwt" if credential.compact_jwt else None,
        "issuer": f"/v1/public/issuers/{credential.issuer_id}",
    }


async def credential_page(request: Request, session: AsyncSession, credential: Credential) -> Response:
    """The credential's shareable page: its facts, a verification run now on the stored credential
    (signature, issuer, schema, dates and status, not only the revocation bit), downloads and link
    preview tags (absolute URLs, as chat tools need)."""
    shown = {"jwt": credential.compact_jwt} if credential.compact_jwt else dict(credential.document)
    result = await _verify(request, session, shown)
    paths = credential_paths(credential)
    absolute = base_url(request).rstrip("/")
    return _pages(request).render(
        request,
        "credential.html",
        view=describe_credential(credential.document),
        verdict=verdict_of(result),
        paths=paths,
        page_absolute=absolute + str(paths["page"]),
        image_absolute=absolute + str(paths["png"]),
        headers={"Vary": "Accept"},
    )


async def issuer_page(request: Request, session: AsyncSession, issuer: Issuer) -> Response:
    """An issuer's public profile for people: who it is, its identifiers and keys, what it awards."""
    key_rows = await issuers.issuer_keys(session, issuer)
    described = issuers.describe_issuer(issuer, key_rows, base_url(request))
    return _pages(request).render(
        request,
        "issuer.html",
        issuer=described,
        issuer_url=safe_url(issuer.url),
        achievements=await issuers.issued_achievements(session, issuer),
        profile_json=f"/v1/public/issuers/{issuer.id}?format=json",
        jwks=f"/v1/public/issuers/{issuer.id}/jwks.json",
        did_document=f"/issuers/{issuer.id}/did.json" if issuer.identifier == "did:web" else None,
        headers={"Vary": "Accept"},
    )
