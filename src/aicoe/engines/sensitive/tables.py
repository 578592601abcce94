"""Scanning tables a column at a time, and classifying columns by what they hold (as Amazon Macie does).

A column's non-null values are joined with "\\n" into one string and scanned once: no pattern match and no
context window crosses a line break, so this finds exactly what scanning each cell alone would, at a fraction
of the per-call cost. Offsets are mapped back to (row, offset in cell) with ``numpy.searchsorted`` over the
cumulative cell lengths. The column's name is passed as context, so "4111 1111 1111 1111" in a column named
``card_number`` scores like a value next to the word "card" in a sentence.

Which columns are scanned: text columns (string, large string, string view, dictionary of strings; struct
fields flattened to dotted names). Numeric (integer, decimal) and date/time columns are cast to text only when
their name suggests an identifier or a birth date (see ``IDENTIFIER_NAME_WORDS``: an integer column ``ssn`` or
``phone`` can hold the real thing, while ``price`` or ``quantity`` never needs the cost). A list of strings is
read as its JSON text (``["ann@example.com", "x"]``), as JSON Lines keep their arrays. Floats, booleans, binary,
maps and other lists are not scanned; their profile says so.

A column whose values repeat has each distinct value scanned once per batch, and once per scan when the caller
passes a :class:`ValueMemo`; occurrences are kept as arrays (:class:`Located`), not one object per cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aicoe.engines.sensitive.analyzer import DEFAULT_MIN_SCORE, Analyzer, default_analyzer
from aicoe.engines.sensitive.context import split_words
from aicoe.engines.sensitive.model import Finding

IDENTIFIER_NAME_WORDS: frozenset[str] = frozenset({
    "ssn", "sin", "nino", "nhs", "itin", "tin", "cpf", "cnpj", "passport", "licence", "license", "national",
    "social", "insurance", "tax", "card", "cc", "ccn", "pan", "iban", "bban", "account", "acct", "routing",
    "phone", "mobile", "cell", "tel", "telephone", "fax", "msisdn", "dob", "birth", "birthday", "birthdate",
})
DEFAULT_LABEL_THRESHOLD = 0.5
# Scan a column's distinct values instead of every value when at most this share of them are distinct.
DEDUPLICATE_SHARE = 0.75
# Up to this many values are joined for scanning in Python rather than by Arrow.
FEW_VALUES = 256
# What a ValueMemo holds at most, in characters of values, and what each entry counts for beyond its characters.
MEMO_CHARS = 1 << 24
MEMO_ENTRY_CHARS = 64
NOT_SCANNED = "type {type} is not scanned"
NOT_IDENTIFIER_NAME = "type {type} is scanned only when the column name suggests an identifier"


@dataclass(slots=True)
class ColumnProfile:
    """What one column holds: rows with a value, and per entity the occurrences and the rows they are in.

    Counts add up across batches and files (``merge``), so per-partition profiles combine into the whole.
    """

    name: str
    type: str
    scanned: bool = True
    note: str | None = None
    non_null: int = 0
    occurrences: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def merge(self, other: ColumnProfile) -> None:
        self.non_null += other.non_null
        for entity, count in other.occurrences.items():
            self.occurrences[entity] = self.occurrences.get(entity, 0) + count
        for entity, count in other.rows.items():
            self.rows[entity] = self.rows.get(entity, 0) + count

    def shares(self) -> dict[str, float]:
        """Per entity, the share of the column's non-null rows that contain it."""
        if not self.non_null:
            return {}
        return {entity: round(count / self.non_null, 6) for entity, count in sorted(self.rows.items())}

    def label(self, threshold: float = DEFAULT_LABEL_THRESHOLD) -> str | None:
        """The entity the column holds: the one in the largest share of rows, when that share reaches
        ``threshold``."""
        shares = self.shares()
        if not shares:
            return None
        entity = max(shares, key=lambda e: (shares[e], self.occurrences[e], e))
        return entity if shares[entity] >= threshold else None

    def as_dict(self, threshold: float = DEFAULT_LABEL_THRESHOLD) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "scanned": self.scanned, "note": self.note,
                "non_null": self.non_null, "occurrences": dict(sorted(self.occurrences.items())),
                "rows": dict(sorted(self.rows.items())), "shares": self.shares(), "label": self.label(threshold)}


@dataclass(frozen=True, slots=True)
class CellFinding:
    """A finding in one cell: ``row`` is the row's index in the scanned batch or table, ``finding``'s offsets
    are in the cell's text."""

    row: int
    column: str
    finding: Finding


@dataclass(frozen=True, slots=True)
class Located:
    """A column's findings as arrays: occurrence ``i`` is ``distinct[which[i]]`` in row ``rows[i]``, in row order
    then offset order. Rows holding the same value share its findings, so a column of a million cells with a few
    thousand distinct values holds a few thousand :class:`Finding` objects, and per-entity counts, maxima and the
    first occurrences come from numpy rather than a loop over every occurrence. Every distinct finding occurs at
    least once."""

    rows: np.ndarray
    which: np.ndarray
    distinct: list[Finding]

    def __len__(self) -> int:
        return len(self.rows)

    def pairs(self) -> list[tuple[int, Finding]]:
        """(row, finding) for every occurrence, in order."""
        distinct = self.distinct
        return [(row, distinct[index]) for row, index in zip(self.rows.tolist(), self.which.tolist(), strict=True)]


@dataclass(slots=True)
class TableScan:
    """Per scanned column with findings, where they are (:class:`Located`, columns in table order); a profile per
    column; the text each scanned column was read as (so a caller can cut a found value out while it is in
    memory)."""

    located: dict[str, Located]
    columns: dict[str, ColumnProfile]
    texts: dict[str, pa.Array]

    @property
    def findings(self) -> list[CellFinding]:
        """Every occurrence as a :class:`CellFinding`, ordered by column (table order), then row, then offset."""
        return [CellFinding(row, name, finding) for name, located in self.located.items()
                for row, finding in located.pairs()]


class ValueMemo:
    """The findings of values already scanned, per column and scan options, for later batches of the same scan.

    A value's findings depend on the value, the column's context words, the options and the analyzer alone, so
    a column whose values repeat across batches (codes, categories, a customer's e-mail on each of their orders)
    needs each value scanned once per scan, not once per batch. Only columns whose values repeat within a batch
    (see :data:`DEDUPLICATE_SHARE`) are remembered, and at most about ``limit_chars`` characters of values in all;
    past that, nothing more is added. It holds raw values: keep one for the length of a scan, never longer.
    """

    def __init__(self, limit_chars: int = MEMO_CHARS) -> None:
        self._columns: dict[tuple[object, ...], dict[str, tuple[Finding, ...]]] = {}
        self._room = limit_chars

    def column(self, key: tuple[object, ...]) -> dict[str, tuple[Finding, ...]]:
        return self._columns.setdefault(key, {})

    def keep(self, known: dict[str, tuple[Finding, ...]], value: str, found: tuple[Finding, ...]) -> None:
        cost = len(value) + MEMO_ENTRY_CHARS
        if cost <= self._room:
            known[value] = found
            self._room -= cost


def scan_strings(values: pa.Array, *, context: Iterable[str] = (), analyzer: Analyzer | None = None,
                 entities: Iterable[str] | None = None, min_score: float = DEFAULT_MIN_SCORE,
                 language: str = "en") -> list[tuple[int, Finding]]:
    """Findings in a string array as (index of the value, finding with offsets inside that value), in order.

    Nulls are skipped. ``context`` words count as present near every value (a column name). The building block
    for table scanning and for rewriting a column in place.

    A value's findings depend on the value alone (nothing crosses a line), so a column that repeats values (codes,
    categories, a customer's e-mail on each of their orders) has each distinct value scanned once, when at most
    :data:`DEDUPLICATE_SHARE` of its values are distinct; rows holding the same value share the same
    :class:`Finding` objects (they are immutable).
    """
    located = _locate(values, context=context, analyzer=analyzer or default_analyzer(), entities=entities,
                      min_score=min_score, language=language)
    return located.pairs()


_NONE = np.empty(0, dtype=np.int64)


def _locate(values: pa.Array, *, context: Iterable[str], analyzer: Analyzer, entities: Iterable[str] | None,
            min_score: float, language: str, memo: ValueMemo | None = None) -> Located:
    """:func:`scan_strings` as a :class:`Located`."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    present = values.is_valid()
    dense = values.filter(present) if values.null_count else values
    if len(dense) == 0:
        return Located(_NONE, _NONE, [])
    options = {"analyzer": analyzer, "entities": entities, "min_score": min_score, "language": language,
               "extra_context": tuple(context)}
    encoded = pc.dictionary_encode(dense)
    if len(encoded.dictionary) <= DEDUPLICATE_SHARE * len(dense):
        if memo is None:
            keys, found = _scan_values(encoded.dictionary, **options)
        else:
            key = (analyzer, options["extra_context"], None if entities is None else frozenset(entities), min_score,
                   language)
            keys, found = _remembered(encoded.dictionary, memo, memo.column(key), options)
        rows, which = _repeated(encoded.indices.to_numpy(zero_copy_only=False), keys, len(encoded.dictionary))
    else:
        rows, found = _scan_values(dense, **options)
        which = np.arange(len(found), dtype=np.int64)
    if found and values.null_count:
        rows = np.flatnonzero(present.to_numpy(zero_copy_only=False))[rows]
    return Located(rows, which, found)


def _scan_values(values: pa.Array, *, analyzer: Analyzer, **options: object) -> tuple[np.ndarray, list[Finding]]:
    """The findings of non-null ``values`` scanned as one text, with the index of the value each is in.

    A few values (a small file's lines, a short batch) are joined in Python: Arrow's kernels cost more to call
    than the work they save there."""
    if len(values) <= FEW_VALUES:
        strings = values.to_pylist()
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        text = "\n".join(strings)
    else:
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
        text = _join_lines(values)
    starts = np.empty(len(lengths), dtype=np.int64)
    starts[0] = 0
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    spans = analyzer.scan_spans(text, **options)  # type: ignore[arg-type]
    if not spans:
        return _NONE, []
    positions = np.fromiter((span[0] for span in spans), dtype=np.int64, count=len(spans))
    items = np.searchsorted(starts, positions, side="right") - 1
    shifts = starts[items].tolist()
    return items, [Finding(entity, start - shift, end - shift, score, category, severity, reason)
                   for shift, (start, end, score, entity, category, severity, reason) in zip(shifts, spans,
                                                                                            strict=True)]


def _remembered(dictionary: pa.Array, memo: ValueMemo, known: dict[str, tuple[Finding, ...]],
                options: dict[str, object]) -> tuple[np.ndarray, list[Finding]]:
    """:func:`_scan_values` of distinct values, scanning only those ``known`` lacks and remembering them."""
    values = dictionary.to_pylist()
    per_value = [known.get(value) for value in values]
    missing = [index for index, found in enumerate(per_value) if found is None]
    if missing:
        keys, found = _scan_values(dictionary.take(pa.array(missing, type=pa.int64())), **options)  # type: ignore[arg-type]
        fresh: list[list[Finding]] = [[] for _ in missing]
        for key, finding in zip(keys.tolist(), found, strict=True):
            fresh[key].append(finding)
        for index, findings in zip(missing, fresh, strict=True):
            per_value[index] = tuple(findings)
            memo.keep(known, values[index], per_value[index])
    counts = [len(findings) for findings in per_value]  # type: ignore[arg-type]
    return (np.repeat(np.arange(len(values), dtype=np.int64), counts),
            [finding for findings in per_value for finding in findings])  # type: ignore[union-attr]


def _repeated(indices: np.ndarray, keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and distinct-finding indices for every occurrence, when value ``indices[row]`` of a dictionary of
    ``size`` values holds the findings whose ``keys`` (value indices, ascending) name it: all in numpy."""
    if not len(keys):
        return _NONE, _NONE
    per_value = np.bincount(keys, minlength=size)
    first = np.concatenate(([0], np.cumsum(per_value)[:-1]))
    counts = per_value[indices]
    holding = np.flatnonzero(counts)
    repeats = counts[holding]
    rows = np.repeat(holding, repeats)
    ends = np.cumsum(repeats)
    within = np.arange(ends[-1], dtype=np.int64) - np.repeat(ends - repeats, repeats)
    return rows, np.repeat(first[indices[holding]], repeats) + within


def _join_lines(values: pa.Array) -> str:
    """The values joined by "\\n" as one Python string, built by Arrow rather than a Python loop."""
    wrapped = pa.ListArray.from_arrays(pa.array([0, len(values)], type=pa.int32()), values.cast(pa.large_string()))
    return pc.binary_join(wrapped, pa.scalar("\n", pa.large_string()))[0].as_py()


def scan_batch(batch: pa.RecordBatch | pa.Table, *, analyzer: Analyzer | None = None,
               entities: Iterable[str] | None = None, min_score: float = DEFAULT_MIN_SCORE, language: str = "en",
               columns: Sequence[str] | None = None, name_context: bool = True,
               memo: ValueMemo | None = None) -> TableScan:
    """Scan every scannable column of a batch or table (or only ``columns``), with the column's name as context
    unless ``name_context`` is false (a text file read as a table of lines has no meaningful column name).
    ``memo`` carries what earlier batches of the same scan found in repeated values (see :class:`ValueMemo`)."""
    analyzer = analyzer or default_analyzer()
    wanted = frozenset(entities) if entities is not None else None
    located: dict[str, Located] = {}
    profiles: dict[str, ColumnProfile] = {}
    texts: dict[str, pa.Array] = {}
    for name, array in _leaf_columns(batch):
        if columns is not None and name not in columns:
            continue
        profile = ColumnProfile(name, str(array.type), non_null=len(array) - array.null_count)
        profiles[name] = profile
        text = _as_text(name, array, profile)
        if text is None:
            continue
        texts[name] = text
        found = _locate(text, context=(name,) if name_context else (), analyzer=analyzer, entities=wanted,
                        min_score=min_score, language=language, memo=memo)
        if len(found):
            located[name] = found
            _count(profile, found, len(array))
    return TableScan(located, profiles, texts)


def _count(profile: ColumnProfile, located: Located, rows: int) -> None:
    """Per entity, the occurrences and the distinct rows (of ``rows``) holding them."""
    names = sorted({finding.entity for finding in located.distinct})
    code = {entity: index for index, entity in enumerate(names)}
    codes = np.fromiter((code[finding.entity] for finding in located.distinct), dtype=np.int64,
                        count=len(located.distinct))[located.which]
    occurrences = np.bincount(codes, minlength=len(names))
    holds = np.zeros((rows, len(names)), dtype=np.bool_)
    holds[located.rows, codes] = True
    distinct_rows = holds.sum(axis=0)
    for index, entity in enumerate(names):
        profile.occurrences[entity] = int(occurrences[index])
        profile.rows[entity] = int(distinct_rows[index])


def _leaf_columns(batch: pa.RecordBatch | pa.Table) -> Iterator[tuple[str, pa.Array]]:
    """Columns by name, struct fields flattened to "parent.child" (nulls of the parent carried down)."""
    stack = [(name, batch.column(i)) for i, name in enumerate(batch.schema.names)]
    stack.reverse()
    while stack:
        name, array = stack.pop()
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_struct(array.type):
            children = [(f"{name}.{array.type.field(i).name}", child) for i, child in enumerate(array.flatten())]
            stack.extend(reversed(children))
        else:
            yield name, array


def _as_text(name: str, array: pa.Array, profile: ColumnProfile) -> pa.Array | None:
    """The column as strings when it is scanned (see the module docstring); None, with a note, when not."""
    kind = array.type
    if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        return array.cast(pa.string())
    if _is_text(kind):
        return array
    if is_text_list(kind):
        return pa.array([None if cell is None else json.dumps(cell, ensure_ascii=False) for cell in array.to_pylist()],
                        type=pa.string())
    if _may_hold_identifier(kind):
        if not reads_as_identifier(name, kind):
            profile.scanned, profile.note = False, NOT_IDENTIFIER_NAME.format(type=kind)
            return None
        return array.cast(pa.string())
    profile.scanned, profile.note = False, NOT_SCANNED.format(type=kind)
    return None


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def is_text_list(kind: pa.DataType) -> bool:
    """A list (or large list) of strings, or of dictionary-encoded strings."""
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    value = kind.value_type
    return _is_text(value.value_type if pa.types.is_dictionary(value) else value)


def _may_hold_identifier(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind)
            or pa.types.is_timestamp(kind))


def reads_as_identifier(name: str, kind: pa.DataType) -> bool:
    """Whether a number or date column named ``name`` is scanned, as its text: its name suggests an identifier
    (:data:`IDENTIFIER_NAME_WORDS`)."""
    return _may_hold_identifier(kind) and not IDENTIFIER_NAME_WORDS.isdisjoint(split_words(name))

