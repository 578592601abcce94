"""Reading prediction logs (every format gives the same batches; streaming; every bad-input message) and preparing
batches (task inference, conversion, every validation message)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.evaluation import batch as bt
from aicoe.engines.evaluation import io
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.spec import MISSING_GROUP, Batch, ColumnSpec, Options

N = 500
SPEC = ColumnSpec(label="y", prediction="yhat", scores=("p",), sensitive=("sex", "race"), weight="w",
                  segment="region")
COLUMNS = SPEC.named_columns()


def logs(n: int = N, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M", "X"], n).astype(object)
    sex[rng.random(n) < 0.05] = None
    return pa.table({
        "y": rng.integers(0, 2, n), "yhat": rng.integers(0, 2, n), "p": np.round(rng.random(n), 6),
        "sex": pa.array(sex, pa.string()), "race": rng.choice(["A", "B", "C", "D"], n),
        "w": np.round(rng.random(n) * 3, 4), "region": rng.choice(["north", "south"], n),
        "age": np.round(rng.normal(40, 10, n), 3)})


def view(b: Batch) -> dict[str, Any]:
    """A batch as plain values, independent of category order."""
    groups = {name: np.array(cat.categories, dtype=object)[cat.codes].tolist() for name, cat in b.sensitive.items()}
    assert b.segment is not None
    return {"n": b.n, "y": b.y.tolist(), "yhat": b.yhat.tolist(), "p": b.scores.tolist(), "w": b.weight.tolist(),
            "groups": groups, "segment": np.array(b.segment.categories, dtype=object)[b.segment.codes].tolist()}


def read(data: Any, partition_rows: int = 10_000, columns: list[str] | None = COLUMNS) -> list[pa.Table]:
    return list(io.open_source(data, columns, Options(partition_rows=partition_rows)).partitions())


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return view(bt.prepare(logs(), SPEC, "binary"))


def write_csv(table: pa.Table, path: Path, delimiter: str = ",") -> Path:
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(delimiter=delimiter))
    return path


def hive(table: pa.Table, root: Path) -> Path:
    for region in ("north", "south"):
        part = table.filter(pa.compute.equal(table["region"], region)).drop_columns(["region"])
        (root / f"region={region}").mkdir(parents=True)
        pq.write_table(part, root / f"region={region}" / "part-0.parquet")
    return root


def in_order(table: pa.Table) -> pa.Table:
    """Hive partitions reorder rows: the reference table in the same order."""
    return pa.concat_tables(table.filter(pa.compute.equal(table["region"], r)) for r in ("north", "south"))


# ----------------------------------------------------------------------------- every format, the same batches

@pytest.mark.parametrize("kind", ["csv", "tsv", "csv.gz", "parquet", "feather", "arrow-stream", "directory",
                                  "paths", "pandas", "polars", "pyarrow", "record-batch", "dict"])
def test_every_input_kind_gives_the_same_batch(kind: str, tmp_path: Path, expected: dict[str, Any]) -> None:
    table = logs()
    data: Any
    if kind == "csv":
        data = write_csv(table, tmp_path / "logs.csv")
    elif kind == "tsv":
        data = write_csv(table, tmp_path / "logs.tsv", "\t")
    elif kind == "csv.gz":
        raw = write_csv(table, tmp_path / "raw.csv").read_bytes()
        data = tmp_path / "logs.csv.gz"
        data.write_bytes(gzip.compress(raw))
    elif kind == "parquet":
        pq.write_table(table, data := tmp_path / "logs.parquet")
    elif kind == "feather":
        feather.write_feather(table, data := tmp_path / "logs.feather")
    elif kind == "arrow-stream":
        with pa.ipc.new_stream(data := tmp_path / "logs.arrow", table.schema) as writer:
            writer.write_table(table)
    elif kind in ("directory", "paths"):
        (tmp_path / "d" / "sub").mkdir(parents=True)
        pq.write_table(table.slice(0, 200), tmp_path / "d" / "a.parquet")
        write_csv(table.slice(200, 100), tmp_path / "d" / "b.csv")
        feather.write_feather(table.slice(300), tmp_path / "d" / "sub" / "c.feather")
        (tmp_path / "d" / "_SUCCESS").write_text("")
        (tmp_path / "d" / ".hidden.csv").write_text("junk")
        data = tmp_path / "d" if kind == "directory" else [str(tmp_path / "d" / "a.parquet"),
                                                            tmp_path / "d" / "b.csv", tmp_path / "d" / "sub"]
    elif kind == "pandas":
        data = table.to_pandas()
    elif kind == "polars":
        data = pl.from_arrow(table)
    elif kind == "pyarrow":
        data = table
    elif kind == "record-batch":
        data = table.combine_chunks().to_batches()[0]
    else:
        data = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    tables = read(data, partition_rows=128)
    assert [t.num_rows for t in tables][:3] == [128, 128, 128] or kind in ("directory", "paths")
    assert all(t.num_rows <= 128 for t in tables)
    assert sum(t.num_rows for t in tables) == N
    assert all(t.column_names == COLUMNS for t in tables)
    assert view(bt.prepare(pa.concat_tables(t.cast(tables[0].schema) for t in tables), SPEC, "binary")) == expected


def test_a_hive_partitioned_directory_turns_its_keys_into_columns(tmp_path: Path) -> None:
    table = logs()
    tables = read(hive(table, tmp_path / "ds"))
    got = pa.concat_tables(tables)
    assert got.schema.field("region").type == pa.string()
    assert view(bt.prepare(got, SPEC, "binary")) == view(bt.prepare(in_order(table), SPEC, "binary"))


def test_integer_hive_keys_are_integers(tmp_path: Path) -> None:
    for year in (2023, 2024):
        (tmp_path / f"year={year}").mkdir()
        pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / f"year={year}" / "p.parquet")
    got = pa.concat_tables(read(tmp_path, columns=None))
    assert got.to_pydict() == {"x": [1.0, 2.0, 1.0, 2.0], "year": [2023, 2023, 2024, 2024]}


def test_parquet_streams_by_row_group_and_knows_its_rows(tmp_path: Path) -> None:
    pq.write_table(logs(), path := tmp_path / "logs.parquet", row_group_size=50)
    source = io.open_source(path, ["y", "age"], Options(partition_rows=120))
    assert source.num_rows == N
    assert source.schema.names == ["y", "age"]
    assert [(u.start, u.stop) for u in source.units()] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert [t.num_rows for t in source.partitions()] == [100] * 5  # runs of whole row groups
    assert source.describe() == f"{path} (1 file, Parquet, {N:,} rows)"


def test_a_row_group_larger_than_a_partition_is_one_unit_read_in_partitions(tmp_path: Path) -> None:
    pq.write_table(logs(), path := tmp_path / "logs.parquet", row_group_size=300)
    source = io.open_source(path, ["y", "age"], Options(partition_rows=120))
    units = list(source.units())
    assert [(u.start, u.stop) for u in units] == [(0, 1), (1, 2)]
    assert [[t.num_rows for t in u.tables()] for u in units] == [[120, 120, 60], [120, 80]]


def test_work_units_are_picklable_and_read_what_the_source_reads(tmp_path: Path) -> None:
    table = logs()
    root = tmp_path / "k=1"
    root.mkdir()
    pq.write_table(table.slice(0, 200), root / "a.parquet", row_group_size=40)
    write_csv(table.slice(200, 100), root / "b.csv")
    feather.write_feather(table.slice(300), root / "c.feather", chunksize=30)
    pq.write_table(table.slice(0, 0), root / "e.parquet")  # no rows: no unit
    source = io.open_source(tmp_path, [*COLUMNS, "k"], Options(partition_rows=100))
    units = [pickle.loads(pickle.dumps(u)) for u in source.units()]
    assert [(u.file.name, u.start, u.stop) for u in units] == [
        ("k=1/a.parquet", 0, 2), ("k=1/a.parquet", 2, 4), ("k=1/a.parquet", 4, 5), ("k=1/b.csv", 0, None),
        ("k=1/c.feather", 0, 3), ("k=1/c.feather", 3, 6), ("k=1/c.feather", 6, 7)]
    tables = [t for u in units for t in u.tables()]
    assert [t.num_rows for t in tables] == [80, 80, 40, 100, 90, 90, 20]
    assert all(t.schema == source.schema for t in tables)
    assert pa.concat_tables(tables).equals(pa.concat_tables(source.partitions()))
    assert pa.concat_tables(tables).drop_columns(["k"]).equals(table.select(COLUMNS).cast(
        source.schema.remove(source.schema.get_field_index("k"))))


def test_csv_row_count_is_unknown_until_read(tmp_path: Path) -> None:
    source = io.open_source(write_csv(logs(), tmp_path / "a.csv"), None, Options())
    assert source.num_rows is None
    assert source.describe() == f"{tmp_path / 'a.csv'} (1 file, CSV)"


def test_integers_in_one_file_and_floats_in_another_read_as_floats(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n2\n")
    (tmp_path / "b.csv").write_text("x\n0.5\n")
    source = io.open_source(tmp_path, ["x"], Options())
    assert source.schema.field("x").type == pa.float64()
    assert pa.concat_tables(source.partitions()).to_pydict() == {"x": [1.0, 2.0, 0.5]}


def test_an_in_memory_source_describes_itself() -> None:
    assert io.open_source(logs().to_pandas(), ["y"], Options()).describe() == (
        f"in-memory pandas.DataFrame ({N:,} rows, 1 columns)")


# ----------------------------------------------------------------------------- fingerprints

def test_a_file_fingerprint_follows_names_and_bytes(tmp_path: Path) -> None:
    pq.write_table(logs(), tmp_path / "a.parquet")
    first = io.open_source(tmp_path, None, Options()).fingerprint()
    assert first == io.open_source(tmp_path, ["y"], Options()).fingerprint()  # the file, not the columns read
    assert len(first) == 64 and int(first, 16) >= 0
    pq.write_table(logs(seed=1), tmp_path / "a.parquet")
    assert io.open_source(tmp_path, None, Options()).fingerprint() != first
    (tmp_path / "a.parquet").rename(tmp_path / "b.parquet")
    renamed = io.open_source(tmp_path, None, Options()).fingerprint()
    pq.write_table(logs(seed=1), tmp_path / "b.parquet")
    assert io.open_source(tmp_path, None, Options()).fingerprint() == renamed


def test_an_in_memory_fingerprint_follows_the_named_columns_not_the_chunking() -> None:
    table = logs()
    whole = io.open_source(table, COLUMNS, Options()).fingerprint()
    chunked = pa.concat_tables([table.slice(0, 100), table.slice(100)])
    assert io.open_source(chunked, COLUMNS, Options()).fingerprint() == whole
    assert io.open_source(table, COLUMNS[:-1], Options()).fingerprint() != whole
    assert io.open_source(logs(seed=2), COLUMNS, Options()).fingerprint() != whole


# ----------------------------------------------------------------------------- bad input, exactly

def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError) as error:
        read(tmp_path / "nope.parquet")
    assert str(error.value) == f"input not found: '{tmp_path / 'nope.parquet'}'"


def test_an_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "logs.xlsx").write_text("x")
    with pytest.raises(EvaluationError) as error:
        read(tmp_path / "logs.xlsx")
    assert str(error.value) == io.UNKNOWN_FORMAT.format(name="logs.xlsx")
    assert str(error.value) == ("unknown input format: 'logs.xlsx' (expected .csv, .tsv, .csv.gz, .tsv.gz, "
                                ".parquet, .pq, .arrow, .feather or .ipc)")


def test_an_unknown_kind_of_input() -> None:
    with pytest.raises(EvaluationError) as error:
        read(42)
    assert str(error.value) == ("cannot read a builtins.int as prediction logs: pass a path, a list of paths, a "
                                "pyarrow, pandas or polars table, or a dict of arrays")


def test_a_directory_without_files(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.csv").write_text("a\n1\n")
    with pytest.raises(EvaluationError) as error:
        read(tmp_path)
    assert str(error.value) == f"no files in directory '{tmp_path}'"


@pytest.mark.parametrize("name, label", [("bad.parquet", "Parquet"), ("bad.feather", "Arrow IPC"),
                                         ("bad.csv.gz", "CSV")])
def test_a_corrupt_file_is_named(tmp_path: Path, name: str, label: str) -> None:
    (tmp_path / name).write_bytes(b"PAR1 this is not what it claims to be" * 10)
    with pytest.raises(EvaluationError) as error:
        read(tmp_path / name)
    assert str(error.value) == (f"cannot read {name!r}: not a readable {label} file (corrupt, truncated or of "
                                "another format)")


def test_a_truncated_parquet_file_in_a_directory_is_named(tmp_path: Path) -> None:
    pq.write_table(logs(), tmp_path / "a.parquet")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.parquet").write_bytes((tmp_path / "a.parquet").read_bytes()[:-100])
    with pytest.raises(EvaluationError) as error:
        read(tmp_path)
    assert str(error.value) == io.UNREADABLE.format(name="sub/b.parquet", format="Parquet")


@pytest.mark.parametrize("make", ["header-only csv", "empty table", "empty list"])
def test_empty_input(tmp_path: Path, make: str) -> None:
    data: Any = {"header-only csv": tmp_path / "a.csv", "empty table": logs().slice(0, 0), "empty list": []}[make]
    (tmp_path / "a.csv").write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(EvaluationError) as error:
        read(data)
    assert str(error.value) == "the input has no rows"


@pytest.mark.parametrize("kind", ["parquet", "csv", "pandas", "polars", "pyarrow", "dict"])
def test_a_missing_column_lists_the_available_ones(tmp_path: Path, kind: str) -> None:
    table = logs().select(["y", "yhat", "p"])
    data: Any = {"pandas": table.to_pandas(), "polars": pl.from_arrow(table), "pyarrow": table,
                 "dict": {n: table[n].to_numpy() for n in table.column_names}}.get(kind)
    if kind == "parquet":
        pq.write_table(table, data := tmp_path / "a.parquet")
    elif kind == "csv":
        data = write_csv(table, tmp_path / "a.csv")
    with pytest.raises(EvaluationError) as error:
        read(data, columns=["y", "score"])
    assert str(error.value) == "missing column 'score' (available: y, yhat, p)"


def test_schemas_that_differ_between_files(tmp_path: Path) -> None:
    pq.write_table(pa.table({"y": [0, 1], "g": ["a", "b"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"y": [0, 1], "g": [1, 2]}), tmp_path / "b.parquet")
    pq.write_table(pa.table({"y": [0, 1]}), tmp_path / "c.parquet")
    with pytest.raises(EvaluationError) as error:
        read(tmp_path, columns=["y", "g"])
    assert str(error.value) == ("schema differs between files: column 'g' is string in 'a.parquet' but int64 in "
                                "'b.parquet'")
    (tmp_path / "b.parquet").unlink()
    with pytest.raises(EvaluationError) as error:
        read(tmp_path, columns=None)
    assert str(error.value) == ("schema differs between files: column 'g' is string in 'a.parquet' but missing in "
                                "'c.parquet'")


def test_arrays_of_different_lengths() -> None:
    with pytest.raises(EvaluationError) as error:
        read({"y": np.zeros(3), "yhat": np.zeros(2)}, columns=["y", "yhat"])
    assert str(error.value) == "columns have different lengths: 'y': 3, 'yhat': 2"


# ----------------------------------------------------------------------------- task inference

@pytest.mark.parametrize("values, task", [
    ([0, 1, 1], "binary"), ([0.0, 1.0, 1.0], "binary"), ([True, False], "binary"), ([1, 1, 1], "binary"),
    ([0, 1, 2], "multiclass"), ([1.0, 2.0, 3.0], "multiclass"), (["cat", "dog"], "multiclass"),
    ([0.5, 1.0, 2.0], "regression"), ([0.0, 1.0, 0.25], "regression")])
def test_infer_task(values: list[Any], task: str) -> None:
    table = pa.table({"y": values, "yhat": values})
    assert bt.infer_task(table.schema, table, ColumnSpec(label="y", prediction="yhat")) == task


def test_an_explicit_task_wins() -> None:
    table = pa.table({"y": [0, 1]})
    assert bt.infer_task(table.schema, table, ColumnSpec(label="y", task="regression")) == "regression"


def test_a_label_of_another_type_is_refused() -> None:
    table = pa.table({"y": pa.array([1, 2], pa.timestamp("s"))})
    with pytest.raises(EvaluationError) as error:
        bt.infer_task(table.schema, table, ColumnSpec(label="y"))
    assert str(error.value) == "label column 'y' has type timestamp[s]: expected numbers, booleans or strings"


# ----------------------------------------------------------------------------- conversion

def test_binary_booleans_and_floats_become_int8() -> None:
    table = pa.table({"y": [True, False, True], "yhat": [1.0, 0.0, 0.0]})
    b = bt.prepare(table, ColumnSpec(label="y", prediction="yhat"), "binary")
    assert b.y.dtype == np.int8 and b.y.tolist() == [1, 0, 1] and b.yhat.tolist() == [1, 0, 0]
    assert b.weight.tolist() == [1.0, 1.0, 1.0] and not b.weighted and b.scores is None and b.table is table


def test_multiclass_shares_one_categories_tuple() -> None:
    table = pa.table({"y": [10, 2, 2, 3], "yhat": [2, 10, 3, 3]})
    b = bt.prepare(table, ColumnSpec(label="y", prediction="yhat"), "multiclass")
    assert b.classes == ("2", "3", "10")
    assert b.y.dtype == np.int32 and b.y.tolist() == [2, 0, 0, 1] and b.yhat.tolist() == [0, 2, 1, 1]


def test_multiclass_with_spec_classes_maps_scores_in_that_order() -> None:
    table = pa.table({"y": ["b", "a"], "yhat": ["b", "b"], "pa": [0.2, 0.7], "pb": [0.5, 0.1], "pc": [0.3, 0.2]})
    spec = ColumnSpec(label="y", prediction="yhat", scores=("pc", "pa", "pb"), classes=("c", "a", "b"))
    b = bt.prepare(table, spec, "multiclass")
    assert b.classes == ("c", "a", "b") and b.y.tolist() == [2, 1] and b.yhat.tolist() == [2, 2]
    assert b.scores.tolist() == [[0.3, 0.2, 0.5], [0.2, 0.7, 0.1]]


def test_regression_is_float64() -> None:
    b = bt.prepare(pa.table({"y": [1, 2], "yhat": [1.5, 2.5]}), ColumnSpec(label="y", prediction="yhat"),
                   "regression")
    assert b.y.dtype == np.float64 and b.y.tolist() == [1.0, 2.0] and b.yhat.tolist() == [1.5, 2.5]


@pytest.mark.parametrize("values, categories, codes", [
    ([1, 2, None, 1], ("1", "2", MISSING_GROUP), [0, 1, 2, 0]),
    ([True, False, None], ("true", "false", MISSING_GROUP), [0, 1, 2]),
    ([1.0, float("nan"), 2.5], ("1", "2.5", MISSING_GROUP), [0, 2, 1]),
    (["b", "a", "b"], ("b", "a"), [0, 1, 0]),
    (pa.array(["x", None, "x"]).dictionary_encode(), ("x", MISSING_GROUP), [0, 1, 0]),
    (["(missing)", None], (MISSING_GROUP,), [0, 0])])
def test_group_values_become_text(values: Any, categories: tuple[str, ...], codes: list[int]) -> None:
    cat = bt.categorical(pa.chunked_array([values]) if isinstance(values, pa.Array) else pa.array(values))
    assert cat.categories == categories and cat.codes.dtype == np.int32 and cat.codes.tolist() == codes


@pytest.mark.parametrize("column", [
    pa.DictionaryArray.from_arrays(pa.array([2, 0, None, 2], pa.int32()), ["a", "unused", "c"]),
    pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, 3], pa.int32()), ["a", "b", "a", None]),
    pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None], pa.int32()), pa.array([1.0, float("nan"), 2.5])),
    pa.chunked_array([pa.array(["x", "y"]).dictionary_encode(), pa.array(["z", "x", None]).dictionary_encode()]),
    pa.DictionaryArray.from_arrays(pa.array([1, 1], pa.int32()), [MISSING_GROUP, "b"])])
def test_a_dictionary_column_gives_the_groups_of_its_values(column: Any) -> None:
    cat = bt.categorical(column)
    decoded = bt.categorical(column.cast(column.type.value_type))
    assert cat.codes.dtype == np.int32 and sorted(cat.categories) == sorted(decoded.categories)
    assert [cat.categories[c] for c in cat.codes] == [decoded.categories[c] for c in decoded.codes]


def test_timestamps_from_strings_and_timestamps_are_utc() -> None:
    expected = np.array(["2024-01-01T00:00:00", "2024-01-02T02:00:00"], dtype="datetime64[us]")
    for values in (["2024-01-01T00:00:00Z", "2024-01-02 03:00:00+01:00"], ["2024-01-01", "2024-01-02T02:00:00"]):
        assert np.array_equal(bt.timestamps(pa.chunked_array([values]), "ts"), expected)
    zoned = pa.chunked_array([pa.array(expected.astype("int64"), pa.timestamp("us", tz="Europe/Paris"))])
    assert np.array_equal(bt.timestamps(zoned, "ts"), expected)
    assert np.isnat(bt.timestamps(pa.chunked_array([[None, "2024-01-01"]]), "ts")[0])


def test_timestamp_errors() -> None:
    with pytest.raises(EvaluationError) as error:
        bt.timestamps(pa.chunked_array([["2024-01-01Z", "yesterday"]]), "ts")
    assert str(error.value) == "timestamp column 'ts' has strings that are not ISO 8601 date-times"
    with pytest.raises(EvaluationError) as error:
        bt.timestamps(pa.chunked_array([[1.5]]), "ts")
    assert str(error.value) == "timestamp column 'ts' has type double: expected timestamps, dates or ISO 8601 strings"


# ----------------------------------------------------------------------------- validation, exactly

BINARY = ColumnSpec(label="y", prediction="yhat", scores=("p",), weight="w")


def binary_table(**columns: list[Any]) -> pa.Table:
    base: dict[str, list[Any]] = {"y": [0, 1, 1, 0], "yhat": [0, 1, 0, 0], "p": [0.1, 0.9, 0.4, 0.2],
                                  "w": [1.0, 2.0, 1.0, 0.5]}
    return pa.table({**base, **columns})


@pytest.mark.parametrize("columns, message", [
    ({"y": [0, 2, 3, 2]}, "label column 'y' has 3 value(s) outside {0, 1}: 2, 3"),
    ({"yhat": [0.5, 1, -1, 0]}, "prediction column 'yhat' has 2 value(s) outside {0, 1}: -1, 0.5"),
    ({"y": ["a", "b", "a", "b"]}, "label column 'y' has type string: a binary task needs 0/1 or boolean values"),
    ({"y": [0, None, None, 1]}, "column 'y' has 2 missing value(s)"),
    ({"yhat": [0.0, float("nan"), 1.0, 1.0]}, "column 'yhat' has 1 missing value(s)"),
    ({"p": [None, None, None, None]}, "column 'p' has no values: all 4 row(s) are missing"),
    ({"p": [float("nan")] * 4}, "column 'p' has no values: all 4 row(s) are missing"),
    ({"p": [0.1, 1.5, -0.1, 0.3]}, "score column 'p' has 2 value(s) outside [0, 1]"),
    ({"p": ["a", "b", "c", "d"]}, "score column 'p' has type string: expected numbers"),
    ({"w": [1.0, -1.0, -2.0, 1.0]}, "weight column 'w' has 2 negative value(s)"),
    ({"w": [1.0, float("nan"), 1.0, None]}, "column 'w' has 2 missing value(s)")])
def test_binary_validation(columns: dict[str, list[Any]], message: str) -> None:
    with pytest.raises(EvaluationError) as error:
        bt.prepare(binary_table(**columns), BINARY, "binary")
    assert str(error.value) == message


def test_a_single_class_is_not_an_error_here() -> None:
    b = bt.prepare(binary_table(y=[1, 1, 1, 1]), BINARY, "binary")
    assert b.y.tolist() == [1, 1, 1, 1]


def test_binary_takes_one_score_column() -> None:
    spec = ColumnSpec(label="y", prediction="yhat", scores=("p", "w"))
    with pytest.raises(EvaluationError) as error:
        bt.prepare(binary_table(), spec, "binary")
    assert str(error.value) == "a binary task takes one score column (P(y = 1)), got 2: p, w"


def test_multiclass_validation() -> None:
    table = pa.table({"y": ["a", "b", "z"], "yhat": ["a", "q", "q"], "s": [0.5, 0.5, 0.5]})
    with pytest.raises(EvaluationError) as error:
        bt.prepare(table, ColumnSpec(label="y", prediction="yhat", classes=("a", "b")), "multiclass")
    assert str(error.value) == "label column 'y' has 1 value(s) outside the classes a, b: z"
    with pytest.raises(EvaluationError) as error:
        bt.prepare(table, ColumnSpec(label="y", prediction="yhat", classes=("a", "b", "z")), "multiclass")
    assert str(error.value) == "prediction column 'yhat' has 2 value(s) outside the classes a, b, z: q"
    with pytest.raises(EvaluationError) as error:
        bt.prepare(table, ColumnSpec(label="y", prediction="yhat", scores=("s",)), "multiclass")
    assert str(error.value) == ("multiclass scores need spec.classes naming the class of each score column: 1 score "
                                "column(s) for 0 class(es)")
    with pytest.raises(EvaluationError) as error:
        bt.prepare(pa.table({"y": [[1], [2]], "yhat": [1, 2]}), ColumnSpec(label="y", prediction="yhat"),
                   "multiclass")
    assert str(error.value) == "label column 'y' has type list<item: int64>: expected numbers, booleans or strings"
    with pytest.raises(EvaluationError) as error:
        bt.prepare(pa.table({"y": ["a", None], "yhat": ["a", "a"]}), ColumnSpec(label="y", prediction="yhat"),
                   "multiclass")
    assert str(error.value) == "column 'y' has 1 missing value(s)"


def test_regression_validation() -> None:
    with pytest.raises(EvaluationError) as error:
        bt.prepare(pa.table({"y": ["1", "2"], "yhat": [1.0, 2.0]}), ColumnSpec(label="y", prediction="yhat"),
                   "regression")
    assert str(error.value) == "label column 'y' has type string: expected numbers"


# ----------------------------------------------------------------------------- round trips

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.floats(0, 1)), min_size=1, max_size=60),
       st.sampled_from(["int", "float", "bool"]))
def test_binary_arrays_round_trip(rows: list[tuple[bool, bool, float]], kind: str) -> None:
    y, yhat, p = (np.array(c) for c in zip(*rows, strict=True))
    cast = {"int": np.int64, "float": np.float64, "bool": np.bool_}[kind]
    b = bt.prepare(pa.table({"y": y.astype(cast), "yhat": yhat.astype(cast), "p": p}),
                   ColumnSpec(label="y", prediction="yhat", scores=("p",)), "binary")
    assert b.y.tolist() == y.astype(int).tolist() and b.yhat.tolist() == yhat.astype(int).tolist()
    assert b.scores.tolist() == p.tolist() and b.n == len(rows)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "dd"]), st.sampled_from(["a", "b", "e"])),
                min_size=1, max_size=60),
       st.lists(st.integers(-5, 5), min_size=1, max_size=60))
def test_multiclass_arrays_round_trip(rows: list[tuple[str, str]], numbers: list[int]) -> None:
    y, yhat = (list(c) for c in zip(*rows, strict=True))
    b = bt.prepare(pa.table({"y": y, "yhat": yhat}), ColumnSpec(label="y", prediction="yhat"), "multiclass")
    assert [b.classes[c] for c in b.y] == y and [b.classes[c] for c in b.yhat] == yhat
    assert list(b.classes) == sorted(set(y) | set(yhat))
    table = pa.table({"y": numbers, "yhat": numbers[::-1]})
    b = bt.prepare(table, ColumnSpec(label="y", prediction="yhat"), "multiclass")
    assert [int(b.classes[c]) for c in b.y] == numbers and list(map(int, b.classes)) == sorted(set(numbers))
