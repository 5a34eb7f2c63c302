"""Two-sample statistics for drift detection, in NumPy (the chi-square tail is SciPy's).

The students' tasks (``ks_statistic``, ``ks_pvalue``, ``psi``, ``psi_from_counts``,
``chi_square_test``, ``benjamini_hochberg``) are self-contained (stdlib + NumPy + the names in
this module) so that a notebook can hand them out verbatim; the others check their arguments
with ``experiments.arguments``. The detector in ``detector.py`` composes them. The numbers agree
with SciPy (``ks_2samp``, ``chi2_contingency``, ``wasserstein_distance``, ``jensenshannon``),
which the tests use as the oracle. NaN is refused by every function here: drop missing values
first (``DriftDetector`` does, and reports their share).
"""

import math

import numpy as np

from ..experiments import arguments
from ..experiments.distributions import chi2_sf  # one chi-square tail for the whole library

PSI_EPSILON = 1e-4
"""Share given to an empty PSI bin (Evidently's choice), so that log(0) never appears."""


def ks_statistic(reference, current):
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs.

    D = max over x of |F_ref(x) - F_cur(x)|. Both ECDFs only change at observed values, so walk
    through all values in sorted order counting how many came from each sample:
    after value x, F_ref(x) = (reference values <= x) / n_ref, and likewise for current.
    Only the LAST copy of a repeated value is a valid evaluation point (ties must be counted
    together, or D comes out too large). Sorting each sample and merging the two sorted runs
    with a stable argsort (which detects the runs) costs about one sort, half of what evaluating
    ``np.searchsorted`` at every point costs on a million rows.

    Why it matters: D is the drift score behind Evidently's default test for numeric columns on
    small references. It is in [0, 1], symmetric in its arguments, and 0 for identical samples.
    Accept any sequences of numbers (lists or arrays, of any sizes). Raise ValueError for an
    empty sample (there is no ECDF to compare) or a NaN in either.

    >>> ks_statistic([1.0, 2.0, 2.0], [2.0, 2.0, 1.0])
    0.0
    """
    a = np.sort(np.asarray(reference, dtype=np.float64).ravel())
    b = np.sort(np.asarray(current, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError(f"ks_statistic needs two non-empty samples; got {a.size} and {b.size} values")
    if np.isnan(a[-1]) or np.isnan(b[-1]):  # np.sort puts NaN last
        raise ValueError("ks_statistic got NaN in a sample; drop missing values before testing")
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    last_copy = np.append(values[1:] != values[:-1], True)
    seen_a = np.cumsum(order < a.size)[last_copy]
    seen_b = np.arange(1, merged.size + 1)[last_copy] - seen_a
    return float(np.max(np.abs(seen_a / a.size - seen_b / b.size)))


def ks_pvalue(statistic, n_reference, n_current):
    """Asymptotic p-value of the two-sample KS statistic (Kolmogorov's limiting distribution).

    With the effective sample size en = n*m / (n + m) (true division) and lam = sqrt(en) * D,
    P(D >= d) ~ Q(lam) = 2 * sum_{k>=1} (-1)^(k-1) * exp(-2 k^2 lam^2).
    - If lam < 0.1, return 1.0: Q(lam) is 1 to double precision there, and the series would
      need thousands of terms.
    - Otherwise add the terms for k = 1, 2, ..., at most 100 of them, stopping after the first
      term whose size is at most 1e-16 times the total (for lam >= 0.1 that happens before k = 45).
    - Clip the result to [0, 1].
    Summing the tail directly keeps tiny p-values accurate; 1 - cdf would round them to 0.

    Why it matters: this is the p-value every "KS drift test" reports. It is exact only as
    n grows; ``kolmogorov.ks_2samp`` beside this module gives SciPy's exact small-sample value.
    ValueError unless 0 <= statistic <= 1 and both sizes are >= 1 (NaN fails both rules).

    >>> round(ks_pvalue(0.0, 100, 100), 6)
    1.0
    """
    if not 0.0 <= statistic <= 1.0:
        raise ValueError(f"ks_pvalue: statistic is a KS distance in [0, 1], got {statistic}")
    if not (n_reference >= 1 and n_current >= 1):
        raise ValueError(f"ks_pvalue needs sample sizes >= 1; got n_reference={n_reference}, n_current={n_current}")
    en = n_reference * n_current / (n_reference + n_current)
    lam = math.sqrt(en) * float(statistic)
    if lam < 0.1:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2.0 * (-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) <= 1e-16 * abs(total):
            break
    return min(max(total, 0.0), 1.0)


def chi_square_test(reference_counts, current_counts):
    """Chi-square test of homogeneity on the 2 x k table [reference_counts, current_counts].

    ``reference_counts[i]`` and ``current_counts[i]`` count the same category i; build them over
    the UNION of categories, so a category unseen in the reference is a 0 in the reference row
    (the classic crash is a test that looks the new category up in the reference). Categories
    with zero in both rows carry no information and are dropped.
    Expected counts: E = row_total * column_total / grand_total; statistic = sum (O - E)^2 / E;
    dof = k - 1. With dof == 1 apply Yates' continuity correction (move each O towards E by
    min(0.5, |O - E|)), as ``scipy.stats.chi2_contingency`` does by default.
    Returns ``(statistic, p_value)``; a single category (dof 0) gives (0.0, 1.0).
    ValueError for sequences of different lengths, a count that is negative, infinite or NaN
    (never dropped: a NaN count is a bug upstream), or a sample with no counts at all.

    Why it matters: this is the drift test for categorical features on small references.
    """
    if np.size(reference_counts) != np.size(current_counts):
        raise ValueError(f"chi_square_test needs one count per category in both samples; got "
                         f"{np.size(reference_counts)} reference counts and {np.size(current_counts)} current counts")
    observed = np.array([reference_counts, current_counts], dtype=np.float64)
    if observed.ndim != 2 or not np.all((observed >= 0) & (observed < np.inf)):
        raise ValueError(f"chi_square_test needs two equal-length sequences of finite counts >= 0; "
                         f"got {reference_counts!r} and {current_counts!r}")
    observed = observed[:, observed.sum(axis=0) > 0]
    if np.any(observed.sum(axis=1) == 0):
        raise ValueError("chi_square_test needs at least one count in each sample")
    dof = observed.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    if dof == 1:
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, dof)


def wasserstein_distance(reference, current):
    """First Wasserstein (earth mover's) distance between two 1-D samples.

    W1 = integral over x of |F_ref(x) - F_cur(x)| dx. Both ECDFs are step functions that only
    change at observed values, so sort all values, take the widths between neighbours, evaluate
    both ECDFs on the left end of each gap (searchsorted, side="right") and sum |gap| * width.
    Unlike a p-value it does not shrink with n: it is in the data's own units, which is why
    Evidently divides it by the reference std and uses a fixed threshold (0.1) on large data.
    Both samples must be non-empty and finite (NaN and +-inf are refused).
    """
    a = np.sort(arguments.sample("reference", reference))
    b = np.sort(arguments.sample("current", current))
    points = np.sort(np.concatenate([a, b]), kind="mergesort")
    widths = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def psi(reference, current, bins=10):
    """Population Stability Index over quantile bins of the reference.

    The bin edges, in this order:
    1. the reference's quantiles at 0, 1/bins, ..., 1: ``np.quantile(reference, np.linspace(0,
       1, bins + 1))``;
    2. duplicates removed (``np.unique``): a column with many ties gets fewer bins;
    3. the first and the last edge replaced by -inf and +inf, so current values outside the
       reference's range still land in a bin (the inner edges are ``np.unique(q)[1:-1]``).
    A constant reference therefore has a single bin, and its PSI is 0 against any sample.
    A value equal to an edge belongs to the bin above it. Count both samples per bin and pass
    the counts to ``psi_from_counts`` (empty bins get ``PSI_EPSILON``). Counting the values below each edge
    (``np.count_nonzero(x < edge)``) and taking differences puts a value equal to an edge in the
    bin above, and is about ten times faster than locating every value (``np.searchsorted``).
    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    ValueError for an empty sample, a NaN in either, or bins that is not a whole number >= 1.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    cur = np.asarray(current, dtype=np.float64).ravel()
    if ref.size == 0 or cur.size == 0:
        raise ValueError(f"psi needs two non-empty samples; got {ref.size} and {cur.size} values")
    if np.isnan(ref).any() or np.isnan(cur).any():
        raise ValueError("psi got NaN in a sample; drop missing values before binning")
    if not (bins == int(bins) and bins >= 1):
        raise ValueError(f"psi needs a whole number of bins >= 1, got {bins!r}")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, int(bins) + 1)))[1:-1]

    def bin_counts(x):
        below = [np.count_nonzero(x < edge) for edge in edges]
        return np.diff([0, *below, x.size])

    return psi_from_counts(bin_counts(ref), bin_counts(cur))


def psi_from_counts(reference_counts, current_counts):
    """PSI of two count vectors over the same bins (or categories).

    Shares r_i = ref_i / sum(ref) and c_i = cur_i / sum(cur), each floored at ``PSI_EPSILON`` so
    an empty bin keeps the log defined: PSI = sum_i (c_i - r_i) * ln(c_i / r_i). Each term is
    >= 0, so PSI >= 0. Raise ValueError for vectors of different lengths, a count that is
    negative, infinite or NaN, or a vector with no counts.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    finite_counts = np.all((ref >= 0) & (ref < np.inf)) and np.all((cur >= 0) & (cur < np.inf))
    if ref.shape != cur.shape or not finite_counts or ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError(f"psi_from_counts needs two equal-length vectors of finite counts >= 0, each with a "
                         f"count > 0; got {reference_counts!r} and {current_counts!r}")
    ref_share = np.maximum(ref / ref.sum(), PSI_EPSILON)
    cur_share = np.maximum(cur / cur.sum(), PSI_EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def jensen_shannon_distance(reference_counts, current_counts):
    """Jensen-Shannon distance (natural log) between two count vectors over the same categories.

    Normalise both to probabilities p, q; m = (p + q) / 2;
    JS = sqrt((KL(p || m) + KL(q || m)) / 2), with 0 * log 0 = 0. It is symmetric, finite even
    for a category that one side never saw, and bounded by sqrt(ln 2) ~ 0.833. Counts must be
    finite and >= 0, with a count > 0 on each side.
    """
    p = arguments.counts("reference_counts", reference_counts)
    q = arguments.counts("current_counts", current_counts)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError(f"jensen_shannon_distance needs two equal-length count vectors, each with a count > 0; "
                         f"got {p.size} and {q.size} counts summing to {p.sum()} and {q.sum()}")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0

    def kl_to_m(x):
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / m[mask])))

    return math.sqrt(max((kl_to_m(p) + kl_to_m(q)) / 2.0, 0.0))


def bonferroni(p_values, alpha=0.05):
    """Bonferroni correction: reject hypothesis i when p_i <= alpha / m (m = number of tests).

    Controls the family-wise error rate: the chance of even one false alarm across all m
    features stays <= alpha. Returns a boolean array (True = reject = drift). P-values must be
    in [0, 1] (NaN refused) and alpha in (0, 1).
    """
    p = _p_values(p_values)
    alpha = arguments.probability("alpha", alpha)
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    return p <= alpha / p.size


def benjamini_hochberg(p_values, alpha=0.05):
    """Benjamini-Hochberg step-up procedure: controls the false discovery rate at alpha.

    Sort the m p-values ascending: p_(1) <= ... <= p_(m). Find the largest k with
    p_(k) <= k * alpha / m and reject the k hypotheses with the smallest p-values (all of them,
    even one whose own p-value is above its line). Returns a boolean array in the input order.
    Less conservative than Bonferroni when many features drift at once.
    ValueError for a p-value outside [0, 1] (NaN included) or alpha outside (0, 1).
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"benjamini_hochberg needs p-values in [0, 1], got {p[~((p >= 0) & (p <= 1))][:3]}")
    if not 0 < alpha < 1:
        raise ValueError(f"benjamini_hochberg needs alpha in (0, 1), got {alpha}")
    m = p.size
    reject = np.zeros(m, dtype=bool)
    if m == 0:
        return reject
    order = np.argsort(p, kind="mergesort")
    below = p[order] <= alpha * np.arange(1, m + 1) / m
    if below.any():
        k = int(np.nonzero(below)[0].max()) + 1
        reject[order[:k]] = True
    return reject


def _p_values(values):
    """p-values as a 1-D float array; ValueError for any value outside [0, 1] (NaN included)."""
    p = arguments.float_array("p_values", values)
    outside = ~((p >= 0) & (p <= 1))
    if outside.any():
        raise ValueError(f"p_values must lie in [0, 1]; got {p[outside][0]} at index {int(np.argmax(outside))}")
    return p
