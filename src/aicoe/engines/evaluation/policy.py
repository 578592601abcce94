"""Evaluation policies: thresholds on the metrics of a result, written in YAML by the people who own the risk.

A policy is validated completely when it is loaded, before any data is read, so a typo in a metric name costs
nothing. ``Policy.check`` then reads only the result dict (``EvaluationResult.to_dict()``): the same checks run
in the engine, in the platform on a stored result, and in tests on hand-made dicts. A value that is undefined,
or a section the result does not have, fails its check with the reason: a policy never passes on a missing
number. The syntax is documented in docs/evaluation-policies.md.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aicoe.engines.evaluation.errors import EvaluationError

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
SCOPES = ("overall", "every_group", "every_segment", "every_feature")
METHODS = ("between_groups", "to_overall")

PERFORMANCE_METRICS = (
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece",
    "precision_macro", "recall_macro", "f1_macro", "precision_weighted", "recall_weighted", "f1_weighted",
    "roc_auc_ovr", "mae", "rmse", "r2", "mape", "mean_prediction", "mean_label")
GROUP_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "precision", "accuracy", "mae", "rmse",
                 "mean_prediction", "mean_label")
DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
               "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
               "mae_difference", "mae_ratio")
DRIFT_DATASET_METRICS = ("drift_share", "dataset_drift")
DRIFT_FEATURE_METRICS = ("psi", "ks", "ks_p_value", "wasserstein", "jensen_shannon", "chi2", "chi2_p_value",
                         "drifted")
FOUR_FIFTHS = "four_fifths_ratio"


@dataclass(frozen=True)
class MetricInfo:
    """Where a metric name is looked up: ``section`` of the result for the overall scope, and the scopes it fits."""

    section: str
    scopes: tuple[str, ...]
    methods: tuple[str, ...] = ()
    takes_feature: bool = False


def _metrics() -> dict[str, MetricInfo]:
    known: dict[str, MetricInfo] = {}
    for name in PERFORMANCE_METRICS:
        group = name in GROUP_METRICS
        scopes = ("overall", "every_segment", "every_group") if group else ("overall", "every_segment")
        known[name] = MetricInfo("performance", scopes, takes_feature=group)
    for name in GROUP_METRICS:
        known.setdefault(name, MetricInfo("fairness", ("overall", "every_group"), takes_feature=True))
    for name in DISPARITIES:
        known[name] = MetricInfo("fairness", ("overall",), METHODS, takes_feature=True)
    known[FOUR_FIFTHS] = MetricInfo("fairness", ("overall",))
    for name in DRIFT_DATASET_METRICS:
        known[name] = MetricInfo("drift", ("overall",))
    for name in DRIFT_FEATURE_METRICS:
        known[name] = MetricInfo("drift", ("every_feature",), takes_feature=True)
    return known


METRICS: dict[str, MetricInfo] = _metrics()

# Load-time errors: ``index`` is the check's 1-based position in the policy.
MALFORMED_YAML = "policy is not valid YAML (line {line}, column {column}): {problem}"
POLICY_FILE_MISSING = "policy file {path} does not exist"
NOT_A_MAPPING = "a policy is a mapping with a 'checks' list, got {kind}"
UNKNOWN_POLICY_KEYS = "policy has unknown key(s) {keys}; allowed: name, description, checks"
CHECKS_NOT_A_LIST = "the policy's 'checks' must be a list, got {kind}"
NO_CHECKS = "policy {name!r} has no checks"
BAD_CHECK = "check {index}: expected a mapping or an expression string, got {kind}"
MALFORMED_EXPRESSION = ("check {index}: cannot read {text!r}; write e.g. "
                        "'accuracy >= 0.85 in every group of size >= 100'")
UNKNOWN_CHECK_KEYS = ("check {index}: unknown key(s) {keys}; allowed: id, description, metric, method, scope, "
                      "feature, min_group_size, comparator, threshold, <, <=, >, >=, ==")
MISSING_METRIC = "check {index}: no 'metric'"
UNKNOWN_METRIC = "check {index}: unknown metric {metric!r}; known metrics: {known}"
UNKNOWN_COMPARATOR = "check {index}: unknown comparator {comparator!r}; use one of <, <=, >, >=, =="
COMPARATOR_COUNT = "check {index}: {metric!r} needs exactly one comparator with a threshold, found {count}"
NOT_A_NUMBER = "check {index}: threshold {value!r} for {metric!r} is not a finite number"
UNKNOWN_SCOPE = "check {index}: unknown scope {scope!r}; use one of overall, every_group, every_segment, every_feature"
SCOPE_MISMATCH = "check {index}: scope {scope!r} does not fit metric {metric!r}; allowed: {allowed}"
METHOD_MISMATCH = "check {index}: method {method!r} does not fit metric {metric!r}; allowed: {allowed}"
FEATURE_MISMATCH = ("check {index}: 'feature' does not fit {metric!r} with scope {scope!r}; it selects a sensitive "
                    "feature's groups (every_group), its disparities, or one drifted feature")
BAD_MIN_GROUP_SIZE = "check {index}: min_group_size must be a non-negative integer, got {value!r}"
MIN_SIZE_MISMATCH = "check {index}: min_group_size applies to scopes every_group and every_segment, not {scope!r}"
BAD_TEXT_FIELD = "check {index}: {key!r} must be a non-empty string, got {value!r}"
DUPLICATE_ID = "check {index}: id {id!r} is already used by another check"
UNKNOWN_TEMPLATE = "unknown policy template {name!r}; built-in templates: {names}"

# Check-time reasons (a failed check's ``reason``).
NO_SECTION = "the result has no {section} section ({why})"
SECTION_WHY = {"performance": "no label and prediction columns", "fairness": "no sensitive features",
               "drift": "no reference data"}
NOT_IN_RESULT = "metric {metric!r} is not in the result's {where} (task {task})"
NO_SEGMENTS = "the result has no segments (no segment column)"
NO_FEATURE = "the result has no feature {feature!r} in {where}"
NOTHING_TO_CHECK = "no {kind} of size >= {size} to check ({skipped} small {kind}(s) skipped)"
UNDEFINED = "value undefined: {reasons}"
NO_REASON = "no reason recorded"

_CHECK_KEYS = frozenset({"id", "description", "metric", "method", "scope", "feature", "min_group_size",
                         "comparator", "threshold", *COMPARATORS})
_EXPRESSION = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)(?:\s*\(\s*(?P<method>[A-Za-z_]+)\s*\))?"
                         r"\s*(?P<comparator>[<>=!]+)\s*(?P<threshold>\S+)(?P<tail>.*)$")
_TAIL_PATTERNS = (
    (r"^$", None),
    (r"^overall$", "overall"),
    (r"^in every group(?: of (?!size\b)(?P<feature>\S+))?(?: of size >= (?P<size>\d+))?$", "every_group"),
    (r"^in every segment(?: of size >= (?P<size>\d+))?$", "every_segment"),
    (r"^for every feature$", "every_feature"),
    (r"^for feature (?P<feature>\S+)$", None),  # the metric's default scope, narrowed to one feature
)
_TAILS = tuple((re.compile(pattern, re.IGNORECASE), scope) for pattern, scope in _TAIL_PATTERNS)


@dataclass(frozen=True)
class Check:
    """One threshold. ``method`` picks a disparity's ``between_groups``/``to_overall``; ``feature`` narrows
    every_group to one sensitive feature's groups, a disparity to that feature, or a drift metric to one column;
    ``min_group_size`` (None: the result's) is the smallest group or segment that is checked."""

    id: str
    metric: str
    comparator: str
    threshold: float
    scope: str = "overall"
    min_group_size: int | None = None
    feature: str | None = None
    method: str | None = None
    description: str | None = None

    @property
    def expression(self) -> str:
        """The check in the policy's expression syntax (it parses back to the same check)."""
        method = f" ({self.method})" if self.method else ""
        text = f"{self.metric}{method} {self.comparator} {self.threshold!r}"
        size = "" if self.min_group_size is None else f" of size >= {self.min_group_size}"
        if self.scope == "every_group":
            of = f" of {self.feature}" if self.feature else ""
            return f"{text} in every group{of}{size}"
        if self.scope == "every_segment":
            return f"{text} in every segment{size}"
        if self.feature:
            return f"{text} for feature {self.feature}"
        return f"{text} for every feature" if self.scope == "every_feature" else text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.description or self.expression}


@dataclass(frozen=True)
class Policy:
    """A named list of checks, run in order against a result dict."""

    name: str
    checks: tuple[Check, ...]
    description: str | None = None

    def check(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """One check dict per check (see docs/evaluation-policies.md)."""
        return [_run(check, result) for check in self.checks]


def load_policy(source: str | Path | dict[str, Any] | Policy) -> Policy:
    """A policy from YAML text (a ``str`` is always text, never a file name: text sent to the server must not
    make it read a file), a ``Path`` to a YAML file, or an already parsed mapping."""
    if isinstance(source, Policy):
        return source
    if isinstance(source, Path):
        path = source
        if not path.is_file():
            raise EvaluationError(POLICY_FILE_MISSING.format(path=path))
        source = path.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise EvaluationError(MALFORMED_YAML.format(
                line=mark.line + 1 if mark else "?", column=mark.column + 1 if mark else "?",
                problem=getattr(exc, "problem", None) or str(exc))) from None
    return _policy(source)


def overall_value(result: dict[str, Any], metric: str, *, method: str | None = None,
                  feature: str | None = None) -> tuple[float | None, str | None]:
    """One overall number from a result dict, looked up as an overall check would, and why it is None when it
    is (for success criteria and headlines that quote a single metric)."""
    check = _build(1, {"metric": metric, "method": method, "feature": feature, "scope": "overall",
                       "comparator": ">=", "threshold": 0})
    found = _entries(check, result)
    if found.missing is not None or not found.items:
        return None, found.missing
    _, value, reason = found.items[0]
    return value, reason


def templates() -> dict[str, str]:
    """The built-in policy templates (file stem -> YAML text), shipped in ``policies/``."""
    folder = resources.files("aicoe.engines.evaluation") / "policies"
    return {entry.name.rsplit(".", 1)[0]: entry.read_text(encoding="utf-8")
            for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".yaml")}


def load_template(name: str) -> Policy:
    """A built-in template, loaded and validated."""
    known = templates()
    if name not in known:
        raise EvaluationError(UNKNOWN_TEMPLATE.format(name=name, names=", ".join(known)))
    return load_policy(known[name])


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _policy(data: object) -> Policy:
    if not isinstance(data, dict):
        raise EvaluationError(NOT_A_MAPPING.format(kind=_kind(data)))
    unknown = sorted(str(k) for k in data if k not in ("name", "description", "checks"))
    if unknown:
        raise EvaluationError(UNKNOWN_POLICY_KEYS.format(keys=", ".join(unknown)))
    name = str(data.get("name") or "Evaluation policy")
    raw = data.get("checks")
    if raw is not None and not isinstance(raw, list):
        raise EvaluationError(CHECKS_NOT_A_LIST.format(kind=_kind(raw)))
    if not raw:
        raise EvaluationError(NO_CHECKS.format(name=name))
    checks: list[Check] = []
    ids: set[str] = set()
    for index, item in enumerate(raw, start=1):
        check = _check(index, item)
        if check.id in ids:
            if isinstance(item, dict) and "id" in item:
                raise EvaluationError(DUPLICATE_ID.format(index=index, id=check.id))
            check = _with_free_id(check, ids)
        ids.add(check.id)
        checks.append(check)
    description = data.get("description")
    return Policy(name=name, checks=tuple(checks), description=None if description is None else str(description))


def _with_free_id(check: Check, used: set[str]) -> Check:
    suffix = 2
    while f"{check.id}-{suffix}" in used:
        suffix += 1
    return Check(**{**asdict(check), "id": f"{check.id}-{suffix}"})


def _check(index: int, item: object) -> Check:
    if isinstance(item, str):
        return _build(index, _parse_expression(index, item))
    if not isinstance(item, dict):
        raise EvaluationError(BAD_CHECK.format(index=index, kind=_kind(item)))
    unknown = sorted(str(k) for k in item if k not in _CHECK_KEYS)
    if unknown:
        raise EvaluationError(UNKNOWN_CHECK_KEYS.format(index=index, keys=", ".join(unknown)))
    fields = dict(item)
    pairs = [(key, fields.pop(key)) for key in list(fields) if key in COMPARATORS]
    if "comparator" in fields or "threshold" in fields:
        pairs.append((fields.pop("comparator", None), fields.pop("threshold", None)))
    if "metric" not in fields:
        raise EvaluationError(MISSING_METRIC.format(index=index))
    if len(pairs) != 1:
        raise EvaluationError(COMPARATOR_COUNT.format(index=index, metric=fields["metric"], count=len(pairs)))
    fields["comparator"], fields["threshold"] = pairs[0]
    return _build(index, fields)


def _parse_expression(index: int, text: str) -> dict[str, Any]:
    match = _EXPRESSION.match(text)
    if match is None:
        raise EvaluationError(MALFORMED_EXPRESSION.format(index=index, text=text))
    tail = " ".join(match["tail"].split())
    for pattern, scope in _TAILS:
        found = pattern.match(tail)
        if found is None:
            continue
        fields: dict[str, Any] = {"metric": match["metric"], "comparator": match["comparator"],
                                  "threshold": match["threshold"], "method": match["method"], "scope": scope}
        groups = found.groupdict()
        if groups.get("feature"):
            fields["feature"] = groups["feature"]
        if groups.get("size"):
            fields["min_group_size"] = int(groups["size"])
        return fields
    raise EvaluationError(MALFORMED_EXPRESSION.format(index=index, text=text))


def _text(index: int, key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise EvaluationError(BAD_TEXT_FIELD.format(index=index, key=key, value=value))
    return str(value).strip()


def _threshold(index: int, metric: str, value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise EvaluationError(NOT_A_NUMBER.format(index=index, metric=metric, value=value))
    return number


def _build(index: int, fields: dict[str, Any]) -> Check:
    metric = _text(index, "metric", fields.get("metric"))
    info = METRICS.get(metric or "")
    if metric is None or info is None:
        raise EvaluationError(UNKNOWN_METRIC.format(index=index, metric=fields.get("metric"),
                                                    known=", ".join(METRICS)))
    comparator = fields.get("comparator")
    if comparator not in COMPARATORS:
        raise EvaluationError(UNKNOWN_COMPARATOR.format(index=index, comparator=comparator))
    threshold = _threshold(index, metric, fields.get("threshold"))
    scope = _text(index, "scope", fields.get("scope")) or info.scopes[0]
    if scope not in SCOPES:
        raise EvaluationError(UNKNOWN_SCOPE.format(index=index, scope=scope))
    if scope not in info.scopes:
        raise EvaluationError(SCOPE_MISMATCH.format(index=index, scope=scope, metric=metric,
                                                    allowed=", ".join(info.scopes)))
    method = _text(index, "method", fields.get("method"))
    if method is not None and method not in info.methods:
        raise EvaluationError(METHOD_MISMATCH.format(index=index, method=method, metric=metric,
                                                     allowed=", ".join(info.methods) or "none"))
    feature = _text(index, "feature", fields.get("feature"))
    feature_fits = info.takes_feature and (scope != "overall" or metric in DISPARITIES) and scope != "every_segment"
    if feature is not None and not feature_fits:
        raise EvaluationError(FEATURE_MISMATCH.format(index=index, metric=metric, scope=scope))
    size = fields.get("min_group_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise EvaluationError(BAD_MIN_GROUP_SIZE.format(index=index, value=size))
        if scope not in ("every_group", "every_segment"):
            raise EvaluationError(MIN_SIZE_MISMATCH.format(index=index, scope=scope))
    return Check(id=_text(index, "id", fields.get("id")) or metric, metric=metric, comparator=comparator,
                 threshold=threshold, scope=scope, min_group_size=size, feature=feature, method=method,
                 description=_text(index, "description", fields.get("description")))


# --- running a check against a result dict -------------------------------------------------------------------

@dataclass
class _Entries:
    """What a scope found: (label, value or None, undefined reason) per checked entry, or a reason it could not."""

    kind: str = "group"
    items: list[tuple[str, float | None, str | None]] | None = None
    skipped: list[str] | None = None
    size: int = 0
    missing: str | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _reason(keys: Iterable[str], *undefined: object) -> str:
    for table in undefined:
        if isinstance(table, dict):
            for key in keys:
                if table.get(key):
                    return str(table[key])
    return NO_REASON


def _value(entry: dict[str, Any], metric: str, keys: Iterable[str], *undefined: object
           ) -> tuple[float | None, str | None]:
    value = _number(entry.get(metric))
    return (value, None) if value is not None else (None, _reason(keys, entry.get("undefined"), *undefined))


def _section(result: dict[str, Any], name: str) -> dict[str, Any] | _Entries:
    section = result.get(name)
    if not isinstance(section, dict):
        return _Entries(missing=NO_SECTION.format(section=name, why=SECTION_WHY[name]))
    return section


def _entries(check: Check, result: dict[str, Any]) -> _Entries:
    metric, info = check.metric, METRICS[check.metric]
    if check.scope == "every_segment":
        return _segments(check, result)
    if check.scope == "every_group":
        return _groups(check, result)
    if check.scope == "every_feature":
        return _drift_features(check, result)
    if metric in DISPARITIES:
        return _disparity(check, result)
    section_name = info.section  # a group metric that is also a performance metric reads performance overall
    section = _section(result, section_name)
    if isinstance(section, _Entries):
        return section
    if metric == FOUR_FIFTHS:
        entry, key, undefined = section.get("four_fifths") or {}, "ratio", section.get("undefined")
        value, reason = _value(entry, key, ("four_fifths", FOUR_FIFTHS, "four_fifths.ratio"), undefined)
    elif section_name == "drift":
        value, reason = _value(section, metric, (metric,))
    else:
        entry = section.get("overall") or {}
        if metric not in entry:
            where = f"{section_name} overall metrics"
            return _Entries(missing=NOT_IN_RESULT.format(metric=metric, where=where, task=result.get("task")))
        value, reason = _value(entry, metric, (metric,))
    return _Entries(kind="overall", items=[("overall", value, reason)])


def _disparity(check: Check, result: dict[str, Any]) -> _Entries:
    section = _section(result, "fairness")
    if isinstance(section, _Entries):
        return section
    method = check.method or "between_groups"
    table, where = section.get("disparities") or {}, "fairness disparities"
    if check.feature is not None:
        where = "fairness disparities_by_feature"
        if check.feature not in (section.get("disparities_by_feature") or {}):
            return _Entries(missing=NO_FEATURE.format(feature=check.feature, where=where))
        table = section["disparities_by_feature"][check.feature]
    if check.metric not in table:
        return _Entries(missing=NOT_IN_RESULT.format(metric=check.metric, where=where, task=result.get("task")))
    entry = table[check.metric]
    keys = [f"{check.metric}[{check.feature}]"] if check.feature else [check.metric]
    value, reason = _value(entry, method, keys, section.get("undefined"))
    return _Entries(kind="overall", items=[("overall", value, reason)])


def _sized(check: Check, kind: str, rows: list[tuple[str, dict[str, Any]]], size: int,
           small: Callable[[dict[str, Any]], bool], undefined: object = None) -> _Entries:
    items, skipped = [], []
    for label, entry in rows:
        if small(entry):
            skipped.append(label)
            continue
        value, reason = _value(entry, check.metric, (check.metric,), undefined)
        items.append((label, value, reason))
    return _Entries(kind=kind, items=items, skipped=skipped, size=size)


def _groups(check: Check, result: dict[str, Any]) -> _Entries:
    section = _section(result, "fairness")
    if isinstance(section, _Entries):
        return section
    groups = section.get("groups") or []
    if check.feature is not None:
        by_feature = section.get("by_feature") or {}
        if check.feature not in by_feature:
            return _Entries(missing=NO_FEATURE.format(feature=check.feature, where="fairness by_feature"))
        groups = by_feature[check.feature]
    if groups and check.metric not in groups[0]:
        return _Entries(missing=NOT_IN_RESULT.format(metric=check.metric, where="fairness groups",
                                                     task=result.get("task")))
    size = check.min_group_size if check.min_group_size is not None else int(section.get("min_group_size") or 0)
    if check.min_group_size is None:
        def small(group: dict[str, Any]) -> bool:
            return bool(group.get("small"))
    else:
        def small(group: dict[str, Any]) -> bool:
            return int(group.get("count") or 0) < size
    rows = [(str(g.get("label")), g) for g in groups]
    return _sized(check, "group", rows, size, small)


def _segments(check: Check, result: dict[str, Any]) -> _Entries:
    section = _section(result, "performance")
    if isinstance(section, _Entries):
        return section
    segments = section.get("by_segment") or {}
    if not segments:
        return _Entries(missing=NO_SEGMENTS)
    if check.metric not in next(iter(segments.values())):
        return _Entries(missing=NOT_IN_RESULT.format(metric=check.metric, where="performance by_segment",
                                                     task=result.get("task")))
    size = check.min_group_size
    if size is None:
        size = int((result.get("options") or {}).get("min_group_size") or 0)
    rows = [(str(label), entry) for label, entry in segments.items()]
    return _sized(check, "segment", rows, size, lambda entry: int(entry.get("count") or 0) < size)


def _drift_features(check: Check, result: dict[str, Any]) -> _Entries:
    section = _section(result, "drift")
    if isinstance(section, _Entries):
        return section
    features = list(section.get("features") or [])
    if check.feature is not None:
        outputs = [section.get("prediction"), section.get("score")]
        features = [f for f in [*features, *outputs] if isinstance(f, dict) and f.get("feature") == check.feature]
        if not features:
            return _Entries(missing=NO_FEATURE.format(feature=check.feature, where="drift features"))
        features = features[:1]
    undefined = section.get("undefined")
    items = []
    for entry in features:
        name = str(entry.get("feature"))
        value, reason = _value(entry, check.metric, (f"{name}.{check.metric}", f"{name}: {check.metric}", name),
                               undefined)
        items.append((name, value, reason))
    return _Entries(kind="feature", items=items)


def _run(check: Check, result: dict[str, Any]) -> dict[str, Any]:
    found = _entries(check, result)
    passes = COMPARATORS[check.comparator]
    description = check.description or check.expression
    if found.skipped:
        description += f" (skipped {len(found.skipped)} small {found.kind}(s): {', '.join(found.skipped)})"
    out: dict[str, Any] = {"id": check.id, "description": description, "metric": check.metric,
                           "comparator": check.comparator, "threshold": check.threshold, "scope": check.scope,
                           "feature": check.feature, "method": check.method, "value": None, "passed": False,
                           "failing": [], "reason": found.missing}
    if found.missing is not None:
        return out
    items = found.items or []
    if not items:
        out["reason"] = NOTHING_TO_CHECK.format(kind=found.kind, size=found.size, skipped=len(found.skipped or []))
        return out
    many = found.kind != "overall"
    failing = [(label, value) for label, value, _ in items if value is None or not passes(value, check.threshold)]
    undefined = [f"{label}: {reason}" if many else str(reason) for label, value, reason in items if value is None]
    defined = [value for _, value, _ in items if value is not None]
    if defined:
        worst = max if check.comparator in ("<", "<=") else min
        failed_values = [value for _, value in failing if value is not None]
        out["value"] = failed_values[0] if check.comparator == "==" and failed_values else worst(defined)
    out["passed"] = not failing
    out["failing"] = [{"group": label, "value": value} for label, value in failing] if many else []
    if undefined:
        out["reason"] = UNDEFINED.format(reasons="; ".join(undefined))
    return out
