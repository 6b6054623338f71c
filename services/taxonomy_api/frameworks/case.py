"""1EdTech CASE CFPackages (1.0, 1.1, and the pre-final dialect of 2017 OpenSALT exports), both ways.

Mapping (the same in the reader and the writer, so a package round-trips):
- the CFDocument is the Framework (identifier, uri, title; release = version, else adoptionStatus), kept
  verbatim as its document; CFDefinitions' lists and CFRubrics are its definitions, verbatim;
- a CFItem that other items are isChildOf is a capability, every other CFItem a skill; the parent (of a
  capability) or capability (of a skill) is the first isChildOf destination that is an item of the package;
- a node's name is its abbreviatedStatement, else the first line of its fullStatement shortened to a
  name, else its humanCodingScheme; names are made unique within the package; the description is the
  fullStatement, verbatim (markdown, CRLF, non-BMP characters untouched);
- every CFAssociation is kept, whatever its type and wherever its destination points;
- every record is kept verbatim in `source`. The writer lays what we own back over it: description →
  fullStatement, a name other than the derived one → abbreviatedStatement, and lastChangeDateTime
  from updated_at for a record so changed. Everything else is the framework's, given back as it came.

Where a record breaks the target version's schema (the pre-final dialect's string sequence numbers and
nulls; 1.0 fields the 1.1 package forbids) the writer normalises it (as_case_version); the stored source
stays as it came. Problems are located by JSON path (e.g. "CFItems[3]: missing identifier"); line numbers
only for text that is not JSON at all."""

import copy
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.taxonomy_api.db.tables import NAME_LENGTH
from services.taxonomy_api.domain.version_content import VersionContent
from services.taxonomy_api.frameworks.bundle import (
    Bundle,
    BundleAssociation,
    BundleCapability,
    BundleSkill,
    FrameworkInfo,
    ImportProblem,
    Progress,
    no_progress,
)
from shared.errors import NotFound

CaseVersion = Literal["1.0", "1.1"]
API_PATHS: dict[CaseVersion, str] = {"1.0": "/ims/case/v1p0", "1.1": "/ims/case/v1p1"}
# CASE 1.1 Information Model, CFDefinition: the definitions nodes refer to. CFRubrics sit beside
# CFDefinitions at the top of a CFPackage (both versions' package schemas).
DEFINITION_KINDS = ("CFConcepts", "CFSubjects", "CFLicenses", "CFItemTypes", "CFAssociationGroupings")
RUBRICS = "CFRubrics"
# Identifiers we mint for an organisation's own taxonomy: uuid5 under this namespace, so the same
# version always exports under the same identifiers.
CREDSTACK_CASE_NAMESPACE = uuid.UUID("5f0c8d52-3b7e-4f43-9a86-6c1b0e1f2a47")
RELEASE_LENGTH = 64
_WHITESPACE = re.compile(r"\s+")


# --- reading -------------------------------------------------------------------------------------


def read_case_package(document: dict[str, Any] | bytes, *, file: str, progress: Progress = no_progress) -> Bundle:
    """A CFPackage as a Bundle; what cannot be taken is reported in bundle.problems, never raised."""
    bundle = Bundle(framework=FrameworkInfo(kind="case", identifier="", title=""))
    package = _parsed(document, file, bundle.problems)
    if package is None:
        return bundle
    cf_document = package.get("CFDocument")
    if not isinstance(cf_document, dict):
        bundle.problems.append(ImportProblem(file, None, "not a CFPackage: no CFDocument object"))
        return bundle
    identifier = cf_document.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        bundle.problems.append(ImportProblem(file, None, "CFDocument: missing identifier"))
        return bundle
    bundle.framework = FrameworkInfo(
        kind="case",
        identifier=identifier,
        title=_text(cf_document.get("title")),
        release=(_text(cf_document.get("version")) or _text(cf_document.get("adoptionStatus")))[:RELEASE_LENGTH],
        uri=_text(cf_document.get("uri")) or None,
        document=cf_document,
        definitions=_definitions(package, file, bundle.problems),
    )
    items = _items(package, file, bundle.problems)
    bundle.associations = _associations(package, file, bundle.problems)
    progress("items", 0, len(items))
    parents = _parents(items, bundle.associations)
    has_children = set(parents.values())
    names = item_names(items.values())
    for done, (item_id, item) in enumerate(items.items(), 1):
        name, description = names[item_id], _text(item.get("fullStatement"))
        if item_id in has_children:
            bundle.capabilities.append(
                BundleCapability(
                    external_id=item_id,
                    name=name,
                    description=description,
                    parent_external_id=parents.get(item_id),
                    source=item,
                )
            )
        else:
            label = _text(item.get("alternativeLabel"))
            bundle.skills.append(
                BundleSkill(
                    external_id=item_id,
                    name=name,
                    description=description,
                    capability_external_id=parents.get(item_id),
                    alternative_labels=[label] if label else [],
                    skill_type=_item_type(item)[:64],
                    url=_text(item.get("uri")) or None,
                    source=item,
                )
            )
        progress("items", done, len(items))
    progress("associations", len(bundle.associations), len(bundle.associations))
    return bundle


def _parsed(document: dict[str, Any] | bytes, file: str, problems: list[ImportProblem]) -> dict[str, Any] | None:
    if isinstance(document, bytes | bytearray):
        try:
            document = json.loads(document)
        except UnicodeDecodeError as error:
            problems.append(ImportProblem(file, None, f"not UTF-8 text: {error.reason} at byte {error.start}"))
            return None
        except json.JSONDecodeError as error:
            problems.append(ImportProblem(file, error.lineno, f"not valid JSON: {error.msg} (column {error.colno})"))
            return None
    if not isinstance(document, dict):
        problems.append(ImportProblem(file, None, "not a CFPackage: the JSON is not an object"))
        return None
    return document


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _item_type(item: dict[str, Any]) -> str:
    """CFItemType is a string in every dialect; the pre-final one adds CFItemTypeURI, 1.1 may give only that."""
    link = item.get("CFItemTypeURI")
    return _text(item.get("CFItemType")) or (_text(link.get("title")) if isinstance(link, dict) else "")


def _definitions(package: dict[str, Any], file: str, problems: list[ImportProblem]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    definitions = package.get("CFDefinitions")
    # 1.0 allows an empty array for "no definitions"; otherwise an object of lists.
    sources = (
        [(f"CFDefinitions.{kind}", kind, definitions.get(kind)) for kind in DEFINITION_KINDS]
        if isinstance(definitions, dict)
        else []
    )
    sources.append((RUBRICS, RUBRICS, package.get(RUBRICS)))
    if isinstance(definitions, dict) and RUBRICS in definitions and RUBRICS not in package:
        sources[-1] = (f"CFDefinitions.{RUBRICS}", RUBRICS, definitions[RUBRICS])
    for where, kind, records in sources:
        if records is None:
            continue
        if not isinstance(records, list):
            problems.append(ImportProblem(file, None, f"{where}: not a list"))
            continue
        found[kind] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict) or not _text(record.get("identifier")):
                problems.append(ImportProblem(file, None, f"{where}[{index}]: missing identifier"))
                continue
            found[kind].append(record)
    return found


def _items(package: dict[str, Any], file: str, problems: list[ImportProblem]) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    records = package.get("CFItems", [])
    if not isinstance(records, list):
        problems.append(ImportProblem(file, None, "CFItems: not a list"))
        return items
    first_at: dict[str, int] = {}
    for index, item in enumerate(records):
        identifier = item.get("identifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier.strip():
            problems.append(ImportProblem(file, None, f"CFItems[{index}]: missing identifier"))
            continue
        if identifier in items:
            problems.append(
                ImportProblem(
                    file, None, f"CFItems[{index}]: identifier {identifier} repeats CFItems[{first_at[identifier]}]"
                )
            )
            continue
        items[identifier], first_at[identifier] = item, index
    return items


def node_identifier(node: Any) -> str:
    """The identifier of an association's end: a LinkGenURI object, or (pre-final dialect) a bare URI."""
    if isinstance(node, dict):
        return _text(node.get("identifier")).strip()
    if isinstance(node, str):
        return node.strip().rstrip("/").rsplit("/", 1)[-1]
    return ""


def _associations(package: dict[str, Any], file: str, problems: list[ImportProblem]) -> list[BundleAssociation]:
    found: list[BundleAssociation] = []
    records = package.get("CFAssociations", [])
    if not isinstance(records, list):
        problems.append(ImportProblem(file, None, "CFAssociations: not a list"))
        return found
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"CFAssociations[{index}]"
        if not isinstance(record, dict) or not _text(record.get("identifier")).strip():
            problems.append(ImportProblem(file, None, f"{where}: missing identifier"))
            continue
        origin = node_identifier(record.get("originNodeURI"))
        destination = node_identifier(record.get("destinationNodeURI"))
        association_type = _text(record.get("associationType"))
        if not origin or not destination:
            end = "originNodeURI" if not origin else "destinationNodeURI"
            problems.append(ImportProblem(file, None, f"{where}: association to nothing ({end} has no identifier)"))
            continue
        if not association_type:
            problems.append(ImportProblem(file, None, f"{where}: missing associationType"))
            continue
        if record["identifier"] in seen:
            problems.append(ImportProblem(file, None, f"{where}: identifier {record['identifier']} repeats"))
            continue
        seen.add(record["identifier"])
        found.append(BundleAssociation(record["identifier"], association_type, origin, destination, source=record))
    return found


def sequence_number(record: dict[str, Any]) -> int | None:
    """CASE 1.1 Information Model, CFAssociation.sequenceNumber: the order of siblings under one parent
    (an integer; the pre-final dialect writes it as a string)."""
    value = record.get("sequenceNumber")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _parents(items: dict[str, dict[str, Any]], associations: list[BundleAssociation]) -> dict[str, str]:
    """Child item → parent item, from isChildOf (origin is the child, destination the parent; CASE 1.1
    Information Model, CFAssociationTypeEnum). The document as destination means top level."""
    parents: dict[str, str] = {}
    for association in associations:
        if association.association_type != "isChildOf" or association.origin in parents:
            continue
        if (
            association.origin in items
            and association.destination in items
            and association.origin != association.destination
        ):
            parents[association.origin] = association.destination
    return parents


def _short(text: str) -> str:
    """The first line, with whitespace collapsed, cut at a word boundary to fit a name."""
    line = _WHITESPACE.sub(" ", next((line for line in text.splitlines() if line.strip()), "")).strip()
    if len(line) <= NAME_LENGTH:
        return line
    cut = line[: NAME_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut}…"


def derived_name(item: dict[str, Any]) -> str:
    for candidate in (item.get("abbreviatedStatement"), item.get("fullStatement"), item.get("humanCodingScheme")):
        name = _short(_text(candidate))
        if name:
            return name
    return _text(item.get("identifier"))[:NAME_LENGTH]


def item_names(items: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each item's name, unique within the package: a clash gets the coding scheme (or the start of the
    identifier) appended, for every item of the clash, so the result does not depend on file order."""
    items = list(items)
    wanted = {item["identifier"]: derived_name(item) for item in items}
    holders: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        holders.setdefault(wanted[item["identifier"]], []).append(item)
    names: dict[str, str] = {}
    for name, clashing in holders.items():
        if len(clashing) == 1:
            names[clashing[0]["identifier"]] = name
            continue
        for item in clashing:
            tail = _text(item.get("humanCodingScheme")).strip() or item["identifier"][:8]
            if sum(1 for other in clashing if (_text(other.get("humanCodingScheme")).strip() or "") == tail) > 1:
                tail = item["identifier"][:8]
            suffix = f" ({tail})"
            names[item["identifier"]] = name[: NAME_LENGTH - len(suffix)] + suffix
    return names


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnTaxonomy:
    """What names an organisation's own (not imported) taxonomy as a CFDocument: the version it is."""

    version_id: uuid.UUID
    title: str
    creator: str
    version_label: str = ""
    adoption_status: str = ""


def own_document_identifier(version_id: uuid.UUID) -> str:
    return str(uuid.uuid5(CREDSTACK_CASE_NAMESPACE, f"taxonomy-version:{version_id}"))


def write_case_package(
    content: VersionContent,
    framework_id: str | None,
    *,
    version: CaseVersion,
    base_url: str,
    own: OwnTaxonomy | None = None,
) -> dict[str, Any]:
    """The CFPackage of one imported framework (framework_id), or of the organisation's own taxonomy
    (framework_id None, named by `own`), from a version's documents or the working taxonomy's. A
    framework imported from another format (ESCO, O*NET, CSV) is written like our own skills, under a
    CFDocument of its own, each item's uri the framework's id for it."""
    framework = content.documents["framework"].get(framework_id or "")
    if framework_id is None or (framework is not None and framework["kind"] != "case"):
        if own is None:
            raise ValueError("a package of skills made or imported here needs the version it is (own=...)")
        package = _own_package(content, own, version, base_url.rstrip("/"), include_framework=framework_id)
    else:
        package = _framework_package(content, framework_id)
    return as_case_version(package, version)


def _case_time(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _framework_package(content: VersionContent, framework_id: str) -> dict[str, Any]:
    framework = content.documents["framework"].get(framework_id)
    if framework is None or framework["kind"] != "case":
        raise NotFound(f"No CASE framework {framework_id} in this taxonomy.")
    nodes = [
        body
        for kind in ("capability", "skill")
        for body in content.documents[kind].values()
        if body.get("framework_id") == framework_id and body.get("source")
    ]
    names = item_names(body["source"] for body in nodes)
    items = {body["external_id"]: _overlaid_item(body, names) for body in nodes}
    associations = [
        _association_record(body)
        for body in content.documents["association"].values()
        if body["framework_id"] == framework_id
    ]
    order = _tree_order(framework["identifier"], items, associations)
    position = {identifier: index for index, identifier in enumerate(order)}
    associations.sort(
        key=lambda record: (
            position.get(node_identifier(record.get("originNodeURI")), len(position)),
            record["identifier"],
        )
    )
    package: dict[str, Any] = {
        "CFDocument": copy.deepcopy(framework["document"]),
        "CFItems": [items[identifier] for identifier in order],
        "CFAssociations": associations,
    }
    definitions = framework.get("definitions") or {}
    if any(kind in definitions for kind in DEFINITION_KINDS):
        package["CFDefinitions"] = {
            kind: copy.deepcopy(definitions[kind]) for kind in DEFINITION_KINDS if kind in definitions
        }
    if RUBRICS in definitions:
        package[RUBRICS] = copy.deepcopy(definitions[RUBRICS])
    return package


def _overlaid_item(body: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The framework's record with our values laid over the fields we own."""
    source = body["source"]
    record = copy.deepcopy(source)
    record["fullStatement"] = body["description"]
    if body["name"] != names.get(source.get("identifier"), body["name"]):
        record["abbreviatedStatement"] = body["name"]
    if record != source:
        record["lastChangeDateTime"] = _case_time(body["updated_at"])
    return record


def _association_record(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("source"):
        return copy.deepcopy(body["source"])
    # An association that came from elsewhere than a CASE file (no record): what we know of it.
    return {
        "identifier": body["identifier"],
        "uri": body["identifier"],
        "associationType": body["association_type"],
        "originNodeURI": {"title": body["origin"], "identifier": body["origin"], "uri": body["origin"]},
        "destinationNodeURI": {
            "title": body["destination"],
            "identifier": body["destination"],
            "uri": body["destination"],
        },
        "lastChangeDateTime": _case_time(datetime(1970, 1, 1, tzinfo=UTC)),
    }


def _tree_order(document_id: str, items: dict[str, dict[str, Any]], associations: list[dict[str, Any]]) -> list[str]:
    """Items depth first from the document, siblings by sequenceNumber, then coding scheme, then id; items
    the tree does not reach after, by identifier. JSON array order carries no meaning in CASE."""
    children: dict[str, list[tuple[tuple[Any, ...], str]]] = {}
    for record in associations:
        if record.get("associationType") != "isChildOf":
            continue
        child, parent = node_identifier(record.get("originNodeURI")), node_identifier(record.get("destinationNodeURI"))
        if child in items:
            number = sequence_number(record)
            key = (number is None, number or 0, _text(items[child].get("humanCodingScheme")), child)
            children.setdefault(parent, []).append((key, child))
    order: list[str] = []
    seen: set[str] = set()
    stack = [document_id]
    while stack:
        node = stack.pop()
        if node != document_id:
            order.append(node)
        for _, child in sorted(children.get(node, []), reverse=True):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    order.extend(sorted(identifier for identifier in items if identifier not in seen))
    return order


def _own_package(
    content: VersionContent,
    own: OwnTaxonomy,
    version: CaseVersion,
    base_url: str,
    *,
    include_framework: str | None = None,
) -> dict[str, Any]:
    api = f"{base_url}{API_PATHS[version]}"
    document_id = own_document_identifier(own.version_id)
    if include_framework is not None:
        document_id = str(uuid.uuid5(uuid.UUID(document_id), include_framework))
    document_link = {"title": own.title, "identifier": document_id, "uri": f"{api}/CFDocuments/{document_id}"}
    capabilities = {
        key: body
        for key, body in content.documents["capability"].items()
        if body.get("framework_id") == include_framework
    }
    skills = {
        key: body for key, body in content.documents["skill"].items() if body.get("framework_id") == include_framework
    }
    item_types = {
        kind: str(uuid.uuid5(CREDSTACK_CASE_NAMESPACE, f"item-type:{kind}")) for kind in ("Capability", "Skill")
    }
    changed = [body["updated_at"] for body in (*capabilities.values(), *skills.values())]
    last_change = _case_time(max(changed)) if changed else _case_time(datetime(1970, 1, 1, tzinfo=UTC))
    cf_document: dict[str, Any] = {
        "identifier": document_id,
        "uri": document_link["uri"],
        "creator": own.creator,
        "title": own.title,
        "lastChangeDateTime": last_change,
    }
    if own.version_label:
        cf_document["version"] = own.version_label
    if own.adoption_status:
        cf_document["adoptionStatus"] = own.adoption_status

    def link(body: dict[str, Any]) -> dict[str, str]:
        """An item's link: our id for our objects, the framework's for an imported capability."""
        imported = body.get("framework_id") not in (None, include_framework)
        identifier = (body.get("external_id") or body["id"]) if imported else body["id"]
        uri = (body.get("source") or {}).get("uri") if imported else None
        if not imported and str(body.get("external_id") or "").startswith(("http://", "https://")):
            uri = body["external_id"]  # an ESCO concept's URI is the item's
        return {"title": body["name"], "identifier": identifier, "uri": uri or f"{api}/CFItems/{identifier}"}

    items, associations = [], []
    all_capabilities = content.documents["capability"]
    for kind, bodies, parent_key in (("Capability", capabilities, "parent_id"), ("Skill", skills, "capability_id")):
        siblings: dict[str | None, int] = {}
        for body in sorted(bodies.values(), key=lambda body: (body.get(parent_key) or "", body["name"])):
            own_link = link(body)
            item = {
                "identifier": body["id"],
                "uri": own_link["uri"],
                "fullStatement": body["description"] or body["name"],
                "abbreviatedStatement": body["name"],
                "CFItemType": kind,
                "CFItemTypeURI": {
                    "title": kind,
                    "identifier": item_types[kind],
                    "uri": f"{api}/CFItemTypes/{item_types[kind]}",
                },
                "lastChangeDateTime": _case_time(body["updated_at"]),
            }
            if body.get("alternative_labels"):
                item["alternativeLabel"] = body["alternative_labels"][0]
            items.append(item)
            parent = all_capabilities.get(body.get(parent_key) or "")
            parent_link = link(parent) if parent else document_link
            siblings[body.get(parent_key)] = siblings.get(body.get(parent_key), 0) + 1
            identifier = str(
                uuid.uuid5(CREDSTACK_CASE_NAMESPACE, f"isChildOf:{body['id']}:{parent_link['identifier']}")
            )
            associations.append(
                {
                    "identifier": identifier,
                    "uri": f"{api}/CFAssociations/{identifier}",
                    "associationType": "isChildOf",
                    "sequenceNumber": siblings[body.get(parent_key)],
                    "originNodeURI": own_link,
                    "destinationNodeURI": parent_link,
                    "lastChangeDateTime": item["lastChangeDateTime"],
                }
            )
    return {
        "CFDocument": cf_document,
        "CFItems": items,
        "CFAssociations": associations,
        "CFDefinitions": {
            "CFConcepts": [],
            "CFSubjects": [],
            "CFLicenses": [],
            "CFItemTypes": [
                {
                    "identifier": identifier,
                    "uri": f"{api}/CFItemTypes/{identifier}",
                    "title": kind,
                    "description": f"A {kind.lower()} of the organisation's skills taxonomy.",
                    "hierarchyCode": str(level),
                    "typeCode": kind,
                    "lastChangeDateTime": last_change,
                }
                for level, (kind, identifier) in enumerate(item_types.items(), 1)
            ],
            "CFAssociationGroupings": [],
        },
    }


# --- versions ------------------------------------------------------------------------------------

# Fields whose 1.0 package schema (OpenSALT's case-v1p0-cfpackage-schema.json) allows null.
_NULLABLE_1_0 = {
    "CFDocument": {"statusStartDate", "statusEndDate", "licenseURI"},
    "CFItems": {"conceptKeywords", "conceptKeywordsURI"},
    "CFAssociations": {"CFAssociationGroupingURI"},
    "CFItemTypes": {"typeCode"},
}
# The properties of each 1.1 package class (1EdTech case_v1p1_cfpackage JSON schema); the classes forbid others.
_FIELDS_1_1 = {
    "CFDocument": {
        "identifier",
        "uri",
        "frameworkType",
        "caseVersion",
        "creator",
        "title",
        "lastChangeDateTime",
        "officialSourceURL",
        "publisher",
        "description",
        "subject",
        "subjectURI",
        "language",
        "version",
        "adoptionStatus",
        "statusStartDate",
        "statusEndDate",
        "licenseURI",
        "notes",
        "extensions",
    },  # fmt: skip
    "CFItems": {
        "identifier",
        "fullStatement",
        "alternativeLabel",
        "CFItemType",
        "uri",
        "humanCodingScheme",
        "listEnumeration",
        "abbreviatedStatement",
        "conceptKeywords",
        "conceptKeywordsURI",
        "notes",
        "subject",
        "subjectURI",
        "language",
        "educationLevel",
        "CFItemTypeURI",
        "licenseURI",
        "statusStartDate",
        "statusEndDate",
        "lastChangeDateTime",
        "extensions",
    },  # fmt: skip
    "CFAssociations": {
        "identifier",
        "associationType",
        "sequenceNumber",
        "uri",
        "originNodeURI",
        "destinationNodeURI",
        "CFAssociationGroupingURI",
        "lastChangeDateTime",
        "notes",
        "extensions",
    },  # fmt: skip
    "CFConcepts": {
        "identifier",
        "uri",
        "title",
        "keywords",
        "hierarchyCode",
        "description",
        "lastChangeDateTime",
        "extensions",
    },
    "CFSubjects": {"identifier", "uri", "title", "hierarchyCode", "description", "lastChangeDateTime", "extensions"},
    "CFLicenses": {"identifier", "uri", "title", "description", "licenseText", "lastChangeDateTime", "extensions"},
    "CFItemTypes": {
        "identifier",
        "uri",
        "title",
        "description",
        "hierarchyCode",
        "typeCode",
        "lastChangeDateTime",
        "extensions",
    },
    "CFAssociationGroupings": {"identifier", "uri", "title", "description", "lastChangeDateTime", "extensions"},
    "CFRubrics": {"identifier", "uri", "title", "description", "lastChangeDateTime", "CFRubricCriteria", "extensions"},
}
# Links inside a package back to the package or document: 1.0 carries them, the 1.1 package forbids
# them (the package is the document's context already).
_PACKAGE_LINKS_1_1 = {"CFPackageURI", "CFDocumentURI", "CFItemAssociationURI"}
_LISTS_1_1 = {"subject", "educationLevel", "conceptKeywords"}
_DATES_1_1 = {"statusStartDate", "statusEndDate"}
_REQUIRED_TEXT_1_1 = {"CFItemTypes": ("description",)}


def as_case_version(package: dict[str, Any], version: CaseVersion) -> dict[str, Any]:
    """The package as the version's schema has it. 1.0: the pre-final dialect's string sequence numbers
    become integers and nulls the schema does not allow are left out. 1.1: also the 1.0-only package
    links are left out, educationalLevel (pre-final spelling) is educationLevel, the 1.1 lists are lists,
    dates are dates, and fields 1.1 does not define move under the record's `extensions`."""
    result = copy.deepcopy(package)
    groups: list[tuple[str, list[dict[str, Any]]]] = [("CFDocument", [result["CFDocument"]])]
    groups += [(kind, result.get(kind, [])) for kind in ("CFItems", "CFAssociations", RUBRICS)]
    definitions = result.get("CFDefinitions")
    if isinstance(definitions, dict):
        groups += [(kind, definitions.get(kind, [])) for kind in DEFINITION_KINDS]
    for kind, records in groups:
        for record in records:
            (_as_1_0 if version == "1.0" else _as_1_1)(kind, record)
    if version == "1.1":
        result["CFDocument"]["caseVersion"] = "1.1"
    return result


def _as_1_0(kind: str, record: dict[str, Any]) -> None:
    if kind == "CFAssociations" and "sequenceNumber" in record:
        number = sequence_number(record)
        if number is None:
            del record["sequenceNumber"]
        else:
            record["sequenceNumber"] = number
    for key in [key for key, value in record.items() if value is None and key not in _NULLABLE_1_0.get(kind, set())]:
        del record[key]


def _as_1_1(kind: str, record: dict[str, Any]) -> None:
    _as_1_0(kind, record)
    for key in [key for key, value in record.items() if value is None]:
        del record[key]
    for key in _PACKAGE_LINKS_1_1 & record.keys():
        del record[key]
    if "educationalLevel" in record and "educationLevel" not in record:
        record["educationLevel"] = record.pop("educationalLevel")
    for key in _LISTS_1_1 & record.keys():
        if isinstance(record[key], str):
            record[key] = [record[key]]
    for key in _DATES_1_1 & record.keys():
        if isinstance(record[key], str):
            record[key] = record[key][:10]
    for key in _REQUIRED_TEXT_1_1.get(kind, ()):
        record.setdefault(key, "")
    unknown = sorted(record.keys() - _FIELDS_1_1[kind])
    if unknown:
        extensions = record.setdefault("extensions", {})
        for key in unknown:
            extensions[key] = record.pop(key)
