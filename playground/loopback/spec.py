"""Validation of request bodies against Discord's OpenAPI description.

The description is a large file (over a megabyte), so it is loaded, patched and turned into a
``referencing`` registry once per process and per file; validators for each operation are built
lazily and cached.

Patches applied to the document (Discord accepts these, discord.py relies on them):

* ``SnowflakeType`` also accepts non-negative integers (discord.py sends snowflakes as JSON numbers).
* Integer schemas that hold 64-bit values (``format: int64`` or a maximum beyond 2**53, such as
  permission bitfields) also accept decimal strings (discord.py sends permissions as strings).
* ``oneOf`` becomes ``anyOf``: Discord's unions are tagged by a ``type`` field and the spec marks them
  ``x-discord-union: oneOf``; a body that matches two loosely-written branches is still accepted by
  Discord, so only "matches none" is treated as invalid.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # pragma: no cover - import guard
    import jsonschema
    from jsonschema.exceptions import best_match
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    _HAVE_JSONSCHEMA = True
except ImportError:  # pragma: no cover
    _HAVE_JSONSCHEMA = False

ROOT_URI = "urn:discord-openapi"
_BIG_INT = 2**53

_lock = threading.Lock()
_cache: dict[tuple[str, float], SpecDocument] = {}


def default_spec_path() -> Path | None:
    """Where the spec is looked for when none is given: ``$MARQUEE_DISCORD_SPEC``, else
    ``<repo root>/../shared/discord-api-spec/openapi.json``."""
    env = os.environ.get("MARQUEE_DISCORD_SPEC")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "discord-api-spec" / "openapi.json"


def _patch(node: Any) -> Any:
    """Return a patched deep copy of a schema tree (see module docstring)."""
    if isinstance(node, list):
        return [_patch(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _patch(v) for k, v in node.items()}
    if "oneOf" in out:
        one = out.pop("oneOf")
        if "anyOf" in out:
            out["allOf"] = [*out.get("allOf", []), {"anyOf": one}]
        else:
            out["anyOf"] = one
    types = out.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "integer" in type_list and "enum" not in out:
        big = out.get("format") == "int64" or (
            isinstance(out.get("maximum"), int) and out["maximum"] >= _BIG_INT
        )
        if big:
            return {"anyOf": [out, {"type": "string", "pattern": r"^-?[0-9]+$"}]}
    return out


@dataclass
class SpecViolation:
    method: str
    path: str
    operation_id: str | None
    message: str
    location: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.operation_id}): {self.location}: {self.message}"


@dataclass
class _Operation:
    method: str
    template: str
    operation_id: str | None
    body_pointer: str | None  # JSON pointer to the application/json request body schema


@dataclass
class SpecDocument:
    path: Path
    document: dict[str, Any]
    registry: Any
    operations: dict[tuple[str, str], _Operation]
    patterns: list[tuple[re.Pattern[str], str]]
    _validators: dict[str, Any] = field(default_factory=dict)

    def find_operation(self, method: str, path: str) -> _Operation | None:
        """Find the operation for a concrete request path (without the /api/v10 prefix) or for a
        template such as ``/channels/{channel_id}/messages``."""
        method = method.lower()
        op = self.operations.get((method, path))
        if op is not None:
            return op
        for pattern, template in self.patterns:
            if pattern.fullmatch(path):
                op = self.operations.get((method, template))
                if op is not None:
                    return op
        return None

    def _validator(self, pointer: str) -> Any:
        with _lock:
            v = self._validators.get(pointer)
            if v is None:
                v = jsonschema.Draft202012Validator({"$ref": f"{ROOT_URI}#{pointer}"}, registry=self.registry)
                self._validators[pointer] = v
            return v

    def validate(self, method: str, path: str, body: Any) -> list[tuple[str, str]] | None:
        """Validate a JSON body. Returns None when no schema applies, [] when valid, else a list of
        (location, message) pairs (best match first)."""
        op = self.find_operation(method, path)
        if op is None or op.body_pointer is None:
            return None
        validator = self._validator(op.body_pointer)
        errors = list(validator.iter_errors(body))
        if not errors:
            return []
        best = best_match(errors)
        ordered = [best, *[e for e in errors if e is not best]]
        out = []
        for err in ordered[:5]:
            loc = ".".join(str(p) for p in err.absolute_path) or "<body>"
            out.append((loc, err.message[:500]))
        return out


def _escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _load(path: Path) -> SpecDocument:
    with path.open("rb") as fh:
        raw = json.load(fh)
    doc = _patch(raw)
    schemas = doc.get("components", {}).get("schemas", {})
    if "SnowflakeType" in schemas:
        original = copy.deepcopy(schemas["SnowflakeType"])
        schemas["SnowflakeType"] = {"anyOf": [original, {"type": "integer", "minimum": 0}]}
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry = Registry().with_resource(ROOT_URI, resource)
    operations: dict[tuple[str, str], _Operation] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for template, item in doc.get("paths", {}).items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
        patterns.append((re.compile(regex), template))
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"} or not isinstance(op, dict):
                continue
            pointer = None
            content = (op.get("requestBody") or {}).get("content") or {}
            if "application/json" in content and "schema" in content["application/json"]:
                pointer = "/".join(
                    [
                        "",
                        "paths",
                        _escape_pointer(template),
                        method,
                        "requestBody",
                        "content",
                        "application~1json",
                        "schema",
                    ]
                )
            operations[(method, template)] = _Operation(method, template, op.get("operationId"), pointer)
    # literal segments (like @original or @me) must win over parameters: sort by number of params
    patterns.sort(key=lambda p: p[1].count("{"))
    return SpecDocument(path, doc, registry, operations, patterns)


def load_spec(path: str | Path | None) -> tuple[SpecDocument | None, str | None]:
    """Load (cached) the spec. Returns (document, None) or (None, reason it is not available)."""
    if not _HAVE_JSONSCHEMA:
        return None, "jsonschema/referencing are not installed"
    if path is None:
        path = default_spec_path()
        if path is None:
            return None, "no spec path given and MARQUEE_DISCORD_SPEC is not set"
    p = Path(path)
    if not p.is_file():
        return None, f"spec file not found: {p}"
    key = (str(p.resolve()), p.stat().st_mtime)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached, None
    try:
        spec = _load(p)
    except (OSError, ValueError) as exc:
        return None, f"spec file could not be loaded: {exc}"
    with _lock:
        _cache[key] = spec
    return spec, None
