"""The orchestrator: the same result on one process, a process pool and Ray, and however the data is partitioned;
drift with a reference and windows; progress; policies; spec errors."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from aicoe.engines.evaluation import ColumnSpec, EvaluationError, Options, evaluate, io
from aicoe.engines.evaluation import engine as eng

N = 4000
SPEC = ColumnSpec(label="y", prediction="yhat", scores=("p",), sensitive=("sex", "race"), weight="w",
                  segment="region", timestamp="ts")
OPTIONS = Options(bootstrap=50, partition_rows=1000)


def logs(n: int = N, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(2, 2, n) + shift, 0, 1)
    return pd.DataFrame({
        "y": (rng.random(n) < p).astype(int), "yhat": (p > 0.5).astype(int), "p": p,
        "sex": rng.choice(["F", "M"], n), "race": rng.choice(["A", "B", "C", "D", "E"], n),
        "w": rng.random(n) + 0.5, "region": rng.choice(["north", "south", "east"], n),
        "age": rng.normal(40 + 20 * shift, 10, n), "city": rng.choice(["x", "y", "z"], n),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 600, unit="s")})


def comparable(result: Any) -> dict[str, Any]:
    data = result.to_dict()
    del data["elapsed_s"], data["engine"]
    return data


def assert_close(left: Any, right: Any, path: str = "") -> None:
    """Integers and text equal, floats to 1e-12."""
    assert type(left) is type(right), path
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            assert_close(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(left, float):
        assert math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12), (path, left, right)
    else:
        assert left == right, path


@pytest.fixture(scope="module")
def ray_module() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    table = pa.Table.from_pandas(logs(), preserve_index=False)
    for i, start in enumerate(range(0, N, 1500)):
        pq.write_table(table.slice(start, 1500), root / f"part-{i}.parquet", row_group_size=400)
    return root


@pytest.fixture(scope="module")
def local_result(dataset: Path) -> Any:
    return evaluate(dataset, SPEC, reference=logs(2000, seed=1, shift=0.2), options=OPTIONS)


def test_a_local_run_has_every_section(local_result: Any) -> None:
    data = local_result.to_dict()
    assert (data["task"], data["rows"], data["reference_rows"], data["weighted"]) == ("binary", N, 2000, True)
    assert data["engine"] == "local" and len(data["fingerprint"]) == 64 and len(data["reference_fingerprint"]) == 64
    assert data["performance"]["overall"]["count"] == N
    assert sorted(data["performance"]["by_segment"]) == ["east", "north", "south"]
    assert data["fairness"]["features"] == ["sex", "race"] and len(data["fairness"]["groups"]) == 10
    assert [f["feature"] for f in data["drift"]["features"]] == ["age", "city"]
    assert (data["drift"]["prediction"]["feature"], data["drift"]["score"]["feature"]) == ("yhat", "p")
    assert data["drift"]["windows"] == [] and data["checks"] == [] and data["passed"] is None


def test_two_processes_give_the_same_result(dataset: Path, local_result: Any) -> None:
    result = evaluate(dataset, SPEC, reference=logs(2000, seed=1, shift=0.2), options=OPTIONS, workers=2)
    assert result.engine == "processes:2"
    assert comparable(result) == comparable(local_result)


def test_ray_gives_the_same_result(ray_module: Any, dataset: Path, local_result: Any) -> None:
    result = evaluate(dataset, SPEC, reference=logs(2000, seed=1, shift=0.2), options=OPTIONS, engine="ray")
    assert result.engine == "ray"
    assert comparable(result) == comparable(local_result)


@pytest.mark.parametrize("task, spec", [
    ("binary", SPEC),
    ("regression", ColumnSpec(label="p", prediction="age", sensitive=("sex",), weight="w", segment="region")),
    ("multiclass", ColumnSpec(label="race", prediction="city", segment="region", weight="w"))])
def test_one_or_seven_partitions_give_the_same_numbers(task: str, spec: ColumnSpec) -> None:
    frame = logs()
    whole = evaluate(frame, spec, reference=frame, options=Options(bootstrap=50, partition_rows=N))
    parts = evaluate(frame, spec, reference=frame, options=Options(bootstrap=50, partition_rows=N // 7 + 1))
    assert whole.task == task
    one, seven = comparable(whole), comparable(parts)
    assert (one.pop("options")["partition_rows"], seven.pop("options")["partition_rows"]) == (N, N // 7 + 1)
    assert_close(one, seven)


def test_drift_windows_over_the_timestamp() -> None:
    current = logs(seed=2, shift=0.2)
    result = evaluate(current, SPEC, reference=logs(seed=1), options=Options(bootstrap=0, drift_window="7D"))
    windows = result.to_dict()["drift"]["windows"]
    assert sum(w["rows"] for w in windows) == N
    assert len(windows) == 5 and windows[0]["start"] == "2023-12-28T00:00:00+00:00"  # aligned to the epoch


def test_drift_only_without_a_label() -> None:
    result = evaluate(logs(seed=2, shift=0.3), ColumnSpec(prediction="yhat", features=("age", "city")),
                      reference=logs(seed=1))
    data = result.to_dict()
    assert data["task"] is None and data["performance"] is None and data["fairness"] is None
    assert [f["feature"] for f in data["drift"]["features"]] == ["age", "city"]
    assert data["drift"]["prediction"]["feature"] == "yhat"


def test_progress_is_reported_after_every_partition(dataset: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    evaluate(dataset, SPEC, reference=logs(2000, seed=1), options=OPTIONS, progress=lambda d, t: calls.append((d, t)))
    # the reference first, then each file (1500, 1500 and 1000 rows) in runs of whole 400-row row groups of at
    # most 1000 rows: 800 + 700, 800 + 700, 1000
    assert calls == [(1000, 6000), (2000, 6000), (2800, 6000), (3500, 6000), (4300, 6000), (5000, 6000),
                     (6000, 6000)]


def test_workers_read_their_own_file_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several Parquet files of several row groups, a CSV file and a Feather file: the orchestrator only merges
    (reading a file part here fails), and the result is the one of a single process, bit for bit."""
    table = pa.Table.from_pandas(logs().drop(columns=["ts"]), preserve_index=False)
    table = table.cast(pa.schema([(f.name, pa.string() if f.type == pa.large_string() else f.type)
                                  for f in table.schema]))
    for i, start in enumerate(range(0, 3000, 1000)):
        pq.write_table(table.slice(start, 1000), tmp_path / f"a-{i}.parquet", row_group_size=300)
    table.slice(3000, 500).to_pandas().to_csv(tmp_path / "b.csv", index=False)
    feather.write_feather(table.slice(3500), tmp_path / "c.feather", chunksize=200)
    spec = ColumnSpec(label="y", prediction="yhat", scores=("p",), sensitive=("sex", "race"), weight="w",
                      segment="region", task="binary")
    options = Options(bootstrap=50, partition_rows=700)
    local = evaluate(tmp_path, spec, reference=tmp_path, options=options)
    units = list(io.open_source(tmp_path, spec.named_columns(), options).units())
    assert [(u.file.name, u.start, u.stop) for u in units] == [
        ("a-0.parquet", 0, 2), ("a-0.parquet", 2, 4), ("a-1.parquet", 0, 2), ("a-1.parquet", 2, 4),
        ("a-2.parquet", 0, 2), ("a-2.parquet", 2, 4), ("b.csv", 0, None), ("c.feather", 0, 3)]

    def refuse(self: io.FilePart) -> Iterator[pa.Table]:
        raise AssertionError(f"the orchestrator read {self.file.name}")

    monkeypatch.setattr(io.FilePart, "tables", refuse)
    calls: list[tuple[int, int | None]] = []
    pooled = evaluate(tmp_path, spec, reference=tmp_path, options=options, workers=2,
                      progress=lambda d, t: calls.append((d, t)))
    assert comparable(pooled) == comparable(local)
    steps = [600, 1000, 1600, 2000, 2600, 3000, 3500, 4000]  # after each unit: the reference, then the data
    assert calls == [(d, None) for d in steps + [4000 + d for d in steps]]  # CSV: the total is unknown


def test_progress_total_is_unknown_for_csv(tmp_path: Path) -> None:
    logs(1500).to_csv(tmp_path / "logs.csv", index=False)
    calls: list[tuple[int, int | None]] = []
    evaluate(tmp_path / "logs.csv", ColumnSpec(label="y", prediction="yhat"), options=OPTIONS,
             progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1000, None), (1500, None)]


def test_a_policy_is_checked(dataset: Path) -> None:
    policy = "name: gate\nchecks:\n  - metric: accuracy\n    comparator: '>='\n    threshold: 0.99\n"
    result = evaluate(dataset, ColumnSpec(label="y", prediction="yhat"), policy=policy, options=OPTIONS)
    assert [c["metric"] for c in result.checks] == ["accuracy"]
    assert result.passed is False and result.to_dict()["passed"] is False


def test_a_bad_policy_fails_before_any_data_is_read(tmp_path: Path) -> None:
    policy = "name: gate\nchecks:\n  - metric: acuracy\n    comparator: '>='\n    threshold: 0.9\n"
    with pytest.raises(EvaluationError) as error:
        evaluate(tmp_path / "missing.parquet", ColumnSpec(label="y", prediction="yhat"), policy=policy)
    assert "acuracy" in str(error.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"engine": "spark"}, "engine must be 'local' or 'ray', got 'spark'"),
    ({"workers": 0}, "workers must be 1 or more, got 0"),
    ({"options": Options(partition_rows=0)}, "options.partition_rows must be 1 or more, got 0"),
    ({"spec": ColumnSpec(label="y")}, "the column spec names a label ('y') but no prediction column"),
    ({"spec": ColumnSpec(prediction="yhat", sensitive=("sex",))},
     "fairness by sex needs a label and a prediction column"),
    ({"spec": ColumnSpec(prediction="yhat")},
     "nothing to evaluate: name a label and a prediction column, or give a reference for drift"),
    ({"reference": "ref", "options": Options(drift_window="7D"), "spec": ColumnSpec(label="y", prediction="yhat")},
     "drift windows (7D) need a timestamp column in the spec")])
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"spec": ColumnSpec(label="y", prediction="yhat"), **kwargs}
    with pytest.raises(EvaluationError) as error:
        evaluate(logs(100), **arguments)
    assert str(error.value) == message


def test_a_drift_column_whose_type_changes() -> None:
    reference = pa.Table.from_pandas(logs(200), preserve_index=False)
    current = reference.set_column(reference.schema.get_field_index("age"), "age",
                                   reference["age"].cast(pa.string()))
    with pytest.raises(EvaluationError) as error:
        evaluate(current, ColumnSpec(label="y", prediction="yhat", features=("age",)), reference=reference)
    assert str(error.value) == "column 'age' is double in the reference data but string in the current data"


def test_a_feature_of_a_type_drift_cannot_compare() -> None:
    with pytest.raises(EvaluationError) as error:
        evaluate(logs(200), ColumnSpec(label="y", prediction="yhat", features=("ts",)), reference={
            "ts": np.array(["2024-01-01"], dtype="datetime64[s]"), "yhat": np.array([1])})
    assert str(error.value) == ("feature column 'ts' has type timestamp[s]: drift compares numbers, booleans "
                                "or strings")


def test_bad_rows_are_reported_from_the_partition_they_are_in() -> None:
    frame = logs(3000)
    frame.loc[2500, "y"] = 7
    with pytest.raises(EvaluationError) as error:
        evaluate(frame, ColumnSpec(label="y", prediction="yhat", task="binary"), options=OPTIONS)
    assert str(error.value) == "label column 'y' has 1 value(s) outside {0, 1}: 7"


@pytest.mark.parametrize("engine, workers", [("local", 2), ("ray", 1)])
def test_a_bad_row_read_by_a_worker_is_reported_as_itself(engine: str, workers: int, tmp_path: Path,
                                                            request: pytest.FixtureRequest) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_module")
    frame = logs(3000)
    frame.loc[2500, "y"] = 7
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "a.parquet", row_group_size=1000)
    with pytest.raises(EvaluationError) as error:
        evaluate(tmp_path, ColumnSpec(label="y", prediction="yhat", task="binary"), options=OPTIONS,
                 engine=engine, workers=workers)  # type: ignore[arg-type]
    assert str(error.value) == "label column 'y' has 1 value(s) outside {0, 1}: 7"


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EvaluationError) as error:
        evaluate(logs(100), ColumnSpec(label="y", prediction="yhat"), engine="ray")
    assert str(error.value) == "engine 'ray' needs the ray package: pip install 'aicoe[ray]'"


def test_partition_statistics_pickle_and_merge_in_order() -> None:
    table = pa.Table.from_pandas(logs(600), preserve_index=False)
    plan = eng.Plan(SPEC, "binary", OPTIONS, None, reference=False, windows=False)
    left, right = eng.collect(eng._ipc(table.slice(0, 250)), plan), eng.collect(table.slice(250), plan)
    whole = eng.collect(table, plan)
    merged = left.merge(right)
    assert merged.rows == 600 and merged.drift is None
    assert merged.performance.finalize(OPTIONS)["overall"]["count"] == whole.performance.finalize(OPTIONS)[
        "overall"]["count"]
