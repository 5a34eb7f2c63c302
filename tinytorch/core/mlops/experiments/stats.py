"""Fixed-horizon statistics for A/B tests: tests, lift intervals, SRM check, power, McNemar.

Conventions: "a" is the control, "b" the treatment; differences and lifts are b - a and
b / a - 1. All p-values are two-sided. The functions a student implements in notebook 04
(``two_proportion_ztest``, ``srm_check``) depend only on ``math`` and ``chi2_sf``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .distributions import chi2_sf, normal_cdf, normal_ppf, normal_sf, t_ppf, t_sf


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
    """Two-sided z-test that variants a and b convert at the same rate. Returns (z, p_value).

    Under the null hypothesis both variants share one rate, so the standard error uses the pooled
    rate p = (conversions_a + conversions_b) / (n_a + n_b):
    se = sqrt(p (1 - p) (1/n_a + 1/n_b)), z = (rate_b - rate_a) / se, and the two-sided p-value
    is P(|Z| >= |z|) = erfc(|z| / sqrt 2). A positive z means b converts more often.
    This is the test behind "treatment is significantly better" in most A/B dashboards.
    When both variants convert always (or never) there is no evidence of a difference: z = 0,
    p = 1. An empty variant or conversions outside [0, n] raise ValueError.
    """
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"each variant needs at least one unit; got n_a={n_a}, n_b={n_b}")
    if not (0 <= conversions_a <= n_a and 0 <= conversions_b <= n_b):
        raise ValueError("conversions must lie between 0 and the number of units of their variant")
    pooled = (conversions_a + conversions_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if se == 0.0:
        return ZTest(0.0, 1.0)  # both variants convert always (or never): no evidence of a difference
    z = (conversions_b / n_b - conversions_a / n_a) / se
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2.0)))


def proportion_diff_interval(conversions_a, n_a, conversions_b, n_b, alpha=0.05):
    """Wald interval for rate_b - rate_a (absolute lift), unpooled standard error."""
    rate_a, rate_b = conversions_a / n_a, conversions_b / n_b
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    half = normal_ppf(1 - alpha / 2) * se
    diff = rate_b - rate_a
    return Interval(diff, diff - half, diff + half)


def relative_lift_interval(mean_a, var_mean_a, mean_b, var_mean_b, alpha=0.05):
    """Delta-method interval for the relative lift mean_b / mean_a - 1.

    ``var_mean_*`` is the variance of each sample mean (s^2 / n; p (1 - p) / n for a rate). The
    first-order expansion of mean_b / mean_a gives
    Var ~ var_mean_b / mean_a^2 + mean_b^2 var_mean_a / mean_a^4 (independent groups).
    """
    if mean_a == 0:
        raise ValueError("relative lift is undefined when the control mean is 0; report the absolute lift")
    lift = mean_b / mean_a - 1.0
    se = math.sqrt(var_mean_b / mean_a**2 + mean_b**2 * var_mean_a / mean_a**4)
    half = normal_ppf(1 - alpha / 2) * se
    return Interval(lift, lift - half, lift + half)


def welch_ttest(a, b, alpha=0.05):
    """Welch's t-test of mean(b) - mean(a) for two independent samples with unequal variances.

    Degrees of freedom by Welch-Satterthwaite; the interval is the (1 - alpha) t interval of the
    difference. Each sample needs at least two values.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Welch's t-test needs >= 2 values per group; got {a.size} and {b.size}")
    var_mean_a, var_mean_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = var_mean_a + var_mean_b
    diff = float(b.mean() - a.mean())
    if se2 == 0.0:
        raise ValueError("both groups are constant: Welch's t-test is undefined; compare the values directly")
    df = se2**2 / (var_mean_a**2 / (a.size - 1) + var_mean_b**2 / (b.size - 1))
    t = diff / math.sqrt(se2)
    half = t_ppf(1 - alpha / 2, df) * math.sqrt(se2)
    return WelchTest(t, df, 2.0 * t_sf(abs(t), df), diff, diff - half, diff + half)


def srm_check(observed_counts, expected_weights, threshold=0.001):
    """Sample-ratio-mismatch check: do the units per variant match the configured split?

    Pearson's chi-square goodness of fit: expected_i = total * weight_i / sum(weights),
    chi2 = sum((observed_i - expected_i)^2 / expected_i) with k - 1 degrees of freedom, and
    p = chi2_sf(chi2, k - 1). A mismatch (p < threshold, 0.001 as in GrowthBook) means the
    assignment or logging is broken (bots, redirects, crashes in one arm), so the experiment's
    results cannot be trusted whatever they say. Returns (chi2, p_value, mismatch).
    """
    observed = [float(c) for c in observed_counts]
    weights = [float(w) for w in expected_weights]
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("srm_check needs one count and one weight per variant, at least two variants")
    if any(w <= 0 for w in weights) or any(c < 0 for c in observed):
        raise ValueError("weights must be > 0 and counts >= 0")
    total = sum(observed)
    if total == 0:
        raise ValueError("no units observed yet: nothing to check")
    expected = [total * w / sum(weights) for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
    p_value = chi2_sf(chi2, len(observed) - 1)
    return SRMResult(chi2, p_value, p_value < threshold)


def cohens_h(rate_a, rate_b):
    """Effect size of two proportions on the arcsine scale: 2 asin(sqrt b) - 2 asin(sqrt a)."""
    return 2.0 * math.asin(math.sqrt(rate_b)) - 2.0 * math.asin(math.sqrt(rate_a))


def power_two_proportions(rate_a, rate_b, n_a, alpha=0.05, ratio=1.0):
    """Power of the two-sided two-proportion test with n_a control and ratio * n_a treatment units.

    Uses the arcsine effect size (Cohen's h), as statsmodels' NormalIndPower does, and counts
    rejections in both tails.
    """
    effect = abs(cohens_h(rate_a, rate_b)) * math.sqrt(n_a / (1.0 + 1.0 / ratio))
    crit = normal_ppf(1 - alpha / 2)
    return normal_sf(crit - effect) + normal_cdf(-crit - effect)


def sample_size_two_proportions(rate_a, rate_b, alpha=0.05, power=0.8, ratio=1.0):
    """Control units needed to detect rate_a -> rate_b with the given power (round it up).

    The treatment needs ``ratio`` times as many. Starts from the one-tail closed form
    ((z_{1-alpha/2} + z_power) / h)^2 (1 + 1/ratio) and solves the exact two-tail power equation
    by bisection.
    """
    if rate_a == rate_b:
        raise ValueError("rate_a equals rate_b: there is no effect to detect; pass the rate you hope to reach")
    if not (0 < alpha < 1 and 0 < power < 1 and ratio > 0):
        raise ValueError("alpha and power must be in (0, 1) and ratio > 0")
    h = abs(cohens_h(rate_a, rate_b))
    n = ((normal_ppf(1 - alpha / 2) + normal_ppf(power)) / h) ** 2 * (1 + 1 / ratio)
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
    otherwise; ``exact`` forces one or the other.
    """
    b, c = int(only_a_correct), int(only_b_correct)
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
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
