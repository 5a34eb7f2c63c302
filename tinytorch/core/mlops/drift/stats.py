"""Two-sample statistics for drift detection, NumPy only.

Each function here is self-contained (stdlib + NumPy + the names in this module) so that a
notebook can hand it to students as a task or provide it verbatim. The detector in
``detector.py`` composes them. The numbers agree with SciPy (``ks_2samp``, ``chi2_contingency``,
``wasserstein_distance``, ``jensenshannon``), which the tests use as the oracle.
"""

import math

import numpy as np

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

    >>> ks_statistic([1.0, 2.0, 2.0], [2.0, 2.0, 1.0])
    0.0
    """
    a = np.sort(np.asarray(reference, dtype=np.float64).ravel())
    b = np.sort(np.asarray(current, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("ks_statistic needs two non-empty samples")
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    last_copy = np.append(values[1:] != values[:-1], True)
    seen_a = np.cumsum(order < a.size)[last_copy]
    seen_b = np.arange(1, merged.size + 1)[last_copy] - seen_a
    return float(np.max(np.abs(seen_a / a.size - seen_b / b.size)))


def ks_pvalue(statistic, n_reference, n_current):
    """Asymptotic p-value of the two-sample KS statistic (Kolmogorov's limiting distribution).

    With the effective sample size en = n*m / (n + m) and lam = sqrt(en) * D,
    P(D >= d) ~ Q(lam) = 2 * sum_{k>=1} (-1)^(k-1) * exp(-2 k^2 lam^2).
    The series converges fast; stop when a term no longer changes the sum. Clip to [0, 1]
    (for lam near 0 the truncated series can leave that range).

    Why it matters: this is the p-value every "KS drift test" reports. It is exact only as
    n grows; ``kolmogorov.ks_2samp`` beside this module gives SciPy's exact small-sample value.

    >>> round(ks_pvalue(0.0, 100, 100), 6)
    1.0
    """
    en = n_reference * n_current / (n_reference + n_current)
    lam = math.sqrt(en) * float(statistic)
    if lam < 1e-8:
        return 1.0
    total, k = 0.0, 1
    while True:
        term = 2.0 * (-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) <= 1e-16 * max(abs(total), 1e-300) or k > 10_000:
            break
        k += 1
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

    Why it matters: this is the drift test for categorical features on small references.
    """
    observed = np.array([reference_counts, current_counts], dtype=np.float64)
    if observed.ndim != 2 or np.any(observed < 0):
        raise ValueError("chi_square_test needs two equal-length sequences of non-negative counts")
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
    """
    a = np.sort(np.asarray(reference, dtype=np.float64))
    b = np.sort(np.asarray(current, dtype=np.float64))
    if a.size == 0 or b.size == 0:
        raise ValueError("wasserstein_distance needs two non-empty samples")
    points = np.sort(np.concatenate([a, b]), kind="mergesort")
    widths = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def psi(reference, current, bins=10):
    """Population Stability Index over quantile bins of the reference.

    Bin edges are the reference's quantiles at 0, 1/bins, ..., 1 (``np.quantile``), duplicates
    removed (a column with many ties gets fewer bins) and the outer edges opened to -inf/+inf so
    current values outside the reference's range still land in a bin. A value equal to an edge
    belongs to the bin above it (as ``np.searchsorted(edges, x, side="right")`` places it). Count
    both samples per bin and pass the counts to ``psi_from_counts`` (empty bins get
    ``PSI_EPSILON``).
    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("psi needs two non-empty samples")
    if int(bins) < 1:
        raise ValueError(f"psi needs bins >= 1, got {bins}")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, int(bins) + 1)))[1:-1]
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return psi_from_counts(ref_counts, cur_counts)


def psi_from_counts(reference_counts, current_counts):
    """PSI of two count vectors over the same bins (or categories).

    Shares r_i = ref_i / sum(ref) and c_i = cur_i / sum(cur), each floored at ``PSI_EPSILON`` so
    an empty bin keeps the log defined: PSI = sum_i (c_i - r_i) * ln(c_i / r_i). Each term is
    >= 0, so PSI >= 0. Raise ValueError for vectors of different lengths or with no counts.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.shape != cur.shape or ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("psi_from_counts needs two equal-length count vectors, each > 0")
    ref_share = np.maximum(ref / ref.sum(), PSI_EPSILON)
    cur_share = np.maximum(cur / cur.sum(), PSI_EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def jensen_shannon_distance(reference_counts, current_counts):
    """Jensen-Shannon distance (natural log) between two count vectors over the same categories.

    Normalise both to probabilities p, q; m = (p + q) / 2;
    JS = sqrt((KL(p || m) + KL(q || m)) / 2), with 0 * log 0 = 0. It is symmetric, finite even
    for a category that one side never saw, and bounded by sqrt(ln 2) ~ 0.833.
    """
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("jensen_shannon_distance needs two equal-length count vectors, each > 0")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0

    def kl_to_m(x):
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / m[mask])))

    return math.sqrt(max((kl_to_m(p) + kl_to_m(q)) / 2.0, 0.0))


def bonferroni(p_values, alpha=0.05):
    """Bonferroni correction: reject hypothesis i when p_i <= alpha / m (m = number of tests).

    Controls the family-wise error rate: the chance of even one false alarm across all m
    features stays <= alpha. Returns a boolean array (True = reject = drift).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    return p <= alpha / p.size


def benjamini_hochberg(p_values, alpha=0.05):
    """Benjamini-Hochberg step-up procedure: controls the false discovery rate at alpha.

    Sort the m p-values ascending: p_(1) <= ... <= p_(m). Find the largest k with
    p_(k) <= k * alpha / m and reject the k hypotheses with the smallest p-values (all of them,
    even one whose own p-value is above its line). Returns a boolean array in the input order.
    Less conservative than Bonferroni when many features drift at once.
    """
    p = np.asarray(p_values, dtype=np.float64)
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
