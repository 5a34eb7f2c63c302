"""DriftDetector: test choice, edge cases, calibration, power, report and plot."""

import numpy as np
import pytest
import scipy.stats

from tinytorch.core.mlops import DriftDetector
from tinytorch.core.mlops.drift import DriftReport, plot_drift


def test_test_choice_follows_evidently():
    rng = np.random.default_rng(0)
    small = {"x": rng.normal(size=500), "few": rng.integers(0, 3, 500), "cat": np.array(["a", "b"] * 250, dtype=object)}
    report = DriftDetector(small).detect_drift(small)
    assert [f.test for f in report.features] == ["ks", "chi_square", "chi_square"]
    big = {k: np.tile(v, 3) for k, v in small.items()}
    report = DriftDetector(big).detect_drift(big)
    assert [f.test for f in report.features] == ["wasserstein", "jensen_shannon", "jensen_shannon"]
    assert all(f.p_value is None and f.threshold == 0.1 for f in report.features)
    assert {f.test for f in DriftDetector(big, method="psi").detect_drift(big).features} == {"psi"}


def test_ks_feature_equals_scipy_and_report_is_usable_in_if():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(400, 2)), rng.normal(size=(300, 2)) + [0.6, 0.0]
    report = DriftDetector(ref, feature_names=["moved", "still"]).detect_drift(cur)
    assert report["moved"].p_value == pytest.approx(scipy.stats.ks_2samp(ref[:, 0], cur[:, 0]).pvalue, abs=1e-6)
    assert report["moved"].drifted and not report["still"].drifted
    assert report.share_drifted == 0.5 and report  # 1 of 2 >= drift_share 0.5
    assert not DriftDetector(ref, drift_share=0.75).detect_drift(cur)
    assert report.to_dict()["number_drifted"] == 1 and "moved" in str(report)


def test_nan_constant_and_unseen_categories_have_defined_verdicts():
    rng = np.random.default_rng(2)
    ref = {"const": np.ones(300), "nan": rng.normal(size=300), "cat": np.array(["a", "b", "c"] * 100, dtype=object),
           "empty": rng.normal(size=300)}
    cur = {"const": np.ones(200), "nan": np.r_[rng.normal(size=150), np.full(50, np.nan)],
           "cat": np.array(["a", "z"] * 100, dtype=object), "empty": np.full(200, np.nan)}
    report = DriftDetector(ref).detect_drift(cur)
    for feature in report.features:
        assert isinstance(feature.drifted, bool)
        assert np.isfinite(feature.statistic) and (feature.p_value is None or np.isfinite(feature.p_value))
    assert report["const"].test == "chi_square" and not report["const"].drifted
    assert "constant in reference" in report["const"].note
    assert report["nan"].drifted and "missing share rose" in report["nan"].note  # 25 % > 0 % + 10 %
    assert report["cat"].drifted and "unseen in reference: z" in report["cat"].note
    assert report["empty"].drifted and "all missing" in report["empty"].note
    # a constant column that changes value is drift, not NaN
    assert DriftDetector({"c": np.ones(300)}).detect_drift({"c": np.full(300, 2.0)})["c"].drifted


def test_corrections_change_thresholds_not_statistics():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(300, 10))
    cur = rng.normal(size=(300, 10)) + np.r_[0.25, np.zeros(9)]
    plain = DriftDetector(ref).detect_drift(cur)
    bonf = DriftDetector(ref, correction="bonferroni").detect_drift(cur)
    bh = DriftDetector(ref, correction="benjamini-hochberg").detect_drift(cur)
    assert [f.p_value for f in plain.features] == [f.p_value for f in bonf.features]
    assert bonf.features[0].threshold == pytest.approx(0.005)
    assert len(bonf.drifted_features) <= len(bh.drifted_features) <= len(plain.drifted_features)


def test_a_category_named_like_the_missing_share_note_is_judged_by_its_test():
    ref = {"c": np.array(["a", "b"] * 200)}
    cur = {"c": np.array(["a", "b"] * 199 + ["missing share rose"] * 2)}
    feature = DriftDetector(ref, categorical=["c"], correction="bonferroni").detect_drift(cur)["c"]
    assert feature.p_value > feature.threshold and not feature.drifted


def test_bad_input_gets_clear_errors():
    ref = np.zeros((10, 2))
    with pytest.raises(ValueError, match="feature_names"):
        DriftDetector(ref, feature_names=["only_one"])
    with pytest.raises(ValueError, match="unknown drift test"):
        DriftDetector(ref, method="t-test")
    with pytest.raises(ValueError, match="correction"):
        DriftDetector(ref, correction="holm-ish")
    with pytest.raises(ValueError, match="lacks features"):
        DriftDetector({"a": [1.0, 2.0]}).detect_drift({"b": [1.0, 2.0]})


def test_calibration_false_positive_rate_small_version():
    """300 seeded no-drift trials (the 1,000-trial version is in benchmarks/drift.py)."""
    rng = np.random.default_rng(4)
    flags = 0
    trials, features = 300, 4
    for _ in range(trials):
        ref, cur = rng.normal(size=(200, features)), rng.normal(size=(200, features))
        flags += len(DriftDetector(ref).detect_drift(cur).drifted_features)
    rate = flags / (trials * features)
    assert 0.03 <= rate <= 0.07, rate


def test_power_small_shift_on_5000_rows():
    rng = np.random.default_rng(5)
    detected = sum(
        bool(DriftDetector(rng.normal(size=(5000, 1))).detect_drift(rng.normal(0.2, 1, (5000, 1))))
        for _ in range(40)
    )
    assert detected >= 38  # >= 95 %


def test_plot_drift_returns_figure_with_drifted_panels():
    rng = np.random.default_rng(6)
    ref = {"x": rng.normal(size=300), "c": np.array(["a", "b", "c"] * 100, dtype=object), "ok": rng.normal(size=300)}
    cur = {"x": rng.normal(1, 1, 300), "c": np.array(["a", "d", "d"] * 100, dtype=object), "ok": rng.normal(size=300)}
    report = DriftDetector(ref).detect_drift(cur)
    figure = plot_drift(report, ref, cur)
    assert len(figure.axes) == len(report.drifted_features) == 2
    assert isinstance(report, DriftReport)
    calm = DriftDetector(ref).detect_drift(ref)
    assert "No drift" in plot_drift(calm, ref, ref).axes[0].texts[0].get_text()
