"""Validate credentials against the 1EdTech OB 3.0 JSON Schema (strict: ``proof`` must be an array).

The schema is read from the copy beside this module (never fetched) and compiled once per process.
Validation returns readable errors instead of raising, because both callers want a list: the
issuer refuses to sign on any error, and the verifier reports them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_DIRECTORY = Path(__file__).resolve().parent / "schemas"
ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH = SCHEMA_DIRECTORY / "ob_v3p0_achievementcredential_schema.json"
# What a credential's ``credentialSchema`` entry points at (the schema's ``$id``).
ACHIEVEMENT_CREDENTIAL_SCHEMA_ID = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json-ld/ob_v3p0_achievementcredential_schema.json"
)

_MAX_MESSAGE_CHARS = 300
_MAX_VALUE_CHARS = 80
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RFC3339_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One schema violation: where (a JSON path such as ``$.credentialSubject.achievement``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate_achievement_credential(credential: Any) -> list[SchemaError]:
    """Errors of an OpenBadgeCredential / AchievementCredential; empty when it is valid."""
    return _collect_errors(achievement_credential_validator(), credential)


def validate_endorsement_credential(credential: Any) -> list[SchemaError]:
    """Errors of an EndorsementCredential, using the same schema's ``$defs/EndorsementCredential``."""
    return _collect_errors(endorsement_credential_validator(), credential)


def is_valid_achievement_credential(credential: Any) -> bool:
    return not validate_achievement_credential(credential)


@cache
def load_achievement_credential_schema() -> dict[str, Any]:
    with ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH.open("rb") as schema_file:
        schema: dict[str, Any] = json.load(schema_file)
    Draft201909Validator.check_schema(schema)
    return schema


@cache
def achievement_credential_validator() -> Draft201909Validator:
    """Compiled once: building a validator walks the whole schema, validating reuses it."""
    return Draft201909Validator(load_achievement_credential_schema(), format_checker=_format_checker())


@cache
def endorsement_credential_validator() -> Draft201909Validator:
    schema = load_achievement_credential_schema()
    endorsement_schema = {
        "$schema": schema["$schema"],
        "$id": schema["$id"],
        "$defs": schema["$defs"],
        "$ref": "#/$defs/EndorsementCredential",
    }
    return Draft201909Validator(endorsement_schema, format_checker=_format_checker())


def _collect_errors(validator: Draft201909Validator, instance: Any) -> list[SchemaError]:
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.absolute_path)))
        return [SchemaError(_json_path(error.absolute_path), _describe(error)) for error in errors]
    except RecursionError:
        return [SchemaError("$", "document is nested too deeply to validate")]
    except Exception as exc:  # never raise on hostile input: report it as invalid instead
        return [SchemaError("$", f"document could not be validated: {type(exc).__name__}")]


def _describe(error: ValidationError) -> str:
    message = error.message
    instance_repr = repr(error.instance)
    if len(instance_repr) > _MAX_VALUE_CHARS and message.startswith(instance_repr):
        # jsonschema leads with the whole offending value; keep the reason, not the value.
        message = _summarize(error.instance) + message[len(instance_repr) :]
    if error.validator == "contains" and isinstance(error.validator_value, dict):
        expected = error.validator_value.get("enum") or error.validator_value.get("const")
        if expected is not None:
            message = f"must contain one of {expected!r}; got {_summarize(error.instance)}"
    elif error.context:
        # anyOf/oneOf: the closest branch's complaint says more than "not valid under any".
        closest = min(error.context, key=lambda sub_error: len(sub_error.context or ()))
        message = f"{message} (e.g. {_describe(closest)})"
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[: _MAX_MESSAGE_CHARS - 1] + "\u2026"
    return message


def _summarize(value: Any) -> str:
    text = repr(value)
    if len(text) <= _MAX_VALUE_CHARS:
        return text
    if isinstance(value, dict):
        return f"an object with keys {sorted(map(str, value))[:8]!r}"[:_MAX_VALUE_CHARS]
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    return text[: _MAX_VALUE_CHARS - 1] + "\u2026"


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            path += "[" + json.dumps(part) + "]"
    return path


def _format_checker() -> FormatChecker:
    """Draft 2019-09 formats, with RFC 3339 ``date-time`` checked without an optional dependency."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_rfc3339_date_time)
    checker.checks("date")(_is_full_date)
    return checker


def _is_rfc3339_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings; "type" reports the rest
    match = _RFC3339_DATE_TIME.fullmatch(value)
    if not match:
        return False
    day, hour, minute, second = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
    offset = match.group(6)
    if offset not in ("Z", "z") and not (int(offset[1:3]) <= 23 and int(offset[4:6]) <= 59):
        return False
    try:
        # RFC 3339 allows a leap second (60); datetime does not, so check it as 59.
        datetime(*date.fromisoformat(day).timetuple()[:3], hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


def _is_full_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _FULL_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
