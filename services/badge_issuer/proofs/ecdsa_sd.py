"""ecdsa-sd-2023 selective disclosure proofs (W3C Data Integrity ECDSA Cryptosuites v1.0, §3.3-3.5), verified.

The issuer signs once, with its own P-256 key, ``proofHash || publicKey || mandatoryHash``: the proof
configuration, a key made for this one credential, and the statements (canonical N-Quads) that must
always be shown. Every other statement is signed on its own with that per-credential key, under blank
node labels derived by HMAC so a disclosure does not reveal what was left out. The holder keeps the
*base* proof (it carries the HMAC key) and shows *derived* proofs: the statements they chose, the
signatures of those, and the map from the disclosure's canonical labels back to the HMAC labels.

Both are verified here. A derived proof is what a verifier normally gets. A base proof reveals the
HMAC key (fine for the holder checking what they received, which is why it is supported); its
mandatory statements are found with the issuer's JSON pointers, as the issuer did.

Everything in a proof value is the presenter's to choose, so counts are bounded before any work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyld import jsonld

from . import keys, rdfc
from .canonicalization import CanonicalizationError, expand, rdf_quads, relabelled_nquads
from .document_loader import pyld_document_loader

CRYPTOSUITE = "ecdsa-sd-2023"
BASE_HEADER = b"\xd9\x5d\x00"
DERIVED_HEADER = b"\xd9\x5d\x01"
MULTIBASE_BASE64URL = "u"
P256_SIGNATURE_LENGTH = 64
HMAC_KEY_LENGTH = 32
P256_MULTIKEY_LENGTH = 35  # 0x8024 multicodec + 33-byte compressed point

# Bounds on what a presenter controls. An Open Badges credential has well under a hundred statements.
MAX_PROOF_VALUE_CHARS = 200_000
MAX_SIGNATURES = 1_000
MAX_LABEL_MAP_ENTRIES = 1_000
MAX_MANDATORY_INDEXES = 1_000
MAX_MANDATORY_POINTERS = 100
MAX_POINTER_CHARS = 1_000

_SKOLEM_PREFIX = "urn:bnid:"
_SKOLEM_IRI = re.compile(r"<urn:bnid:([A-Za-z0-9_]+)>")
_DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")


class SelectiveProofError(ValueError):
    """An ecdsa-sd-2023 proof did not verify; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class BaseProof:
    """What the issuer hands the holder (proofValue header 0xd9 0x5d 0x00)."""

    base_signature: bytes
    public_key: bytes
    hmac_key: bytes
    signatures: tuple[bytes, ...]
    mandatory_pointers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DerivedProof:
    """What a holder shows (header 0xd9 0x5d 0x01); ``label_map``: canonical label -> HMAC label."""

    base_signature: bytes
    public_key: bytes
    signatures: tuple[bytes, ...]
    label_map: Mapping[str, str]
    mandatory_indexes: tuple[int, ...]


def parse_proof_value(proof_value: str) -> BaseProof | DerivedProof:
    """Decode a base or derived proofValue (multibase base64url, then the 3-byte header and CBOR)."""
    if not isinstance(proof_value, str) or not proof_value.startswith(MULTIBASE_BASE64URL):
        raise SelectiveProofError("malformed_proof_value", "an ecdsa-sd-2023 proofValue is multibase base64url ('u…')")
    if len(proof_value) > MAX_PROOF_VALUE_CHARS:
        reason = f"the proofValue is {len(proof_value)} characters long, more than {MAX_PROOF_VALUE_CHARS}"
        raise SelectiveProofError("proof_value_too_large", reason)
    encoded = proof_value[1:]
    try:
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError as error:
        raise SelectiveProofError("malformed_proof_value", f"the proofValue is not base64url: {error}") from error
    header, body = data[:3], data[3:]
    if header not in (BASE_HEADER, DERIVED_HEADER):
        reason = "the proofValue header is neither 0xd95d00 (base proof) nor 0xd95d01 (derived proof)"
        raise SelectiveProofError("malformed_proof_value", reason)
    items = _cbor_array(body, 5)
    if header == BASE_HEADER:
        return BaseProof(
            _bytes(items[0], "baseSignature", P256_SIGNATURE_LENGTH),
            _bytes(items[1], "publicKey", P256_MULTIKEY_LENGTH),
            _bytes(items[2], "hmacKey", HMAC_KEY_LENGTH),
            _signatures(items[3]),
            _pointers(items[4]),
        )
    return DerivedProof(
        _bytes(items[0], "baseSignature", P256_SIGNATURE_LENGTH),
        _bytes(items[1], "publicKey", P256_MULTIKEY_LENGTH),
        _signatures(items[2]),
        _label_map(items[3]),
        _indexes(items[4]),
    )


def verify(
    document: Mapping[str, Any],
    proof_hash: bytes,
    issuer_key: ec.EllipticCurvePublicKey,
    proof: BaseProof | DerivedProof,
) -> str:
    """Check ``proof`` over the unsecured ``document``; ``proof_hash`` is SHA-256 of the canonical proof
    configuration. Returns what was verified, in words; raises :class:`SelectiveProofError`."""
    if isinstance(proof, DerivedProof):
        mandatory, non_mandatory = _derived_statements(document, proof)
        kind = "derived proof"
    else:
        mandatory, non_mandatory = _base_statements(document, proof)
        kind = "base proof"
    if len(proof.signatures) != len(non_mandatory):
        reason = (
            f"the {kind} carries {len(proof.signatures)} statement signatures for {len(non_mandatory)} "
            "selectively disclosed statements: a signature was dropped or added"
        )
        raise SelectiveProofError("signature_count_mismatch", reason)
    mandatory_hash = hashlib.sha256("".join(mandatory).encode("utf-8")).digest()
    if not _p256_signature_matches(issuer_key, proof.base_signature, proof_hash + proof.public_key + mandatory_hash):
        reason = (
            "the issuer's signature does not match: a mandatory statement or the proof was altered, "
            "or the key is not the issuer's"
        )
        raise SelectiveProofError("invalid_signature", reason)
    try:
        ephemeral = keys.ec_public_key_from_multicodec(proof.public_key)
    except keys.KeyFormatError as error:
        raise SelectiveProofError("malformed_proof_value", f"publicKey: {error}") from error
    for index, (statement, signature) in enumerate(zip(non_mandatory, proof.signatures, strict=True)):
        if not _p256_signature_matches(ephemeral, signature, statement.encode("utf-8")):
            reason = (
                f"disclosed statement {index + 1} of {len(non_mandatory)} does not match its signature: "
                f"it was altered ({_abbreviated(statement)})"
            )
            raise SelectiveProofError("invalid_disclosure_signature", reason)
    return f"{kind}: {len(mandatory)} mandatory and {len(non_mandatory)} selectively disclosed statements"


# -- derived proofs (§3.5.7 createVerifyData) ----------------------------------------------------


def _derived_statements(document: Mapping[str, Any], proof: DerivedProof) -> tuple[list[str], list[str]]:
    def hmac_label(canonical: str) -> str:
        label = proof.label_map.get(canonical)
        if label is None:
            reason = f"the label map has no entry for blank node {canonical}: it does not belong to this disclosure"
            raise SelectiveProofError("label_map_mismatch", reason)
        return label

    statements = relabelled_nquads(document, hmac_label)
    if proof.mandatory_indexes and proof.mandatory_indexes[-1] >= len(statements):
        reason = f"mandatory index {proof.mandatory_indexes[-1]} is past the {len(statements)} disclosed statements"
        raise SelectiveProofError("malformed_proof_value", reason)
    chosen = set(proof.mandatory_indexes)
    mandatory = [statement for index, statement in enumerate(statements) if index in chosen]
    return mandatory, [statement for index, statement in enumerate(statements) if index not in chosen]


# -- base proofs (§3.4 base proof transformation, as the issuer grouped the statements) ----------


def _base_statements(document: Mapping[str, Any], proof: BaseProof) -> tuple[list[str], list[str]]:
    """The issuer's grouping: every blank node named (skolemized), the compact form selected by the
    mandatory pointers, and both turned to statements under the HMAC labels."""
    skolemized = _skolemize(expand(document), itertools.count())
    quads = _deskolemized_quads(skolemized)
    canonical = _canonical_labels(quads)
    labels = {blank: "_:" + _hmac_label(proof.hmac_key, label[2:]) for blank, label in canonical.items()}
    statements = rdfc.relabelled_lines(quads, labels)
    if not proof.mandatory_pointers:
        return [], statements
    try:
        compact = jsonld.compact(
            skolemized, {"@context": document.get("@context")}, {"documentLoader": pyld_document_loader}
        )
    except jsonld.JsonLdError as error:
        raise CanonicalizationError(f"JSON-LD compaction failed: {error}") from error
    selection = _select(compact, proof.mandatory_pointers)
    selected = set(rdfc.relabelled_lines(_deskolemized_quads(expand(selection)), labels))
    mandatory = [statement for statement in statements if statement in selected]
    return mandatory, [statement for statement in statements if statement not in selected]


def _skolemize(expanded: Any, counter: Iterator[int]) -> Any:
    """Give every node object an IRI, so the selection's statements name the same nodes."""
    if isinstance(expanded, list):
        return [_skolemize(item, counter) for item in expanded]
    if not isinstance(expanded, dict) or "@value" in expanded:
        return expanded
    node = {key: _skolemize(value, counter) for key, value in expanded.items()}
    if "@list" in node or "@set" in node:
        return node
    identifier = node.get("@id")
    if identifier is None:
        node["@id"] = f"{_SKOLEM_PREFIX}b{next(counter)}"
    elif isinstance(identifier, str) and identifier.startswith("_:"):
        node["@id"] = _SKOLEM_PREFIX + identifier[2:]
    return node


def _deskolemized_quads(expanded: Any) -> list[rdfc.Quad]:
    def blank(term: str) -> str:
        return _SKOLEM_IRI.sub(lambda match: "_:" + match.group(1), term)

    return [
        (blank(subject), predicate, blank(obj), blank(graph))
        for subject, predicate, obj, graph in rdf_quads(orjson.dumps(expanded))
    ]


def _canonical_labels(quads: Sequence[rdfc.Quad]) -> dict[str, str]:
    try:
        return rdfc.canonical_labels(quads)
    except rdfc.PoisonedDatasetError as error:
        raise CanonicalizationError(str(error)) from error


def _hmac_label(key: bytes, canonical: str) -> str:
    digest = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _select(document: Mapping[str, Any], pointers: Sequence[str]) -> dict[str, Any]:
    """The parts of the compact ``document`` that the JSON pointers name, with the ``id`` and ``type``
    of every object on the way (so the selection's statements hang off the same nodes). Arrays are
    built sparse (a dict by index) and closed up at the end, keeping their order."""
    selection: dict[Any, Any] = {"@context": document.get("@context"), **_identity(document)}
    for pointer in pointers:
        source: Any = document
        target = selection
        segments = _pointer_segments(pointer)
        for segment in segments[:-1]:
            key = _step(source, segment, pointer)
            source = source[key]
            existing = target.get(key)
            if isinstance(existing, list):  # an earlier pointer took the whole array
                existing = dict(enumerate(existing))
            elif not isinstance(existing, dict):
                existing = {} if isinstance(source, list) else _identity(source)
            target[key] = existing
            target = existing
        key = _step(source, segments[-1], pointer)
        value = source[key]
        already = target.get(key)
        if isinstance(value, dict) and isinstance(already, dict):
            value = {**already, **value}
        target[key] = _copy(value)
    return _without_holes(selection)


def _identity(node: Any) -> dict[Any, Any]:
    if not isinstance(node, Mapping):
        return {}
    identity = {}
    if isinstance(node.get("id"), str) and not node["id"].startswith("_:"):
        identity["id"] = node["id"]
    if "type" in node:
        identity["type"] = node["type"]
    return identity


def _step(source: Any, segment: str, pointer: str) -> str | int:
    if isinstance(source, list):
        if not _DIGITS.match(segment) or int(segment) >= len(source):
            raise SelectiveProofError("mandatory_pointer_mismatch", f"JSON pointer {pointer!r} does not match")
        return int(segment)
    if not isinstance(source, dict) or segment not in source:
        raise SelectiveProofError("mandatory_pointer_mismatch", f"JSON pointer {pointer!r} does not match")
    return segment


def _pointer_segments(pointer: str) -> list[str]:
    """RFC 6901: '/'-separated, '~1' is '/', '~0' is '~'; the whole document is not a selection."""
    if not pointer.startswith("/"):
        raise SelectiveProofError("malformed_proof_value", f"mandatory pointer {pointer!r} is not a JSON pointer")
    return [segment.replace("~1", "/").replace("~0", "~") for segment in pointer[1:].split("/")]


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _without_holes(value: Any) -> Any:
    """Sparse selection arrays (dicts keyed by int) become arrays in their original order."""
    if isinstance(value, dict):
        if value and all(isinstance(key, int) for key in value):
            return [_without_holes(value[key]) for key in sorted(value)]
        return {key: _without_holes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_holes(item) for item in value]
    return value


# -- proof value parts ---------------------------------------------------------------------------


def _cbor_array(body: bytes, length: int) -> list[Any]:
    stream = io.BytesIO(body)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, OverflowError, RecursionError) as error:
        raise SelectiveProofError("malformed_proof_value", f"the proofValue is not CBOR: {error}") from error
    if stream.tell() != len(body):
        raise SelectiveProofError("malformed_proof_value", "the proofValue has bytes after its CBOR value")
    if not isinstance(value, list) or len(value) != length:
        raise SelectiveProofError("malformed_proof_value", f"the proofValue is not a CBOR array of {length} items")
    return value


def _bytes(value: Any, name: str, length: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise SelectiveProofError("malformed_proof_value", f"{name} is not a {length}-byte string")
    return value


def _bounded(value: Any, kind: type, name: str, limit: int, code: str) -> Any:
    """A CBOR array or map of at most ``limit`` items; counted before any item is looked at."""
    if not isinstance(value, kind):
        raise SelectiveProofError("malformed_proof_value", f"{name} is not a CBOR {kind.__name__}")
    if len(value) > limit:
        raise SelectiveProofError(code, f"the proof carries {len(value)} {name}, more than {limit}: not checked")
    return value


def _signatures(value: Any) -> tuple[bytes, ...]:
    items = _bounded(value, list, "statement signatures", MAX_SIGNATURES, "too_many_signatures")
    return tuple(_bytes(item, "a statement signature", P256_SIGNATURE_LENGTH) for item in items)


def _label_map(value: Any) -> dict[str, str]:
    """The compressed map (§3.5.5): canonical label index -> the 32 HMAC bytes of its label."""
    entries = _bounded(value, dict, "label map entries", MAX_LABEL_MAP_ENTRIES, "label_map_too_large")
    labels: dict[str, str] = {}
    for index, digest in entries.items():
        if type(index) is not int or index < 0:
            raise SelectiveProofError("malformed_proof_value", "a label map key is not a canonical label index")
        label = _bytes(digest, "a label map value", HMAC_KEY_LENGTH)
        labels[f"c14n{index}"] = MULTIBASE_BASE64URL + base64.urlsafe_b64encode(label).rstrip(b"=").decode("ascii")
    if len(set(labels.values())) != len(labels):
        raise SelectiveProofError("label_map_mismatch", "the label map gives two blank nodes the same label")
    return labels


def _indexes(value: Any) -> tuple[int, ...]:
    _bounded(value, list, "mandatory indexes", MAX_MANDATORY_INDEXES, "too_many_mandatory_indexes")
    if not all(type(item) is int and item >= 0 for item in value) or value != sorted(set(value)):
        raise SelectiveProofError("malformed_proof_value", "mandatoryIndexes are not increasing statement numbers")
    return tuple(value)


def _pointers(value: Any) -> tuple[str, ...]:
    _bounded(value, list, "mandatory pointers", MAX_MANDATORY_POINTERS, "too_many_mandatory_pointers")
    if not all(isinstance(item, str) and len(item) <= MAX_POINTER_CHARS for item in value):
        raise SelectiveProofError("malformed_proof_value", "a mandatory pointer is not a short string")
    return tuple(value)


def _p256_signature_matches(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """IEEE P1363 r||s over SHA-256, as every signature in this suite is."""
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _abbreviated(statement: str, limit: int = 160) -> str:
    text = statement.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
