"""Continuous learning, piece by piece: validation and quarantine, triggers, the data mix, the
gate, the rollback rule, the audit log, the writer-drift transform, and the learner's contract
(refusing a worse challenger, the first run without a champion, nothing bad reaching training)."""

import json

import numpy as np
import pytest

from tinytorch.core.layers import mlp
from tinytorch.core.mlops import ContinuousLearner, DataPipeline
from tinytorch.core.mlops.continuous import (
    AuditLog, GatePolicy, RetrainConfig, RetrainPolicy, RollbackPolicy, StreamStatus,
    challenger_passes_gate, new_writers, replay_mix, should_retrain, should_rollback,
    slant_images, split_holdout, starting_point,
)
from tinytorch.core.mlops.registry import ModelRegistry
from tinytorch.core.training import train_digits_classifier


@pytest.fixture(scope="module")
def champion(digits):
    return train_digits_classifier(seed=0)[0]


# -- DataPipeline ------------------------------------------------------------------------------

def bad_batch():
    good = np.full((2, 64), 0.5, np.float32)
    good[1, 0] = 0.25
    rows = [good[0], good[1], np.r_[np.nan, good[0][1:]], np.r_[np.inf, good[0][1:]],
            np.r_[16.0, good[0][1:]], good[0][:63], ["x"] * 64, good[0] * 0.1, good[0] * 0.2,
            good[0] * 0.3, good[0], good[0] * 0.4]
    labels = [1, 2, 3, 4, 5, 6, 7, 10, -1, "a", 8, 3.5]
    return rows, labels


def test_pipeline_quarantines_each_bad_row_with_its_reason(tmp_path):
    pipeline = DataPipeline(quarantine_path=tmp_path / "quarantine.jsonl")
    rows, labels = bad_batch()
    batch = pipeline.process(rows, labels)
    assert batch.X.shape == (2, 64) and batch.X.dtype == np.float32
    assert batch.y.tolist() == [1, 2] and batch.y.dtype == np.int64
    reasons = {q.row: q.reason for q in batch.quarantined}
    assert sorted(reasons) == list(range(2, 12)), "every bad row is quarantined, none dropped"
    assert reasons[2].startswith("non_finite: nan in feature 0")
    assert reasons[3].startswith("non_finite: inf")
    assert reasons[4] == "out_of_range: 16 in feature 0 is outside [0, 1]"
    assert reasons[5] == "shape: expected 64 values, got 63"
    assert reasons[6].startswith("not_numeric")
    assert all(reasons[i].startswith("bad_label") for i in (7, 8, 9, 11))
    assert reasons[10].startswith("duplicate")
    assert batch.counts == {"accepted": 2, "non_finite": 2, "out_of_range": 1, "shape": 1,
                            "not_numeric": 1, "bad_label": 4, "duplicate": 1}
    assert len(batch.y) + len(batch.quarantined) == len(rows)
    lines = [json.loads(line) for line in (tmp_path / "quarantine.jsonl").read_text().splitlines()]
    assert [line["row"] for line in lines] == list(range(2, 12))
    assert lines[0]["features"][0] == "nan" and lines[0]["label"] == 3


def test_pipeline_finds_duplicates_across_batches_and_totals_counts():
    pipeline = DataPipeline()
    X = np.random.default_rng(0).uniform(0, 1, (5, 64)).astype(np.float32)
    first = pipeline.process(X, [0, 1, 2, 3, 4])
    second = pipeline.process(np.vstack([X[2:4], X[:1] * 0.5]), [2, 3, 9])
    assert len(first.y) == 5 and second.y.tolist() == [9]
    assert [q.row for q in second.quarantined] == [0, 1]
    assert {q.batch for q in second.quarantined} == {1}
    assert pipeline.counts == {"accepted": 6, "duplicate": 2}
    assert len(pipeline.quarantine) == 2


def test_pipeline_refuses_a_batch_whose_labels_do_not_pair_with_rows():
    with pytest.raises(ValueError, match="one label per row; got 3 rows and 2 labels"):
        DataPipeline().process(np.zeros((3, 64)), [1, 2])


def test_bad_rows_never_reach_the_training_buffer(champion, digits, tmp_path):
    learner = ContinuousLearner(champion, tmp_path / "registry", golden=digits.val)
    rows, labels = bad_batch()
    batch = learner.add_training_data(rows, labels)
    assert learner.buffer_X.shape == (2, 64) and learner.new_samples == 2
    np.testing.assert_array_equal(learner.buffer_X, batch.X)
    assert np.isfinite(learner.buffer_X).all() and learner.buffer_X.max() <= 1
    event, = learner.audit.events("quarantine")
    assert event["counts"]["accepted"] == 2 and len(event["reasons"]) == 10


# -- triggers ----------------------------------------------------------------------------------

def status(**changes):
    values = dict(drift_detected=False, baseline_accuracy=0.97, recent_accuracy=0.96,
                  new_samples=500, seconds_since_retrain=10.0)
    return StreamStatus(**{**values, **changes})


@pytest.mark.parametrize("changes, reasons", [
    ({}, []),
    ({"drift_detected": True}, ["drift"]),
    ({"recent_accuracy": 0.91}, ["accuracy_decay"]),
    ({"recent_accuracy": 0.92}, []),                       # exactly at the tolerance: no decay
    ({"recent_accuracy": None}, []),
    ({"baseline_accuracy": None, "recent_accuracy": 0.1}, []),
    ({"new_samples": 2000}, ["new_data"]),
    ({"seconds_since_retrain": 1e9}, []),                  # schedule off by default
    ({"drift_detected": True, "recent_accuracy": 0.5, "new_samples": 3000},
     ["drift", "accuracy_decay", "new_data"]),
])
def test_each_trigger_fires_on_its_own_condition(changes, reasons):
    retrain, fired = should_retrain(status(**changes), RetrainPolicy(accuracy_tolerance=0.05))
    assert fired == reasons and retrain == bool(reasons)


def test_schedule_trigger_and_switching_triggers_off():
    policy = RetrainPolicy(retrain_every_seconds=60, use_drift=False, accuracy_tolerance=None)
    assert should_retrain(status(seconds_since_retrain=60), policy) == (True, ["schedule"])
    assert should_retrain(status(seconds_since_retrain=59), policy) == (False, [])
    assert should_retrain(status(drift_detected=True, recent_accuracy=0.1), policy) == (False, [])


def test_a_trigger_waits_for_enough_new_data():
    retrain, reasons = should_retrain(status(drift_detected=True, new_samples=199), RetrainPolicy())
    assert (retrain, reasons) == (False, ["drift"])
    assert should_retrain(status(drift_detected=True, new_samples=200), RetrainPolicy())[0]


# -- gate --------------------------------------------------------------------------------------

def scores(recent, golden):
    return {"recent_accuracy": recent, "golden_accuracy": golden}


def test_gate_first_run_applies_only_the_value_threshold():
    policy = GatePolicy(min_accuracy=0.8)
    result = challenger_passes_gate(scores(0.85, 0.1), None, policy)
    assert result and "first run" in result.reasons[-1]
    assert not challenger_passes_gate(scores(0.79, 0.99), None, policy)


@pytest.mark.parametrize("challenger, passed, failed", [
    (scores(0.93, 0.95), True, []),
    (scores(0.929, 0.95), False, ["improvement"]),          # below the margin
    (scores(0.95, 0.929), False, ["golden set"]),           # regressed on the golden set
    (scores(0.75, 0.99), False, ["value threshold", "improvement"]),
])
def test_gate_needs_a_margin_on_recent_data_and_no_golden_regression(challenger, passed, failed):
    result = challenger_passes_gate(challenger, scores(0.92, 0.95),
                                    GatePolicy(min_accuracy=0.8, min_improvement=0.01, golden_tolerance=0.02))
    assert result.passed is passed
    assert [r.split(":")[0] for r in result.reasons if r.endswith("failed")] == failed


# -- rollback rule ------------------------------------------------------------------------------

def test_rollback_waits_judges_and_keeps():
    policy = RollbackPolicy(min_samples=10, probation_samples=20, tolerance=0.0)
    assert should_rollback([0] * 9, [1] * 9, policy) == "wait"
    assert should_rollback([1] * 9 + [0], [1] * 10, policy) == "rollback"
    assert should_rollback([1] * 10, [1] * 10, policy) == "wait"
    assert should_rollback([1] * 20, [1] * 19 + [0], policy) == "keep"
    assert should_rollback([1] * 9 + [0], [1] * 10, RollbackPolicy(10, 20, tolerance=0.1)) == "wait"
    with pytest.raises(ValueError, match="same rows"):
        should_rollback([1, 0], [1], policy)


# -- retraining pieces --------------------------------------------------------------------------

def test_replay_mix_and_holdout_split():
    new = (np.ones((40, 2), np.float32), np.ones(40, np.int64))
    old = (np.zeros((100, 2), np.float32), np.zeros(100, np.int64))
    X, y = replay_mix(new, old, 1.0, seed=0)
    assert len(y) == 80 and y.sum() == 40
    assert len(replay_mix(new, old, 0.5, seed=0)[1]) == 60
    assert len(replay_mix(new, old, 10.0, seed=0)[1]) == 140    # capped at the old data
    assert replay_mix(new, old, 0, seed=0)[1] is new[1]
    np.testing.assert_array_equal(replay_mix(new, old, 1.0, seed=3)[0], replay_mix(new, old, 1.0, seed=3)[0])
    train, holdout = split_holdout(40, 0.25, seed=1)
    assert len(holdout) == 10 and sorted(np.r_[train, holdout]) == list(range(40))


def test_starting_point_copies_or_reinitialises_without_touching_the_champion(champion):
    before = [p.data.copy() for p in champion.parameters()]
    warm = starting_point(champion, "warm", seed=0)
    scratch = starting_point(champion, "scratch", seed=0)
    for a, b, c in zip(before, warm.parameters(), scratch.parameters()):
        np.testing.assert_array_equal(a, b.data)
        assert a.shape == c.data.shape
    assert not np.array_equal(before[0], scratch.parameters()[0].data)
    for a, p in zip(before, champion.parameters()):
        np.testing.assert_array_equal(a, p.data)
    with pytest.raises(ValueError, match="unknown retrain strategy"):
        RetrainConfig(strategy="finetune")
    with pytest.raises(TypeError, match="trainable Sequential"):
        starting_point(object(), "warm", seed=0)


# -- audit log ----------------------------------------------------------------------------------

def test_audit_log_is_append_only_json_lines_with_timestamps(tmp_path):
    ticks = iter([100.0, 101.5])
    log = AuditLog(tmp_path / "audit.jsonl", clock=lambda: next(ticks))
    log.record("gate", passed=False, reasons=["golden set: failed"])
    first = (tmp_path / "audit.jsonl").read_bytes()
    log.record("promotion", version="2")
    data = (tmp_path / "audit.jsonl").read_bytes()
    assert data.startswith(first) and data.count(b"\n") == 2
    gate, promotion = log.events()
    assert gate == {"at": 100.0, "time": "1970-01-01T00:01:40+00:00", "event": "gate",
                    "passed": False, "reasons": ["golden set: failed"]}
    assert promotion["at"] == 101.5 and log.events("promotion") == [promotion]


# -- the drift transform -----------------------------------------------------------------------

def test_slant_moves_top_rows_right_and_bottom_rows_left():
    image = np.zeros((1, 8, 8), np.float32)
    image[0, :, 4] = 1.0                                   # a vertical bar
    slanted = slant_images(image.reshape(1, 64), [0.5]).reshape(8, 8)
    assert [int(np.argmax(row)) for row in slanted] == [6, 5, 5, 4, 4, 3, 3, 2]
    pushed_out = slant_images(image.reshape(1, 64), [1.0]).reshape(8, 8)
    assert pushed_out[0].sum() == 0 and pushed_out.sum() == 7, "pixels shifted out are lost"
    np.testing.assert_array_equal(slant_images(image.reshape(1, 64), [0.0]), image.reshape(1, 64))


def test_new_writers_are_seeded(digits):
    X = digits.test[0][:20]
    np.testing.assert_array_equal(new_writers(X, seed=4), new_writers(X, seed=4))
    assert not np.array_equal(new_writers(X, seed=4), new_writers(X, seed=5))
    assert new_writers(X, seed=4).max() <= 0.7 + 1e-6


# -- the learner's contract ---------------------------------------------------------------------

def test_a_challenger_trained_on_corrupted_labels_is_refused(champion, digits, tmp_path):
    """A labelling vendor sends 70 % wrong labels: the retrain happens, the gate refuses it."""
    registry = ModelRegistry(tmp_path / "registry")
    learner = ContinuousLearner(champion, registry, golden=digits.val, replay=digits.train,
                                policy=RetrainPolicy(new_data_samples=300), config=RetrainConfig(epochs=15))
    X, y = digits.test
    rng = np.random.default_rng(0)
    corrupt = rng.random(len(y)) < 0.7
    labels = np.where(corrupt, (y + rng.integers(1, 10, len(y))) % 10, y)
    learner.add_training_data(X[:300], labels[:300])
    decision = learner.retrain_if_needed()
    assert decision.action == "refused" and not decision and decision.model is None
    assert "golden set" in decision.reason
    assert learner.champion is champion
    assert registry.get_alias("champion").version == "1"
    assert registry.get_alias("challenger").version == decision.version
    assert registry.get_version(decision.version).tags["gate"] == "refused"
    gate, = learner.audit.events("gate")
    assert gate["passed"] is False and gate["challenger"]["golden_accuracy"] < 0.9


def test_first_run_without_a_champion_is_gated_by_the_value_threshold(digits, tmp_path):
    untrained = mlp([64, 32, 10], seed=0)
    learner = ContinuousLearner(untrained, tmp_path / "registry", golden=digits.val, deployed=False,
                                policy=RetrainPolicy(new_data_samples=600), config=RetrainConfig(epochs=15))
    assert learner.champion is None and not learner.retrain_if_needed()
    with pytest.raises(ValueError, match="no model is deployed yet"):
        learner.predict(digits.test[0])
    learner.add_training_data(digits.train[0][:600], digits.train[1][:600])
    improved_model = learner.retrain_if_needed()
    assert improved_model and improved_model.action == "promoted"
    assert any("first run" in r for r in improved_model.gate.reasons)
    assert learner.registry.get_alias("champion").version == improved_model.version
    assert (learner.predict(digits.test[0]) == digits.test[1]).mean() > 0.85
    assert learner.previous is None, "a first deployment has nothing to roll back to"


def test_seed_usage_reads_naturally(champion, digits, tmp_path):
    learner = ContinuousLearner(champion, golden=digits.val)
    learner.add_training_data((digits.test[0][:60], digits.test[1][:60]))
    improved_model = learner.retrain_if_needed()
    assert not improved_model and improved_model.action == "none"
    assert learner.audit.events("retrain_check")[-1]["reason"] == "no trigger fired"
    with pytest.raises(ValueError, match="golden must be an"):
        ContinuousLearner(champion, golden=None)
