"""Canonicalization: test vectors byte for byte, and the three paths agree."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from services.badge_issuer.proofs import canonicalization, rdfc
from services.badge_issuer.proofs.document_loader import UnknownContextError, load_context

from .conftest import load_json

PATHS = {
    "cached-contexts": canonicalization.canonicalize,
    "pyld": canonicalization.canonicalize_with_pyld,
    "pyoxigraph-inlined": canonicalization.canonicalize_with_inlined_contexts,
}


def _corpus(ob3_dir, sample_credential):
    documents = {"sample": sample_credential}
    for path in sorted((ob3_dir / "examples").rglob("*.json")):
        document = load_json(path)
        document.pop("proof", None)
        documents[path.stem] = document
    vector = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")
    documents["ob3-vector"] = vector["credential"]
    w3c = load_json(ob3_dir / "test-vectors" / "w3c-vc-di-eddsa" / "signed-credential.json")
    documents["w3c-vector"] = {key: value for key, value in w3c.items() if key != "proof"}
    return documents


@pytest.mark.parametrize("path_name", PATHS)
def test_ob3_vector_document_canon_byte_for_byte(ob3_dir, path_name):
    vector = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")
    expected = (ob3_dir / "test-vectors" / "document-canon.txt").read_bytes()
    canonical = PATHS[path_name](vector["credential"]).encode("utf-8")
    assert canonical == expected
    assert hashlib.sha256(canonical).hexdigest() == vector["documentHashHex"]


@pytest.mark.parametrize("path_name", PATHS)
def test_ob3_vector_proof_canon_byte_for_byte(ob3_dir, path_name):
    vector = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")
    proof_config = {"@context": vector["credential"]["@context"], **vector["proofConfig"]}
    expected = (ob3_dir / "test-vectors" / "proof-canon.txt").read_bytes()
    canonical = PATHS[path_name](proof_config).encode("utf-8")
    assert canonical == expected
    assert hashlib.sha256(canonical).hexdigest() == vector["proofHashHex"]


def test_w3c_vector_hashes(ob3_dir):
    folder = ob3_dir / "test-vectors" / "w3c-vc-di-eddsa"
    signed = load_json(folder / "signed-credential.json")
    document = {key: value for key, value in signed.items() if key != "proof"}
    proof_config = {key: value for key, value in signed["proof"].items() if key != "proofValue"}
    proof_config = {"@context": signed["@context"], **proof_config}
    document_hash = hashlib.sha256(canonicalization.canonicalize(document).encode()).hexdigest()
    proof_hash = hashlib.sha256(canonicalization.canonicalize(proof_config).encode()).hexdigest()
    assert document_hash == (folder / "doc-hash.txt").read_text().strip()
    assert proof_hash == (folder / "proof-config-hash.txt").read_text().strip()


def test_all_paths_agree_on_every_example(ob3_dir, sample_credential):
    for name, document in _corpus(ob3_dir, sample_credential).items():
        outputs = {path_name: function(document) for path_name, function in PATHS.items()}
        assert len(set(outputs.values())) == 1, f"canonicalization paths disagree on {name}"


def test_cached_expansion_equals_pyld_expansion(ob3_dir, sample_credential):
    from pyld import jsonld

    from services.badge_issuer.proofs.document_loader import pyld_document_loader

    for name, document in _corpus(ob3_dir, sample_credential).items():
        ours = canonicalization.CachedContextExpander().expand(document)
        reference = jsonld.expand(copy.deepcopy(document), {"documentLoader": pyld_document_loader})
        assert ours == reference, name


def test_signed_credential_with_its_proof_canonicalizes_like_pyld(ob3_dir):
    signed = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")["signedCredential"]
    assert "proofPurpose" in str(signed["proof"])
    assert canonicalization.canonicalize(signed) == canonicalization.canonicalize_with_pyld(signed)


def test_the_cache_does_not_leak_between_documents(sample_credential):
    before = canonicalization.canonicalize(sample_credential)
    other = copy.deepcopy(sample_credential)
    other["name"] = "Something else"
    assert canonicalization.canonicalize(other) != before
    assert canonicalization.canonicalize(sample_credential) == before


def test_undefined_term_is_an_error_not_a_silent_drop(sample_credential):
    sample_credential["credentialSubject"]["favouriteColour"] = "teal"
    with pytest.raises(canonicalization.UnsafeJsonLdError, match="favouriteColour"):
        canonicalization.canonicalize(sample_credential)


def test_undefined_type_is_an_error(sample_credential):
    sample_credential["@context"] = sample_credential["@context"][:2]  # no extensions context
    with pytest.raises(canonicalization.UnsafeJsonLdError, match="1EdTechJsonSchemaValidator2019"):
        canonicalization.canonicalize(sample_credential)


def test_relative_id_is_an_error(sample_credential):
    sample_credential["id"] = "credential-42"
    with pytest.raises(canonicalization.UnsafeJsonLdError, match="relative"):
        canonicalization.canonicalize(sample_credential)


def test_unknown_context_is_never_fetched(sample_credential):
    sample_credential["@context"].append("https://example.com/evil-context.jsonld")
    with pytest.raises(canonicalization.CanonicalizationError, match="evil-context"):
        canonicalization.canonicalize(sample_credential)
    with pytest.raises(UnknownContextError, match="never fetched"):
        load_context("https://example.com/evil-context.jsonld")


def test_inline_context_objects_fall_back_to_pyld(sample_credential):
    sample_credential["@context"].append({"favouriteColour": "https://example.com/vocab#favouriteColour"})
    sample_credential["favouriteColour"] = "teal"
    canonical = canonicalization.canonicalize(sample_credential)
    assert '<https://example.com/vocab#favouriteColour> "teal"' in canonical


def test_control_characters_are_escaped_like_rdf_canonize(sample_credential):
    sample_credential["name"] = 'tab\there "quote" back\\slash bell\x07 form\x0c'
    canonical = canonicalization.canonicalize(sample_credential)
    assert '"tab\\there \\"quote\\" back\\\\slash bell\\u0007 form\\f"' in canonical


def _symmetric_quads(document):
    from pyld import jsonld

    quads = []
    for line in jsonld.to_rdf(document, {"format": "application/n-quads"}).splitlines():
        terms = line.rstrip(" .").split(" ", 2)
        quads.append((terms[0], terms[1], terms[2], ""))
    return quads


_SYMMETRIC = {
    "@context": {"knows": {"@id": "http://example.com/knows", "@type": "@id"}, "name": "http://example.com/name"},
    "@graph": [
        {"@id": "_:a", "knows": "_:b", "name": "x"},
        {"@id": "_:b", "knows": "_:a", "name": "x"},
        {"@id": "_:c", "knows": "_:d"},
        {"@id": "_:d", "knows": "_:c"},
    ],
}


def test_rdfc_refuses_what_rdf_canonize_refuses():
    # rdf-canonize 5 (maxWorkFactor 1) throws "Maximum deep iterations exceeded (4)" here.
    with pytest.raises(rdfc.PoisonedDatasetError):
        rdfc.canonical_nquads(_symmetric_quads(_SYMMETRIC))


def test_rdfc_labels_symmetric_blank_nodes_like_pyld():
    # Indistinguishable blank nodes pointing at each other force Hash N-Degree Quads.
    from pyld import jsonld

    reference = jsonld.normalize(_SYMMETRIC, {"algorithm": "URDNA2015", "format": "application/n-quads"})
    assert rdfc.canonical_nquads(_symmetric_quads(_SYMMETRIC), work_factor=3) == reference


def test_rdfc_refuses_poisoned_datasets():
    # A ring of identical blank nodes needs more deep iterations than rdf-canonize allows.
    ring = 12
    quads = [(f"_:n{i}", "<http://example.com/p>", f"_:n{(i + 1) % ring}", "") for i in range(ring)]
    quads += [(f"_:n{i}", "<http://example.com/p>", f"_:n{(i + 5) % ring}", "") for i in range(ring)]
    with pytest.raises(rdfc.PoisonedDatasetError):
        rdfc.canonical_nquads(quads)


def test_static_loader_knows_every_context_it_promises():
    for url in (
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
        "https://w3id.org/security/data-integrity/v2",
        "https://w3id.org/security/data-integrity/v1",
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
        "https://www.w3.org/2018/credentials/v1",
        "https://www.w3.org/ns/credentials/examples/v2",
    ):
        assert "@context" in load_context(url), url
    assert "publicKeyMultibase" in json.dumps(load_context("https://w3id.org/security/multikey/v1"))


def test_expander_memory_does_not_grow_with_each_credential(sample_credential):
    expander = canonicalization.CachedContextExpander()
    expander.expand(sample_credential)
    sizes = (len(expander._contexts), len(expander._terms))
    for number in range(50):
        sample_credential["id"] = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
        sample_credential["evidence"][0]["id"] = f"https://academy.credstack.example/evidence/{number}"
        expander.expand(sample_credential)
    assert (len(expander._contexts), len(expander._terms)) == sizes
