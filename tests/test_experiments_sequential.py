"""mSPRT: formula, inversion, tuning, and error control under continuous peeking."""

import math

import matplotlib
import numpy as np
import pytest

from tinytorch.core.mlops.experiments import (
    SequentialTest,
    confidence_sequence_radius,
    mixture_variance_ratio,
    msprt_log_likelihood_ratio,
    plot_peeking,
    simulate_peeking,
)

matplotlib.use("Agg")


def test_msprt_log_likelihood_ratio_formula():
    diff, variance, tau2 = 0.03, 1e-4, 4e-4
    expected = math.log(math.sqrt(variance / (variance + tau2))
                        * math.exp(tau2 * diff**2 / (2 * variance * (variance + tau2))))
    assert msprt_log_likelihood_ratio(diff, variance, tau2) == pytest.approx(expected, rel=1e-12)
    # No observed difference is evidence for the null: log Lambda < 0.
    assert msprt_log_likelihood_ratio(0.0, variance, tau2) < 0


def test_msprt_works_elementwise_on_arrays():
    diffs = np.array([0.0, 0.01, 0.05])
    values = msprt_log_likelihood_ratio(diffs, np.full(3, 1e-4), 4e-4)
    assert values.shape == (3,)
    assert np.all(np.diff(values) > 0)
    assert values[1] == pytest.approx(msprt_log_likelihood_ratio(0.01, 1e-4, 4e-4))


def test_confidence_sequence_is_the_inverted_msprt():
    variance, tau2, alpha = 2e-4, 1e-3, 0.05
    radius = confidence_sequence_radius(variance, tau2, alpha)
    assert msprt_log_likelihood_ratio(radius, variance, tau2) == pytest.approx(math.log(1 / alpha), rel=1e-10)


def test_mixture_ratio_makes_the_interval_narrowest_at_the_planned_size():
    r = mixture_variance_ratio(0.05)
    assert r == pytest.approx(2 * math.log(20) + math.log1p(r), rel=1e-12)
    width = confidence_sequence_radius(1.0, r)
    assert width < confidence_sequence_radius(1.0, r * 0.9) and width < confidence_sequence_radius(1.0, r * 1.1)


def test_peeking_simulation_small_seeded():
    sim = simulate_peeking(n_experiments=600, n_units=2000, look_every=100, rate=0.1, seed=7)
    assert sim.units_at_look.tolist() == list(range(100, 2001, 100))
    assert 0.025 <= sim.fixed_horizon_fpr <= 0.08        # one test at the end: about alpha
    assert sim.naive_fpr[-1] > 0.12                       # 20 looks: false positives pile up
    assert sim.sequential_fpr[-1] <= 0.05                 # mSPRT: still at most alpha
    assert np.all(np.diff(sim.naive_fpr) >= 0) and np.all(np.diff(sim.sequential_fpr) >= 0)
    assert sim.naive_fpr[0] < 0.1                         # the first look alone is one test


def test_peeking_simulation_checks_its_input():
    with pytest.raises(ValueError, match="multiple of look_every"):
        simulate_peeking(n_experiments=10, n_units=1050, look_every=100)


def test_plot_peeking_returns_a_figure_with_both_curves():
    sim = simulate_peeking(n_experiments=50, n_units=1000, look_every=100, seed=1)
    fig = plot_peeking(sim)
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any("naive" in label for label in labels) and any("sequential" in label for label in labels)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), sim.naive_fpr)


def test_sequential_test_finds_a_real_difference_and_covers_it():
    rng = np.random.default_rng(5)
    test = SequentialTest(planned_units=20_000)
    rejected_at = None
    for look in range(1, 101):
        test.update("a", rng.random(100) < 0.10)
        test.update("b", rng.random(100) < 0.14)
        result = test.look()
        if result.reject and rejected_at is None:
            rejected_at = look
    assert rejected_at is not None and rejected_at < 100
    assert result.low <= 0.04 <= result.high
    assert result.p_value <= 0.05


def test_sequential_test_p_value_never_increases_and_aa_rarely_rejects():
    rng = np.random.default_rng(8)
    rejections = 0
    for _ in range(40):
        test = SequentialTest(planned_units=4000, binary=False)
        p_values = []
        for _ in range(20):
            test.update("a", rng.normal(1.0, 1.0, 100))
            test.update("b", rng.normal(1.0, 1.0, 100))
            p_values.append(test.look().p_value)
        assert all(later <= earlier for earlier, later in zip(p_values, p_values[1:]))
        rejections += p_values[-1] <= 0.05
    assert rejections <= 5


def test_sequential_test_input_errors():
    test = SequentialTest(planned_units=100)
    with pytest.raises(ValueError, match="'a'"):
        test.update("control", [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        test.look()
    with pytest.raises(ValueError, match="planned_units"):
        SequentialTest(planned_units=1)
