"""What a page shows about a credential: the facts a person reads, taken from the document itself.

Everything comes from the credential as shown (what anyone holding it can read), never from the
issuer's database columns about the learner: the email and HRIS id are in the credential only as
salted hashes, and no page shows those either. The content is attacker-controlled (a third party's
badge, or an organisation's own achievement names): the templates escape every value, and only
http(s) URLs become links (shared/links.py), so a `javascript:` URL stays inert text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shared.links import safe_url
from shared.schemas.issuer import VerificationOut
from shared.timestamps import parse_timestamp

MAX_LISTED = 100  # alignments, evidence entries, results shown (a hostile credential may hold thousands)
SUMMARY_CHARS = 200


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return (value if isinstance(value, list) else [value])[:MAX_LISTED]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def display_date(value: Any) -> str | None:
    """A credential's timestamp as a person reads it (15 January 2026); the raw value if unparseable."""
    moment = parse_timestamp(value)
    if moment is None:
        return value if isinstance(value, str) and value else None
    return f"{moment.day} {moment:%B %Y}"


@dataclass(frozen=True, slots=True)
class SkillLine:
    name: str
    url: str | None
    framework: str
    code: str
    level: str


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    name: str
    url: str | None
    narrative: str


@dataclass(frozen=True, slots=True)
class CredentialView:
    family: str  # "Open Badges 3.0" or "Open Badges 2.0"
    credential_id: str
    name: str
    description: str
    achievement_type: str
    achievement_url: str | None
    criteria: str
    criteria_url: str | None
    issuer_name: str
    issuer_id: str
    issuer_url: str | None
    learner: str
    learner_is_identifier: bool
    issued_on: str | None
    awarded_on: str | None
    valid_until: str | None
    results: tuple[str, ...]
    skills: tuple[SkillLine, ...]
    evidence: tuple[EvidenceLine, ...]
    raw_json: str

    @property
    def summary(self) -> str:
        """One line for link previews (Open Graph description)."""
        text = f"{self.name}, issued by {self.issuer_name}."
        if self.description and self.description != self.name:
            text += f" {self.description}"
        return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


def _skill(alignment: Mapping[str, Any]) -> SkillLine:
    url = safe_url(alignment.get("targetUrl"))
    return SkillLine(
        name=_text(alignment.get("targetName")) or _text(alignment.get("targetCode")) or "Skill",
        url=url,
        framework=_text(alignment.get("targetFramework")),
        code=_text(alignment.get("targetCode")),
        level=_text(alignment.get("targetDescription")),  # "Certified at level 3 (Proficiency)." for ours
    )


def _evidence(entry: Any) -> EvidenceLine | None:
    if isinstance(entry, str):
        return EvidenceLine(name=entry, url=safe_url(entry), narrative="")
    if not isinstance(entry, Mapping):
        return None
    url = safe_url(entry.get("id"))
    name = _text(entry.get("name")) or (url or "") or "Evidence"
    narrative = " ".join(part for part in (_text(entry.get("narrative")), _text(entry.get("description"))) if part)
    return EvidenceLine(name=name, url=url, narrative=narrative)


def _learner(subject: Mapping[str, Any]) -> tuple[str, bool]:
    """Only what the credential says openly: a name or a DID; hashed identifiers stay hidden."""
    if _text(subject.get("name")):
        return _text(subject["name"]), False
    if _text(subject.get("id")):
        return _text(subject["id"]), True
    return "Identified privately (a salted hash of the recipient's identifier that only they can confirm)", False


def _results(subject: Mapping[str, Any]) -> tuple[str, ...]:
    shown = []
    for result in _as_list(subject.get("result")):
        result = _mapping(result)
        value = _text(result.get("value")) or _text(result.get("achievedLevel"))
        if value:
            shown.append(value)
    return tuple(shown)


def _raw(document: Mapping[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def describe_credential(document: Mapping[str, Any], verification: VerificationOut | None = None) -> CredentialView:
    """The facts of an OB 3.0 credential (or, with its verification, of an OB 2.0 assertion)."""
    if verification is not None and verification.format.startswith("ob2"):
        return _describe_ob2(verification.extracted or document, verification)
    subject = _mapping(document.get("credentialSubject"))
    achievement = _mapping(subject.get("achievement"))
    issuer = document.get("issuer")
    issuer = issuer if isinstance(issuer, Mapping) else {"id": issuer}
    criteria = _mapping(achievement.get("criteria"))
    learner, is_identifier = _learner(subject)
    name = _text(achievement.get("name")) or _text(document.get("name")) or "Open Badge"
    return CredentialView(
        family="Open Badges 3.0",
        credential_id=_text(document.get("id")),
        name=name,
        description=_text(achievement.get("description")),
        achievement_type=_text(achievement.get("achievementType")),
        achievement_url=safe_url(achievement.get("id")),
        criteria=_text(criteria.get("narrative")),
        criteria_url=safe_url(criteria.get("id")),
        issuer_name=_text(issuer.get("name")) or _text(issuer.get("id")) or "Unknown issuer",
        issuer_id=_text(issuer.get("id")),
        issuer_url=safe_url(issuer.get("url")),
        learner=learner,
        learner_is_identifier=is_identifier,
        issued_on=display_date(document.get("validFrom") or document.get("issuanceDate")),
        awarded_on=display_date(document.get("awardedDate")),
        valid_until=display_date(document.get("validUntil") or document.get("expirationDate")),
        results=_results(subject),
        skills=tuple(_skill(a) for a in _as_list(achievement.get("alignment")) if isinstance(a, Mapping)),
        evidence=tuple(e for e in map(_evidence, _as_list(document.get("evidence"))) if e is not None),
        raw_json=_raw(document),
    )


def _describe_ob2(assertion: Mapping[str, Any], verification: VerificationOut) -> CredentialView:
    badge = _mapping(assertion.get("badge"))
    name = _text(badge.get("name")) or "Open Badges 2.0 badge"
    badge_url = safe_url(verification.badge_class) or safe_url(assertion.get("badge"))
    return CredentialView(
        family="Open Badges 2.0",
        credential_id=_text(assertion.get("id")),
        name=name,
        description=_text(badge.get("description")),
        achievement_type="",
        achievement_url=badge_url,
        criteria=_text(_mapping(badge.get("criteria")).get("narrative")),
        criteria_url=safe_url(_mapping(badge.get("criteria")).get("id")),
        issuer_name=verification.issuer or "Unknown issuer",
        issuer_id=verification.issuer or "",
        issuer_url=safe_url(verification.issuer),
        learner="Identified privately (an IdentityObject that only the recipient can confirm)",
        learner_is_identifier=False,
        issued_on=display_date(assertion.get("issuedOn")),
        awarded_on=None,
        valid_until=display_date(assertion.get("expires")),
        results=(),
        skills=tuple(_skill(a) for a in (verification.alignment or [])[:MAX_LISTED]),
        evidence=tuple(e for e in map(_evidence, _as_list(assertion.get("evidence"))) if e is not None),
        raw_json=_raw(assertion),
    )
