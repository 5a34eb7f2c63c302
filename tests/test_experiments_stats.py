"""Statistics agree with scipy and statsmodels; the SRM check catches a broken split."""

import math

import numpy as np
import pytest
import scipy.stats as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from tinytorch.core.mlops.experiments import (
    ExperimentTracker,
    assign_variant,
    mcnemar_test,
    power_two_proportions,
    proportion_diff_interval,
    relative_lift_interval,
    sample_size_two_proportions,
    srm_check,
    two_proportion_ztest,
    welch_ttest,
)
TOL = 1e-9


# Welch-Satterthwaite df runs from 1 (two values per arm) to about 10^7 (5 million per arm): the
# t quantile of the interval used to fail to converge above df ~ 10^4 (10,000 per arm crashed).
@pytest.mark.parametrize("n", [2, 3, 10, 1_000, 10_000, 100_000, 1_000_000, 5_000_000])
def test_welch_ttest_matches_scipy_from_df_1_to_10_million(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(0.0, 1.0, n), rng.normal(0.01, 1.1, n)
    ours = welch_ttest(a, b)
    theirs = st.ttest_ind(b, a, equal_var=False)
    assert ours.df == pytest.approx(theirs.df, rel=TOL)
    assert ours.t == pytest.approx(theirs.statistic, rel=TOL)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=TOL, abs=1e-300)
    interval = theirs.confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high), rel=TOL, abs=TOL)


def test_welch_ttest_at_the_df_that_crashed():
    """t_ppf(0.975, 20000) raised ArithmeticError; SciPy's value is 1.9600826."""
    rng = np.random.default_rng(0)
    ours = welch_ttest(rng.normal(size=10_000), rng.normal(size=10_000))
    assert 19_000 < ours.df < 20_000
    assert (ours.high - ours.diff) / (ours.diff / ours.t) == pytest.approx(st.t.ppf(0.975, ours.df), rel=TOL)


@pytest.mark.parametrize("conv_a, n_a, conv_b, n_b", [
    (120, 1000, 150, 1000), (5, 40, 1, 37), (4800, 50_000, 5100, 50_500), (0, 10, 3, 10), (900, 1000, 850, 1000),
])
def test_two_proportion_ztest_matches_statsmodels(conv_a, n_a, conv_b, n_b):
    z, p = two_proportion_ztest(conv_a, n_a, conv_b, n_b)
    z_sm, p_sm = proportions_ztest([conv_b, conv_a], [n_b, n_a])
    assert z == pytest.approx(z_sm, abs=TOL) and p == pytest.approx(p_sm, abs=TOL)
    diff, low, high = proportion_diff_interval(conv_a, n_a, conv_b, n_b)
    low_sm, high_sm = confint_proportions_2indep(conv_b, n_b, conv_a, n_a, method="wald", compare="diff")
    assert (low, high) == pytest.approx((low_sm, high_sm), abs=TOL)
    assert low <= diff <= high


def test_two_proportion_ztest_edge_cases_and_errors():
    assert two_proportion_ztest(10, 10, 20, 20) == (0.0, 1.0)
    with pytest.raises(ValueError, match="at least one unit"):
        two_proportion_ztest(0, 0, 1, 10)
    with pytest.raises(ValueError, match=r"in \[0, n\].*conversions_a=11 of n_a=10"):
        two_proportion_ztest(11, 10, 1, 10)


def test_welch_ttest_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(3)
    a, b = rng.normal(10.0, 1.0, 40), rng.normal(10.6, 3.0, 25)
    result = welch_ttest(a, b)
    scipy_result = st.ttest_ind(b, a, equal_var=False)
    assert result.t == pytest.approx(scipy_result.statistic, abs=TOL)
    assert result.p_value == pytest.approx(scipy_result.pvalue, abs=TOL)
    t_sm, p_sm, df_sm = ttest_ind(b, a, usevar="unequal")
    assert (result.t, result.p_value, result.df) == pytest.approx((t_sm, p_sm, df_sm), abs=TOL)
    low_sm, high_sm = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(usevar="unequal")
    assert (result.low, result.high) == pytest.approx((low_sm, high_sm), abs=TOL)
    ci = scipy_result.confidence_interval(0.95)
    assert (result.low, result.high) == pytest.approx((ci.low, ci.high), abs=TOL)


def test_welch_ttest_rejects_too_little_data():
    with pytest.raises(ValueError, match="a needs at least 2 value"):
        welch_ttest([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="constant"):
        welch_ttest([1.0, 1.0], [2.0, 2.0])


def test_relative_lift_interval_is_the_delta_method():
    lift, low, high = relative_lift_interval(0.10, 0.10 * 0.9 / 5000, 0.12, 0.12 * 0.88 / 5000)
    se = math.sqrt((0.12 * 0.88 / 5000) / 0.10**2 + 0.12**2 * (0.10 * 0.9 / 5000) / 0.10**4)
    assert lift == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.2 - st.norm.ppf(0.975) * se, 0.2 + st.norm.ppf(0.975) * se), abs=TOL)
    with pytest.raises(ValueError, match="control mean is 0"):
        relative_lift_interval(0.0, 0.01, 0.1, 0.01)


def test_relative_lift_interval_covers_the_true_lift():
    rng = np.random.default_rng(11)
    true_a, true_b, n = 0.2, 0.23, 4000
    hits = 0
    for _ in range(400):
        a, b = rng.binomial(n, true_a) / n, rng.binomial(n, true_b) / n
        _, low, high = relative_lift_interval(a, a * (1 - a) / n, b, b * (1 - b) / n)
        hits += low <= true_b / true_a - 1 <= high
    assert 0.91 <= hits / 400 <= 0.99


@pytest.mark.parametrize("counts, weights", [([5000, 5000], [0.5, 0.5]), ([812, 190], [0.8, 0.2]),
                                             ([330, 301, 402], [1, 1, 1])])
def test_srm_check_matches_scipy_chisquare(counts, weights):
    chi2, p, _ = srm_check(counts, weights)
    expected = np.array(weights) / np.sum(weights) * np.sum(counts)
    scipy_result = st.chisquare(counts, expected)
    assert (chi2, p) == pytest.approx((scipy_result.statistic, scipy_result.pvalue), abs=TOL)


def test_srm_flags_a_broken_50_50_split_of_10000_units():
    # A 50/50 experiment where 4 % of the treatment's exposures were lost (e.g. a crash in that arm).
    ids = [f"user-{i}" for i in range(10_000)]
    arms = [assign_variant("srm", u, {"control": 0.5, "treatment": 0.5}) for u in ids]
    healthy = [arms.count("control"), arms.count("treatment")]
    assert not srm_check(healthy, [0.5, 0.5]).mismatch
    broken = [healthy[0], int(healthy[1] * 0.92)]
    result = srm_check(broken, [0.5, 0.5])
    assert result.mismatch and result.p_value < 0.001


def test_srm_check_errors():
    with pytest.raises(ValueError, match="one count and one weight"):
        srm_check([10, 20], [1.0])
    with pytest.raises(ValueError, match="no units"):
        srm_check([0, 0], [0.5, 0.5])


@pytest.mark.parametrize("rate_a, rate_b, ratio", [(0.10, 0.12, 1.0), (0.5, 0.45, 2.0), (0.02, 0.025, 0.5)])
def test_power_and_sample_size_match_statsmodels(rate_a, rate_b, ratio):
    h = proportion_effectsize(rate_b, rate_a)
    power_sm = NormalIndPower().power(effect_size=h, nobs1=1500, alpha=0.05, ratio=ratio)
    assert power_two_proportions(rate_a, rate_b, 1500, ratio=ratio) == pytest.approx(power_sm, abs=TOL)
    n = sample_size_two_proportions(rate_a, rate_b, power=0.8, ratio=ratio)
    n_sm = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=ratio)
    n_zt = zt_ind_solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=ratio)
    assert n == pytest.approx(n_sm, rel=1e-6) and n == pytest.approx(n_zt, rel=1e-6)
    assert power_two_proportions(rate_a, rate_b, n, ratio=ratio) == pytest.approx(0.8, abs=1e-9)


def test_sample_size_needs_an_effect():
    with pytest.raises(ValueError, match="no effect"):
        sample_size_two_proportions(0.1, 0.1)


@pytest.mark.parametrize("b, c", [(0, 0), (3, 9), (12, 12), (7, 1), (30, 52), (150, 110)])
def test_mcnemar_matches_statsmodels(b, c):
    ours = mcnemar_test(b, c)
    table = [[40, b], [c, 50]]
    theirs = mcnemar(table, exact=ours.method == "exact", correction=True)
    assert ours.method == ("exact" if b + c < 25 else "chi2")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=TOL)


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000, 1_000_000])
def test_tracker_analyses_a_continuous_metric_at_user_sizes(n):
    """analyze() on a continuous metric crashed from about 10,000 units per arm (the t quantile)."""
    rng = np.random.default_rng(n)
    control, treatment = rng.normal(10.0, 2.0, n), rng.normal(10.01, 2.2, n)
    tracker = ExperimentTracker({"control": 0.5, "treatment": 0.5})
    tracker.log_metric("control", "revenue", control)
    tracker.log_metric("treatment", "revenue", treatment)
    comparison = tracker.analyze("revenue").comparison("revenue", "treatment")
    theirs = st.ttest_ind(treatment, control, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert comparison.p_value == pytest.approx(theirs.pvalue, rel=TOL)
    assert (comparison.absolute_lift.low, comparison.absolute_lift.high) == pytest.approx(
        (interval.low, interval.high), rel=TOL, abs=TOL)


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000, 1_000_000])
def test_power_matches_statsmodels_at_user_sizes(n):
    h = proportion_effectsize(0.101, 0.100)
    power_sm = NormalIndPower().power(effect_size=h, nobs1=n, alpha=0.05, ratio=1.0)
    assert power_two_proportions(0.100, 0.101, n) == pytest.approx(power_sm, rel=TOL, abs=TOL)
