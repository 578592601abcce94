"""A scan as SARIF 2.1.0, the format code-scanning tools (GitHub, GitLab, Azure DevOps) read.

One rule per entity type; one result per sampled location (a finding group with no samples kept still gives one
result, located at its file). Text files get a line and code-point columns (``columnKind`` is
``unicodeCodePoints``, since offsets are Python string offsets); table findings use the data row as
``startLine`` and carry the column, table and in-cell offsets in the result's properties. Skipped files become
tool execution notifications. No raw value is written: only locations, and a preview if the scan made one.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import PurePath
from urllib.parse import quote

from aicoe.engines.sensitive.scanner import FindingGroup, Location, ScanResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "aicoe-sensitive"
LEVELS = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
# GitHub code scanning ranks security results by this number (0-10).
SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}


def to_sarif(result: ScanResult, *, tool_version: str | None = None) -> dict[str, object]:
    """The SARIF log (a JSON-ready dict) for ``result``."""
    entities = sorted({group.entity for group in result.findings})
    first = {entity: next(g for g in result.findings if g.entity == entity) for entity in entities}
    driver: dict[str, object] = {"name": TOOL_NAME, "rules": [_rule(first[entity]) for entity in entities]}
    version = tool_version or _installed_version()
    if version:
        driver["version"] = version
    index = {entity: i for i, entity in enumerate(entities)}
    results = [_result(group, location, index[group.entity]) for group in result.findings
               for location in (group.samples or [None])]
    notifications = [{"level": "warning" if report.status == "skipped" else "note",
                      "message": {"text": f"{report.status}: {report.reason}"},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": path_uri(report.path)}}}]}
                     for report in result.files if report.reason]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
            "results": results,
            "properties": {"summary": {k: v for k, v in result.summary.items() if k != "run"}},
        }],
    }


def path_uri(path: str) -> str:
    """A URI reference for a scanned path: ``file://`` for absolute paths, a relative reference otherwise."""
    pure = PurePath(path)
    if pure.is_absolute():
        return "file://" + quote(pure.as_posix())
    return quote(pure.as_posix())


def _installed_version() -> str | None:
    try:
        return metadata.version("aicoe")
    except metadata.PackageNotFoundError:
        return None


def _rule(group: FindingGroup) -> dict[str, object]:
    words = group.entity.replace("_", " ").lower()
    return {
        "id": group.entity,
        "name": "".join(part.capitalize() for part in group.entity.split("_")),
        "shortDescription": {"text": f"Sensitive data: {words}"},
        "fullDescription": {"text": f"A value recognised as {words} ({group.category.replace('_', ' ')})."},
        "defaultConfiguration": {"level": LEVELS[group.severity]},
        "properties": {"category": group.category, "severity": group.severity,
                       "security-severity": SECURITY_SEVERITY[group.severity],
                       "tags": ["security", "privacy", group.category]},
    }


def _result(group: FindingGroup, location: Location | None, rule_index: int) -> dict[str, object]:
    where = f" in column {group.column!r}" if group.column is not None else ""
    if group.table is not None:
        where += f" of sheet {group.table!r}"
    physical: dict[str, object] = {"artifactLocation": {"uri": path_uri(group.path)}}
    properties: dict[str, object] = {"occurrences": group.count, "maxScore": round(group.max_score, 4),
                                     "table": group.table, "column": group.column}
    if location is not None:
        if group.column is None:
            physical["region"] = {"startLine": location.row, "startColumn": location.start + 1,
                                  "endColumn": location.end + 1}
        else:
            physical["region"] = {"startLine": location.row}
            properties.update(row=location.row, start=location.start, end=location.end)
        if location.preview is not None:
            properties["preview"] = location.preview
    return {
        "ruleId": group.entity,
        "ruleIndex": rule_index,
        "level": LEVELS[group.severity],
        "message": {"text": f"{group.entity}{where}: {group.count} occurrence{'s' * (group.count != 1)} "
                            f"in this {'column' if group.column is not None else 'file'}"},
        "locations": [{"physicalLocation": physical}],
        "properties": properties,
    }
