"""Load and validate catalog and mapping files (YAML, or JSON by the ``.json`` suffix) into typed documents.

Every problem of a file is reported at once, each with the file, the path inside it (``requirements[0].children
[2].ref``), the line where YAML tells us, and the reason. Files are parsed safely: YAML anchors and aliases are
refused (they can expand a small file into a huge document) and so are duplicate keys (YAML would silently keep
the last one). Pure: no database; the service stores what this returns.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from aicoe.catalogs.schema import (
    CATALOG_SCHEMA,
    MAPPING_SCHEMA,
    MAX_DEPTH,
    Applicability,
    CatalogFile,
    FrameworkInfo,
    Link,
    MappingFile,
    MappingInfo,
    RequirementNode,
)
from aicoe.core.errors import FieldError, ValidationFailed

DATA_DIR = Path(__file__).parent / "data"
FRAMEWORKS_DIR = DATA_DIR / "frameworks"
MAPPINGS_DIR = DATA_DIR / "mappings"
SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 5 * 1024 * 1024

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    path: str  # "" for the file as a whole
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "path": self.path, "line": self.line, "reason": self.reason}


class CatalogError(ValidationFailed):
    """A file (or several) that is not a valid catalog or mapping; ``problems`` lists every reason found."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        files = sorted({p.file for p in problems})
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{', '.join(files)} is not valid: {count}" if len(files) == 1
                         else f"{len(files)} files are not valid: {count}",
                         errors=[FieldError(p.path or "file", p.reason) for p in problems],
                         problems=[p.as_dict() for p in problems])
        self.problems = problems


@dataclass(frozen=True)
class Loaded:
    """A validated document with its content fingerprint: SHA-256 of the document's canonical JSON, so comments,
    formatting, key order and YAML-versus-JSON do not change it, while any change of content does."""

    document: CatalogFile | MappingFile
    sha256: str
    file: str
    lines: Mapping[Path_, int] = field(default_factory=dict, compare=False, repr=False)


# --- parsing ------------------------------------------------------------------------------------------------------

class _SafeLoader(yaml.SafeLoader):
    """Safe YAML without aliases and without duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(problem="anchors and aliases (*name) are not allowed in catalog files",
                                       problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool | date):
                continue  # an unhashable key: the constructor reports it
            if key in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _lines(root: Any) -> Iterator[tuple[Path_, int]]:
    """Each path of the YAML node tree with the (1-based) line it starts on: a key's line for a mapping value
    (a block value starts on the line after its key), the item's own line for a list item."""
    yield (), root.start_mark.line + 1
    stack: list[tuple[Any, Path_]] = [(root, ())]
    while stack:
        current, where = stack.pop()
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    yield (*where, key_node.value), key_node.start_mark.line + 1
                    stack.append((value_node, (*where, key_node.value)))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                yield (*where, i), item.start_mark.line + 1
                stack.append((item, (*where, i)))


def _parse(data: bytes, file: str) -> tuple[Any, dict[Path_, int]]:
    """The document and, for YAML, the line of each path; a syntax error is a CatalogError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError([CatalogProblem(file, "", f"the file is not UTF-8 text (undecodable byte at position "
                                                     f"{exc.start})")]) from None
    if file.lower().endswith(".json"):
        return _parse_json(text, file), {}
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text)  # the reader refuses control characters already here
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"{exc.problem} ({exc.context})" if exc.context else exc.problem or "not valid YAML"
        raise CatalogError([CatalogProblem(file, "", f"YAML syntax: {reason}",
                                           mark.line + 1 if mark else None)]) from None
    except yaml.YAMLError as exc:
        raise CatalogError([CatalogProblem(file, "", f"YAML syntax: {exc}")]) from None
    except RecursionError:
        raise CatalogError([CatalogProblem(file, "", "the document is nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return document, dict(_lines(node)) if node is not None else {}


def _parse_json(text: str, file: str) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise CatalogError([CatalogProblem(file, "", f"JSON syntax: {exc.msg} (column {exc.colno})",
                                           exc.lineno)]) from None
    except ValueError as exc:
        raise CatalogError([CatalogProblem(file, "", f"JSON: {exc}")]) from None
    except RecursionError:
        raise CatalogError([CatalogProblem(file, "", "the document is nested too deeply")]) from None


# --- validation ------------------------------------------------------------------------------------------------

def dotted(path: Iterable[str | int]) -> str:
    """``("requirements", 0, "ref")`` → ``requirements[0].ref``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TYPE_REASONS = {
    "missing": "is required", "extra_forbidden": "is not a known field", "string_type": "must be text",
    "bool_type": "must be true or false", "list_type": "must be a list", "model_type": "must be a mapping",
    "dict_type": "must be a mapping", "model_attributes_type": "must be a mapping",
}


# The model a key belongs to, by the key that holds it, to list the allowed fields next to an unknown one.
_MODELS_BY_PARENT: dict[str | int | None, type[BaseModel]] = {
    "framework": FrameworkInfo, "requirements": RequirementNode, "children": RequirementNode,
    "applicability": Applicability, "mapping": MappingInfo, "links": Link,
}


def _allowed_fields(loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    parents = [part for part in loc[:-1] if isinstance(part, str)]
    model = _MODELS_BY_PARENT.get(parents[-1]) if parents else root
    names = [field.alias or name for name, field in model.model_fields.items()] if model else []
    return f"; allowed: {', '.join(names)}" if names else ""


def _reason(error: Any, root: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"is not a known field{_allowed_fields(tuple(error['loc']), root)}"
    if kind == "string_type" and error["loc"][-1:] in (("version",), ("ref",), ("source",), ("target",)):
        return f"must be text: quote it (e.g. \"{error['input']}\")"
    if kind == "too_short" and error.get("ctx", {}).get("min_length") == 1:
        return "must list at least one entry"
    if kind == "too_long" and "ctx" in error:
        return f"lists {error['ctx']['actual_length']} entries; the limit is {error['ctx']['max_length']}"
    if kind in _TYPE_REASONS:
        return _TYPE_REASONS[kind]
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


class _Problems:
    """Collects the problems of one file, placing each on its line when the YAML node tree knows it."""

    def __init__(self, file: str, lines: Mapping[Path_, int]) -> None:
        self.file, self.lines = file, lines
        self.items: list[CatalogProblem] = []

    def add(self, path: Path_, reason: str) -> None:
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), None)
        self.items.append(CatalogProblem(self.file, dotted(path), reason, line))

    def raise_any(self) -> None:
        """Raise with every problem found, in the order of the file's lines."""
        if self.items:
            raise CatalogError(sorted(self.items, key=lambda p: p.line or 0))


def _check_tag(raw: Any, expected: str, problems: _Problems) -> bool:
    """Whether the document is a mapping with the expected schema tag (problems recorded otherwise)."""
    if raw is None:
        problems.add((), "the file is empty")
        return False
    if not isinstance(raw, dict):
        problems.add((), f"the file must hold a mapping with the keys 'schema' and "
                         f"'{'framework' if expected == CATALOG_SCHEMA else 'mapping'}'")
        return False
    tag = raw.get("schema")
    if tag == expected:
        return True
    if tag is None:
        problems.add(("schema",), f"is required: write 'schema: {expected}' as the first line")
    elif tag in (CATALOG_SCHEMA, MAPPING_SCHEMA):
        other = "a cross-framework mapping" if tag == MAPPING_SCHEMA else "a framework catalog"
        problems.add(("schema",), f"this file is {other} ({tag!r}), expected {expected!r}")
    else:
        problems.add(("schema",), f"{tag!r} is not a supported schema; expected {expected!r}")
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_ok(raw: Any, problems: _Problems) -> bool:
    """No text holds an unpaired surrogate (an escape such as "\\ud800" that is not a character and cannot be
    stored)."""
    ok = True
    stack: list[tuple[Any, Path_]] = [(raw, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    problems.add(path, f"a key holds an invalid character escape: {key!r}")
                    ok = False
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            problems.add(path, "holds an invalid character escape (an unpaired surrogate such as \\ud800)")
            ok = False
    return ok


def _depth_ok(nodes: Any, path: Path_, problems: _Problems, depth: int = 0) -> bool:
    if not isinstance(nodes, list):
        return True
    ok = True
    for i, node in enumerate(nodes):
        if isinstance(node, dict) and isinstance(node.get("children"), list) and node["children"]:
            if depth + 1 >= MAX_DEPTH:
                problems.add((*path, i, "children"), f"requirements nest deeper than {MAX_DEPTH} levels")
                ok = False
            else:
                ok = _depth_ok(node["children"], (*path, i, "children"), problems, depth + 1) and ok
    return ok


def _raw_nodes(nodes: Any, path: Path_) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Pre-order over whatever requirement nodes are well-formed enough to be dicts (even if invalid)."""
    if not isinstance(nodes, list):
        return
    for i, node in enumerate(nodes):
        if isinstance(node, dict):
            yield (*path, i), node
            yield from _raw_nodes(node.get("children"), (*path, i, "children"))


def _validate(model: type[BaseModel], raw: Any, problems: _Problems) -> Any:
    """The document, or None with pydantic's problems recorded (the schema tag is _check_tag's to report)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            if tuple(error["loc"]) != ("schema",):
                problems.add(tuple(error["loc"]), _reason(error, model))
    return None


def _fingerprint(document: BaseModel) -> str:
    canonical = json.dumps(document.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_catalog(data: bytes, file: str) -> Loaded:
    """A validated framework catalog, or CatalogError listing every problem of the file."""
    raw, lines = _parse(data, file)
    problems = _Problems(file, lines)
    if not _check_tag(raw, CATALOG_SCHEMA, problems) or not _text_ok(raw, problems):
        problems.raise_any()
    requirements = raw.get("requirements")
    if not _depth_ok(requirements, ("requirements",), problems):
        problems.raise_any()
    first: dict[str, Path_] = {}
    for path, node in _raw_nodes(requirements, ("requirements",)):
        ref = node.get("ref")
        if isinstance(ref, str) and ref:
            if ref in first:
                problems.add((*path, "ref"), f"duplicate ref {ref!r} (first at {dotted(first[ref])})")
            else:
                first[ref] = path
    document = _validate(CatalogFile, raw, problems)
    problems.raise_any()
    return Loaded(document, _fingerprint(document), file, lines)


def load_mapping(data: bytes, file: str, frameworks: Mapping[str, Collection[str]] | None = None) -> Loaded:
    """A validated mapping, or CatalogError listing every problem. ``frameworks`` maps framework ids to their
    refs; when given, both frameworks must be in it and every link must name refs that exist."""
    raw, lines = _parse(data, file)
    problems = _Problems(file, lines)
    if not _check_tag(raw, MAPPING_SCHEMA, problems) or not _text_ok(raw, problems):
        problems.raise_any()
    document: MappingFile | None = _validate(MappingFile, raw, problems)
    links = raw.get("links")
    first: dict[tuple[str, str], int] = {}
    for i, link in enumerate(links if isinstance(links, list) else []):
        if isinstance(link, dict) and isinstance(link.get("source"), str) and isinstance(link.get("target"), str):
            pair = (link["source"], link["target"])
            if pair in first:
                problems.add(("links", i), f"duplicate link {pair[0]} → {pair[1]} (first at links[{first[pair]}])")
            else:
                first[pair] = i
    if document is not None and document.mapping.source_framework == document.mapping.target_framework:
        problems.add(("mapping", "target_framework"), "must differ from source_framework")
    problems.raise_any()
    loaded = Loaded(document, _fingerprint(document), file, lines)
    if frameworks is not None:
        check_links(loaded, frameworks)
    return loaded


def check_links(loaded: Loaded, frameworks: Mapping[str, Collection[str]]) -> None:
    """Refuse (CatalogError) a mapping whose frameworks are not in ``frameworks`` (framework id → its refs) or
    whose links name refs those frameworks do not have."""
    document: MappingFile = loaded.document  # type: ignore[assignment]
    problems = _Problems(loaded.file, loaded.lines)
    info = document.mapping
    sides = {"source": ("source_framework", info.source_framework),
             "target": ("target_framework", info.target_framework)}
    for key, framework in sides.values():
        if framework not in frameworks:
            problems.add(("mapping", key), f"unknown framework {framework!r}; load its catalog first")
    for i, link in enumerate(document.links):
        for side, (_, framework) in sides.items():
            refs = frameworks.get(framework)
            ref = getattr(link, side)
            if refs is not None and ref not in refs:
                problems.add(("links", i, side), f"{ref!r} is not a requirement of {framework}")
    problems.raise_any()


# --- files -------------------------------------------------------------------------------------------------------

def read(path: Path) -> bytes:
    """A file's bytes, refused beyond MAX_FILE_BYTES."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CatalogError([CatalogProblem(path.name, "", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")])
    return path.read_bytes()


def schema_of(data: bytes, file: str) -> str | None:
    """The schema tag of a file, to tell a catalog from a mapping (None when it has no readable tag)."""
    try:
        raw, _ = _parse(data, file)
    except CatalogError:
        return None
    tag = raw.get("schema") if isinstance(raw, dict) else None
    return tag if isinstance(tag, str) else None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES) if folder.is_dir() else []


def builtin_frameworks() -> list[Path]:
    """The framework catalogs shipped with aicoe, by file name."""
    return _files(FRAMEWORKS_DIR)


def builtin_mappings() -> list[Path]:
    return _files(MAPPINGS_DIR)


def refs_of(catalog: CatalogFile) -> frozenset[str]:
    return frozenset(n.requirement.ref for n in catalog.walk())


@dataclass(frozen=True)
class Bundle:
    """A set of catalogs and the mappings between them, all validated together."""

    catalogs: list[Loaded]
    mappings: list[Loaded]


def split_by_schema(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Catalog files and mapping files, told apart by their schema tag (unreadable files count as catalogs, so
    that loading them reports why)."""
    catalogs: list[Path] = []
    mappings: list[Path] = []
    for path in paths:
        try:
            tag = schema_of(read(path), path.name)
        except (OSError, CatalogError):
            tag = None
        (mappings if tag == MAPPING_SCHEMA else catalogs).append(path)
    return catalogs, mappings


def load_files(catalog_paths: Iterable[Path], mapping_paths: Iterable[Path] = (), *,
               known: Mapping[str, Collection[str]] | None = None, builtin: bool = False) -> Bundle:
    """Load the catalogs, then the mappings, checked against those catalogs and ``known`` (framework id → its
    refs). Shipped files (``builtin``) are named by file name, and a catalog's id must match its file name.
    Raises CatalogError with every problem of every file."""
    problems: list[CatalogProblem] = []

    def load(path: Path, loader: Any, *args: Any) -> Loaded | None:
        name = path.name if builtin else str(path)
        try:
            return loader(read(path), name, *args)
        except OSError as exc:
            problems.append(CatalogProblem(name, "", f"cannot read the file: {exc.strerror or exc}"))
        except CatalogError as exc:
            problems.extend(exc.problems)
        return None

    catalogs: list[Loaded] = []
    for path in catalog_paths:
        loaded = load(path, load_catalog)
        if loaded is None:
            continue
        framework_id = loaded.document.framework.id  # type: ignore[union-attr]
        if builtin and framework_id != path.stem:
            problems.append(CatalogProblem(loaded.file, "framework.id",
                                           f"{framework_id!r} does not match the file name {path.name!r}"))
        if any(c.document.framework.id == framework_id for c in catalogs):  # type: ignore[union-attr]
            problems.append(CatalogProblem(loaded.file, "framework.id",
                                           f"{framework_id!r} is also the id of another catalog file"))
        catalogs.append(loaded)
    refs = {**(known or {}), **{c.document.framework.id: refs_of(c.document)  # type: ignore[union-attr]
                                for c in catalogs}}
    mappings: list[Loaded] = []
    for path in mapping_paths:
        loaded = load(path, load_mapping, refs)
        if loaded is None:
            continue
        mapping_id = loaded.document.mapping.id  # type: ignore[union-attr]
        if builtin and mapping_id != path.stem:
            problems.append(CatalogProblem(loaded.file, "mapping.id",
                                           f"{mapping_id!r} does not match the file name {path.name!r}"))
        if any(m.document.mapping.id == mapping_id for m in mappings):  # type: ignore[union-attr]
            problems.append(CatalogProblem(loaded.file, "mapping.id",
                                           f"{mapping_id!r} is also the id of another mapping file"))
        mappings.append(loaded)
    if problems:
        raise CatalogError(problems)
    return Bundle(catalogs, mappings)


def load_builtin() -> Bundle:
    """Every shipped catalog and mapping, validated together."""
    return load_files(builtin_frameworks(), builtin_mappings(), builtin=True)


def validate_all() -> list[CatalogProblem]:
    """Every problem of the shipped catalogs and mappings (empty when they are all valid)."""
    try:
        load_builtin()
    except CatalogError as exc:
        return exc.problems
    return []
