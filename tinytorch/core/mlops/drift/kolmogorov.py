"""The two-sample KS test with SciPy's p-values, NumPy only.

``scipy.stats.ks_2samp(method="auto")`` computes an exact p-value when both samples have at most
10,000 rows (lattice-path counting, Hodges 1958, in the numerically stable 1 - p form of
Viehmann 2021), and otherwise the distribution of the one-sample statistic D_n with
n = round(n1 * n2 / (n1 + n2)) (``kstwo.sf``), evaluated with the method Simard & L'Ecuyer (2011)
pick for each region: Durbin's matrix (Marsaglia-Tsang-Wang), Pomeranz's recursion, the
Pelz-Good expansion, or twice the exact one-sided tail of Birnbaum & Tingey. This module follows
the same choices, so the numbers agree with SciPy (see tests/test_drift_stats.py).

The student version of the p-value is ``stats.ks_pvalue`` (Kolmogorov's limit), which agrees
with these to about 1 % for moderate n.
"""

import math

import numpy as np

from .stats import ks_statistic

EXACT_MAX_N = 10_000
"""SciPy's 'auto' rule: exact p-value when max(n1, n2) <= this, asymptotic otherwise."""

_SCALE = 2.0**128


def ks_2samp(reference, current):
    """Two-sided two-sample KS test: ``(statistic, p_value, method)``, as scipy's ks_2samp.

    ``method`` is "exact" or "asymp", the one SciPy's method="auto" would use.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    d = ks_statistic(a, b)
    n1, n2 = a.size, b.size
    if max(n1, n2) <= EXACT_MAX_N:
        exact = exact_two_sample_sf(d, n1, n2)
        if exact is not None:
            return exact[0], exact[1], "exact"
    n_big, n_small = max(n1, n2), min(n1, n2)
    en = round(n_big * n_small / (n_big + n_small))
    return d, float(np.clip(kolmogorov_sf(en, d), 0.0, 1.0)), "asymp"


def exact_two_sample_sf(d, n1, n2):
    """Exact P(D_{n1,n2} >= d), two-sided. Returns ``(d_on_lattice, p)`` or None on overflow.

    d is snapped to the lattice h / lcm(n1, n2) it must lie on, as SciPy does.
    """
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = int(np.round(d * lcm))
    d = h / lcm
    if h == 0:
        return d, 1.0
    with np.errstate(invalid="raise", over="raise"):
        try:
            if n1 == n2:
                p = _prob_outside_square(n1, h)
            else:
                p = _prob_outside_band(n1, n2, g, h)
        except FloatingPointError:
            return None
    if not 0.0 <= p <= 1.0:
        return None
    return d, float(p)


def _prob_outside_square(n, h):
    """P(D_{n,n} >= h/n) = 2 * sum_k (-1)^(k+1) C(2n, n - k h) / C(2n, n), in Horner form."""
    p = 0.0
    for k in range(n // h, -1, -1):
        ratio = 1.0
        for j in range(h):
            ratio = (n - k * h - j) * ratio / (n + k * h + j + 1)
        p = ratio * (1.0 - p)
    return 2.0 * p


_LINEAR_SPAN = 600.0
"""Widest log-range of path counts within one row that plain floats carry: a cell below
e^-600 of its row's largest count is lost, which moves the p-value by under 1e-40."""


def _prob_outside_band(m, n, g, h):
    """Share of lattice paths (0,0)->(m,n) that touch |x/m - y/n| >= h/lcm, one row per NumPy call.

    SciPy walks the grid one cell at a time in compiled code. With O(x, y) the number of paths
    to (x, y) that have already left the band, a cell inside the band has
    O(x, y) = O(x - 1, y) + O(x, y - 1): a row is a running sum of the row below, started from
    the cell left of the band (outside, so all its C(x + y, y) paths count). Every term is
    non-negative, so a tiny p-value keeps its relative precision (no 1 - p cancellation).
    The counts reach C(m + n, n) (10^800 at 1,078 x 359): each row is divided by its largest
    count (rounded down to a power of e^400), or, when one row alone spans more than floats hold,
    kept as logarithms and summed with ``np.logaddexp.accumulate``. Rows run over the shorter side.
    """
    if m < n:
        m, n = n, m
    mg, ng = m // g, n // g
    rows = np.arange(n + 1)
    lo = np.maximum((mg * rows - h) // ng + 1, 0)  # band of row y: lo <= x < hi
    hi = np.minimum(-((-(mg * rows + h)) // ng), m + 1)
    if np.any(hi <= lo):
        return 1.0  # a row without a cell inside the band: every path leaves it
    log_fact = _log_factorial(np.arange(m + n + 1))

    def log_paths(x, y):
        return log_fact[x + y] - log_fact[x] - log_fact[y]

    # Cells the band uncovers at its upper edge, (x, y - 1) for hi[y - 1] <= x < hi[y]: outside.
    grown = np.diff(hi)
    edge_y = np.repeat(rows[:-1], grown)
    edge_x = np.arange(edge_y.size) + np.repeat(hi[:-1] - np.cumsum(grown) + grown, grown)
    edge_log = log_paths(edge_x, edge_y)
    with np.errstate(divide="ignore"):
        start_log = np.where(lo > 0, log_paths(np.maximum(lo - 1, 0), rows), -np.inf)

    top = log_paths(hi - 1, rows)  # log of the largest count in each row's band
    linear = np.max(top - log_paths(lo, rows)) <= _LINEAR_SPAN
    if linear:  # counts in units of e^scale[y]; the unit steps up by e^400 when the row's top passes it
        scale = np.floor(top / 400.0) * 400.0
        edge = np.exp(edge_log - scale[edge_y])
        start = np.exp(start_log[1:] - scale[:-1]).tolist()
        rescale = np.exp(scale[:-1] - scale[1:]).tolist()
        row = np.zeros(m + 2)
        accumulate = np.add.accumulate
    else:
        edge, start, rescale = edge_log, start_log[1:].tolist(), [1.0] * n
        row = np.full(m + 2, -np.inf)
        accumulate = np.logaddexp.accumulate
    row[edge_x + 1] = edge
    # row[x + 1] holds cell x of the current row; row[0] is the cell left of x = 0. Edge cells
    # are written up front: each x is uncovered once, and the band reaches it only after.
    lo, hi = lo.tolist(), hi.tolist()
    for y in range(1, n + 1):
        row[lo[y]] = start[y - 1]
        band = row[lo[y] : hi[y] + 1]
        if rescale[y - 1] != 1.0:
            band *= rescale[y - 1]
        accumulate(band, out=band)
    # C(m + n, n) comes from log-factorials: round-off can put p a few ulps above 1
    if linear:
        return min(1.0, float(row[m + 1]) * math.exp(scale[n] - log_paths(m, n)))
    return min(1.0, math.exp(row[m + 1] - log_paths(m, n)))


def kolmogorov_sf(n, x):
    """P(D_n >= x) for the two-sided one-sample KS statistic (``scipy.stats.kstwo.sf(x, n)``)."""
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: P(D_n <= x) = n!/n^n (2t - 1)^n on [1/2n, 1/n]
        if t <= 0.5:
            return 1.0
        if n <= 140:
            return 1.0 - float(np.prod(np.arange(1, n + 1) / n * (2 * t - 1)))
        return 1.0 - math.exp(math.lgamma(n + 1) - n * math.log(n) + n * math.log(2 * t - 1))
    if t >= n - 1:
        return 2.0 * (1.0 - x) ** n
    if x >= 0.5:
        return 2.0 * smirnov_sf(n, x)
    nxx = t * x
    if n <= 140:
        if nxx <= 0.754693:
            return 1.0 - _durbin_cdf(n, x)
        if nxx <= 4:
            return 1.0 - _pomeranz_cdf(n, x)
        return 2.0 * smirnov_sf(n, x)
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:
        return 2.0 * smirnov_sf(n, x)
    if n <= 100_000 and n * x**1.5 <= 1.4:
        return 1.0 - _durbin_cdf(n, x)
    return 1.0 - _pelz_good_cdf(n, x)


def smirnov_sf(n, x):
    """One-sided P(D_n^+ >= x), Birnbaum-Tingey's exact sum (``scipy.special.smirnov(n, x)``).

    x * sum_{j=0}^{floor(n(1-x))} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1), in log space.
    """
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    j = np.arange(int(math.floor(n * (1.0 - x))) + 1, dtype=np.float64)
    log_binom = math.lgamma(n + 1) - _log_factorial(j) - _log_factorial(n - j)
    with np.errstate(divide="ignore"):
        log_terms = (
            log_binom
            + (n - j) * np.log(np.maximum(1.0 - x - j / n, 0.0))
            + (j - 1) * np.log(x + j / n)
        )
    top = np.max(log_terms)
    return float(min(1.0, x * math.exp(top) * np.sum(np.exp(log_terms - top))))


_SMALL_LOG_FACTORIALS = np.array([math.lgamma(k + 1) for k in range(32)])


def _log_factorial(k):
    """log(k!) for an array of non-negative integers: a table below 32, Stirling's series above."""
    k = np.asarray(k, dtype=np.float64)
    big = np.maximum(k, 32.0)
    inv = 1.0 / big
    inv2 = inv * inv
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    stirling = (big + 0.5) * np.log(big) - big + 0.5 * math.log(2 * math.pi) + series
    small = _SMALL_LOG_FACTORIALS[np.minimum(k, 31).astype(np.int64)]
    return np.where(k < 32, small, stirling)


def _durbin_cdf(n, x):
    """P(D_n <= x) by Durbin's matrix: n!/n^n * (H^n)[k-1, k-1] (Marsaglia, Tsang, Wang 2003)."""
    k = int(math.ceil(n * x))
    h = k - n * x
    m = 2 * k - 1
    powers = np.arange(1, m + 1)
    inv_factorials = np.cumprod(np.concatenate([[1.0], 1.0 / powers[:-1]]))
    first_column = (1.0 - h**powers) * inv_factorials / powers
    first_column[-1] = (1.0 + max(2 * h - 1.0, 0) ** m - 2 * h**m) * inv_factorials[-1] / m
    matrix = np.zeros((m, m))
    for i in range(1, m):
        matrix[i - 1 :, i] = inv_factorials[: m - i + 1]
    matrix[:, 0] = first_column
    matrix[-1, :] = first_column[::-1]

    result, exponent, matrix_exponent, e = np.eye(m), 0, 0, n
    while e > 0:
        if e % 2:
            result = result @ matrix
            exponent += matrix_exponent
        matrix = matrix @ matrix
        matrix_exponent *= 2
        if abs(matrix[k - 1, k - 1]) > _SCALE:
            matrix /= _SCALE
            matrix_exponent += 128
        e //= 2
    p = result[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if abs(p) < 1.0 / _SCALE:
            p *= _SCALE
            exponent -= 128
    return float(np.clip(math.ldexp(p, exponent), 0.0, 1.0))


def _pomeranz_window(i, n, ll, ceilf, roundf):
    """Range of non-zero entries of row i in Pomeranz's recursion."""
    if i == 0:
        j1, j2 = -ll - ceilf - 1, ll + ceilf - 1
    else:
        half, odd = divmod(i + 1, 2)
        if odd == 0:
            if half == n + 1:
                j1, j2 = n - ll - ceilf - 1, n + ll + ceilf - 1
            else:
                j1, j2 = half - 2 - ll - roundf, half + ll - 2 + ceilf
        else:
            j1, j2 = half - 2 - ll, half + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def _pomeranz_cdf(n, x):
    """P(D_n <= x) by Pomeranz's recursion (1974): rows convolved with Poisson-like weights."""
    t = n * x
    ll = int(math.floor(t))
    f = t - ll
    g = min(f, 1.0 - f)
    ceilf, roundf = int(f > 0), int(f > 0.5)
    size = 2 * (ll + 1)
    steps = np.arange(1, size)

    def weights(rate):
        return np.concatenate([[1.0], np.cumprod(rate / steps)])

    g_pow, two_g_pow, rest_pow = weights(g / n), weights(2 * g / n), weights((1 - 2 * g) / n)
    previous, current = np.zeros(size), np.zeros(size)
    current[0] = 1.0
    prev_start = cur_start = 0
    exponent = 0
    j1, _ = _pomeranz_window(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        previous, current = current, previous
        prev_start, cur_start = cur_start, prev_start
        current.fill(0.0)
        j1, j2 = _pomeranz_window(i, n, ll, ceilf, roundf)
        if i == 1 or i == 2 * n + 1:
            pw = g_pow
        else:
            pw = two_g_pow if i % 2 else rest_pow
        length = j2 - k1 + 1
        if length > 0:
            conv = np.convolve(previous[k1 - prev_start : k1 - prev_start + length], pw[:length])
            current[: j2 - j1 + 1] = conv[j1 - k1 : j2 - k1 + 1]
            if 0 < np.max(current) < 1.0 / _SCALE:
                current *= _SCALE
                exponent -= 128
            cur_start = prev_start + j1 - k1
    p = current[n - cur_start]
    for m in range(1, n + 1):
        if abs(p) > _SCALE:
            p /= _SCALE
            exponent += 128
        p *= m
    return float(np.clip(math.ldexp(p, exponent), 0.0, 1.0))


def _pelz_good_cdf(n, x):
    """P(D_n <= x) by the Pelz-Good (1976) expansion in 1/sqrt(n), for small x and large n."""
    z = math.sqrt(n) * x
    z2, z4, z6 = z * z, z**4, z**6
    pi2, pi4, pi6 = math.pi**2, math.pi**4, math.pi**6
    log_q = -pi2 / 8 / z2
    if log_q < -708:
        return 0.0
    q = math.exp(log_q)
    k1a, k1b = -z2, pi2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * pi2 / 4, pi4 * (1 - 2 * z2) / 16
    k3a = -30 * z6 - 90 * z**8
    k3b = pi2 * (135 * z4 - 96 * z6) / 4
    k3c = pi4 * (-60 * z2 + 212 * z4) / 16
    k3d = pi6 * (5 - 30 * z2) / 64
    terms = np.zeros(4)
    max_k = int(math.ceil(16 * z / math.pi))
    for k in range(max_k, 0, -1):
        m2 = (2 * k - 1) ** 2
        coefficients = np.array(
            [
                1.0,
                k1a + k1b * m2,
                k2a + k2b * m2 + k2c * m2**2,
                k3a + k3b * m2 + k3c * m2**2 + k3d * m2**3,
            ]
        )
        terms = terms * q ** (8 * k) + coefficients
    terms *= q * math.sqrt(2 * math.pi)
    terms /= np.array([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = math.exp(-pi2 / 2 / z2)
    ks = np.arange(max_k, 0, -1, dtype=np.float64)
    k2 = ks**2
    q_pow = q**k2
    terms[2] += np.sum(k2 * q_pow) * pi2 * math.sqrt(2 * math.pi) / (-36 * z**3)
    sqrt3z = math.sqrt(3) * z
    extra = np.sum((sqrt3z + math.pi * ks) * (sqrt3z - math.pi * ks) * k2 * q_pow)
    terms[3] += extra * pi2 * math.sqrt(2 * math.pi) / (216 * z6)
    terms /= np.power(float(n), np.arange(4) / 2.0)
    return float(np.clip(np.sum(terms), 0.0, 1.0))
