"""The model card: one structure with everything the inventory knows about a model, rendered as a page, as
Markdown in the Hugging Face model-card layout, and as JSON.

JSON card (``card_data``), schema ``aicoe.model-card/1``; every key is always present:

* ``schema``; ``model``: id, name, version, kind, kind_label, licence, business_unit {id, name},
  owner {id, full_name} | null, vendor {id, name} | null, source, artefact_uri, checksum, created_at, updated_at
  (ISO 8601 UTC);
* ``description``, ``intended_use``, ``out_of_scope_uses``, ``limitations``, ``known_biases``,
  ``evaluation_summary`` (text, "" when not given);
* ``base_model_chain``: [{id, name, version}], the model it derives from first, then that one's base, ...;
* ``datasets``: {train, fine_tune, evaluate, retrieval}: each a list of {id, name, classification,
  personal_data, licence}, by name;
* ``systems``: [{id, name, lifecycle_status}] using the model, within the caller's business units;
* ``mlflow``: {name, version, run_id, tags, aliases, metrics} for a model synchronised from MLflow, else null;
* ``evaluations``: the model's latest completed evaluation runs within the caller's units (none without
  ``evaluation:read``), newest first: [{id, name, finished_at, rows, passed, headline}], ``passed`` null for a
  run without a policy.

The Markdown's YAML front matter is written by a small strict emitter (every string double-quoted and
escaped), because PyYAML is not a runtime dependency; the tests parse it with PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, in_scope, scope_of
from aicoe.core.time import isoformat
from aicoe.inventory import model_registry
from aicoe.inventory.constants import DATASET_PURPOSES, MODEL_KINDS
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.inventory import Model

SCHEMA = "aicoe.model-card/1"
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
NOT_GIVEN = "[More Information Needed]"  # what the Hugging Face template writes for an empty section
EVALUATION_READ = "evaluation:read"
CARD_RUNS = 10  # evaluation runs on a card: the latest few are what a reader of the card needs


def _ref(obj: Any, *names: str) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.id, **{n: getattr(obj, n) for n in names}}


def evaluations(session: Session, principal: Actor, model: Model) -> list[dict[str, Any]]:
    """The model's latest completed evaluation runs the caller may read."""
    if principal is not None and not principal.has(EVALUATION_READ):
        return []
    runs = session.scalars(
        select(EvaluationRun)
        .where(EvaluationRun.model_id == model.id, EvaluationRun.status == "completed",
               in_scope(EvaluationRun.business_unit_id, scope_of(principal, EVALUATION_READ)))
        .order_by(EvaluationRun.finished_at.desc(), EvaluationRun.id.desc()).limit(CARD_RUNS))
    return [{"id": r.id, "name": r.name, "finished_at": isoformat(r.finished_at) if r.finished_at else None,
             "rows": r.rows, "passed": r.passed, "headline": dict(r.headline or {})} for r in runs]


def card_data(session: Session, principal: Actor, model: Model) -> dict[str, Any]:
    """The JSON card (see the module docstring for its structure)."""
    by_purpose: dict[str, list[dict[str, Any]]] = {p: [] for p in DATASET_PURPOSES}
    for link in sorted(model.dataset_links, key=lambda item: (item.dataset.name.lower(), item.dataset.id)):
        d = link.dataset
        by_purpose[link.purpose].append({"id": d.id, "name": d.name, "classification": d.classification,
                                         "personal_data": d.personal_data, "licence": d.licence})
    mlflow = None
    if model.source == "mlflow" or model.mlflow_name:
        mlflow = {"name": model.mlflow_name, "version": model.mlflow_version, "run_id": model.mlflow_run_id,
                  "tags": dict(model.tags or {}), "aliases": list(model.aliases or []),
                  "metrics": dict(model.metrics or {})}
    return {
        "schema": SCHEMA,
        "model": {
            "id": model.id, "name": model.name, "version": model.version, "kind": model.kind,
            "kind_label": MODEL_KINDS.get(model.kind, model.kind), "licence": model.licence,
            "business_unit": _ref(model.business_unit, "name"), "owner": _ref(model.owner, "full_name"),
            "vendor": _ref(model.vendor, "name"), "source": model.source, "artefact_uri": model.artefact_uri,
            "checksum": model.checksum, "created_at": isoformat(model.created_at),
            "updated_at": isoformat(model.updated_at),
        },
        "description": model.description, "intended_use": model.intended_use,
        "out_of_scope_uses": model.out_of_scope_uses, "limitations": model.limitations,
        "known_biases": model.known_biases, "evaluation_summary": model.evaluation_summary,
        "base_model_chain": [_ref(m, "name", "version") for m in model_registry.base_chain(model)],
        "datasets": by_purpose,
        "systems": [_ref(s, "name", "lifecycle_status")
                    for s in model_registry.systems_using(session, principal, model)],
        "mlflow": mlflow,
        "evaluations": evaluations(session, principal, model),
    }


# --- YAML front matter ---------------------------------------------------------------------------------------------

def _printable(ch: str) -> bool:
    """Characters safe unescaped inside a double-quoted YAML scalar: the printable set less quotes and the
    characters YAML reads as line breaks (NEL, LS, PS) or a byte-order mark."""
    code = ord(ch)
    if ch in '"\\':
        return False
    return (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF) and code not in (0x2028, 0x2029, 0xFEFF)


def yaml_str(value: str) -> str:
    out = []
    for ch in value:
        if _printable(ch):
            out.append(ch)
        elif ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        text = repr(value)
        return text.replace("e", ".0e") if "e" in text and "." not in text else text  # YAML 1.1 needs the dot
    return yaml_str(str(value))


def _key(key: Any) -> str:
    text = str(key)
    return text if KEY_RE.match(text) else yaml_str(text)


def to_yaml(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML for dicts, lists and scalars (empty containers in flow style)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_key(key)}:")
                lines.extend(to_yaml(item, indent + 2))
            else:
                lines.append(f"{pad}{_key(key)}: {_inline(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {_inline(item)}")
    else:
        lines.append(pad + _scalar(value))
    return lines


def _inline(item: Any) -> str:
    if isinstance(item, dict):
        return "{}"
    if isinstance(item, list):
        return "[]"
    return _scalar(item)


def _numeric_metrics(metrics: dict[str, Any]) -> list[tuple[str, float]]:
    return [(k, v) for k, v in sorted(metrics.items())
            if isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")]


def front_matter(card: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face metadata block: license, tags, base_model, datasets and, with metrics, model-index."""
    m = card["model"]
    meta: dict[str, Any] = {}
    if m["licence"]:
        meta["license"] = m["licence"].lower()
    tags = ["aicoe", m["kind"]]
    mlflow = card["mlflow"]
    if mlflow:
        tags += [f"{k}:{v}" for k, v in sorted(mlflow["tags"].items())]
    meta["tags"] = tags
    if card["base_model_chain"]:
        meta["base_model"] = card["base_model_chain"][0]["name"]
    names = sorted({d["name"] for items in card["datasets"].values() for d in items}, key=str.lower)
    if names:
        meta["datasets"] = names
    metrics = _numeric_metrics(mlflow["metrics"]) if mlflow else []
    if metrics:
        result: dict[str, Any] = {"task": {"type": str(mlflow["tags"].get("task", m["kind"]))}}
        evaluation = card["datasets"]["evaluate"]
        if evaluation:
            result["dataset"] = {"type": evaluation[0]["name"], "name": evaluation[0]["name"]}
        result["metrics"] = [{"type": k, "value": v, "name": k} for k, v in metrics]
        meta["model-index"] = [{"name": f"{m['name']} {m['version']}", "results": [result]}]
    return meta


# --- Markdown --------------------------------------------------------------------------------------------------------

def _text(value: str) -> str:
    return value.strip() or NOT_GIVEN


def _dataset_list(items: list[dict[str, Any]]) -> str:
    if not items:
        return NOT_GIVEN
    lines = []
    for d in items:
        extra = [d["classification"]] + (["personal data"] if d["personal_data"] else [])
        extra += [f"licence {d['licence']}"] if d["licence"] else []
        lines.append(f"- {d['name']} ({', '.join(extra)})")
    return "\n".join(lines)


def _headline(values: dict[str, Any]) -> str:
    """The run's key metrics in one line; the worst disparity is named with its value."""
    parts = []
    for name, value in values.items():
        if name == "worst_disparity_value":
            continue
        if name == "worst_disparity":
            parts.append(f"{value} {_scalar_text(values.get('worst_disparity_value'))}")
        else:
            parts.append(f"{name} {_scalar_text(value)}")
    return "; ".join(parts)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def _evaluation_list(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "None recorded."
    lines = []
    for r in runs:
        outcome = "no policy" if r["passed"] is None else ("policy passed" if r["passed"] else "policy failed")
        rows = f"{r['rows']:,} rows" if r["rows"] is not None else "rows unknown"
        when = (r["finished_at"] or "")[:10]
        headline = _headline(r["headline"])
        lines.append(f"- {r['name']} (run {r['id']}, {when}, {rows}): {outcome}"
                     + (f"; {headline}" if headline else ""))
    return "\n".join(lines)


def card_markdown(card: dict[str, Any]) -> str:
    """The card in the Hugging Face model-card layout (front matter, then the template's sections)."""
    m = card["model"]
    chain = card["base_model_chain"]
    developer = m["vendor"]["name"] if m["vendor"] else m["business_unit"]["name"]
    ds = card["datasets"]
    mlflow = card["mlflow"]
    metrics = _numeric_metrics(mlflow["metrics"]) if mlflow else []
    sections = [
        f"# Model Card for {m['name']} {m['version']}",
        _text(card["description"].split("\n\n")[0]),
        "## Model Details", "### Model Description", _text(card["description"]),
        "\n".join([
            f"- **Developed by:** {developer}",
            f"- **Model type:** {m['kind_label']}",
            f"- **License:** {m['licence'] or NOT_GIVEN}",
            f"- **Finetuned from model:** {chain[0]['name'] + ' ' + chain[0]['version'] if chain else 'None'}",
            f"- **Business unit:** {m['business_unit']['name']}",
            f"- **Owner:** {m['owner']['full_name'] if m['owner'] else NOT_GIVEN}",
            f"- **Version:** {m['version']}",
        ]),
        "### Model Sources",
        "\n".join([f"- **Artefact:** {m['artefact_uri'] or NOT_GIVEN}",
                   f"- **Checksum:** {m['checksum'] or NOT_GIVEN}"]
                  + ([f"- **Derivation chain:** {' → '.join(c['name'] + ' ' + c['version'] for c in chain)}"]
                     if len(chain) > 1 else [])),
        "## Uses", "### Direct Use", _text(card["intended_use"]),
        "### Out-of-Scope Use", _text(card["out_of_scope_uses"]),
        "## Bias, Risks, and Limitations", _text(card["known_biases"]),
        "### Limitations", _text(card["limitations"]),
        "## Training Details", "### Training Data", _dataset_list(ds["train"]),
        "### Fine-tuning Data", _dataset_list(ds["fine_tune"]),
        "### Retrieval Data", _dataset_list(ds["retrieval"]),
        "## Evaluation", "### Testing Data, Factors & Metrics", "#### Testing Data", _dataset_list(ds["evaluate"]),
        "### Results", _text(card["evaluation_summary"]),
    ]
    if metrics:
        sections.append("\n".join(["| Metric | Value |", "| --- | --- |"]
                                  + [f"| {k} | {v:g} |" for k, v in metrics]))
    sections += ["### Evaluation Runs", _evaluation_list(card["evaluations"])]
    sections += ["## AI Systems Using This Model",
                 "\n".join(f"- {s['name']} ({s['lifecycle_status'].replace('_', ' ')})" for s in card["systems"])
                 or "None registered."]
    if mlflow:
        sections += ["## MLflow", "\n".join([
            f"- **Registered model:** {mlflow['name']} version {mlflow['version']}",
            f"- **Source run:** {mlflow['run_id'] or NOT_GIVEN}",
            f"- **Aliases:** {', '.join(mlflow['aliases']) or 'none'}"])]
    sections += ["## Model Card Contact", m["owner"]["full_name"] if m["owner"] else NOT_GIVEN]
    meta = front_matter(card)
    return "---\n" + "\n".join(to_yaml(meta)) + "\n---\n\n" + "\n\n".join(sections) + "\n"
