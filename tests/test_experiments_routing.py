"""ABTestManager, ExperimentTracker, shadow and canary routing, ModelComparator on real models."""

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from tinytorch.core.mlops import ABTestManager, ExperimentTracker, ModelComparator
from tinytorch.core.mlops.experiments import CanaryRollout, ShadowDeployment, assign_variant
from tinytorch.core.training import train_digits_classifier


@pytest.fixture(scope="module")
def weak_model():
    return train_digits_classifier(hidden=(8,), epochs=1, seed=0)[0]


@pytest.fixture(scope="module")
def strong_model():
    return train_digits_classifier(hidden=(64,), epochs=10, seed=0)[0]


class Broken:
    def predict(self, x):
        raise RuntimeError("candidate crashed")


def make_ab_test(weak_model, strong_model, seed="exp-1"):
    ab_test = ABTestManager(seed=seed)
    ab_test.add_variant("control", weak_model, traffic_split=0.5)
    ab_test.add_variant("treatment", strong_model, traffic_split=0.5)
    return ab_test


def test_run_experiment_routes_rows_and_analyses(weak_model, strong_model, digits):
    X, y = digits.train
    results = make_ab_test(weak_model, strong_model).run_experiment((X, y))
    variants = np.array([assign_variant("exp-1", i, {"control": 0.5, "treatment": 0.5}) for i in range(len(X))])
    for name, model in (("control", weak_model), ("treatment", strong_model)):
        rows = variants == name
        assert results.exposures[name] == rows.sum()
        assert results.means[name]["accuracy"] == pytest.approx((model.predict(X[rows]) == y[rows]).mean())
    accuracy = results.comparison("accuracy", "treatment")
    assert accuracy.absolute_lift.low > 0 and accuracy.p_value < 1e-6 and accuracy.relative_lift.low > 0
    assert not results.srm.mismatch
    assert results.decision == "ship" and results.winner == "treatment"
    assert "decision: ship" in str(results)


def test_seed_api_with_80_20_split_and_given_unit_ids(weak_model, strong_model, digits):
    X, y = digits.test
    ab_test = ABTestManager(seed="exp-1")
    ab_test.add_variant("control", weak_model, traffic_split=0.8)
    ab_test.add_variant("treatment", strong_model, traffic_split=0.2)
    ids = [f"user-{i}" for i in range(len(X))]
    results = ab_test.run_experiment((X, y), unit_ids=ids)
    assert sum(results.exposures.values()) == len(X)
    assert results.exposures["treatment"] == sum(assign_variant("exp-1", u, ab_test.weights) == "treatment" for u in ids)
    with pytest.raises(ValueError, match="one id per row"):
        ab_test.run_experiment((X, y), unit_ids=ids[:-1])


def test_route_and_predict_are_sticky_and_serve_the_variant_model(weak_model, strong_model, digits):
    X, _ = digits.test
    ab_test = make_ab_test(weak_model, strong_model)
    for unit in ("alice", "bob", 17):
        name, model = ab_test.route(unit)
        assert ab_test.route(unit)[0] == name and model is ab_test.models[name]
        assert ab_test.predict(unit, X[0]) == model.predict(X[:1])[0]
        np.testing.assert_array_equal(ab_test.predict(unit, X[:5]), model.predict(X[:5]))
    assert sum(ab_test.tracker.exposures().values()) == 3  # repeat requests count once


def test_invalid_experiments_get_clear_errors(weak_model, strong_model):
    ab_test = ABTestManager(seed="e")
    ab_test.add_variant("control", weak_model, traffic_split=0.8)
    with pytest.raises(ValueError, match="at least two variants"):
        ab_test.route("u")
    ab_test.add_variant("treatment", strong_model, traffic_split=0.3)
    with pytest.raises(ValueError, match="sum to 1.100000"):
        ab_test.route("u")
    with pytest.raises(ValueError, match="unique"):
        ab_test.add_variant("control", weak_model, traffic_split=0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ab_test.add_variant("other", weak_model, traffic_split=1.5)
    with pytest.raises(TypeError, match="predict"):
        ab_test.add_variant("other", object(), traffic_split=0.1)
    with pytest.raises(ValueError, match=r"pair \(X, y\)"):
        make_ab_test(weak_model, strong_model).run_experiment(np.zeros((3, 64)))


def test_units_outside_coverage_get_control_and_are_not_recorded(weak_model, strong_model):
    ab_test = ABTestManager(seed="cov", coverage=0.3)
    ab_test.add_variant("control", weak_model, traffic_split=0.5)
    ab_test.add_variant("treatment", strong_model, traffic_split=0.5)
    outside = [u for u in range(200) if ab_test.assign(u) is None]
    assert 100 < len(outside) < 180
    for u in outside:
        assert ab_test.route(u) == ("control", weak_model)
    assert sum(ab_test.tracker.exposures().values()) == 0


def test_shadow_sees_traffic_but_its_answers_are_discarded(weak_model, strong_model, digits):
    X, y = digits.test
    ab_test = ABTestManager(seed="s")
    ab_test.add_variant("control", strong_model, traffic_split=1.0)
    ab_test.add_variant("treatment", strong_model, traffic_split=0.0)
    shadow = ab_test.add_shadow(weak_model)
    served = np.array([ab_test.predict(i, X[i]) for i in range(100)])
    np.testing.assert_array_equal(served, strong_model.predict(X[:100]))
    assert shadow.requests == 100 and len(shadow.latencies_ms) == 100
    assert shadow.agreement_rate == pytest.approx((weak_model.predict(X[:100]) == served).mean())


def test_a_crashing_shadow_never_breaks_serving(strong_model, digits):
    X, _ = digits.test
    deployment = ShadowDeployment(strong_model, Broken())
    np.testing.assert_array_equal(deployment.predict(X[:4]), strong_model.predict(X[:4]))
    assert deployment.errors == 1 and np.isnan(deployment.agreement_rate)


def test_canary_steps_only_add_units(weak_model, strong_model, digits):
    X, _ = digits.test
    rollout = CanaryRollout(weak_model, strong_model, steps=(0.05, 0.25, 1.0), seed="canary-v2")
    ids = [f"u{i}" for i in range(20_000)]
    in_canary = []
    for expected in (0.05, 0.25, 1.0):
        assert rollout.percentage == expected
        in_canary.append({u for u in ids if rollout.route(u)[0] == "canary"})
        assert abs(len(in_canary[-1]) / len(ids) - expected) < 0.01
        if expected < 1.0:
            rollout.advance()
    assert in_canary[0] <= in_canary[1] <= in_canary[2]
    with pytest.raises(RuntimeError, match="last step"):
        rollout.advance()
    arm, model = rollout.route("u1")
    assert rollout.predict("u1", X[0]) == model.predict(X[:1])[0]


def test_canary_rolls_back_when_a_guardrail_fails(weak_model, strong_model):
    rollout = CanaryRollout(weak_model, strong_model)
    rollout.tracker.add_guardrail("error_rate", max_regression=0.10, statistic="mean")
    rollout.tracker.log_metric("stable", "error_rate", [0.02] * 50)
    rollout.tracker.log_metric("canary", "error_rate", [0.05] * 50)
    assert rollout.advance() == 0.0 and rollout.rolled_back
    assert all(rollout.route(f"u{i}")[0] == "stable" for i in range(200))
    assert rollout.history[-1][0].startswith("rollback: error_rate")
    with pytest.raises(RuntimeError, match="rolled back"):
        rollout.advance()
    with pytest.raises(ValueError, match="increasing"):
        CanaryRollout(weak_model, strong_model, steps=(0.5, 0.25))


def test_tracker_guardrails_on_p99_latency():
    tracker = ExperimentTracker({"control": 0.5, "treatment": 0.5})
    tracker.add_guardrail("latency_ms", max_regression=0.10)
    tracker.log_metric("control", "latency_ms", np.arange(1, 101, dtype=float))     # p99 = 99.01
    tracker.log_metric("treatment", "latency_ms", np.arange(1, 101, dtype=float) * 1.05)
    [ok] = tracker.check_guardrails()
    assert ok.passed and ok.change == pytest.approx(0.05)
    tracker.log_metric("treatment", "latency_ms", [500.0] * 5)
    [bad] = tracker.check_guardrails()
    assert not bad.passed and bad.statistic == "p99"
    for i in range(20):
        tracker.log_exposure("control" if i % 2 else "treatment", i)
    assert tracker.analyze().decision == "guardrail_failed"


def test_tracker_analysis_flags_srm_and_health_problems():
    tracker = ExperimentTracker({"control": 0.5, "treatment": 0.5})
    for i in range(5000):
        tracker.log_exposure("control", f"c{i}")
    for i in range(4500):
        tracker.log_exposure("treatment", f"t{i}")
    tracker.log_exposure("treatment", "c1")  # one unit saw both variants
    tracker.log_conversion("control", "converted", [1, 0] * 50)
    tracker.log_conversion("treatment", "converted", [1, 1, 0] * 40)
    analysis = tracker.analyze()
    assert analysis.srm.mismatch and analysis.decision == "invalid_srm"
    assert any("more than one variant" in w for w in analysis.warnings)


def test_tracker_rejects_bad_records():
    tracker = ExperimentTracker({"control": 0.5, "treatment": 0.5})
    with pytest.raises(ValueError, match="unknown variant"):
        tracker.log_exposure("other", 1)
    with pytest.raises(ValueError, match="0/1"):
        tracker.log_conversion("control", "clicked", [0, 2])
    tracker.log_conversion("control", "clicked", [0, 1])
    with pytest.raises(ValueError, match="logged as binary"):
        tracker.log_metric("control", "clicked", 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        tracker.log_metric("control", "latency_ms", float("nan"))
    with pytest.raises(ValueError, match="statistic"):
        tracker.add_guardrail("latency_ms", 0.1, statistic="p42")
    assert tracker.values("control", "clicked").tolist() == [0.0, 1.0]  # bad input lost nothing


def test_model_comparator_paired_test(weak_model, strong_model, digits):
    X, y = digits.test
    result = ModelComparator(weak_model, strong_model).compare(X, y, seed=3)
    correct_a, correct_b = weak_model.predict(X) == y, strong_model.predict(X) == y
    assert result.accuracy_a == pytest.approx(correct_a.mean()) and result.accuracy_b == pytest.approx(correct_b.mean())
    table = [[np.sum(correct_a & correct_b), result.only_a_correct], [result.only_b_correct, np.sum(~correct_a & ~correct_b)]]
    expected = mcnemar(table, exact=result.method == "exact", correction=True)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    d = result.difference
    assert d.estimate == pytest.approx(correct_b.mean() - correct_a.mean())
    assert d.low < d.estimate < d.high and result.significant
    assert ModelComparator(weak_model, strong_model).compare(X, y, seed=3).difference == d  # seeded


def test_model_comparator_on_identical_models(strong_model, digits):
    X, y = digits.test
    result = ModelComparator(strong_model, strong_model).compare(X, y)
    assert result.difference.estimate == 0 and result.p_value == 1.0 and not result.significant
    with pytest.raises(ValueError, match="X \\(n, features\\)"):
        ModelComparator(strong_model, strong_model).compare(X[:, :10][None], y)
