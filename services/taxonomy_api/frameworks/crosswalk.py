"""Nesta's ESCO → O*NET occupation crosswalk (Mapping Career Causeways, Nov 2020) as associations from an
ESCO occupation (its concept URI, the ESCO reader's external id) to an O*NET occupation ("onet:<code>",
the O*NET reader's). The applier adds those whose both ends exist.

The crosswalk's O*NET codes are 2010 SOC based and are kept as given: those O*NET did not renumber for the
2019 SOC (e.g. 11-1011.00) meet O*NET 29.2's roles; renumbered ones (15-1132.00) meet none.

Nesta's confidence becomes the type: 2 (their highest) "closeMatch", 1 and 0.5 "isRelatedTo". Not
"exactMatchOf": the crosswalk maps 1,680 ESCO occupations onto 668 O*NET ones, and Nesta warn that this
many-to-one match hides differences between the ESCO occupations. The confidence stays in the source."""

import ast
from pathlib import Path

from services.taxonomy_api.frameworks.bundle import BundleAssociation, ImportProblem
from services.taxonomy_api.frameworks.sources import SourceFile, read_rows

COLUMNS = ("concept_uri", "onet_code", "confidence")
CLOSE_MATCH_CONFIDENCE = 2.0
MAX_TITLES_LENGTH = 4000


def _job_titles(text: str) -> list[str]:
    """Nesta writes the shared titles as a Python list literal, or "na"."""
    # Titles are short; a long field is not Nesta's, and literal_eval on deep nesting could exhaust the stack.
    if not text.startswith("[") or len(text) > MAX_TITLES_LENGTH:
        return []
    try:
        titles = ast.literal_eval(text)
    except (ValueError, SyntaxError, RecursionError):
        return []
    return [title for title in titles if isinstance(title, str)] if isinstance(titles, list) else []


def read_esco_onet_crosswalk(path: Path, *, problems: list[ImportProblem] | None = None) -> list[BundleAssociation]:
    """One association per crosswalk row, in file order; rows that cannot be taken are skipped and, if
    `problems` is given, reported there."""
    problems = problems if problems is not None else []
    source = SourceFile(name=Path(path).name, path=Path(path))
    associations: list[BundleAssociation] = []
    seen: set[tuple[str, str]] = set()
    for line, row in read_rows(source, COLUMNS, problems):
        esco, code = row["concept_uri"].strip(), row["onet_code"].strip()
        if not esco or not code:
            problems.append(ImportProblem(source.name, line, "no concept_uri or onet_code"))
            continue
        try:
            confidence = float(row["confidence"])
        except ValueError:
            problems.append(ImportProblem(source.name, line, f"confidence {row['confidence']!r} is not a number"))
            continue
        association_type = "closeMatch" if confidence >= CLOSE_MATCH_CONFIDENCE else "isRelatedTo"
        destination = f"onet:{code}"
        identifier = f"{association_type}:{esco}->{destination}"
        if (esco, code) in seen:
            problems.append(ImportProblem(source.name, line, f"{esco} → {code} appears twice; the first is kept"))
            continue
        seen.add((esco, code))
        record: dict[str, object] = {"confidence": confidence, "soc": "2010"}
        for column in ("esco_occupation", "onet_occupation", "isco_code"):
            if row.get(column, "").strip():
                record[column] = row[column].strip()
        if row.get("semantic_similarity", "").strip():
            try:
                record["semantic_similarity"] = round(float(row["semantic_similarity"]), 4)
            except ValueError:
                problems.append(ImportProblem(source.name, line, "semantic_similarity is not a number; left out"))
        titles = _job_titles(row.get("matching_job_titles", "").strip())
        if titles:
            record["matching_job_titles"] = titles
        associations.append(BundleAssociation(identifier, association_type, esco, destination, source=record))
    return associations
