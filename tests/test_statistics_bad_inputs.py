"""Bad input to the drift and experiment statistics gets a clear error, never a number.

One test per case the SciPy/statsmodels comparison found, then a property test that feeds
generated bad values to every argument of the public API: each must raise ValueError or TypeError
with a message naming what was wrong (never "math domain error" or a ZeroDivisionError).
"""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops.drift import (
    DriftDetector,
    benjamini_hochberg,
    bonferroni,
    chi2_sf,
    chi_square_test,
    jensen_shannon_distance,
    ks_2samp,
    ks_pvalue,
    ks_statistic,
    psi,
    psi_from_counts,
    wasserstein_distance,
)
from tinytorch.core.mlops.experiments import (
    ExperimentTracker,
    SequentialTest,
    bucket_ranges,
    confidence_sequence_radius,
    mcnemar_test,
    mixture_variance_ratio,
    msprt_log_likelihood_ratio,
    paired_bootstrap_interval,
    power_two_proportions,
    proportion_diff_interval,
    relative_lift_interval,
    sample_size_two_proportions,
    simulate_peeking,
    srm_check,
    two_proportion_ztest,
    welch_ttest,
)
from tinytorch.core.mlops.experiments.stats import cohens_h

NAN = math.nan


# ---- the cases found by the comparison with SciPy and statsmodels, one test each --------------

def test_power_refuses_alpha_above_one():
    with pytest.raises(ValueError, match=r"alpha must be strictly between 0 and 1, got 1.5"):
        power_two_proportions(0.10, 0.12, 1000, alpha=1.5)


def test_chi_square_refuses_nan_counts_instead_of_dropping_them():
    with pytest.raises(ValueError, match="finite counts >= 0"):
        chi_square_test([10, NAN, 5], [12, 3, 4])


@pytest.mark.parametrize("reference, current, lengths", [
    ([10, 20, 30], [12, 18], "3 reference counts and 2 current counts"),
    ([5], np.array([1, 2, 3, 4]), "1 reference counts and 4 current counts"),
])
def test_chi_square_names_both_lengths_of_count_vectors_that_differ(reference, current, lengths):
    with pytest.raises(ValueError, match=f"one count per category in both samples; got {lengths}"):
        chi_square_test(reference, current)


def test_ks_2samp_refuses_nan_instead_of_ranking_it_last():
    with pytest.raises(ValueError, match="current holds 1 NaN"):
        ks_2samp([0.1, 0.2, 0.3], [0.2, NAN, 0.4])
    with pytest.raises(ValueError, match="NaN"):
        ks_2samp(np.arange(20_000.0), np.append(np.arange(19_999.0), NAN))  # the large-sample path
    with pytest.raises(ValueError, match="NaN"):
        ks_statistic([0.1, NAN], [0.2, 0.3])


def test_ks_2samp_keeps_infinities_as_values():
    a, b = [-np.inf, 0.0, 1.0], [0.5, 2.0, np.inf]
    assert ks_2samp(a, b)[:2] == pytest.approx(tuple(scipy.stats.ks_2samp(a, b))[:2])
    assert ks_2samp(a, b)[0] == pytest.approx(2 / 3)  # after 0.0: two of a, none of b


def test_psi_and_jensen_shannon_refuse_negative_counts():
    with pytest.raises(ValueError, match="counts >= 0"):
        psi_from_counts([10, -5, 20], [10, 5, 20])
    with pytest.raises(ValueError, match=r"reference_counts must hold counts >= 0, got -5.0"):
        jensen_shannon_distance([10, -5, 20], [10, 5, 20])


def test_bonferroni_and_bh_refuse_p_values_outside_0_1():
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\]; got 1.2 at index 1"):
        bonferroni([0.01, 1.2])
    with pytest.raises(ValueError, match=r"p-values in \[0, 1\]"):
        benjamini_hochberg([0.01, -0.2])
    with pytest.raises(ValueError, match=r"p-values in \[0, 1\]"):
        benjamini_hochberg([0.01, NAN])


def test_ks_pvalue_refuses_an_empty_sample():
    with pytest.raises(ValueError, match="n_reference=0"):
        ks_pvalue(0.2, 0, 50)
    with pytest.raises(ValueError, match=r"in \[0, 1\], got 1.5"):
        ks_pvalue(1.5, 10, 10)


def test_mcnemar_refuses_fractional_counts_instead_of_truncating():
    with pytest.raises(ValueError, match="only_a_correct must be a whole number, got 2.7"):
        mcnemar_test(2.7, 9)
    assert mcnemar_test(3.0, 9) == mcnemar_test(3, 9)


def test_bucket_ranges_refuses_weights_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        bucket_ranges([0.6, 0.6])
    assert bucket_ranges([0.25, 0.75], coverage=0.5) == [(0.0, 0.125), (0.25, 0.625)]


@pytest.mark.parametrize("call, message", [
    (lambda: proportion_diff_interval(0, 0, 1, 10), "n_a must be >= 1, got 0"),
    (lambda: proportion_diff_interval(11, 10, 1, 10), r"conversions_a \(11\) cannot exceed n_a \(10\)"),
    (lambda: cohens_h(1.5, 0.2), r"rate_a must be in \[0, 1\], got 1.5"),
    (lambda: relative_lift_interval(0.1, -1e-4, 0.12, 1e-4), "var_mean_a is the variance of a mean"),
    (lambda: confidence_sequence_radius(1e-4, 0.0), "tau2 must be > 0, got 0.0"),
    (lambda: mixture_variance_ratio(0.0), "alpha must be strictly between 0 and 1, got 0.0"),
    (lambda: simulate_peeking(n_units=100, look_every=0), "look_every must be >= 1, got 0"),
    (lambda: msprt_log_likelihood_ratio(0.1, 0.0, 1e-3), "variance > 0 and tau2 > 0"),
    (lambda: chi2_sf(NAN, 2), "x is NaN"),
    (lambda: sample_size_two_proportions(0.1, 0.1), "no effect to detect"),
])
def test_former_math_domain_and_zero_division_errors_now_explain(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- generated bad values for every argument of the public API --------------------------------

not_a_number = st.sampled_from(["0.5", None, [0.5], object()])
bad_probability = st.one_of(
    st.floats(allow_nan=True).filter(lambda x: not 0 < x < 1), st.just(NAN), not_a_number)
bad_closed_probability = st.one_of(
    st.floats(allow_nan=True).filter(lambda x: not 0 <= x <= 1), st.just(NAN), not_a_number)
bad_count = st.one_of(st.integers(max_value=-1), st.floats(0.01, 1e6).filter(lambda x: not x.is_integer()),
                      st.sampled_from([NAN, math.inf, -math.inf]), not_a_number)
bad_positive = st.one_of(st.floats(max_value=0.0), st.sampled_from([NAN, math.inf]), not_a_number)
bad_value = st.sampled_from([NAN, math.inf, -math.inf])
# The students' ks_statistic and psi flatten a 2-D sample (np.ravel), so only the others get one.
bad_flat_sample = st.one_of(
    st.builds(lambda values, bad, at: values[:at] + [bad] + values[at:],
              st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30), st.just(NAN), st.integers(0, 30)),
    st.just([]), st.just(["a", "b"]))
bad_sample = st.one_of(bad_flat_sample, st.just([[1.0, 2.0], [3.0, 4.0]]))
bad_counts = st.builds(lambda counts, bad, at: counts[:at] + [bad] + counts[at:],
                       st.lists(st.integers(0, 100), min_size=1, max_size=8),
                       st.sampled_from([-1, -0.5, NAN, math.inf]), st.integers(0, 8))
bad_p_values = st.builds(lambda ps, bad, at: ps[:at] + [bad] + ps[at:],
                         st.lists(st.floats(0, 1), max_size=10),
                         st.one_of(st.floats(1.0, 1e9, exclude_min=True), st.floats(max_value=0.0, exclude_max=True),
                                   st.just(NAN)), st.integers(0, 10))

rng = np.random.default_rng(0)
SAMPLE_A, SAMPLE_B = rng.normal(size=40).tolist(), rng.normal(0.3, 1, 30).tolist()

# (function, valid keyword arguments, {argument: strategy of bad values})
CASES = [
    (ks_statistic, dict(reference=SAMPLE_A, current=SAMPLE_B),
     dict(reference=bad_flat_sample, current=bad_flat_sample)),
    (ks_2samp, dict(reference=SAMPLE_A, current=SAMPLE_B), dict(reference=bad_sample, current=bad_sample)),
    (ks_pvalue, dict(statistic=0.2, n_reference=50, n_current=40),
     dict(statistic=st.one_of(st.floats(1.0, 10, exclude_min=True), st.floats(-10, 0, exclude_max=True),
                              st.just(NAN)),
          n_reference=st.one_of(st.integers(max_value=0), st.just(NAN)),
          n_current=st.one_of(st.integers(max_value=0), st.just(NAN)))),
    (wasserstein_distance, dict(reference=SAMPLE_A, current=SAMPLE_B), dict(reference=bad_sample, current=bad_sample)),
    (psi, dict(reference=SAMPLE_A, current=SAMPLE_B, bins=5),
     dict(reference=bad_flat_sample, current=bad_flat_sample,
          bins=st.one_of(st.integers(max_value=0), st.floats(0.5, 20).filter(lambda x: not x.is_integer()),
                         st.sampled_from([NAN, "3", None])))),
    (psi_from_counts, dict(reference_counts=[5, 6, 7], current_counts=[7, 6, 5]),
     dict(reference_counts=bad_counts, current_counts=bad_counts)),
    (jensen_shannon_distance, dict(reference_counts=[5, 6, 7], current_counts=[7, 6, 5]),
     dict(reference_counts=bad_counts, current_counts=bad_counts)),
    (chi_square_test, dict(reference_counts=[5, 6, 7], current_counts=[7, 6, 5]),
     dict(reference_counts=bad_counts, current_counts=bad_counts)),
    (bonferroni, dict(p_values=[0.01, 0.2], alpha=0.05), dict(p_values=bad_p_values, alpha=bad_probability)),
    (benjamini_hochberg, dict(p_values=[0.01, 0.2], alpha=0.05), dict(p_values=bad_p_values, alpha=bad_value)),
    (chi2_sf, dict(x=3.0, df=2), dict(x=st.just(NAN), df=st.one_of(st.floats(max_value=0.0), st.just(NAN)))),
    (two_proportion_ztest, dict(conversions_a=10, n_a=100, conversions_b=12, n_b=100),
     dict(conversions_a=st.one_of(st.integers(101, 10**6), st.integers(max_value=-1), st.just(NAN)),
          n_a=st.one_of(st.integers(max_value=0), st.just(NAN)))),
    (proportion_diff_interval, dict(conversions_a=10, n_a=100, conversions_b=12, n_b=100, alpha=0.05),
     dict(conversions_a=bad_count, n_a=bad_count, conversions_b=bad_count, n_b=bad_count, alpha=bad_probability)),
    (relative_lift_interval, dict(mean_a=0.1, var_mean_a=1e-4, mean_b=0.12, var_mean_b=1e-4, alpha=0.05),
     dict(mean_a=bad_value, var_mean_a=st.one_of(st.floats(max_value=-1e-12), bad_value), mean_b=bad_value,
          var_mean_b=st.one_of(st.floats(max_value=-1e-12), bad_value), alpha=bad_probability)),
    (welch_ttest, dict(a=SAMPLE_A, b=SAMPLE_B, alpha=0.05),
     dict(a=bad_sample, b=st.one_of(bad_sample, st.just([1.0])), alpha=bad_probability)),
    (srm_check, dict(observed_counts=[500, 510], expected_weights=[0.5, 0.5]),
     dict(observed_counts=st.builds(lambda bad: [500, bad], st.sampled_from([-1, NAN, math.inf])),
          expected_weights=st.builds(lambda bad: [0.5, bad], st.sampled_from([0.0, -0.5, NAN, math.inf])))),
    (cohens_h, dict(rate_a=0.1, rate_b=0.2), dict(rate_a=bad_closed_probability, rate_b=bad_closed_probability)),
    (power_two_proportions, dict(rate_a=0.1, rate_b=0.12, n_a=1000, alpha=0.05, ratio=1.0),
     dict(rate_a=bad_closed_probability, rate_b=bad_closed_probability, n_a=bad_positive, alpha=bad_probability,
          ratio=bad_positive)),
    (sample_size_two_proportions, dict(rate_a=0.1, rate_b=0.12, alpha=0.05, power=0.8, ratio=1.0),
     dict(rate_a=bad_closed_probability, rate_b=bad_closed_probability, alpha=bad_probability,
          power=bad_probability, ratio=bad_positive)),
    (mcnemar_test, dict(only_a_correct=3, only_b_correct=9), dict(only_a_correct=bad_count, only_b_correct=bad_count)),
    (bucket_ranges, dict(weights=[0.5, 0.5], coverage=1.0),
     dict(weights=st.lists(st.floats(0, 1), min_size=1, max_size=5).filter(lambda w: abs(sum(w) - 1) > 0.011),
          coverage=bad_closed_probability.filter(lambda x: isinstance(x, float)))),
    (msprt_log_likelihood_ratio, dict(diff=0.01, variance=1e-4, tau2=8e-4),
     dict(diff=st.just(NAN), variance=st.one_of(st.floats(max_value=0.0), st.just(NAN)),
          tau2=st.one_of(st.floats(max_value=0.0), st.just(NAN)))),
    (mixture_variance_ratio, dict(alpha=0.05), dict(alpha=bad_probability)),
    (confidence_sequence_radius, dict(variance=1e-4, tau2=8e-4, alpha=0.05),
     dict(variance=st.one_of(st.floats(max_value=0.0), bad_value), tau2=bad_positive, alpha=bad_probability)),
    (paired_bootstrap_interval, dict(correct_a=[1, 0, 1, 1], correct_b=[1, 1, 0, 1], n_bootstrap=50),
     dict(correct_a=bad_sample, n_bootstrap=bad_count.filter(lambda x: x != 0), alpha=bad_probability)),
    (simulate_peeking, dict(n_experiments=4, n_units=200, look_every=100),
     dict(n_experiments=bad_count, n_units=bad_count, look_every=bad_count, rate=bad_probability,
          alpha=bad_probability)),
    (SequentialTest, dict(planned_units=1000), dict(planned_units=bad_count, alpha=bad_probability)),
    (ExperimentTracker, dict(split={"a": 0.5, "b": 0.5}), dict(alpha=bad_probability, srm_threshold=bad_probability)),
    (DriftDetector, dict(reference_data=np.zeros((20, 2))),
     dict(alpha=bad_probability, drift_share=bad_closed_probability.filter(lambda x: x != 0), psi_bins=bad_count.filter(lambda x: x != 0), distance_threshold=bad_positive,
          max_missing_increase=bad_closed_probability)),
]
BAD_ARGUMENTS = [(function, valid, name, strategy) for function, valid, bad in CASES for name, strategy in bad.items()]
# The students' tasks keep their checks short: their messages name the rule, not always the argument.
STUDENT_TASKS = {ks_statistic, ks_pvalue, psi, psi_from_counts, chi_square_test, benjamini_hochberg,
                 two_proportion_ztest, srm_check, msprt_log_likelihood_ratio}


@pytest.mark.parametrize("function, valid, name, strategy", BAD_ARGUMENTS,
                         ids=[f"{f.__name__}-{name}" for f, _, name, _ in BAD_ARGUMENTS])
def test_every_bad_argument_is_refused_with_a_message(function, valid, name, strategy):
    function(**valid)  # the valid call works, so the error below is the bad argument's

    @settings(max_examples=25, deadline=None)
    @given(strategy)
    def check(bad):
        with pytest.raises((ValueError, TypeError)) as error:
            function(**{**valid, name: bad})
        message = str(error.value)
        assert len(message) > 20 and "math domain" not in message, f"{function.__name__}({name}={bad!r}): {message}"
        assert function in STUDENT_TASKS or name in message, f"{function.__name__}({name}={bad!r}): {message}"

    check()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20), st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20))
def test_the_same_functions_accept_good_input(a, b):
    """The checks refuse only what is bad: any finite samples pass them."""
    assert 0.0 <= ks_statistic(a, b) <= 1.0
    assert 0.0 <= ks_2samp(a, b)[1] <= 1.0
    assert wasserstein_distance(a, b) >= 0.0
    assert psi(a, b, 4) >= 0.0
