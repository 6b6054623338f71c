"""The human view of a credential's public URL: a plain, accessible HTML page.

Everything shown comes from the credential document as issued (what anyone holding it can read),
never from the issuer's database columns about the learner: the email and HRIS id are in the
credential only as salted hashes, and the page does not show those either. Every value is
escaped, and only http(s) URLs become links, because the content is partly learner- and
organisation-supplied (achievement names, evidence narratives).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any


def _text(value: Any) -> str:
    return escape(str(value), quote=True) if value is not None else ""


def _link(url: Any, label: Any) -> str:
    """A link only for http(s) targets: a `javascript:` URL in a credential must stay inert text."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return f'<a href="{_text(url)}">{_text(label)}</a>'
    return _text(label)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _date(value: Any) -> str:
    if not isinstance(value, str):
        return "unknown"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%d %B %Y")
    except ValueError:
        return value


def _learner(subject: Mapping[str, Any]) -> str:
    """Only what the credential says openly: a DID or a name; the hashed identifiers stay hidden."""
    if isinstance(subject.get("name"), str):
        return _text(subject["name"])
    if isinstance(subject.get("id"), str):
        return f"<code>{_text(subject['id'])}</code>"
    return "Identified privately (a salted hash of the recipient's identifier that only they can confirm)"


def _skills(achievement: Mapping[str, Any]) -> str:
    items = []
    for alignment in _as_list(achievement.get("alignment")):
        if not isinstance(alignment, Mapping):
            continue
        framework = f" ({_text(alignment['targetFramework'])})" if alignment.get("targetFramework") else ""
        items.append(f"<li>{_link(alignment.get('targetUrl'), alignment.get('targetName', 'Skill'))}{framework}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No aligned skills are listed.</p>"


def render_credential_page(
    document: Mapping[str, Any],
    *,
    revoked_at: datetime | None,
    json_url: str,
    png_url: str,
    svg_url: str,
) -> str:
    """The page for one credential; `revoked_at` comes from the issuer's own record of revocation."""
    subject = document.get("credentialSubject") if isinstance(document.get("credentialSubject"), Mapping) else {}
    achievement = subject.get("achievement") if isinstance(subject.get("achievement"), Mapping) else {}
    issuer = document.get("issuer") if isinstance(document.get("issuer"), Mapping) else {"id": document.get("issuer")}
    criteria = achievement.get("criteria") if isinstance(achievement.get("criteria"), Mapping) else {}
    name = achievement.get("name") or document.get("name") or "Open Badge"
    if revoked_at is None:
        status = '<p class="status valid" role="status"><strong>Status: valid</strong> (not revoked)</p>'
    else:
        status = (
            '<p class="status revoked" role="status"><strong>Status: revoked</strong> '
            f"by the issuer on {_text(revoked_at.strftime('%d %B %Y'))}</p>"
        )
    issuer_line = _link(issuer.get("url"), issuer.get("name") or issuer.get("id") or "Unknown issuer")
    criteria_text = _text(criteria.get("narrative") or "No criteria narrative was published.")
    criteria_link = f"<p>{_link(criteria['id'], 'Full criteria')}</p>" if criteria.get("id") else ""
    description = f"<p>{_text(achievement['description'])}</p>" if achievement.get("description") else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_text(name)} – Open Badge</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
.status {{ padding: .5rem .75rem; border: 2px solid; }}
.valid {{ border-color: #1a7f37; }}
.revoked {{ border-color: #b42318; }}
dt {{ font-weight: bold; }}
</style>
</head>
<body>
<main>
<h1>{_text(name)}</h1>
{status}
{description}
<dl>
<dt>Issued by</dt><dd>{issuer_line}</dd>
<dt>Awarded to</dt><dd>{_learner(subject)}</dd>
<dt>Issued on</dt><dd>{_text(_date(document.get("validFrom") or document.get("issuanceDate")))}</dd>
<dt>Credential</dt><dd><code>{_text(document.get("id"))}</code></dd>
</dl>
<h2>Criteria</h2>
<p>{criteria_text}</p>
{criteria_link}
<h2>Skills</h2>
{_skills(achievement)}
<h2>Downloads</h2>
<ul>
<li><a href="{_text(json_url)}">The credential itself (JSON or VC-JWT, to verify)</a></li>
<li><a href="{_text(png_url)}" type="image/png" download>Badge image with the credential baked in (PNG)</a></li>
<li><a href="{_text(svg_url)}" type="image/svg+xml" download>Badge image with the credential baked in (SVG)</a></li>
</ul>
</main>
</body>
</html>
"""
