"""The optional named-entity interface: person names, locations and organisations from a model the user installs.

We ship no model and download none; the engine is fully useful without one. Any object with ``entities`` and
``find(text, language=...)`` plugs in; :class:`SpacyNer` adapts a spaCy pipeline the caller has already loaded
(``SpacyNer(spacy.load("en_core_web_sm"))``), so this module never imports spaCy itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from aicoe.engines.sensitive.model import Finding, Reason

NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION")
NER_RECOGNIZER = "ner"

# spaCy's OntoNotes labels (PER/LOC/ORG in its WikiNER models) mapped to our entity names.
SPACY_LABELS: Mapping[str, str] = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
                                   "FAC": "LOCATION", "ORG": "ORGANIZATION"}
_CATEGORY = {"PERSON": "personal", "LOCATION": "personal", "ORGANIZATION": "personal"}
_SEVERITY = {"PERSON": "medium", "LOCATION": "low", "ORGANIZATION": "low"}

UNKNOWN_NER_ENTITY = "NER label map targets unknown entity {entity!r}; allowed: PERSON, LOCATION, ORGANIZATION"


@runtime_checkable
class NerRecognizer(Protocol):
    """What the analyzer needs from a named-entity model: the entity types it reports and its findings."""

    entities: tuple[str, ...]

    def find(self, text: str, *, language: str) -> Iterable[Finding]: ...


def ner_finding(entity: str, start: int, end: int, score: float, pattern: str) -> Finding:
    """A finding for a named entity, with the category and severity every NER adapter should use."""
    return Finding(entity, start, end, score, _CATEGORY[entity], _SEVERITY[entity], Reason(NER_RECOGNIZER, pattern))


class SpacyNer:
    """Adapts a loaded spaCy ``Language`` (any callable whose result has ``ents`` with ``label_``,
    ``start_char`` and ``end_char``). spaCy gives no per-entity confidence, so every entity gets ``score``."""

    def __init__(self, nlp: Callable[[str], Any], *, score: float = 0.85,
                 labels: Mapping[str, str] = SPACY_LABELS) -> None:
        for entity in labels.values():
            if entity not in NER_ENTITIES:
                raise ValueError(UNKNOWN_NER_ENTITY.format(entity=entity))
        self._nlp = nlp
        self._score = score
        self._labels = dict(labels)
        self.entities: tuple[str, ...] = tuple(e for e in NER_ENTITIES if e in self._labels.values())

    def find(self, text: str, *, language: str) -> list[Finding]:
        """Entities spaCy tags in ``text`` (the pipeline decides the language; ``language`` is not used)."""
        found = []
        for ent in self._nlp(text).ents:
            entity = self._labels.get(ent.label_)
            if entity is not None:
                found.append(ner_finding(entity, ent.start_char, ent.end_char, self._score, f"spacy:{ent.label_}"))
        return found
