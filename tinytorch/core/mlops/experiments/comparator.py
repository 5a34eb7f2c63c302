"""ModelComparator: is model B really better than model A on the same test set?

Both models predict the same rows, so the outcomes are paired: a test for independent samples
(like the two-proportion z-test) would ignore that and lose power. McNemar's test looks only at
the rows where exactly one model is right; the paired bootstrap resamples rows (keeping both
models' outcomes together) to give an interval for the accuracy difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arguments
from .routing import _check_test_data, _require_predict
from .stats import Interval, mcnemar_test


@dataclass(frozen=True)
class ComparisonResult:
    accuracy_a: float
    accuracy_b: float
    difference: Interval        # accuracy_b - accuracy_a with its paired bootstrap interval
    only_a_correct: int
    only_b_correct: int
    statistic: float
    p_value: float
    method: str                 # "exact" (binomial) or "chi2" (continuity-corrected)
    significant: bool

    def __str__(self):
        d = self.difference
        return (f"accuracy A {self.accuracy_a:.4f}, B {self.accuracy_b:.4f}; B - A = {d.estimate:+.4f} "
                f"[{d.low:+.4f}, {d.high:+.4f}]; McNemar ({self.method}) p = {self.p_value:.4g}; "
                f"discordant: only A {self.only_a_correct}, only B {self.only_b_correct}")


def paired_bootstrap_interval(correct_a, correct_b, n_bootstrap=2000, alpha=0.05, seed=0, chunk=200):
    """Percentile bootstrap interval of mean(correct_b) - mean(correct_a), resampling pairs.

    ``correct_a`` and ``correct_b`` are equally long, non-empty and finite (NaN refused);
    ``n_bootstrap`` and ``chunk`` are whole numbers >= 1, alpha is in (0, 1).
    """
    correct_a, correct_b = arguments.sample("correct_a", correct_a), arguments.sample("correct_b", correct_b)
    if correct_a.size != correct_b.size:
        raise ValueError(f"correct_a and correct_b pair the same rows; got {correct_a.size} and {correct_b.size} values")
    n_bootstrap = arguments.count("n_bootstrap", n_bootstrap, minimum=1)
    chunk = arguments.count("chunk", chunk, minimum=1)
    alpha = arguments.probability("alpha", alpha)
    diffs_per_row = correct_b - correct_a
    n = diffs_per_row.size
    rng = np.random.default_rng(seed)
    means = np.concatenate([diffs_per_row[rng.integers(0, n, size=(min(chunk, n_bootstrap - i), n))].mean(axis=1)
                            for i in range(0, n_bootstrap, chunk)])
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(diffs_per_row.mean()), float(low), float(high))


class ModelComparator:
    """Paired comparison of two models on one labelled test set."""

    def __init__(self, model_a, model_b):
        _require_predict(model_a, "model_a")
        _require_predict(model_b, "model_b")
        self.model_a, self.model_b = model_a, model_b

    def compare(self, X, y, alpha=0.05, n_bootstrap=2000, seed=0):
        alpha = arguments.probability("alpha", alpha)
        X, y = _check_test_data((X, y))
        if len(y) == 0:
            raise ValueError(f"compare needs X (n, features) and y (n,) with n > 0; got {X.shape} and {y.shape}")
        correct_a = np.asarray(self.model_a.predict(X)) == y
        correct_b = np.asarray(self.model_b.predict(X)) == y
        only_a, only_b = int(np.sum(correct_a & ~correct_b)), int(np.sum(correct_b & ~correct_a))
        test = mcnemar_test(only_a, only_b)
        difference = paired_bootstrap_interval(correct_a, correct_b, n_bootstrap, alpha, seed)
        return ComparisonResult(float(correct_a.mean()), float(correct_b.mean()), difference, only_a, only_b,
                                test.statistic, test.p_value, test.method, test.p_value < alpha)
