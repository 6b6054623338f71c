"""Unsigned documents written here in the shapes the specifications give, for the tests (and
bench/verify_http.py) that verify what other people's code signed or hosted:

- a VC 2.0 credential in the W3C examples vocabulary (`AlumniCredential`, as the W3C Data Integrity test
  vectors use), issued by an https URL;
- a CLR 2.0 `ClrCredential` holding one OB 3.0 `AchievementCredential` (1EdTech CLR Standard 2.0,
  §ClrCredential / §ClrSubject, contexts VC 2.0 + CLR 2.0.1 + OB 3.0.3 + OB 3.0 extensions, as the project
  ships them);
- an Open Badges 2.0 hosted `Assertion`, its `BadgeClass` and issuer `Profile` (IMS Open Badges 2.0 Final
  Release, §Assertion, §BadgeClass, §Profile, §IdentityObject), and images baked the OB 2.0 way.

Nothing here is copied from anyone's files; the signatures are made at test time by Digital Bazaar's
suites (tests/interop/node/sign-suites.mjs) or by the tests themselves.
"""

import hashlib
import json
import struct
import zlib
from typing import Any

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB3_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"  # defines 1EdTechJsonSchemaValidator2019
OB3_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
CLR_SCHEMA = "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
OB2_CONTEXT = "https://w3id.org/openbadges/v2"

ALUMNI_ISSUER = "https://college.example/issuers/14"
CLR_ISSUER = "https://university.example/issuers/565049"
HELD_CREDENTIAL_ID = "urn:uuid:5b0a3c0e-8d6c-4b8e-9a57-2f3b1d9e6c41"


def alumni_credential() -> dict[str, Any]:
    """A VC 2.0 credential of a type no 1EdTech schema covers, issued by an https URL."""
    return {
        "@context": [VC_V2, VC_EXAMPLES_V2],
        "id": "urn:uuid:3e0f3f4c-2a59-4c3e-8d1e-6b7f0c2a9d15",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "name": "Alumni Credential",
        "description": "Says the subject graduated from Example College.",
        "issuer": ALUMNI_ISSUER,
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alumna-7", "alumniOf": "Example College"},
    }


def _achievement(number: int, uuid: str) -> dict[str, Any]:
    return {
        "id": f"urn:uuid:{uuid}",
        "type": "Achievement",
        "creator": {"id": CLR_ISSUER, "type": "Profile"},
        "name": f"Course {number}",
        "description": f"Passed course {number}.",
        "criteria": {"id": f"https://university.example/achievements/{uuid}/criteria"},
        "image": {"id": "https://university.example/achievements/course.png", "type": "Image"},
    }


def clr_credential() -> dict[str, Any]:
    """A transcript: a ClrCredential holding one AchievementCredential (for Course 1), listing two
    achievements and that Course 1 is the parent of Course 2."""
    issuer = {"id": CLR_ISSUER, "type": "Profile", "name": "Example University"}
    first = _achievement(1, "c3a1d0b2-6f1e-4e0a-b7a4-0d1c9e2f3a61")
    second = _achievement(2, "c3a1d0b2-6f1e-4e0a-b7a4-0d1c9e2f3a62")
    learner = "did:example:learner-42"
    held = {
        "@context": [VC_V2, OB3_CONTEXT, OB3_EXTENSIONS],
        "id": HELD_CREDENTIAL_ID,
        "type": ["VerifiableCredential", "AchievementCredential"],
        "issuer": issuer,
        "validFrom": "2024-06-30T00:00:00Z",
        "name": "Course 1, passed",
        "credentialSubject": {"id": learner, "type": "AchievementSubject", "achievement": first},
        "credentialSchema": [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    return {
        "@context": [VC_V2, CLR_CONTEXT, OB3_CONTEXT, OB3_EXTENSIONS],
        "id": "https://university.example/transcripts/2024/42",
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": issuer,
        "validFrom": "2024-07-01T00:00:00Z",
        "name": "Transcript, 2023-2024",
        "credentialSubject": {
            "id": learner,
            "type": "ClrSubject",
            "verifiableCredential": [held],
            "achievement": [first, second],
            "association": [
                {
                    "type": "Association",
                    "associationType": "isParentOf",
                    "sourceId": first["id"],
                    "targetId": second["id"],
                }
            ],
        },
        "credentialSchema": [{"id": CLR_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


# --- Open Badges 2.0 -----------------------------------------------------------------------------

OB2_RECIPIENT = "learner@example.org"
OB2_SALT = "sea-salt"


def ob2_identity(email: str, salt: str) -> str:
    """An OB 2.0 hashed IdentityObject identity: `sha256$` + hex(sha256(email + salt))."""
    return "sha256$" + hashlib.sha256((email + salt).encode()).hexdigest()


def ob2_badge(origin: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A hosted Assertion, its BadgeClass and the issuer Profile, all on `origin`."""
    issuer = {
        "@context": OB2_CONTEXT,
        "type": "Issuer",
        "id": f"{origin}/issuer.json",
        "name": "Example Robotics Club",
        "url": origin,
        "email": "badges@example.org",
    }
    badge_class = {
        "@context": OB2_CONTEXT,
        "type": "BadgeClass",
        "id": f"{origin}/badges/robotics.json",
        "name": "Robotics Builder",
        "description": "Built and programmed a line-following robot.",
        "image": f"{origin}/badges/robotics.png",
        "criteria": f"{origin}/badges/robotics.html",
        "issuer": issuer["id"],
    }
    assertion = {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": f"{origin}/awarded/robotics-17.json",
        "recipient": {
            "type": "email",
            "hashed": True,
            "salt": OB2_SALT,
            "identity": ob2_identity(OB2_RECIPIENT, OB2_SALT),
        },
        "image": f"{origin}/awarded/robotics-17.png",
        "evidence": f"{origin}/awarded/robotics-17-work.html",
        "issuedOn": "2024-05-31T12:00:00Z",
        "badge": badge_class["id"],
        "verification": {"type": "hosted"},
    }
    return assertion, badge_class, issuer


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_baked_ob2(text: str, *, size: int = 8) -> bytes:
    """A small RGB PNG written chunk by chunk (no image library, none of our baking code), with an
    uncompressed `openbadges` iTXt chunk right after IHDR, where OB 2.0 bakers put it."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    itxt = png_chunk(b"iTXt", b"openbadges\x00\x00\x00\x00\x00" + text.encode())
    rows = b"".join(b"\x00" + bytes((200, 30, 60)) * size for _ in range(size))
    return b"\x89PNG\r\n\x1a\n" + header + itxt + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


OB2_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg"
     xmlns:openbadges="http://openbadges.org"
     viewBox="0 0 120 120">
  {assertion}
  <title>Robotics Builder</title>
  <circle cx="60" cy="60" r="50" fill="#c81e3c"/>
</svg>
"""


def svg_baked_ob2(element: str) -> bytes:
    """An SVG baked the OB 2.0 way: `element` (an `<openbadges:assertion>`, or nothing) as the first
    child of the root, in the `http://openbadges.org` namespace."""
    return OB2_SVG.format(assertion=element).encode()


def pretty(document: Any) -> str:
    """JSON as bakers commonly write it: indented, one member a line."""
    return json.dumps(document, indent=2)
