"""Validating one partition and converting it to the numpy :class:`~aicoe.engines.evaluation.spec.Batch` the
statistics collectors count with.

Refusing is cheaper than a wrong number: missing values in the label, prediction, score or weight, labels outside
{0, 1} for a binary task, scores outside [0, 1] and negative weights are errors with the column and the count.
A single class is not an error here (the metrics that need two are undefined later, with a reason).

Group columns (sensitive features, segment) become :class:`Categorical` codes. Their values are keyed as text:
numbers as Arrow prints them (``1``, ``2.5``; a float column's whole numbers print without ``.0``), booleans as
``true``/``false``; null and NaN are the group ``MISSING_GROUP``. Multiclass labels and predictions share one
categories tuple per batch (``spec.classes`` when given, else the classes seen, in numeric order for numeric
columns), stringified the same way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.spec import MISSING_GROUP, Batch, Categorical, ColumnSpec, Task

LABEL_TYPE = "{role} column {column!r} has type {type}: expected numbers, booleans or strings"
NUMERIC_TYPE = "{role} column {column!r} has type {type}: expected numbers"
BINARY_TYPE = "{role} column {column!r} has type {type}: a binary task needs 0/1 or boolean values"
MISSING_VALUES = "column {column!r} has {count} missing value(s)"
ALL_MISSING = "column {column!r} has no values: all {count} row(s) are missing"
OUTSIDE_BINARY = "{role} column {column!r} has {count} value(s) outside {{0, 1}}: {values}"
OUTSIDE_CLASSES = "{role} column {column!r} has {count} value(s) outside the classes {classes}: {values}"
SCORE_RANGE = "score column {column!r} has {count} value(s) outside [0, 1]"
NEGATIVE_WEIGHT = "weight column {column!r} has {count} negative value(s)"
BINARY_SCORES = "a binary task takes one score column (P(y = 1)), got {count}: {columns}"
MULTICLASS_SCORES = ("multiclass scores need spec.classes naming the class of each score column: {scores} score "
                     "column(s) for {classes} class(es)")
TIMESTAMP_TYPE = "timestamp column {column!r} has type {type}: expected timestamps, dates or ISO 8601 strings"
TIMESTAMP_FORMAT = "timestamp column {column!r} has strings that are not ISO 8601 date-times"
SHOWN_VALUES = 5  # distinct offending values quoted in a message


def infer_task(schema: pa.Schema, table: pa.Table, spec: ColumnSpec) -> Task:
    """``spec.task`` unless "auto"; else from the label: a float with a fractional value -> regression, values
    all in {0, 1} (integers, floats or booleans) -> binary, other integers, floats and strings -> multiclass."""
    if spec.task != "auto":
        return spec.task
    _refuse_null_type(table.column(spec.label), spec.label)
    kind = _decoded_type(schema.field(spec.label).type)
    if pa.types.is_boolean(kind):
        return "binary"
    if _is_text(kind):
        return "multiclass"
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise EvaluationError(LABEL_TYPE.format(role="label", column=spec.label, type=kind))
    values = _numeric(table.column(spec.label), "label", spec.label)
    if pa.types.is_floating(kind) and np.any(values != np.floor(values)):
        return "regression"
    return "binary" if np.all((values == 0) | (values == 1)) else "multiclass"


def prepare(table: pa.Table, spec: ColumnSpec, task: Task) -> Batch:
    """The partition as a validated :class:`Batch` (the spec must name a label and a prediction)."""
    assert spec.label is not None and spec.prediction is not None
    label, prediction = table.column(spec.label), table.column(spec.prediction)
    classes: tuple[str, ...] = ()
    scores: np.ndarray | None = None
    if task == "binary":
        y, yhat = _binary(label, "label", spec.label), _binary(prediction, "prediction", spec.prediction)
        if len(spec.scores) > 1:
            raise EvaluationError(BINARY_SCORES.format(count=len(spec.scores), columns=", ".join(spec.scores)))
        if spec.scores:
            scores = _probabilities(table.column(spec.scores[0]), spec.scores[0])
    elif task == "multiclass":
        classes, y, yhat = _multiclass(label, prediction, spec)
        if spec.scores:
            if len(spec.scores) != len(spec.classes):
                raise EvaluationError(MULTICLASS_SCORES.format(scores=len(spec.scores), classes=len(spec.classes)))
            scores = np.column_stack([_probabilities(table.column(c), c) for c in spec.scores])
    else:
        y, yhat = _numeric(label, "label", spec.label), _numeric(prediction, "prediction", spec.prediction)
    weight = np.ones(table.num_rows) if spec.weight is None else _weights(table.column(spec.weight), spec.weight)
    return Batch(
        n=table.num_rows, task=task, y=y, yhat=yhat, scores=scores, weight=weight, weighted=spec.weight is not None,
        classes=classes, sensitive={name: categorical(table.column(name)) for name in spec.sensitive},
        segment=categorical(table.column(spec.segment)) if spec.segment else None,
        timestamp=timestamps(table.column(spec.timestamp), spec.timestamp) if spec.timestamp else None,
        table=table)


def categorical(column: pa.ChunkedArray | pa.Array) -> Categorical:
    """Codes into the column's distinct values (as text, in order of appearance; a dictionary column's in its
    dictionary's order); null and NaN are ``MISSING_GROUP``. Encoding before stringifying keeps the per-row work
    numeric."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # unifies the chunks' dictionaries
    if pa.types.is_dictionary(column.type):
        return _dictionary_categorical(column)
    if _is_text(column.type):
        column = column.cast(pa.string())
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    encoded = pc.dictionary_encode(column)
    categories = encoded.dictionary.cast(pa.string()).to_pylist()
    if encoded.null_count:
        missing = categories.index(MISSING_GROUP) if MISSING_GROUP in categories else len(categories)
        categories += [MISSING_GROUP] if missing == len(categories) else []
        indices = pc.fill_null(encoded.indices, missing)
    else:
        indices = encoded.indices
    return Categorical(np.asarray(indices.to_numpy(), dtype=np.int32), tuple(categories))


def _dictionary_categorical(column: pa.DictionaryArray) -> Categorical:
    """A dictionary column through its dictionary, never decoded row by row (Parquet and Arrow IPC keep group
    columns as dictionaries): the dictionary's entries are encoded as text (merging duplicates and null/NaN), the
    rows' indices mapped through them, and entries no row uses dropped."""
    entries = categorical(column.dictionary)
    categories = list(entries.categories)
    missing = categories.index(MISSING_GROUP) if MISSING_GROUP in categories else len(categories)
    categories += [MISSING_GROUP] if missing == len(categories) else []
    mapping = np.append(entries.codes, np.int32(missing))
    indices = column.indices.fill_null(len(column.dictionary)) if column.null_count else column.indices
    codes = mapping.take(indices.to_numpy())
    used = np.bincount(codes, minlength=len(categories)) > 0
    if not used.all():
        codes = (np.cumsum(used, dtype=np.int32) - 1)[codes]
        categories = [c for c, keep in zip(categories, used, strict=True) if keep]
    return Categorical(codes.astype(np.int32, copy=False), tuple(categories))


def timestamps(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """The column as datetime64[us] in UTC: timestamps (naive ones taken as UTC), dates, or ISO 8601 strings
    (with or without a zone offset, not mixed). Nulls are NaT: those rows belong to no drift window."""
    column = _decoded(column)
    kind = column.type
    if _is_text(kind):
        try:
            column = column.cast(pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            try:
                column = column.cast(pa.timestamp("us"))
            except pa.ArrowInvalid:
                raise EvaluationError(TIMESTAMP_FORMAT.format(column=name)) from None
    elif pa.types.is_timestamp(kind):
        column = column.cast(pa.timestamp("us", tz=kind.tz))
    elif pa.types.is_date(kind):
        column = column.cast(pa.timestamp("us"))
    else:
        raise EvaluationError(TIMESTAMP_TYPE.format(column=name, type=kind))
    return np.asarray(column.to_numpy(), dtype="datetime64[us]")


def _decoded_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _decoded(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def _refuse_null_type(column: pa.ChunkedArray | pa.Array, name: str) -> None:
    """A column of Arrow's null type (an empty CSV column) has no values at all."""
    if pa.types.is_null(_decoded_type(column.type)):
        raise EvaluationError(ALL_MISSING.format(column=name, count=len(column)))


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _check_missing(column: pa.ChunkedArray | pa.Array, name: str, values: np.ndarray | None = None) -> None:
    """Nulls, and NaN in ``values`` (the column as float64, where nulls are NaN too), are missing values."""
    missing = int(np.count_nonzero(np.isnan(values))) if values is not None else column.null_count
    if missing and missing == len(column):
        raise EvaluationError(ALL_MISSING.format(column=name, count=missing))
    if missing:
        raise EvaluationError(MISSING_VALUES.format(column=name, count=missing))


def _numeric(column: pa.ChunkedArray, role: str, name: str) -> np.ndarray:
    """float64 values of a number or boolean column without missing values."""
    _refuse_null_type(column, name)
    column = _decoded(column)
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind)):
        raise EvaluationError(NUMERIC_TYPE.format(role=role, column=name, type=kind))
    values = np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
    _check_missing(column, name, values)
    return values


def _binary(column: pa.ChunkedArray, role: str, name: str) -> np.ndarray:
    _refuse_null_type(column, name)
    kind = _decoded_type(column.type)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise EvaluationError(BINARY_TYPE.format(role=role, column=name, type=kind))
    values = _numeric(column, role, name)
    outside = (values != 0) & (values != 1)
    count = int(np.count_nonzero(outside))
    if count:
        shown = ", ".join(_show(v) for v in np.unique(values[outside])[:SHOWN_VALUES])
        raise EvaluationError(OUTSIDE_BINARY.format(role=role, column=name, count=count, values=shown))
    return values.astype(np.int8)


def _probabilities(column: pa.ChunkedArray, name: str) -> np.ndarray:
    values = _numeric(column, "score", name)
    count = int(np.count_nonzero((values < 0) | (values > 1)))
    if count:
        raise EvaluationError(SCORE_RANGE.format(column=name, count=count))
    return values


def _weights(column: pa.ChunkedArray, name: str) -> np.ndarray:
    values = _numeric(column, "weight", name)
    count = int(np.count_nonzero(values < 0))
    if count:
        raise EvaluationError(NEGATIVE_WEIGHT.format(column=name, count=count))
    return values


def _multiclass(label: pa.ChunkedArray, prediction: pa.ChunkedArray,
                spec: ColumnSpec) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    columns = {"label": (spec.label, _decoded(label)), "prediction": (spec.prediction, _decoded(prediction))}
    for role, (name, column) in columns.items():
        _refuse_null_type(column, name)
        kind = column.type
        if not (_is_text(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind)):
            raise EvaluationError(LABEL_TYPE.format(role=role, column=name, type=kind))
        _check_missing(column, name, np.asarray(column.to_numpy()) if pa.types.is_floating(kind) else None)
    if spec.classes:
        classes = spec.classes
    else:
        distinct = [pc.unique(column) for _, column in columns.values()]
        if all(not _is_text(d.type) for d in distinct):
            merged = np.unique(np.concatenate([d.cast(pa.float64()).to_numpy() for d in distinct]))
            kinds = {d.type for d in distinct}
            target = kinds.pop() if len(kinds) == 1 else pa.float64()
            classes = tuple(pa.array(merged).cast(target).cast(pa.string()).to_pylist())
        else:
            classes = tuple(sorted(set().union(*(d.cast(pa.string()).to_pylist() for d in distinct))))
    codes = []
    value_set = pa.array(classes, pa.string())
    for role, (name, column) in columns.items():
        text = column.cast(pa.string())
        index = pc.index_in(text, value_set=value_set)
        if index.null_count:
            outside = pc.filter(text, pc.is_null(index))
            shown = ", ".join(sorted(set(pc.unique(outside).to_pylist()))[:SHOWN_VALUES])
            raise EvaluationError(OUTSIDE_CLASSES.format(role=role, column=name, count=index.null_count,
                                                         classes=", ".join(classes), values=shown))
        codes.append(np.asarray(index.to_numpy(), dtype=np.int32))
    return classes, codes[0], codes[1]


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
