"""Validate credentials against the 1EdTech OB 3.0 JSON Schema (strict: ``proof`` must be an array).

The schema is read from the copy beside this module (never fetched) and compiled once per process.
Validation returns readable errors instead of raising, because both callers want a list: the
issuer refuses to sign on any error, and the verifier reports them.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_DIRECTORY = Path(__file__).resolve().parent / "schemas"
ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH = SCHEMA_DIRECTORY / "ob_v3p0_achievementcredential_schema.json"
CLR_CREDENTIAL_SCHEMA_PATH = SCHEMA_DIRECTORY / "clr_v2p0_clrcredential_schema.json"
# What purl.imsglobal.org serves: single values accepted where the strict schema wants arrays (a
# `proof` object, as Digital Bazaar's and DCC's issuers write it). Verification only, never issuance.
JSONLD_ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH = SCHEMA_DIRECTORY / "ob_v3p0_achievementcredential_schema_jsonld.json"
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
    if _passes(achievement_credential_check(), credential):
        return []
    return _collect_errors(achievement_credential_validator(), credential)


def validate_endorsement_credential(credential: Any) -> list[SchemaError]:
    """Errors of an EndorsementCredential, using the same schema's ``$defs/EndorsementCredential``."""
    if _passes(endorsement_credential_check(), credential):
        return []
    return _collect_errors(endorsement_credential_validator(), credential)


def validate_achievement_credential_jsonld(credential: Any) -> list[SchemaError]:
    """Errors against 1EdTech's JSON-LD adaptation of the schema (see the path's comment)."""
    return _collect_errors(_jsonld_validator("#"), credential)


def validate_endorsement_credential_jsonld(credential: Any) -> list[SchemaError]:
    return _collect_errors(_jsonld_validator("#/$defs/EndorsementCredential"), credential)


@cache
def _jsonld_validator(pointer: str) -> Draft201909Validator:
    with JSONLD_ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH.open("rb") as schema_file:
        schema: dict[str, Any] = json.load(schema_file)
    Draft201909Validator.check_schema(schema)
    if pointer != "#":
        schema = {"$schema": schema["$schema"], "$id": schema["$id"], "$defs": schema["$defs"], "$ref": pointer}
    return Draft201909Validator(schema, format_checker=_format_checker())


def validate_clr_credential(credential: Any) -> list[SchemaError]:
    """Errors of a CLR 2.0 ClrCredential against 1EdTech's ClrCredential schema (no fast path: CLRs are
    rare, and the schema uses keywords the compiler below does not know)."""
    return _collect_errors(clr_credential_validator(), credential)


@cache
def clr_credential_validator() -> Draft201909Validator:
    with CLR_CREDENTIAL_SCHEMA_PATH.open("rb") as schema_file:
        schema: dict[str, Any] = json.load(schema_file)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=_format_checker())


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


def _endorsement_schema() -> dict[str, Any]:
    schema = load_achievement_credential_schema()
    return {
        "$schema": schema["$schema"],
        "$id": schema["$id"],
        "$defs": schema["$defs"],
        "$ref": "#/$defs/EndorsementCredential",
    }


@cache
def endorsement_credential_validator() -> Draft201909Validator:
    return Draft201909Validator(_endorsement_schema(), format_checker=_format_checker())


# --- the fast path: the schema compiled to plain Python checks ---------------------------------------
#
# jsonschema walks the schema for every document (about 1.3 ms for one credential), which was the
# largest single cost of verifying a VC-JWT and a large one of issuing. The 1EdTech schema uses a small
# set of keywords, so it is compiled once into nested closures that answer only "valid or not" (about
# 20x faster). A document they pass is reported valid without jsonschema; one they fail goes through
# jsonschema, which gives the errors. So the compiled checks must never pass what jsonschema rejects:
# tests/badge_issuer/test_schema_fast_path.py holds them to agreeing with jsonschema on valid
# credentials and thousands of broken copies. A schema using a keyword the compiler does not know is
# not compiled at all (every document then goes through jsonschema).

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "$defs", "examples", "default"})
_KNOWN = _ANNOTATIONS | {
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "additionalItems",
    "minItems",
    "contains",
    "pattern",
    "format",
    "oneOf",
    "allOf",
    "$ref",
}
_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda value: isinstance(value, str),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": lambda value: isinstance(value, numbers.Number) and not isinstance(value, bool),
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    ),
}
_FORMAT_CHECKS: dict[str, Check] = {
    "date-time": lambda value: _is_rfc3339_date_time(value),
    "date": lambda value: _is_full_date(value),
}


class _NotCompilable(Exception):
    """The schema uses something the compiler does not implement: use jsonschema alone."""


class _SchemaCompiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.definitions: dict[str, Check] = {}

    def reference(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/") or "/" in ref[len("#/$defs/") :]:
            raise _NotCompilable(f"$ref {ref}")
        name = ref[len("#/$defs/") :]
        if name not in self.root.get("$defs", {}):
            raise _NotCompilable(f"$ref {ref}")
        if name not in self.definitions:
            self.definitions[name] = _always  # a placeholder while compiling, for recursive definitions
            compiled = self.compile(self.root["$defs"][name])
            self.definitions[name] = _remembering(compiled) if name in _RECURRING_DEFINITIONS else compiled
        definitions = self.definitions
        return lambda value: definitions[name](value)

    def compile(self, schema: Any) -> Check:  # noqa: C901 - one branch per keyword, kept together
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
            raise _NotCompilable(str(set(schema) - _KNOWN) if isinstance(schema, dict) else repr(schema))
        checks: list[Check] = []
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not all(isinstance(name, str) and name in _TYPE_CHECKS for name in names):
                raise _NotCompilable(f"type {names}")
            type_checks = [_TYPE_CHECKS[name] for name in names]
            checks.append(type_checks[0] if len(type_checks) == 1 else lambda v: any(c(v) for c in type_checks))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        if "$ref" in schema:
            checks.append(self.reference(schema["$ref"]))
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
        if "format" in schema and schema["format"] in _FORMAT_CHECKS:
            checks.append(_FORMAT_CHECKS[schema["format"]])  # other formats are not asserted (see _format_checker)
        if any(keyword in schema for keyword in ("properties", "required", "additionalProperties")):
            checks.append(self._object_check(schema))
        if any(keyword in schema for keyword in ("items", "additionalItems", "minItems", "contains")):
            checks.append(self._array_check(schema))
        if "allOf" in schema:
            parts = [self.compile(part) for part in schema["allOf"]]
            checks.append(lambda v: all(part(v) for part in parts))
        if "oneOf" in schema:
            options = [self.compile(option) for option in schema["oneOf"]]
            checks.append(lambda v: sum(1 for option in options if option(v)) == 1)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def _object_check(self, schema: dict[str, Any]) -> Check:
        properties = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True or extra == {} else self.compile(extra)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                property_check = properties.get(name)
                if property_check is not None:
                    if not property_check(item):
                        return False
                elif extra_check is not None and not extra_check(item):
                    return False
            return True

        return check

    def _array_check(self, schema: dict[str, Any]) -> Check:
        items = schema.get("items", True)
        if isinstance(items, list):
            positional = [self.compile(sub) for sub in items]
            additional = self.compile(schema.get("additionalItems", True))
            every = None
        else:
            positional, additional, every = [], _always, self.compile(items)
        min_items = schema.get("minItems", 0)
        contains = self.compile(schema["contains"]) if "contains" in schema else None

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            if len(value) < min_items:
                return False
            if every is not None:
                if not all(every(item) for item in value):
                    return False
            else:
                for position, item in enumerate(value):
                    item_check = positional[position] if position < len(positional) else additional
                    if not item_check(item):
                        return False
            return contains is None or any(contains(item) for item in value)

        return check


# Definitions whose values recur from document to document: every credential of one badge carries the
# same Achievement (about a third of a credential's check) and every credential of one issuer the same
# Profile. Their valid values are remembered by their JSON text, so an issuer judges each achievement
# once per shape it is issued in rather than once per credential, and the rest of the credential is
# still checked every time. An equal text is an equal JSON value, so the answer cannot differ: a value
# edited in place has another text and is judged again. Text holding `null` is not remembered, because
# orjson writes NaN and the infinities as null too; anything orjson will not write as JSON would
# (non-str keys, subclasses, dates) is judged without the memory.
_RECURRING_DEFINITIONS = frozenset({"Achievement", "Profile"})
_REMEMBERED_PER_DEFINITION = 1024
_JSON_ONLY = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _remembering(check: Check) -> Check:
    valid_texts: set[bytes] = set()

    def remembered(value: Any) -> bool:
        if not isinstance(value, dict):
            return check(value)
        try:
            text = orjson.dumps(value, default=_not_json, option=_JSON_ONLY)
        except TypeError:
            return check(value)
        if text in valid_texts:
            return True
        valid = check(value)
        if valid and b"null" not in text:
            if len(valid_texts) >= _REMEMBERED_PER_DEFINITION:
                valid_texts.clear()  # bounded: a verifier shown endless distinct achievements starts over
            valid_texts.add(text)
        return valid

    return remembered


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _enum_check(options: list[Any]) -> Check:
    if all(isinstance(option, str) for option in options):
        allowed = frozenset(options)
        return lambda v: isinstance(v, str) and v in allowed
    raise _NotCompilable("enum of non-strings")  # JSON equality (1 is not true) is jsonschema's to judge


def _compile(schema: dict[str, Any]) -> Check | None:
    try:
        return _SchemaCompiler(schema).compile(schema)
    except (_NotCompilable, re.error):
        return None


@cache
def achievement_credential_check() -> Check | None:
    """The schema as a plain valid-or-not check, or None when it cannot be compiled."""
    return _compile(load_achievement_credential_schema())


@cache
def endorsement_credential_check() -> Check | None:
    return _compile(_endorsement_schema())


def _passes(check: Check | None, instance: Any) -> bool:
    if check is None:
        return False
    try:
        return check(instance)
    except (RecursionError, TypeError, ValueError):
        return False  # hostile or odd input: jsonschema judges it and reports


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
