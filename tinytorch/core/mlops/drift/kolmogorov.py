"""The two-sample KS test: SciPy's p-values, and on large samples a faster route to the statistic.

``scipy.stats.ks_2samp(method="auto")`` computes an exact p-value when both samples have at most
``EXACT_MAX_N`` rows, and otherwise ``kstwo.sf(D, round(n1 n2 / (n1 + n2)))``. On small samples
the exact p-value costs far more than the statistic, so they go to SciPy whole. On large samples
SciPy's p-value is usually cheap and its statistic is not: after sorting both samples it looks
every value up in both of them (two binary searches per value). ``sorted_ks_statistic`` finds the
identical D after the two sorts with a few thousand look-ups (see its docstring), so that the
whole test costs little more than its floor: the two sorts plus SciPy's p-value
(``benchmarks/drift.py`` measures both in the same rounds). With strong drift SciPy's p-value
(``kstwo.sf``, an exact sum over n terms) dominates both.

The students' version is ``stats.ks_statistic`` with Kolmogorov's limit ``stats.ks_pvalue``.
"""

import numpy as np
import scipy.stats

from ..experiments.arguments import sample

EXACT_MAX_N = 10_000
"""SciPy's 'auto' rule: exact p-value when max(n1, n2) <= this, asymptotic otherwise."""

BLOCK_ROWS = 64
"""Rows between two checkpoints of ``sorted_ks_statistic``: fewer rows cost more look-ups of
checkpoints, more rows leave more blocks to merge (on a million rows sorted just before, with
and without drift, 64 took 1.35 ms, 32 took 2.4 ms and 128 took 1.6-3.2 ms)."""


def ks_2samp(reference, current):
    """Two-sided two-sample KS test: ``(statistic, p_value, method)``, equal to scipy's ks_2samp.

    ``method`` is "exact" or "asymp", the one SciPy's method="auto" uses (were SciPy's exact
    sum ever to fail, SciPy itself warns that it switched to "asymp"). NaN is refused, not
    ranked: drop missing values first (``DriftDetector`` does, and reports their share); +-inf
    are ordinary values.
    """
    a, b = _sorted_sample("reference", reference), _sorted_sample("current", current)
    if max(a.size, b.size) <= EXACT_MAX_N:
        result = scipy.stats.ks_2samp(a, b, method="exact")
        return float(result.statistic), float(result.pvalue), "exact"
    d = sorted_ks_statistic(a, b)
    larger, smaller = float(max(a.size, b.size)), float(min(a.size, b.size))
    en = np.round(larger * smaller / (larger + smaller))  # SciPy's effective size, rounded as it does
    return d, float(np.clip(scipy.stats.kstwo.sf(d, en), 0.0, 1.0)), "asymp"


def _sorted_sample(name, values):
    """``values`` as a sorted float64 array; the errors of ``arguments.sample`` otherwise.

    Sorting copies the data anyway, so no converted copy is made before it, and NaN is found
    after it: ``np.sort`` puts NaN last, so one look at the last value replaces a pass over the
    data (``sample`` runs in full only to word the error). On a million rows that leaves the
    two sorts as nearly all of the cost before the statistic."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf" or array.ndim > 1 or array.size == 0:
        sample(name, values, allow_inf=True)  # raises the error that says what is wrong
    ordered = np.sort(array.astype(np.float64, copy=False).ravel())
    if np.isnan(ordered[-1]):
        sample(name, values, allow_inf=True)
    return ordered


def sorted_ks_statistic(a, b):
    """The KS statistic of two SORTED samples, computed as SciPy does, looking up few values.

    With F_a(v) = #(a <= v) / n and F_b likewise, D = max |F_a(v) - F_b(v)| over the values v of
    both samples (``np.searchsorted(..., side="right")`` counts ties whole). Checkpoints every
    ``BLOCK_ROWS`` rows of the larger sample (whose counts there need no search, see
    ``_own_grid``), and the extremes of both, cut the values into blocks; inside the block
    between checkpoints p < q both counts lie between their values at p and at q, which bounds
    |F_a - F_b| there. The other sample's counts at the checkpoints are first bounded from its
    own every ``BLOCK_ROWS``-th row (``_grid_bounds``: no search touches a million rows), which
    rules out most blocks; the ends of the blocks left are searched exactly, and bound again.
    Only blocks whose bound reaches what a checkpoint already guarantees are evaluated value by
    value, by merging their rows of both samples (a few thousand) rather than searching the
    whole samples. The bounds are compared as integers (n m F = count_a m - count_b n), so no
    block that holds the maximum is skipped, and each count is the integer SciPy's searchsorted
    finds, divided as SciPy divides it, so D is bit-identical. Two samples drawn from one
    distribution leave a few dozen blocks to merge; the worst case (identical samples, D = 0)
    merges all of them, a pass SciPy's search costs more than.
    """
    if a.size < b.size:  # |F_a - F_b| is exactly |F_b - F_a|: let `a` be the larger sample
        a, b = b, a
    n, m = a.size, b.size
    checkpoints, count_a = _own_grid(a, min(a[0], b[0]), max(a[-1], b[-1]))
    low_b, high_b = _grid_bounds(b, checkpoints)
    blocks = _blocks_that_may_hold_d(count_a, low_b, high_b, n, m)
    # b's exact counts at the ends of those blocks (a few hundred searches), then the bounds again
    ends = np.unique(np.concatenate([[0], blocks, blocks + 1]))  # checkpoint 0 ends no block
    low_b[ends] = high_b[ends] = np.searchsorted(b, checkpoints[ends], side="right")
    blocks = _blocks_that_may_hold_d(count_a, low_b, high_b, n, m)
    count_b = low_b  # exact wherever it is read below
    in_a, block_a, start_a = _block_rows(a, count_a, blocks)
    in_b, block_b, start_b = _block_rows(b, count_b, blocks)
    # Merge the rows of the selected blocks (two sorted runs: a stable sort merges them in one
    # pass). A value v of block i lies in (checkpoint i, checkpoint i + 1], so #(a <= v) is
    # count_a at checkpoint i plus the rows of block i from `a` merged up to v's last copy.
    values = np.concatenate([in_a, in_b])
    order = np.argsort(values, kind="stable")
    merged, from_a = values[order], order < in_a.size
    block = np.concatenate([block_a, block_b])[order]
    last_copy = np.ones(merged.size, dtype=bool)  # (no rows at all when no block is selected)
    last_copy[:-1] = merged[1:] != merged[:-1]
    seen_a = np.cumsum(from_a)[last_copy]
    seen_b = np.arange(1, merged.size + 1)[last_copy] - seen_a
    block = block[last_copy]
    below_a = count_a[blocks][block] + seen_a - start_a[block]
    below_b = count_b[blocks][block] + seen_b - start_b[block]
    gaps = np.concatenate([count_a[ends] / n - count_b[ends] / m, below_a / n - below_b / m])
    return float(np.abs(gaps).max())


def _blocks_that_may_hold_d(count_a, low_b, high_b, n, m):
    """The blocks (between checkpoints i and i + 1) where n m |F_a - F_b| may reach D n m, given
    a's counts at the checkpoints and bounds low_b <= #(b <= checkpoint) <= high_b. At a
    checkpoint n m |F_a - F_b| is at least max(count_a m - high_b n, low_b n - count_a m), so D
    n m is at least the largest of these; inside a block both counts lie between their values at
    its ends. Integers throughout (exact in int64), so no block that holds D is dropped."""
    least = np.maximum(count_a * m - high_b * n, low_b * n - count_a * m).max()
    most = np.maximum(count_a[1:] * m - low_b[:-1] * n, high_b[1:] * n - count_a[:-1] * m)
    return np.flatnonzero(most >= least)


def _grid_bounds(x, values):
    """Bounds ``(low, high)`` on ``np.searchsorted(x, values, side="right")`` for sorted ``x``,
    found in every ``BLOCK_ROWS``-th row alone (a small array that stays in cache, where a search
    of all of ``x`` reads a million rows that a sort has just pushed out of it): if k of those
    rows are <= v, rows 0 to (k - 1) BLOCK_ROWS are, and row k BLOCK_ROWS is not."""
    above = np.searchsorted(x[::BLOCK_ROWS], values, side="right")
    low = np.where(above > 0, (above - 1) * BLOCK_ROWS + 1, 0)
    return low, np.minimum(above * BLOCK_ROWS, x.size)


def _own_grid(x, low, high):
    """Checkpoints ``low``, every ``BLOCK_ROWS``-th row of sorted ``x``, ``high`` (sorted, with
    ``low <= x[0]`` and ``high >= x[-1]``) and ``np.searchsorted(x, checkpoints, side="right")``
    without searching a million rows: row i is preceded by i rows, so i + 1 of them are <= x[i],
    plus any copies of x[i] after it (only those rows are searched)."""
    rows = np.arange(0, x.size, BLOCK_ROWS)
    checkpoints = np.concatenate([[low], x[rows], [high]])
    count = np.concatenate([[np.searchsorted(x, low, side="right")], rows + 1, [x.size]])
    tied = np.flatnonzero(x[np.minimum(count, x.size - 1)] == checkpoints)
    tied = tied[count[tied] < x.size]
    count[tied] = np.searchsorted(x, checkpoints[tied], side="right")
    return checkpoints, count


def _block_rows(x, count, blocks):
    """The rows of sorted ``x`` in the given blocks (between checkpoints ``blocks`` and
    ``blocks + 1``), concatenated (still sorted), with each row's block position and the
    offset in that concatenation at which each block starts."""
    lengths = count[blocks + 1] - count[blocks]
    starts = np.cumsum(lengths) - lengths
    rows = x[_ranges(count[blocks], count[blocks + 1])]
    return rows, np.repeat(np.arange(blocks.size), lengths), starts


def _ranges(starts, stops):
    """The indices start_i, ..., stop_i - 1 of every range, concatenated (an int array)."""
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(lengths.sum())
