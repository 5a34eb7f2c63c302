"""Drift statistics against SciPy (the oracle; a test-only dependency)."""

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from tinytorch.core.mlops.drift import (
    benjamini_hochberg,
    bonferroni,
    chi2_sf,
    chi_square_test,
    jensen_shannon_distance,
    ks_2samp,
    ks_pvalue,
    ks_statistic,
    psi,
    wasserstein_distance,
)
from tinytorch.core.mlops.drift.kolmogorov import sorted_ks_statistic

# Rounded draws give ties, which is where hand-written KS code usually goes wrong.
samples = st.builds(
    lambda seed, n, decimals, shift: np.round(np.random.default_rng(seed).normal(shift, 1.0, n), decimals),
    st.integers(0, 2**32 - 1), st.integers(1, 120), st.integers(0, 3), st.floats(-1, 1),
)


@settings(max_examples=150, deadline=None)
@given(samples, samples)
def test_ks_matches_scipy_exact_mode_with_ties(a, b):
    ours = ks_2samp(a, b)
    theirs = scipy.stats.ks_2samp(a, b)
    assert abs(ks_statistic(a, b) - theirs.statistic) <= 1e-9
    assert abs(ours[0] - theirs.statistic) <= 1e-9
    assert abs(ours[1] - theirs.pvalue) <= 1e-6
    assert ours[2] == "exact"


# Up to 10,000 rows ks_2samp is SciPy's exact test: the digits split's sizes (1,078 x 359) from no
# shift to D = 1, reported as "exact".
@pytest.mark.parametrize("n1,n2,shift", [(1078, 359, 0.0), (1078, 359, 0.4), (359, 1078, 2.5), (1078, 359, 3.0),
                                         (1078, 359, 50.0), (40, 9_000, 1.0), (997, 1_000, 0.1), (6, 4_001, 0.5)])
def test_ks_exact_matches_scipy_unequal_sizes_and_large_d(n1, n2, shift):
    rng = np.random.default_rng(n1 * 7 + n2)
    a, b = np.round(rng.normal(0, 1, n1), 1), np.round(rng.normal(shift, 1, n2), 1)
    ours, theirs = ks_2samp(a, b), scipy.stats.ks_2samp(a, b)
    assert ours[2] == "exact"
    assert abs(ours[0] - theirs.statistic) <= 1e-9
    assert abs(ours[1] - theirs.pvalue) <= 1e-6
    assert ours[1] == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("n1,n2,shift", [(20_000, 40, 0.3), (20_000, 700, 0.05), (12_000, 11_000, 0.03),
                                         (600, 10_001, 0.0), (30_000, 30_000, 0.02)])
def test_ks_matches_scipy_asymptotic_mode(n1, n2, shift):
    rng = np.random.default_rng(n1 + n2)
    a, b = np.round(rng.normal(0, 1, n1), 2), np.round(rng.normal(shift, 1, n2), 2)
    ours, theirs = ks_2samp(a, b), scipy.stats.ks_2samp(a, b)
    assert ours[2] == "asymp"
    assert abs(ours[0] - theirs.statistic) <= 1e-9
    assert abs(ours[1] - theirs.pvalue) <= 1e-6


@pytest.mark.filterwarnings("ignore:divide by zero")  # SciPy's own asymptotic p-value at n = m = 1
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3_000), st.integers(1, 3_000), st.integers(0, 3),
       st.floats(-0.3, 0.3))
def test_sorted_ks_statistic_is_scipys_bit_for_bit(seed, n, m, decimals, shift):
    """Rounded draws make ties across block borders; small blocks are searched or skipped by bound."""
    rng = np.random.default_rng(seed)
    a, b = np.round(rng.normal(0, 1, n), decimals), np.round(rng.normal(shift, 1, m), decimals)
    assert sorted_ks_statistic(np.sort(a), np.sort(b)) == scipy.stats.ks_2samp(a, b, method="asymp").statistic


def test_sorted_ks_statistic_on_identical_and_separated_samples():
    a = np.sort(np.random.default_rng(1).normal(size=20_000))
    assert sorted_ks_statistic(a, a) == 0.0
    assert sorted_ks_statistic(a, a + 100.0) == 1.0
    assert sorted_ks_statistic(a[:1], a) == scipy.stats.ks_2samp(a[:1], a, method="asymp").statistic


def test_student_asymptotic_pvalue_close_to_scipy_asymp():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=3000), rng.normal(0.03, 1, 4000)
    d = ks_statistic(a, b)
    lam = d * np.sqrt(3000 * 4000 / 7000)
    assert ks_pvalue(d, 3000, 4000) == pytest.approx(scipy.stats.kstwobign.sf(lam), rel=1e-9)
    # Kolmogorov's limit is within a few per cent of SciPy's finite-n value here
    assert ks_pvalue(d, 3000, 4000) == pytest.approx(scipy.stats.ks_2samp(a, b).pvalue, rel=0.05)
    assert ks_pvalue(0.0, 10, 10) == 1.0


def test_ks_statistic_properties_and_errors():
    a = [1.0, 2.0, 2.0, 3.0]
    assert ks_statistic(a, a) == 0.0
    assert ks_statistic([0.0], [1.0]) == 1.0
    assert ks_statistic(a, [5.0, 6.0]) == ks_statistic([5.0, 6.0], a)
    with pytest.raises(ValueError, match="non-empty"):
        ks_statistic([], a)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 400.0), st.integers(1, 150))
def test_chi2_sf_matches_scipy(x, dof):
    assert chi2_sf(x, dof) == pytest.approx(scipy.stats.chi2.sf(x, dof), rel=1e-6, abs=1e-300)


counts = st.lists(st.integers(0, 60), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(counts, st.data())
def test_chi_square_matches_chi2_contingency_including_unseen_categories(ref, data):
    cur = data.draw(st.lists(st.integers(0, 60), min_size=len(ref), max_size=len(ref)))
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.sum(axis=1).min() == 0:
        with pytest.raises(ValueError):
            chi_square_test(ref, cur)
        return
    statistic, p = chi_square_test(ref, cur)
    theirs = scipy.stats.chi2_contingency(table)
    assert abs(statistic - theirs.statistic) <= 1e-9 * max(1.0, theirs.statistic)
    assert p == pytest.approx(theirs.pvalue, rel=1e-6, abs=1e-300)


def test_chi_square_new_category_is_counted_not_a_crash():
    statistic, p = chi_square_test([50, 50, 0], [30, 30, 40])
    assert statistic > 30 and p < 1e-6


@settings(max_examples=150, deadline=None)
@given(samples, samples)
def test_wasserstein_matches_scipy(a, b):
    assert abs(wasserstein_distance(a, b) - scipy.stats.wasserstein_distance(a, b)) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(counts, st.data())
def test_jensen_shannon_matches_scipy(ref, data):
    cur = data.draw(st.lists(st.integers(0, 60), min_size=len(ref), max_size=len(ref)))
    if sum(ref) == 0 or sum(cur) == 0:
        return
    assert jensen_shannon_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur), abs=1e-9)


def test_psi_known_value_and_bounds():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=20_000)
    assert psi(ref, rng.normal(size=20_000)) < 0.01
    # a shifted sample: compare with a direct computation over the same quantile bins
    cur = rng.normal(0.5, 1, 20_000)
    edges = np.quantile(ref, np.linspace(0, 1, 11))[1:-1]
    r = np.histogram(ref, np.r_[-np.inf, edges, np.inf])[0] / ref.size
    c = np.histogram(cur, np.r_[-np.inf, edges, np.inf])[0] / cur.size
    assert psi(ref, cur) == pytest.approx(np.sum((c - r) * np.log(c / r)), rel=1e-9)
    # current entirely outside the reference range: empty bins use the epsilon, result finite
    assert np.isfinite(psi(ref, ref + 100)) and psi(ref, ref + 100) > 1


def test_bonferroni_and_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    assert bonferroni(p, 0.05).tolist() == [True, False, False, True, False]  # p <= 0.05 / 5
    # BH lines k*0.05/5: sorted p 0.005<=.01, .01<=.02, .03<=.03, .04>.04? no (0.04 <= 0.04 yes)
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True, True, True, False]
    # step-up: a p-value above its own line is still rejected when a larger rank passes
    assert benjamini_hochberg([0.026, 0.02, 0.9], 0.05).tolist() == [True, True, False]
    assert benjamini_hochberg([], 0.05).size == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_benjamini_hochberg_matches_statsmodels(p):
    from statsmodels.stats.multitest import multipletests

    assert benjamini_hochberg(p, 0.05).tolist() == multipletests(p, 0.05, method="fdr_bh")[0].tolist()
    assert bonferroni(p, 0.05).tolist() == multipletests(p, 0.05, method="bonferroni")[0].tolist()
