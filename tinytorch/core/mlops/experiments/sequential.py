"""A sequential test that stays honest when you look at the results after every batch.

Method: the mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh,
"Always valid inference" (2017), with a normal mixture N(0, tau^2) over the true difference.
With theta_hat the observed difference b - a and V its variance,

    Lambda_n = sqrt(V / (V + tau^2)) * exp(tau^2 theta_hat^2 / (2 V (V + tau^2))).

Under the null Lambda_n is (approximately, with an estimated variance) a non-negative martingale
with mean 1, so by Ville's inequality P(Lambda_n ever reaches 1/alpha) <= alpha: you may stop at
any look. The always-valid p-value is min over looks of 1 / Lambda; inverting the test gives a
confidence sequence (an interval valid at all looks at once).

Tuning: tau^2 = r * V_N, where V_N is the variance of theta_hat at the planned sample size N and
r solves r = 2 log(1/alpha) + log(1 + r) (r ~ 8.2 at alpha = 0.05). This makes the confidence
sequence narrowest at N, as GrowthBook tunes its confidence sequences to the expected sample size.
Since V shrinks like 1/n, tau^2 / V_n = r n / N and the test depends only on z_n and n / N.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import arguments


class SequentialResult(NamedTuple):
    diff: float
    low: float
    high: float
    p_value: float
    reject: bool


def msprt_log_likelihood_ratio(diff, variance, tau2):
    """log Lambda of the normal-mixture sequential probability ratio test (mSPRT).

    ``diff`` is the observed difference of means (treatment - control), ``variance`` its variance
    (e.g. s_a^2/n_a + s_b^2/n_b) and ``tau2`` the variance of the normal mixture over the true
    effect. log Lambda = 0.5 log(V / (V + tau2)) + tau2 diff^2 / (2 V (V + tau2)).
    Reject "no difference" once it reaches log(1 / alpha): unlike a t-test's p-value, this
    threshold can be checked after every new user without inflating false positives.
    Works elementwise on NumPy arrays. ValueError unless every variance and tau2 is > 0 (they are
    variances) and no diff is NaN.
    """
    diff = np.asarray(diff, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if not (np.all(variance > 0) and np.all(np.asarray(tau2) > 0)) or np.isnan(diff).any():
        raise ValueError("msprt_log_likelihood_ratio needs variance > 0 and tau2 > 0 (both are variances) and a "
                         f"diff that is not NaN; got diff={diff}, variance={variance}, tau2={tau2}")
    total = variance + tau2
    result = 0.5 * np.log(variance / total) + tau2 * diff**2 / (2.0 * variance * total)
    return float(result) if result.ndim == 0 else result


def mixture_variance_ratio(alpha=0.05):
    """r = tau^2 / V_N that makes the confidence sequence narrowest at the planned sample size.

    alpha is in (0, 1).
    """
    alpha = arguments.probability("alpha", alpha)
    r = 2.0 * math.log(1.0 / alpha)
    for _ in range(100):
        r = 2.0 * math.log(1.0 / alpha) + math.log1p(r)
    return r


def confidence_sequence_radius(variance, tau2, alpha=0.05):
    """Half-width of the always-valid interval for the difference (the mSPRT inverted).

    diff +- sqrt(V (V + tau2) / tau2 * (2 log(1/alpha) + log((V + tau2) / V))).
    Every variance and tau2 must be finite and > 0, alpha in (0, 1).
    """
    variance = np.asarray(variance, dtype=np.float64)
    tau2 = arguments.positive("tau2", tau2)
    alpha = arguments.probability("alpha", alpha)
    if not np.all((variance > 0) & (variance < np.inf)):
        raise ValueError(f"variance must be finite and > 0 (the variance of the difference); got {variance}")
    total = variance + tau2
    radius = np.sqrt(variance * total / tau2 * (2.0 * math.log(1.0 / alpha) + np.log(total / variance)))
    return float(radius) if radius.ndim == 0 else radius


class SequentialTest:
    """Always-valid comparison of a metric's mean between control (a) and treatment (b).

    ``planned_units`` is the total number of units you expect (both arms); it only tunes where
    the test is most sensitive, and stopping before or after it is still valid. Feed values with
    ``update`` in any order and call ``look()`` as often as you like.
    """

    def __init__(self, planned_units, alpha=0.05, binary=True):
        planned_units = arguments.count("planned_units", planned_units, minimum=2)
        alpha = arguments.probability("alpha", alpha)
        self.planned_units = planned_units
        self.alpha = alpha
        self.binary = binary
        self.ratio = mixture_variance_ratio(alpha)
        self._sums = {"a": np.zeros(3), "b": np.zeros(3)}  # n, sum, sum of squares
        self._p_value = 1.0

    def update(self, arm, values):
        """Add one value or an array of values observed in arm "a" (control) or "b" (treatment).

        Values must be finite (NaN and +-inf are refused); a binary test takes only 0 and 1.
        """
        if arm not in self._sums:
            raise ValueError(f"arm must be 'a' (control) or 'b' (treatment), got {arm!r}")
        values = arguments.sample("values", np.atleast_1d(values).ravel())
        if self.binary and not np.isin(values, (0.0, 1.0)).all():
            raise ValueError(f"a binary SequentialTest takes 0/1 outcomes; got {values[~np.isin(values, (0.0, 1.0))][:3]}")
        self._sums[arm] += (values.size, values.sum(), (values**2).sum())

    def look(self):
        """Current difference, always-valid interval and p-value; ``reject`` once p <= alpha."""
        (n_a, s_a, q_a), (n_b, s_b, q_b) = self._sums["a"], self._sums["b"]
        if n_a < 2 or n_b < 2:
            raise ValueError("each arm needs at least 2 values before a look")
        mean_a, mean_b = s_a / n_a, s_b / n_b
        var_a = max(q_a / n_a - mean_a**2, 0.0) * n_a / (n_a - 1)
        var_b = max(q_b / n_b - mean_b**2, 0.0) * n_b / (n_b - 1)
        variance = var_a / n_a + var_b / n_b
        if self.binary:  # under the null both arms share one rate: the pooled variance is steadier
            pooled = (s_a + s_b) / (n_a + n_b)
            null_variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
        else:
            null_variance = variance
        diff = mean_b - mean_a
        if variance <= 0 or null_variance <= 0:
            return SequentialResult(diff, -math.inf, math.inf, self._p_value, self._p_value <= self.alpha)
        # tau^2 = r * V_N with V_N = V_n * n / N (the variance shrinks like 1/n).
        information = (n_a + n_b) / self.planned_units
        log_lr = msprt_log_likelihood_ratio(diff, null_variance, self.ratio * null_variance * information)
        self._p_value = min(self._p_value, math.exp(-max(log_lr, 0.0)))
        radius = confidence_sequence_radius(variance, self.ratio * variance * information, self.alpha)
        return SequentialResult(diff, diff - radius, diff + radius, self._p_value, self._p_value <= self.alpha)
