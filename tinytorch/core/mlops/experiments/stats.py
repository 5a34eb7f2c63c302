"""Fixed-horizon statistics for A/B tests: tests, lift intervals, SRM check, power, McNemar.

Conventions: "a" is the control, "b" the treatment; differences and lifts are b - a and
b / a - 1. All p-values are two-sided. The functions a student implements in notebook 04
(``two_proportion_ztest``, ``srm_check``) depend only on ``math`` and ``chi2_sf``; the others take
their tails and quantiles from ``scipy.special`` and check every argument (``arguments``): NaN is
refused everywhere, never propagated into a verdict.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from . import arguments
from .distributions import chi2_sf


class ZTest(NamedTuple):
    z: float
    p_value: float


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float


class WelchTest(NamedTuple):
    t: float
    df: float
    p_value: float
    diff: float
    low: float
    high: float


class SRMResult(NamedTuple):
    chi2: float
    p_value: float
    mismatch: bool


class McNemarTest(NamedTuple):
    statistic: float
    p_value: float
    method: str


def two_proportion_ztest(conversions_a, n_a, conversions_b, n_b):
    """Two-sided z-test that variants a and b convert at the same rate. Returns ZTest(z, p_value).

    Under the null hypothesis both variants share one rate, so the standard error uses the pooled
    rate p = (conversions_a + conversions_b) / (n_a + n_b):
    se = sqrt(p (1 - p) (1/n_a + 1/n_b)), z = (rate_b - rate_a) / se, and the two-sided p-value
    is P(|Z| >= |z|) = erfc(|z| / sqrt 2). A positive z means b converts more often.
    This is the test behind "treatment is significantly better" in most A/B dashboards.
    When both variants convert always (or never) there is no evidence of a difference: z = 0,
    p = 1. ValueError for an empty variant (n <= 0) or conversions outside [0, n], NaN included.
    """
    if not (n_a > 0 and n_b > 0):
        raise ValueError(f"each variant needs at least one unit; got n_a={n_a}, n_b={n_b}")
    if not (0 <= conversions_a <= n_a and 0 <= conversions_b <= n_b):
        raise ValueError(f"conversions must lie in [0, n] of their variant; got conversions_a={conversions_a} "
                         f"of n_a={n_a}, conversions_b={conversions_b} of n_b={n_b}")
    pooled = (conversions_a + conversions_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if se == 0.0:
        return ZTest(0.0, 1.0)  # both variants convert always (or never): no evidence of a difference
    z = (conversions_b / n_b - conversions_a / n_a) / se
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2.0)))


def proportion_diff_interval(conversions_a, n_a, conversions_b, n_b, alpha=0.05):
    """Wald interval for rate_b - rate_a (absolute lift), unpooled standard error.

    Counts are whole numbers, n >= 1 and 0 <= conversions <= n; alpha in (0, 1).
    """
    rate_a = _rate("a", conversions_a, n_a)
    rate_b = _rate("b", conversions_b, n_b)
    alpha = arguments.probability("alpha", alpha)
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    half = float(ndtri(1 - alpha / 2)) * se
    diff = rate_b - rate_a
    return Interval(diff, diff - half, diff + half)


def relative_lift_interval(mean_a, var_mean_a, mean_b, var_mean_b, alpha=0.05):
    """Delta-method interval for the relative lift mean_b / mean_a - 1.

    ``var_mean_*`` is the variance of each sample mean (s^2 / n; p (1 - p) / n for a rate). The
    first-order expansion of mean_b / mean_a gives
    Var ~ var_mean_b / mean_a^2 + mean_b^2 var_mean_a / mean_a^4 (independent groups).
    Means are finite, variances finite and >= 0, alpha in (0, 1).
    """
    mean_a, mean_b = arguments.finite("mean_a", mean_a), arguments.finite("mean_b", mean_b)
    for name, variance in (("var_mean_a", var_mean_a), ("var_mean_b", var_mean_b)):
        if not arguments.finite(name, variance) >= 0:
            raise ValueError(f"{name} is the variance of a mean, >= 0; got {variance}")
    alpha = arguments.probability("alpha", alpha)
    if mean_a == 0:
        raise ValueError("relative lift is undefined when the control mean is 0; report the absolute lift")
    lift = mean_b / mean_a - 1.0
    se = math.sqrt(var_mean_b / mean_a**2 + mean_b**2 * var_mean_a / mean_a**4)
    half = float(ndtri(1 - alpha / 2)) * se
    return Interval(lift, lift - half, lift + half)


def welch_ttest(a, b, alpha=0.05):
    """Welch's t-test of mean(b) - mean(a) for two independent samples with unequal variances.

    Degrees of freedom by Welch-Satterthwaite; the interval is the (1 - alpha) t interval of the
    difference. Each sample needs at least two values, all finite (NaN and +-inf are refused, as
    ``DriftDetector`` and ``ExperimentTracker`` never log them); alpha is in (0, 1). The t tail and
    quantile are SciPy's (``stdtr``, ``stdtrit``), exact at any df.
    """
    a, b = arguments.sample("a", a, minimum_size=2), arguments.sample("b", b, minimum_size=2)
    alpha = arguments.probability("alpha", alpha)
    var_mean_a, var_mean_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = var_mean_a + var_mean_b
    diff = float(b.mean() - a.mean())
    if se2 == 0.0:
        raise ValueError("both groups are constant: Welch's t-test is undefined; compare the values directly")
    df = se2**2 / (var_mean_a**2 / (a.size - 1) + var_mean_b**2 / (b.size - 1))
    t = diff / math.sqrt(se2)
    half = float(stdtrit(df, 1 - alpha / 2)) * math.sqrt(se2)
    return WelchTest(t, df, 2.0 * float(stdtr(df, -abs(t))), diff, diff - half, diff + half)


def srm_check(observed_counts, expected_weights, threshold=0.001):
    """Sample-ratio-mismatch check: do the units per variant match the configured split?

    Pearson's chi-square goodness of fit: expected_i = total * weight_i / sum(weights),
    chi2 = sum((observed_i - expected_i)^2 / expected_i) with k - 1 degrees of freedom, and
    p = chi2_sf(chi2, k - 1). A mismatch (p < threshold, 0.001 as in GrowthBook) means the
    assignment or logging is broken (bots, redirects, crashes in one arm), so the experiment's
    results cannot be trusted whatever they say. Returns SRMResult(chi2, p_value, mismatch).
    ValueError for fewer than two variants, lengths that differ, a weight that is not a finite
    number > 0, a count that is not a finite number >= 0 (NaN included), or no units at all.
    """
    observed = [float(c) for c in observed_counts]
    weights = [float(w) for w in expected_weights]
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError(f"srm_check needs one count and one weight per variant, at least two variants; "
                         f"got {len(observed)} counts and {len(weights)} weights")
    if not all(0 < w < math.inf for w in weights) or not all(0 <= c < math.inf for c in observed):
        raise ValueError(f"weights must be finite and > 0, counts finite and >= 0; got weights {weights}, "
                         f"counts {observed}")
    total = sum(observed)
    if total == 0:
        raise ValueError("no units observed yet: nothing to check")
    expected = [total * w / sum(weights) for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
    p_value = chi2_sf(chi2, len(observed) - 1)
    return SRMResult(chi2, p_value, p_value < threshold)


def _rate(arm, conversions, n):
    """conversions_{arm} / n_{arm}, after checking both are whole and 0 <= conversions <= n >= 1."""
    n = arguments.count(f"n_{arm}", n, minimum=1)
    conversions = arguments.count(f"conversions_{arm}", conversions)
    if conversions > n:
        raise ValueError(f"conversions_{arm} ({conversions}) cannot exceed n_{arm} ({n})")
    return conversions / n


def cohens_h(rate_a, rate_b):
    """Effect size of two proportions on the arcsine scale: 2 asin(sqrt b) - 2 asin(sqrt a).

    Rates are probabilities in [0, 1].
    """
    rate_a = arguments.probability("rate_a", rate_a, closed=True)
    rate_b = arguments.probability("rate_b", rate_b, closed=True)
    return 2.0 * math.asin(math.sqrt(rate_b)) - 2.0 * math.asin(math.sqrt(rate_a))


def power_two_proportions(rate_a, rate_b, n_a, alpha=0.05, ratio=1.0):
    """Power of the two-sided two-proportion test with n_a control and ratio * n_a treatment units.

    Uses the arcsine effect size (Cohen's h), as statsmodels' NormalIndPower does, and counts
    rejections in both tails. Rates in [0, 1], n_a and ratio finite and > 0, alpha in (0, 1).
    """
    n_a, ratio = arguments.positive("n_a", n_a), arguments.positive("ratio", ratio)
    alpha = arguments.probability("alpha", alpha)
    effect = abs(cohens_h(rate_a, rate_b)) * math.sqrt(n_a / (1.0 + 1.0 / ratio))
    crit = float(ndtri(1 - alpha / 2))
    return float(ndtr(effect - crit) + ndtr(-crit - effect))


def sample_size_two_proportions(rate_a, rate_b, alpha=0.05, power=0.8, ratio=1.0):
    """Control units needed to detect rate_a -> rate_b with the given power (round it up).

    The treatment needs ``ratio`` times as many. Starts from the one-tail closed form
    ((z_{1-alpha/2} + z_power) / h)^2 (1 + 1/ratio) and solves the exact two-tail power equation
    by bisection. Rates in [0, 1] and different, alpha and power in (0, 1), ratio finite and > 0.
    """
    alpha, power = arguments.probability("alpha", alpha), arguments.probability("power", power)
    ratio = arguments.positive("ratio", ratio)
    h = abs(cohens_h(rate_a, rate_b))
    if h == 0:
        raise ValueError(f"rate_a equals rate_b ({rate_a}): there is no effect to detect; "
                         "pass the rate you hope to reach")
    n = ((float(ndtri(1 - alpha / 2)) + float(ndtri(power))) / h) ** 2 * (1 + 1 / ratio)
    low, high = n * 0.5, n * 1.01
    while power_two_proportions(rate_a, rate_b, high, alpha, ratio) < power:
        high *= 2
    for _ in range(200):
        mid = 0.5 * (low + high)
        if power_two_proportions(rate_a, rate_b, mid, alpha, ratio) < power:
            low = mid
        else:
            high = mid
        if high - low < 1e-10 * high:
            break
    return 0.5 * (low + high)


def mcnemar_test(only_a_correct, only_b_correct, exact=None):
    """McNemar's test for paired outcomes, from the two discordant counts.

    Exact binomial test (p = 2 P(Bin(b + c, 1/2) <= min(b, c)), capped at 1) when fewer than 25
    pairs disagree, chi-square with continuity correction ((|b - c| - 1)^2 / (b + c), 1 df)
    otherwise; ``exact`` forces one or the other. The counts are whole numbers >= 0 (2.7 is refused,
    not truncated).
    """
    b = arguments.count("only_a_correct", only_a_correct)
    c = arguments.count("only_b_correct", only_b_correct)
    n = b + c
    if exact is None:
        exact = n < 25
    if exact:
        k = min(b, c)
        tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
        return McNemarTest(float(k), min(1.0, 2.0 * tail), "exact")
    if n == 0:
        return McNemarTest(0.0, 1.0, "chi2")
    statistic = (abs(b - c) - 1.0) ** 2 / n
    return McNemarTest(statistic, chi2_sf(statistic, 1), "chi2")
