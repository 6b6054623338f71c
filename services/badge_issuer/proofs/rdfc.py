"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024), SHA-256.

Our own implementation rather than pyoxigraph's ``Dataset.canonicalize``: on the
OB 3.0 specification's full example (several proofs that hash alike) pyoxigraph
0.5 labels blank nodes differently from rdf-canonize (Digital Bazaar) and pyld,
so its output cannot be signed. pyld's implementation matches the labels but
escapes literals the RDF 1.1 way, not like rdf-canonize 5 / RDF 1.2 canonical
N-Quads (``\\b``, ``\\f``, ``\\u0001``), which changes hashes and bytes for strings
holding control characters. Terms arrive already serialized as canonical N-Quads
terms (pyoxigraph writes them exactly that way), so this module only relabels.

Section numbers in comments refer to https://www.w3.org/TR/rdf-canon/. The hash algorithm is the
spec's implementation-specific parameter: SHA-256 by default, SHA-384 where a suite asks for it
(vc-di-ecdsa with P-384 keys).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Quad = tuple[str, str, str, str]
"""(subject, predicate, object, graph) as N-Quads terms; graph '' is the default graph.
Blank nodes are written ``_:label``."""


HASH_ALGORITHMS: Mapping[str, Callable[[bytes], Any]] = {"sha256": hashlib.sha256, "sha384": hashlib.sha384}


class PoisonedDatasetError(ValueError):
    """Too much work to canonicalize: the dataset looks crafted to exhaust us.

    rdf-canonize refuses the same datasets (maxWorkFactor 1), so a verifier would too.
    """


def canonical_nquads(quads: Iterable[Quad], work_factor: int = 1, hash_algorithm: str = "sha256") -> str:
    """Canonical N-Quads document: relabelled quads, code-point sorted (§4.4 step 7).

    ``work_factor`` bounds Hash N-Degree Quads calls to (shared blank nodes) ** factor,
    as rdf-canonize's ``maxWorkFactor`` does (default 1 there too).
    """
    return "".join(canonical_nquad_lines(quads, work_factor, hash_algorithm=hash_algorithm))


def canonical_nquad_lines(
    quads: Iterable[Quad],
    work_factor: int = 1,
    relabel: Callable[[str], str] | None = None,
    hash_algorithm: str = "sha256",
) -> list[str]:
    """The sorted lines of :func:`canonical_nquads`. ``relabel`` turns a canonical label (``c14n0``)
    into another one before sorting: selective disclosure (vc-di-ecdsa ecdsa-sd-2023) signs quads
    under HMAC-derived labels so a disclosure does not reveal how many blank nodes it left out."""
    quad_list = list(quads)
    labels = canonical_labels(quad_list, work_factor, hash_algorithm)
    if relabel is not None:
        labels = {blank_node: "_:" + relabel(label[2:]) for blank_node, label in labels.items()}
    return relabelled_lines(quad_list, labels)


def relabelled_lines(quads: Iterable[Quad], labels: dict[str, str]) -> list[str]:
    """N-Quads lines with blank nodes renamed by ``labels`` (``_:x`` -> ``_:y``), code-point sorted."""
    return sorted(_serialize(quad, labels) for quad in quads)


def canonical_labels(quads: Sequence[Quad], work_factor: int = 1, hash_algorithm: str = "sha256") -> dict[str, str]:
    """Map each blank node (``_:x``) to its canonical label (``_:c14n0``...)."""
    if hash_algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"RDFC-1.0 hash algorithm {hash_algorithm!r} is not one of {', '.join(HASH_ALGORITHMS)}")
    state = _CanonicalizationState(quads, work_factor, HASH_ALGORITHMS[hash_algorithm])
    return state.run()


def _serialize(quad: Quad, labels: dict[str, str]) -> str:
    subject, predicate, obj, graph = quad
    subject = labels.get(subject, subject)
    obj = labels.get(obj, obj)
    if graph:
        return f"{subject} {predicate} {obj} {labels.get(graph, graph)} .\n"
    return f"{subject} {predicate} {obj} .\n"


class _IdentifierIssuer:
    """§4.3 Issue Identifier: remembers issue order, which the algorithm depends on."""

    __slots__ = ("prefix", "issued")

    def __init__(self, prefix: str, issued: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.issued: dict[str, str] = dict(issued) if issued else {}

    def issue(self, blank_node: str) -> str:
        identifier = self.issued.get(blank_node)
        if identifier is None:
            identifier = f"{self.prefix}{len(self.issued)}"
            self.issued[blank_node] = identifier
        return identifier

    def copy(self) -> _IdentifierIssuer:
        return _IdentifierIssuer(self.prefix, self.issued)


class _CanonicalizationState:
    def __init__(self, quads: Sequence[Quad], work_factor: int, hash_function: Callable[[bytes], Any]) -> None:
        self.work_factor = work_factor
        self.hash = hash_function
        self.quads_by_blank_node: dict[str, list[Quad]] = {}
        for quad in quads:
            for term in (quad[0], quad[2], quad[3]):
                if term.startswith("_:"):
                    bucket = self.quads_by_blank_node.setdefault(term, [])
                    if not bucket or bucket[-1] is not quad:
                        bucket.append(quad)
        self.canonical = _IdentifierIssuer("_:c14n")
        self.first_degree: dict[str, str] = {}
        self.remaining_deep_iterations = 0

    def run(self) -> dict[str, str]:
        # §4.4 steps 3-5: first-degree hashes; unique ones get labels at once.
        by_hash: dict[str, list[str]] = {}
        for blank_node in self.quads_by_blank_node:
            by_hash.setdefault(self._hash_first_degree(blank_node), []).append(blank_node)
        shared: list[list[str]] = []
        for digest in sorted(by_hash):
            blank_nodes = by_hash[digest]
            if len(blank_nodes) == 1:
                self.canonical.issue(blank_nodes[0])
            else:
                shared.append(blank_nodes)
        # rdf-canonize's work limit (maxWorkFactor, default 1).
        self.remaining_deep_iterations = sum(len(group) for group in shared) ** self.work_factor
        # §4.4 step 6: blank nodes whose first-degree hashes collide.
        for blank_nodes in shared:
            self._label_shared_group(blank_nodes)
        return self.canonical.issued

    def _label_shared_group(self, blank_nodes: list[str]) -> None:
        results: list[tuple[str, _IdentifierIssuer]] = []
        for blank_node in blank_nodes:
            if blank_node in self.canonical.issued:
                continue
            temporary = _IdentifierIssuer("_:b")
            temporary.issue(blank_node)
            results.append(self._hash_n_degree(blank_node, temporary))
        results.sort(key=lambda result: result[0])
        for _, issuer in results:
            for blank_node in issuer.issued:
                self.canonical.issue(blank_node)

    def _hash_first_degree(self, blank_node: str) -> str:
        """§4.6 Hash First Degree Quads."""
        cached = self.first_degree.get(blank_node)
        if cached is not None:
            return cached
        lines = []
        for subject, predicate, obj, graph in self.quads_by_blank_node[blank_node]:
            lines.append(
                _serialize(
                    (
                        _mask(subject, blank_node),
                        predicate,
                        _mask(obj, blank_node),
                        _mask(graph, blank_node) if graph else graph,
                    ),
                    {},
                )
            )
        lines.sort()
        digest = self.hash("".join(lines).encode("utf-8")).hexdigest()
        self.first_degree[blank_node] = digest
        return digest

    def _hash_related(self, related: str, predicate: str, issuer: _IdentifierIssuer, position: str) -> str:
        """§4.7 Hash Related Blank Node."""
        identifier = (
            self.canonical.issued.get(related) or issuer.issued.get(related) or self._hash_first_degree(related)
        )
        text = position + (predicate if position != "g" else "") + identifier
        return self.hash(text.encode("utf-8")).hexdigest()

    def _hash_n_degree(self, blank_node: str, issuer: _IdentifierIssuer) -> tuple[str, _IdentifierIssuer]:
        """§4.8 Hash N-Degree Quads."""
        if self.remaining_deep_iterations <= 0:
            raise PoisonedDatasetError("RDFC-1.0: maximum deep iterations exceeded")
        self.remaining_deep_iterations -= 1
        related_by_hash: dict[str, list[str]] = {}
        for subject, predicate, obj, graph in self.quads_by_blank_node[blank_node]:
            for term, position in ((subject, "s"), (obj, "o"), (graph, "g")):
                if term.startswith("_:") and term != blank_node:
                    digest = self._hash_related(term, predicate, issuer, position)
                    related_by_hash.setdefault(digest, []).append(term)
        data_to_hash = []
        for related_hash in sorted(related_by_hash):
            data_to_hash.append(related_hash)
            chosen_path, chosen_issuer = self._choose_path(related_by_hash[related_hash], issuer)
            data_to_hash.append(chosen_path)
            issuer = chosen_issuer
        digest = self.hash("".join(data_to_hash).encode("utf-8")).hexdigest()
        return digest, issuer

    def _choose_path(self, related: list[str], issuer: _IdentifierIssuer) -> tuple[str, _IdentifierIssuer]:
        """§4.8.3 step 5.4: the lexicographically least path over all permutations."""
        chosen_path = ""
        chosen_issuer: _IdentifierIssuer | None = None
        for permutation in itertools.permutations(sorted(related)):
            path, issuer_copy = self._permutation_path(permutation, issuer, chosen_path)
            if path is None:
                continue
            if chosen_issuer is None or path < chosen_path:
                chosen_path, chosen_issuer = path, issuer_copy
        assert chosen_issuer is not None
        return chosen_path, chosen_issuer

    def _permutation_path(
        self, permutation: Sequence[str], issuer: _IdentifierIssuer, chosen_path: str
    ) -> tuple[str | None, _IdentifierIssuer]:
        issuer_copy = issuer.copy()
        path = ""
        recursion: list[str] = []
        for related in permutation:
            canonical = self.canonical.issued.get(related)
            if canonical is not None:
                path += canonical
            else:
                if related not in issuer_copy.issued:
                    recursion.append(related)
                path += issuer_copy.issue(related)
            if _worse(path, chosen_path):
                return None, issuer_copy
        for related in recursion:
            digest, next_issuer = self._hash_n_degree(related, issuer_copy)
            path += issuer_copy.issue(related) + f"<{digest}>"
            issuer_copy = next_issuer
            if _worse(path, chosen_path):
                return None, issuer_copy
        return path, issuer_copy


def _worse(path: str, chosen_path: str) -> bool:
    return bool(chosen_path) and len(path) >= len(chosen_path) and path > chosen_path


def _mask(term: str, blank_node: str) -> str:
    if not term.startswith("_:"):
        return term
    return "_:a" if term == blank_node else "_:z"
