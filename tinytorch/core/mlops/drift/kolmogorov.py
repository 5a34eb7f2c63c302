"""The two-sample KS test: SciPy's p-values, and on large samples a faster route to the statistic.

``scipy.stats.ks_2samp(method="auto")`` computes an exact p-value when both samples have at most
``EXACT_MAX_N`` rows, and otherwise ``kstwo.sf(D, round(n1 n2 / (n1 + n2)))``. On small samples
the exact p-value costs far more than the statistic, so they go to SciPy whole. On large samples
SciPy's p-value is usually cheap and its statistic is not: after sorting both samples it looks
every value up in both of them (two binary searches per value). ``sorted_ks_statistic`` finds the
identical D after the two sorts with a few thousand look-ups (see its docstring): under a quarter
of SciPy's CPU time on a million rows without drift (``benchmarks/drift.py``). With strong drift
SciPy's p-value (``kstwo.sf``, an exact sum over n terms) dominates both.

The students' version is ``stats.ks_statistic`` with Kolmogorov's limit ``stats.ks_pvalue``.
"""

import numpy as np
import scipy.stats

from ..experiments.arguments import sample

EXACT_MAX_N = 10_000
"""SciPy's 'auto' rule: exact p-value when max(n1, n2) <= this, asymptotic otherwise."""

BLOCK_ROWS = 256
"""Rows of each sample between two checkpoints of ``sorted_ks_statistic``."""


def ks_2samp(reference, current):
    """Two-sided two-sample KS test: ``(statistic, p_value, method)``, equal to scipy's ks_2samp.

    ``method`` is "exact" or "asymp", the one SciPy's method="auto" uses (were SciPy's exact
    sum ever to fail, SciPy itself warns that it switched to "asymp"). NaN is refused, not
    ranked: drop missing values first (``DriftDetector`` does, and reports their share); +-inf
    are ordinary values.
    """
    a = np.sort(sample("reference", reference, allow_inf=True))
    b = np.sort(sample("current", current, allow_inf=True))
    if max(a.size, b.size) <= EXACT_MAX_N:
        result = scipy.stats.ks_2samp(a, b, method="exact")
        return float(result.statistic), float(result.pvalue), "exact"
    d = sorted_ks_statistic(a, b)
    larger, smaller = float(max(a.size, b.size)), float(min(a.size, b.size))
    en = np.round(larger * smaller / (larger + smaller))  # SciPy's effective size, rounded as it does
    return d, float(np.clip(scipy.stats.kstwo.sf(d, en), 0.0, 1.0)), "asymp"


def sorted_ks_statistic(a, b):
    """The KS statistic of two SORTED samples, computed as SciPy does, looking up few values.

    With F_a(v) = #(a <= v) / n and F_b likewise, D = max |F_a(v) - F_b(v)| over the values v of
    both samples (``np.searchsorted(..., side="right")`` counts ties whole). Checkpoints every
    ``BLOCK_ROWS`` rows of each sample cut the values into blocks; inside the block between
    checkpoints p < q both counts lie between their values at p and at q, which bounds |F_a - F_b|
    there. Only blocks whose bound reaches the best value seen at a checkpoint are searched value
    by value. The bounds are compared as integers (n m F = count_a m - count_b n), so no block that
    holds the maximum is skipped, and D is evaluated with SciPy's float expression, so it is
    bit-identical. Two samples drawn from one distribution leave a handful of blocks to search;
    the worst case (identical samples, D = 0) searches all of them, as SciPy does.
    """
    n, m = a.size, b.size
    checkpoints = np.unique(np.concatenate([a[::BLOCK_ROWS], b[::BLOCK_ROWS], a[-1:], b[-1:]]))
    count_a = np.searchsorted(a, checkpoints, side="right")
    count_b = np.searchsorted(b, checkpoints, side="right")
    scaled = count_a * m - count_b * n  # n m (F_a - F_b) at each checkpoint, exact in int64
    best = np.abs(scaled).max()
    bound = np.maximum(count_a[1:] * m - count_b[:-1] * n, count_b[1:] * n - count_a[:-1] * m)
    blocks = np.flatnonzero(bound >= best)
    values = np.concatenate([checkpoints,
                             a[_ranges(count_a[blocks], count_a[blocks + 1])],
                             b[_ranges(count_b[blocks], count_b[blocks + 1])]])
    gaps = np.searchsorted(a, values, side="right") / n - np.searchsorted(b, values, side="right") / m
    return float(np.abs(gaps).max())


def _ranges(starts, stops):
    """The indices start_i, ..., stop_i - 1 of every range, concatenated (an int array)."""
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(lengths.sum())
