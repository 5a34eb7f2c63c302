"""Model registry (module 01): behaviour with real tinytorch models and real files."""

import dataclasses
import hashlib
import json
import os
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinytorch.core.compression import quantize_model
from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import (
    AliasHistory, ArtifactIntegrityError, InvalidNameError, ModelRegistry, ModelVersion,
    SignatureMismatchError, TamperedRecordError, VersionExistsError, VersionNotFoundError,
    allocate_version, atomic_write_bytes, compare_metrics, content_hash, parse_metric_filter,
    plot_version_metrics, validate_name,
)
from tinytorch.core.training import accuracy, train_digits_classifier

HOSTILE_NAMES = ["../x", "../../etc/passwd", "/abs/path", "a/b", "", ".", "..", "a\x00b",
                 "x" * 300, " leading-space", "tab\tname", "-starts-with-dash"]


@pytest.fixture(scope="module")
def trained(digits):
    model, _ = train_digits_classifier(hidden=(32,), epochs=15, seed=0)
    return model


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "production")


def test_content_hash_is_sha256_hex():
    assert content_hash(b"tinytorch") == hashlib.sha256(b"tinytorch").hexdigest()
    with pytest.raises(TypeError, match="bytes"):
        content_hash("text")


def test_atomic_write_replaces_whole_file_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "meta.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")
    assert target.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_seed_usage_trained_and_compressed_models(registry, trained, digits):
    X, y = digits.test
    v1 = registry.register_model(trained, version="1.0.0",
                                 metrics={"accuracy": accuracy(trained.predict(X), y)})
    compressed = quantize_model(trained)
    v2 = registry.register_model(compressed, version="2.0.0", parent_version="1.0.0",
                                 metrics={"accuracy": accuracy(compressed.predict(X), y)})
    comparison = registry.compare_models("1.0.0", "2.0.0", sample=X[:32])
    assert comparison.a == v1 and comparison.b == v2
    assert comparison.metrics["accuracy"]["delta"] == pytest.approx(
        v2.metrics["accuracy"] - v1.metrics["accuracy"])
    assert comparison.size_bytes["b"] < comparison.size_bytes["a"]
    assert comparison.latency_seconds["a"] > 0 and comparison.latency_seconds["b"] > 0
    assert "accuracy" in str(comparison)
    reloaded = registry.load_model("2.0.0")
    np.testing.assert_array_equal(reloaded.predict(X), compressed.predict(X))
    assert registry.get_version("2.0.0").lineage.parent_version == "1.0.0"


def test_versions_auto_increment_per_model_name(registry):
    model = mlp((64, 8, 10), seed=0)
    assert [registry.register_model(model).version for _ in range(3)] == ["1", "2", "3"]
    registry.register_model(model, version="1.0.0")
    assert registry.register_model(model).version == "4"  # "1.0.0" is not a number
    assert registry.register_model(model, name="other").version == "1"
    assert registry.list_models() == ["model", "other"]
    assert [r.version for r in registry.list_versions()] == ["1", "2", "3", "1.0.0", "4"]


def test_registering_an_existing_version_is_refused_and_loses_nothing(registry):
    first = registry.register_model(mlp((64, 8, 10), seed=0), version="1.0.0",
                                    metrics={"accuracy": 0.9})
    with pytest.raises(VersionExistsError, match="1.0.0.*immutable"):
        registry.register_model(mlp((64, 8, 10), seed=1), version="1.0.0")
    assert registry.get_version("1.0.0") == first
    np.testing.assert_array_equal(registry.load_model("1.0.0").tensors()["0.weight"],
                                  mlp((64, 8, 10), seed=0).tensors()["0.weight"])


def test_identical_weights_are_stored_once(registry):
    a = registry.register_model(mlp((64, 8, 10), seed=0))
    b = registry.register_model(mlp((64, 8, 10), seed=0), name="copy")
    c = registry.register_model(mlp((64, 8, 10), seed=1))
    assert a.sha256 == b.sha256 != c.sha256
    assert sorted(p.name for p in (registry.root / "blobs").iterdir()) == sorted({a.sha256, c.sha256})


def test_version_record_holds_metadata_lineage_and_signature(registry, digits):
    X, y = digits.train
    config = {"hidden": [8], "lr": 0.01}
    record = registry.register_model(
        mlp((64, 8, 10), seed=0), metrics={"accuracy": 0.5}, tags={"team": "vision"},
        description="baseline", training_data=(X, y), config=config)
    again = registry.get_version(record.version)
    assert again == record and isinstance(again, ModelVersion)
    assert again.params == config and again.tags == {"team": "vision"}
    assert again.signature.input_shape == (64,) and again.signature.output_shape == (10,)
    assert again.signature.dtype == "float32"
    assert len(again.lineage.data_hash) == 64 and len(again.lineage.code_hash) == 64
    other = registry.register_model(mlp((64, 8, 10), seed=0), training_data=(X[:-1], y[:-1]),
                                    config={"lr": 0.01, "hidden": [8]})
    assert other.lineage.data_hash != record.lineage.data_hash
    assert other.lineage.code_hash == record.lineage.code_hash  # key order does not matter
    assert abs(again.created.timestamp() - time.time()) < 60
    with pytest.raises(Exception):
        again.version = "9"  # records are immutable
    with pytest.raises(VersionNotFoundError, match="parent"):
        registry.register_model(mlp((64, 8, 10)), parent_version="parent")


def test_tampered_artifact_is_detected_naming_version_and_file(registry):
    record = registry.register_model(mlp((64, 8, 10), seed=0), version="1.0.0")
    blob = registry.root / "blobs" / record.sha256
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError) as error:
        registry.load_model("1.0.0")
    assert "1.0.0" in str(error.value) and str(blob) in str(error.value)
    blob.unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        registry.load_model("1.0.0")


def test_signature_is_checked_on_load_and_on_input(registry):
    record = registry.register_model(mlp((64, 8, 10), seed=0))
    with pytest.raises(SignatureMismatchError, match=r"\(n, 64\)"):
        record.signature.check_input(np.zeros((2, 32), np.float32))
    record.signature.check_input(np.zeros((2, 64), np.float32))
    wrong = dataclasses.replace(record.signature, output_shape=(3,))
    with pytest.raises(SignatureMismatchError, match=r"returns \(10,\) .* registered with"):
        wrong.check_model(registry.load_model(record.version))
    path = registry.root / "models" / "model" / "versions" / f"{record.version}.json"
    meta = json.loads(path.read_bytes())
    meta["signature"]["output_shape"] = [3]
    path.write_bytes(json.dumps(meta).encode())
    with pytest.raises(TamperedRecordError, match="fields changed since registration: signature"):
        registry.load_model(record.version)  # an edited signature never reaches the check


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_names_are_refused_with_a_clear_error(tmp_path, hostile):
    registry = ModelRegistry(tmp_path / "reg")
    model = mlp((64, 8, 10), seed=0)
    before = sorted(tmp_path.rglob("*"))
    for call in (lambda: registry.register_model(model, name=hostile),
                 lambda: registry.register_model(model, version=hostile),
                 lambda: registry.load_model(hostile),
                 lambda: registry.set_alias(hostile, "1")):
        with pytest.raises(InvalidNameError, match="name|version|alias|empty|long") as error:
            call()
        assert "not allowed" in str(error.value) or "empty" in str(error.value) \
            or "limit" in str(error.value)
    with pytest.raises(InvalidNameError):
        ModelRegistry(tmp_path / "other", default_name=hostile)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_validate_name_accepts_ordinary_names():
    for ok in ["digits", "digits-mlp_v2", "1.0.0", "2.1.0+cpu", "Champion"]:
        assert validate_name(ok) == ok
    with pytest.raises(InvalidNameError, match="string"):
        validate_name(3)


def test_allocate_version_numbers_and_explicit_versions(tmp_path):
    versions = tmp_path / "versions"
    assert [allocate_version(versions) for _ in range(3)] == ["1", "2", "3"]
    assert allocate_version(versions, "1.0.0") == "1.0.0"
    assert allocate_version(versions) == "4"
    with pytest.raises(FileExistsError, match="already exists"):
        allocate_version(versions, "2")


def test_alias_set_rollback_and_time_travel(registry):
    for seed in range(3):
        registry.register_model(mlp((64, 8, 10), seed=seed), metrics={"accuracy": 0.8 + seed / 10})
    registry.set_alias("champion", "1")
    t1 = time.time()
    time.sleep(0.01)
    registry.set_alias("champion", "2")
    registry.set_alias("challenger", "3")
    t2 = time.time()
    time.sleep(0.01)
    registry.set_alias("champion", "3")
    assert registry.aliases() == {"champion": "3", "challenger": "3"}
    assert registry.alias_at("champion", t1) == "1"
    assert registry.alias_at("champion", t2) == "2"
    assert registry.alias_at("champion", t1 - 3600) is None
    assert registry.rollback("champion").version == "2"
    assert registry.rollback("champion").version == "1"
    with pytest.raises(VersionNotFoundError, match="no earlier target"):
        registry.rollback("champion")
    assert registry.get_alias("champion").version == "1"
    assert registry.alias_at("champion", t2) == "2"  # history is never rewritten
    assert [e["action"] for e in registry.alias_history("champion")] == \
        ["set", "set", "set", "rollback", "rollback"]
    np.testing.assert_array_equal(
        registry.load_model("models:/model@champion").tensors()["0.weight"],
        mlp((64, 8, 10), seed=0).tensors()["0.weight"])
    with pytest.raises(VersionNotFoundError, match="no version"):
        registry.set_alias("champion", "99")
    with pytest.raises(VersionNotFoundError, match="no alias 'prod'"):
        registry.get_alias("prod")


def test_deleting_a_version_removes_its_aliases_and_records_it(registry):
    for seed in range(3):
        registry.register_model(mlp((64, 8, 10), seed=seed))
    registry.register_model(mlp((64, 8, 10), seed=0), name="twin")  # shares version 1's blob
    registry.set_alias("champion", "1")
    registry.set_alias("champion", "2")
    registry.set_alias("champion", "3")
    registry.set_alias("challenger", "3")
    assert sorted(registry.delete_version("3")) == ["challenger", "champion"]
    assert registry.aliases() == {}
    assert [e["action"] for e in registry.alias_history("champion")][-1] == "remove_version"
    assert registry.rollback("champion").version == "2"
    registry.delete_version("2")
    assert registry.rollback("champion").version == "1"  # never a deleted version
    shared = registry.get_version("1").sha256
    registry.delete_version("1")
    assert (registry.root / "blobs" / shared).exists()  # still used by "twin"
    assert registry.load_model(name="twin") is not None
    assert len(list((registry.root / "blobs").iterdir())) == 1
    with pytest.raises(VersionNotFoundError):
        registry.get_version("3")


def test_alias_history_skips_a_torn_line_and_keeps_appending(tmp_path):
    history = AliasHistory(tmp_path / "aliases.jsonl")
    history.set("champion", "1", when=10)
    with open(history.path, "ab") as f:
        f.write(b'{"alias": "champion", "action": "se')  # a writer killed mid-line
    history.set("champion", "2", when=20)
    assert history.current("champion") == "2" and history.at("champion", 15) == "1"
    assert len(history.history()) == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["1", "2", "3", "4"]), min_size=1, max_size=12))
def test_alias_at_each_time_answers_what_was_set(tmp_path_factory, targets):
    history = AliasHistory(tmp_path_factory.mktemp("alias") / "aliases.jsonl")
    for step, version in enumerate(targets):
        history.set("champion", version, when=step)
    for step, version in enumerate(targets):
        assert history.at("champion", step + 0.5) == version
    distinct = [v for i, v in enumerate(targets) if i == 0 or targets[i - 1] != v]
    for expected in reversed(distinct[:-1]):
        assert history.rollback("champion") == expected
    with pytest.raises(LookupError):
        history.rollback("champion")


def test_compare_metrics_reports_deltas_and_missing_metrics():
    result = compare_metrics({"accuracy": 0.5, "loss": 1.0}, {"accuracy": 0.75, "latency_ms": 2})
    assert result == {
        "accuracy": {"a": 0.5, "b": 0.75, "delta": 0.25},
        "latency_ms": {"a": None, "b": 2, "delta": None},
        "loss": {"a": 1.0, "b": None, "delta": None},
    }


def test_compare_models_reports_param_differences(registry):
    registry.register_model(mlp((64, 8, 10), seed=0), params={"hidden": 8, "lr": 0.01})
    registry.register_model(mlp((64, 16, 10), seed=0), params={"hidden": 16, "lr": 0.01})
    comparison = registry.compare_models("1", "2")
    assert comparison.params == {"hidden": (8, 16)}
    assert comparison.num_parameters["b"] > comparison.num_parameters["a"]
    assert comparison.latency_seconds is None


def test_search_by_tags_and_metric_filters(registry):
    for seed, (acc, team) in enumerate([(0.90, "a"), (0.96, "a"), (0.97, "b")]):
        registry.register_model(mlp((64, 8, 10), seed=seed), metrics={"accuracy": acc},
                                tags={"team": team})
    registry.register_model(mlp((64, 8, 10), seed=9), name="other", metrics={"accuracy": 0.99})
    found = lambda **kw: [r.version for r in registry.search_versions(**kw)]  # noqa: E731
    assert found(metrics="accuracy>=0.95") == ["2", "3"]
    assert found(tags={"team": "a"}, metrics=["accuracy > 0.9"]) == ["2"]
    assert found(metrics=["loss<1"]) == []
    assert len(registry.search_versions(name="*", metrics="accuracy>=0.95")) == 3
    assert parse_metric_filter(" accuracy >= 1e-3 ") == ("accuracy", ">=", 0.001)
    with pytest.raises(ValueError, match="accuracy>=0.95"):
        registry.search_versions(metrics="accuracy is high")


def test_plot_version_metrics_marks_the_champion_history(registry):
    for seed, acc in enumerate([0.90, 0.95, 0.93]):
        registry.register_model(mlp((64, 8, 10), seed=seed), metrics={"accuracy": acc})
    for version in ["1", "2", "3"]:
        registry.set_alias("champion", version)
    registry.rollback("champion")
    fig = plot_version_metrics(registry, "model", "accuracy")
    by_version, over_time = fig.axes
    np.testing.assert_allclose(by_version.lines[0].get_ydata(), [0.90, 0.95, 0.93])
    np.testing.assert_allclose(over_time.lines[0].get_ydata(), [0.90, 0.95, 0.93, 0.95])
    assert "champion now (v2)" in [t.get_text() for t in by_version.get_legend().get_texts()]
