"""RDFC-1.0 canonical N-Quads of JSON-LD documents, for Data Integrity proofs.

Turning JSON-LD into RDF costs far more than canonicalizing the RDF, and almost all
of that cost is context processing that is identical for every credential. So the
default path (:func:`canonicalize`) expands with contexts processed once and cached
(:class:`CachedContextExpander`), then lets pyoxigraph parse the already-expanded
document (no context left to process) and run RDFC-1.0.

Two slower, independent paths exist so tests can hold the fast one to account:
:func:`canonicalize_with_pyld` (pyld expansion, toRdf and URDNA2015, the reference)
and :func:`canonicalize_with_inlined_contexts` (pyoxigraph alone, contexts inlined).

The fast expander covers the JSON-LD features the OB 3.0 / VC 2.0 contexts use and
behaves like jsonld.js in "safe mode" (what Digital Bazaar's eddsa-rdfc-2022
verifier runs): a term that would be silently dropped, or a relative IRI, is an
error rather than an unsigned hole in the credential. Anything it does not cover
(embedded contexts, maps, @reverse, @nest, ...) falls back to the pyld path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pyoxigraph
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from . import rdfc
from .document_loader import UnknownContextError, load_context, pyld_document_loader

_KEYWORD_LOOKALIKE = re.compile(r"^@[a-zA-Z]+$")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_MAP_CONTAINERS = frozenset({"@language", "@index", "@id", "@type"})
_SUPPORTED_KEYWORDS = frozenset({"@id", "@type", "@value", "@language", "@graph"})
_PYLD_NORMALIZE_OPTIONS = {
    "algorithm": "URDNA2015",
    "format": "application/n-quads",
    "documentLoader": pyld_document_loader,
}


class CanonicalizationError(ValueError):
    """The document cannot be canonicalized (or not safely: it would lose data)."""


class UnsafeJsonLdError(CanonicalizationError):
    """JSON-LD expansion would drop or leave relative part of the document.

    jsonld.js's safe mode (used by Digital Bazaar's verifiers) rejects the same cases,
    and a signature over a document with silently dropped terms would not cover them.
    """


class _UnsupportedFeature(Exception):
    """The fast expander does not implement this JSON-LD feature; use pyld instead."""


def canonicalize(document: Mapping[str, Any], hash_algorithm: str = "sha256") -> str:
    """Canonical N-Quads of ``document`` (RDFC-1.0), the bytes Data Integrity hashes. ``hash_algorithm``
    is RDFC-1.0's own (``sha384`` for ecdsa-rdfc-2019 on P-384); pyld's fallback knows only SHA-256."""
    try:
        expanded = _EXPANDER.expand(document)
    except _UnsupportedFeature:
        if hash_algorithm == "sha256":
            return canonicalize_with_pyld(document)
        expanded = _expand_with_pyld(document)
    except jsonld.JsonLdError as error:
        raise _explain_jsonld_failure(error) from error
    return "".join(_canonical_lines(rdf_quads(orjson.dumps(expanded)), hash_algorithm=hash_algorithm))


def canonicalize_with_pyld(document: Mapping[str, Any]) -> str:
    """Reference path: pyld expansion, toRdf and URDNA2015 (= RDFC-1.0)."""
    try:
        return jsonld.normalize(dict(document), dict(_PYLD_NORMALIZE_OPTIONS))
    except jsonld.JsonLdError as error:
        raise _explain_jsonld_failure(error) from error


def canonicalize_with_inlined_contexts(document: Mapping[str, Any]) -> str:
    """pyoxigraph-only path: remote contexts replaced by their content, no cache."""
    return _canonical_nquads(orjson.dumps(_inline_contexts_everywhere(document)))


def expand(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON-LD expanded form via the cached-context expander (pyld when unsupported)."""
    try:
        return _EXPANDER.expand(document)
    except _UnsupportedFeature:
        return _expand_with_pyld(document)


def _expand_with_pyld(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return jsonld.expand(dict(document), {"documentLoader": pyld_document_loader})
    except jsonld.JsonLdError as error:
        raise _explain_jsonld_failure(error) from error


def _explain_jsonld_failure(error: BaseException) -> CanonicalizationError:
    """Surface the root cause (typically an unknown context URL) instead of pyld's wrapper."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, UnknownContextError):
            return CanonicalizationError(str(cause))
        cause = cause.__cause__ or cause.__context__
    return CanonicalizationError(f"JSON-LD processing failed: {error}")


def canonical_nquads_from_expanded(expanded: list[dict[str, Any]]) -> str:
    """RDFC-1.0 over an already expanded document (nothing left to resolve)."""
    return _canonical_nquads(orjson.dumps(expanded))


def _canonical_nquads(json_ld: bytes) -> str:
    """pyoxigraph does JSON-LD toRdf and writes canonical terms; rdfc.py relabels."""
    return "".join(_canonical_lines(rdf_quads(json_ld)))


def relabelled_nquads(document: Mapping[str, Any], relabel: Callable[[str], str]) -> list[str]:
    """RDFC-1.0 lines of ``document`` with each canonical blank node label passed through ``relabel``
    (``c14n0`` -> another label) and sorted again, as ecdsa-sd-2023 hashes and signs them."""
    try:
        expanded = expand(document)
    except jsonld.JsonLdError as error:
        raise _explain_jsonld_failure(error) from error
    return _canonical_lines(rdf_quads(orjson.dumps(expanded)), relabel)


def rdf_quads(json_ld: bytes) -> list[rdfc.Quad]:
    """The distinct quads of an (expanded) JSON-LD document, terms written as N-Quads."""
    try:
        parsed = pyoxigraph.parse(json_ld, pyoxigraph.RdfFormat.JSON_LD)
        quads = {
            (
                str(quad.subject),
                str(quad.predicate),
                str(quad.object),
                "" if isinstance(quad.graph_name, pyoxigraph.DefaultGraph) else str(quad.graph_name),
            ): None
            for quad in parsed
        }
    except (SyntaxError, ValueError) as error:
        raise CanonicalizationError(f"JSON-LD to RDF failed: {error}") from error
    return list(quads)


def _canonical_lines(
    quads: list[rdfc.Quad], relabel: Callable[[str], str] | None = None, hash_algorithm: str = "sha256"
) -> list[str]:
    try:
        return rdfc.canonical_nquad_lines(quads, relabel=relabel, hash_algorithm=hash_algorithm)
    except rdfc.PoisonedDatasetError as error:
        raise CanonicalizationError(str(error)) from error


def _inline_contexts_everywhere(value: Any) -> Any:
    if isinstance(value, list):
        return [_inline_contexts_everywhere(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    return {
        key: _inline_contexts(item) if key == "@context" else _inline_contexts_everywhere(item)
        for key, item in value.items()
    }


def _inline_contexts(context: Any) -> Any:
    if isinstance(context, str):
        return load_context(context)["@context"]
    if isinstance(context, list):
        return [_inline_contexts(item) for item in context]
    return context


class CachedContextExpander:
    """JSON-LD 1.1 expansion with every processed (scoped) context memoised.

    Contexts come from the static loader and never change, so the active context for
    a given (parent context, local context) pair is computed once by pyld and reused.
    The memo holds every active context it hands out, which keeps their ``id()``
    stable for use as keys; the set of contexts is small and fixed.
    """

    def __init__(self) -> None:
        self._processor = jsonld.JsonLdProcessor()
        self._options: dict[str, Any] = {
            "documentLoader": pyld_document_loader,
            "contextResolver": ContextResolver(jsonld._resolved_context_cache, pyld_document_loader),
            "processingMode": "json-ld-1.1",
            "base": "",
            "isFrame": False,
        }
        self._initial = self._processor._get_initial_context(self._options)
        self._contexts: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._terms: dict[tuple[int, str], str | None] = {}

    def expand(self, document: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Expanded form of a document whose ``@context`` is a list of known URLs."""
        self._bound_memory()
        expanded = self._expand_node(self._initial, None, dict(document))
        if expanded is None:
            return []
        return expanded if isinstance(expanded, list) else [expanded]

    def _bound_memory(self) -> None:
        """Documents being verified are untrusted: cap what they can make us remember.

        Both memos are cleared together because term keys use ``id()`` of contexts
        that only the context memo keeps alive.
        """
        if len(self._contexts) > _MAX_MEMOISED_CONTEXTS or len(self._terms) > _MAX_MEMOISED_TERMS:
            self._contexts.clear()
            self._terms.clear()

    # -- contexts ---------------------------------------------------------------------

    def _process(
        self,
        active: dict[str, Any],
        key: Any,
        local: Any,
        *,
        override_protected: bool = False,
        propagate: bool = True,
    ) -> dict[str, Any]:
        memo_key = (id(active), key, override_protected, propagate)
        processed = self._contexts.get(memo_key)
        if processed is None:
            processed = self._processor._process_context(
                active, local, self._options, override_protected=override_protected, propagate=propagate
            )
            self._contexts[memo_key] = processed
            self._contexts[("pin", id(processed))] = processed
        return processed

    # -- IRIs -------------------------------------------------------------------------

    def _iri(self, active: dict[str, Any], value: str, vocab: bool) -> str | None:
        """Expand a term / IRI; only vocabulary lookups (terms, types) are memoised,
        document IRIs (ids) are unique per credential and not worth remembering."""
        memo_key = (id(active), value)
        if vocab:
            try:
                return self._terms[memo_key]
            except KeyError:
                pass
        if _KEYWORD_LOOKALIKE.match(value) and value not in _KNOWN_KEYWORDS:
            raise UnsafeJsonLdError(f"reserved term {value!r}")
        iri = self._processor._expand_iri(active, value, vocab=vocab)
        if vocab:
            self._terms[memo_key] = iri
        return iri

    def _absolute_iri(self, active: dict[str, Any], value: Any, vocab: bool, what: str) -> str:
        if not isinstance(value, str):
            raise UnsafeJsonLdError(f"{what} must be a string, got {value!r}")
        iri = self._iri(active, value, vocab)
        if iri is None or not (iri.startswith("_:") or _ABSOLUTE_IRI.match(iri)):
            raise UnsafeJsonLdError(f"relative {what} reference {value!r} (JSON-LD would drop it)")
        return iri

    # -- expansion --------------------------------------------------------------------

    def _expand_node(self, active: dict[str, Any], active_property: str | None, element: Any) -> Any:
        if element is None:
            return None
        if isinstance(element, list):
            return self._expand_array(active, active_property, element)
        if not isinstance(element, dict):
            return self._expand_scalar(active, active_property, element)
        definition = active["mappings"].get(active_property) if active_property else None
        if active.get("previousContext") and not self._keeps_type_scope(active, element):
            active = active["previousContext"]
        if definition and "@context" in definition:
            active = self._scoped_from(definition, active)
        if "@context" in element:
            active = self._apply_embedded_context(active, element["@context"])
        type_scoped = active
        active = self._apply_type_scoped_contexts(active, element)
        result = self._expand_entries(active, type_scoped, element)
        return self._finish_object(result, active_property, active)

    def _scoped_from(self, definition: dict[str, Any], active: dict[str, Any]) -> dict[str, Any]:
        """Property-scoped context, taken from the term as defined before any revert.

        Property-scoped contexts may redefine protected terms (JSON-LD 1.1 §4.1.11).
        """
        scoped = definition["@context"]
        if isinstance(scoped, dict) and "@base" in scoped:
            raise _UnsupportedFeature("@base in scoped context")
        return self._process(active, ("scoped", id(definition)), scoped, override_protected=True)

    def _apply_embedded_context(self, active: dict[str, Any], context: Any) -> dict[str, Any]:
        """Embedded ``@context`` given as known URLs (inline objects go to pyld)."""
        urls = context if isinstance(context, list) else [context]
        if not all(isinstance(url, str) for url in urls):
            raise _UnsupportedFeature("inline context object")
        for url in urls:
            active = self._process(active, url, url)
        return active

    def _keeps_type_scope(self, active: dict[str, Any], element: dict[str, Any]) -> bool:
        """JSON-LD 1.1 expansion step 7: value objects and bare references keep it."""
        if len(element) > 2:
            return False
        for key in element:
            expanded = self._iri(active, key, True)
            if expanded == "@value":
                return True
            if expanded == "@id" and len(element) == 1:
                return True
        return False

    def _apply_type_scoped_contexts(self, active: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
        type_scoped = active
        for key in sorted(element):
            if self._iri(type_scoped, key, True) != "@type":
                continue
            values = element[key]
            for term in sorted(values if isinstance(values, list) else [values]):
                if not isinstance(term, str):
                    continue
                definition = type_scoped["mappings"].get(term)
                if definition and "@context" in definition:
                    active = self._process(active, ("scoped", id(definition)), definition["@context"], propagate=False)
        return active

    def _expand_entries(
        self, active: dict[str, Any], type_scoped: dict[str, Any], element: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key in sorted(element):
            if key == "@context":
                continue
            value = element[key]
            expanded_property = self._iri(active, key, True)
            if expanded_property is None or not (
                expanded_property.startswith("@") or _ABSOLUTE_IRI.match(expanded_property)
            ):
                raise UnsafeJsonLdError(f"term {key!r} is not defined by the context (JSON-LD would drop it)")
            if expanded_property.startswith("@"):
                self._expand_keyword(active, type_scoped, expanded_property, value, result)
                continue
            expanded_value = self._expand_property_value(active, key, value)
            if expanded_value is None:
                continue
            bucket = result.setdefault(expanded_property, [])
            if isinstance(expanded_value, list):
                bucket.extend(expanded_value)
            else:
                bucket.append(expanded_value)
        return result

    def _expand_keyword(
        self,
        active: dict[str, Any],
        type_scoped: dict[str, Any],
        keyword: str,
        value: Any,
        result: dict[str, Any],
    ) -> None:
        if keyword not in _SUPPORTED_KEYWORDS:
            raise _UnsupportedFeature(keyword)
        if keyword in result:
            raise _UnsupportedFeature(f"colliding {keyword}")
        if keyword == "@id":
            result["@id"] = self._absolute_iri(active, value, False, "@id")
        elif keyword == "@type":
            types = value if isinstance(value, list) else [value]
            expanded = [self._absolute_iri(type_scoped, item, True, "@type") for item in types]
            result["@type"] = expanded if isinstance(value, list) else expanded[0]
        elif keyword == "@value":
            if value is None or isinstance(value, (dict, list)):
                raise _UnsupportedFeature("non-scalar @value")
            result["@value"] = value
        elif keyword == "@language":
            if not isinstance(value, str):
                raise UnsafeJsonLdError(f"invalid @language {value!r}")
            result["@language"] = value.lower()
        elif keyword == "@graph":
            expanded = self._expand_node(active, keyword, value)
            result[keyword] = [] if expanded is None else expanded if isinstance(expanded, list) else [expanded]

    def _expand_property_value(self, active: dict[str, Any], term: str, value: Any) -> Any:
        definition = active["mappings"].get(term) or {}
        if definition.get("reverse"):
            raise _UnsupportedFeature("reverse property")
        containers = definition.get("@container") or []
        if definition.get("@type") == "@json":
            return {"@value": value, "@type": "@json"}
        if isinstance(value, dict) and _MAP_CONTAINERS.intersection(containers):
            raise _UnsupportedFeature("map container")
        expanded = self._expand_node(active, term, value)
        if expanded is None:
            return None
        if "@list" in containers and not (isinstance(expanded, dict) and "@list" in expanded):
            expanded = {"@list": expanded if isinstance(expanded, list) else [expanded]}
        if "@graph" in containers:
            if "@id" in containers or "@index" in containers:
                raise _UnsupportedFeature("graph map container")
            items = expanded if isinstance(expanded, list) else [expanded]
            expanded = [{"@graph": item if isinstance(item, list) else [item]} for item in items]
        return expanded

    def _expand_array(self, active: dict[str, Any], active_property: str | None, items: list[Any]) -> list[Any]:
        definition = active["mappings"].get(active_property) if active_property else None
        in_list = bool(definition) and "@list" in (definition.get("@container") or [])
        expanded_items: list[Any] = []
        for item in items:
            expanded = self._expand_node(active, active_property, item)
            if in_list and isinstance(expanded, list):
                expanded = {"@list": expanded}
            if expanded is None:
                continue
            if isinstance(expanded, list):
                expanded_items.extend(expanded)
            else:
                expanded_items.append(expanded)
        return expanded_items

    def _expand_scalar(self, active: dict[str, Any], active_property: str | None, value: Any) -> Any:
        if active_property is None or active_property == "@graph":
            raise UnsafeJsonLdError(f"free-floating scalar {value!r}")
        definition = active["mappings"].get(active_property) or {}
        if "@context" in definition:
            active = self._scoped_from(definition, active)
        type_mapping = definition.get("@type")
        if "@language" in definition or "@direction" in definition or "@language" in active:
            raise _UnsupportedFeature("language mapping")
        if type_mapping in ("@id", "@vocab") and isinstance(value, str):
            return {"@id": self._absolute_iri(active, value, type_mapping == "@vocab", "@id")}
        if type_mapping and type_mapping not in ("@id", "@vocab", "@none"):
            return {"@value": value, "@type": type_mapping}
        return {"@value": value}

    def _finish_object(self, result: dict[str, Any], active_property: str | None, active: dict[str, Any]) -> Any:
        if "@value" in result:
            extra = set(result) - {"@value", "@type", "@language"}
            if extra or ("@type" in result and "@language" in result):
                raise UnsafeJsonLdError(f"invalid value object {result!r}")
            if "@language" in result and not isinstance(result["@value"], str):
                raise UnsafeJsonLdError("only strings may be language-tagged")
            if isinstance(result.get("@type"), list):
                raise UnsafeJsonLdError("@type of a value object must be a single IRI")
        elif "@type" in result and not isinstance(result["@type"], list):
            result["@type"] = [result["@type"]]
        top_level = active_property is None or active_property == "@graph"
        if top_level and (not result or "@value" in result or "@list" in result or set(result) == {"@id"}):
            raise UnsafeJsonLdError("top-level object that JSON-LD would drop (empty, a bare value or only @id)")
        if not result:
            return result
        if set(result) == {"@language"}:
            raise UnsafeJsonLdError("object with only @language")
        return result


_KNOWN_KEYWORDS = frozenset(jsonld.KEYWORDS)
_MAX_MEMOISED_CONTEXTS = 10_000
_MAX_MEMOISED_TERMS = 200_000
_EXPANDER = CachedContextExpander()
