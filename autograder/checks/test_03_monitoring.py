"""Hidden checks of notebook 03 (monitoring and drift detection).

SciPy and statsmodels are the oracles: the library's answers for these tasks are replaced by
failing stubs while the checks run, so expected values come from them or from the check itself.
"""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from autograder.grading.judge import abstract

SETTINGS = settings(max_examples=40, deadline=None, report_multiple_bugs=False)  # one clear message

# Rounded normal draws: few distinct values, so many ties (where hand-written KS code goes wrong).
tied_samples = st.builds(
    lambda seed, n, decimals, shift: np.round(np.random.default_rng(seed).normal(shift, 1.0, n), decimals),
    st.integers(0, 2**32 - 1), st.integers(1, 150), st.integers(0, 2), st.floats(-1, 1),
)


def _ecdf_gap(a, b):
    """The definition, evaluated at every observed value."""
    points = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), points, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


# ---------------------------------------------------------------- ks_statistic

@pytest.mark.task("ks_statistic")
def test_ks_statistic_matches_scipy_with_ties(student):
    """ks_statistic equals scipy.stats.ks_2samp's statistic to 1e-9 on random samples with many ties."""
    student.ks_statistic  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(tied_samples, tied_samples)
    def check(a, b):
        expected = scipy.stats.ks_2samp(a, b, method="asymp").statistic
        got = student.ks_statistic(a, b)
        assert abs(got - expected) <= 1e-9, (
            f"ks_statistic gave {got}, SciPy {expected} (sizes {len(a)}, {len(b)}, "
            f"{len(np.unique(np.concatenate([a, b])))} distinct values): evaluate both ECDFs only after all "
            "copies of a value are counted, and divide by each sample's own size")

    check()


@pytest.mark.task("ks_statistic")
def test_ks_statistic_symmetric_and_in_unit_interval(student):
    """ks_statistic is symmetric in its two samples and lies in [0, 1] (both to 1e-12: sums of 1/n steps round)."""
    student.ks_statistic  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(tied_samples, tied_samples)
    def check(a, b):
        d_ab, d_ba = student.ks_statistic(a, b), student.ks_statistic(b, a)
        assert abs(d_ab - d_ba) <= 1e-12, f"ks_statistic(a, b) = {d_ab} but ks_statistic(b, a) = {d_ba}: D is a symmetric distance"
        assert -1e-12 <= d_ab <= 1.0 + 1e-12, f"D = {d_ab} is outside [0, 1]"

    check()


@pytest.mark.task("ks_statistic")
def test_ks_statistic_zero_and_one(student, seeded):
    """ks_statistic is 0 for the same values in another order or each repeated, and 1 for samples that do not overlap."""
    rng = seeded(11)
    x = np.round(rng.normal(size=300), 1)
    assert student.ks_statistic(x, rng.permutation(x)) == pytest.approx(0.0, abs=1e-12), \
        "the same values in another order must give D = 0"
    assert student.ks_statistic(x, np.concatenate([x, x])) == pytest.approx(0.0, abs=1e-12), \
        "every value twice has the same ECDF: D = 0 (the samples may have different sizes)"
    assert student.ks_statistic(x, x + 100.0) == pytest.approx(1.0, abs=1e-12), "samples that do not overlap give D = 1"
    assert student.ks_statistic([5.0], [5.0]) == pytest.approx(0.0, abs=1e-12), "one equal value each: D = 0"


@pytest.mark.task("ks_statistic")
def test_ks_statistic_rank_invariant_and_unequal_sizes(student, seeded):
    """ks_statistic depends only on the order of the values (exp leaves it unchanged), for samples of different sizes, given as arrays or lists."""
    rng = seeded(12)
    a, b = rng.normal(size=701), rng.normal(0.2, 1.3, 233)
    d = student.ks_statistic(a, b)
    assert abs(d - _ecdf_gap(a, b)) <= 1e-9, f"D = {d}, expected {_ecdf_gap(a, b)} for sizes 701 and 233"
    assert abs(student.ks_statistic(np.exp(a), np.exp(b)) - d) <= 1e-12, \
        "an increasing transformation (exp) must not change D: it compares ECDFs, not values"
    assert abs(student.ks_statistic(a.tolist(), b.tolist()) - d) <= 1e-12, "plain Python lists must work too"


@pytest.mark.task("ks_statistic")
def test_ks_statistic_integer_data_with_heavy_ties(student, seeded):
    """ks_statistic gives SciPy's D on integer data with a handful of distinct values (counts, ratings)."""
    rng = seeded(13)
    for _ in range(20):
        a = rng.integers(0, 4, rng.integers(5, 400))
        b = rng.integers(0, 5, rng.integers(5, 400))
        expected = scipy.stats.ks_2samp(a, b, method="asymp").statistic
        assert abs(student.ks_statistic(a, b) - expected) <= 1e-9, (
            f"on integer data 0..4 ks_statistic gave {student.ks_statistic(a, b)}, SciPy {expected}: ties")


def refuses(function, cases, name):
    """Every bad input in ``cases`` makes ``function`` raise ValueError (the first that does not fails)."""
    for args in cases:
        try:
            got = function(*args)
        except ValueError:
            continue
        except Exception as error:  # noqa: BLE001 - the message says what was raised instead
            raise AssertionError(f"{name}{args!r} raised {type(error).__name__}: {abstract(str(error))}; raise ValueError") from None
        raise AssertionError(f"{name}{args!r} returned {got!r}; the statement asks for a ValueError here")


NAN, INF = float("nan"), float("inf")


@pytest.mark.task("ks_statistic")
def test_ks_statistic_empty_sample_is_an_error(student):
    """ks_statistic raises ValueError when either sample is empty or holds a NaN (anywhere in it)."""
    refuses(student.ks_statistic, [([], [1.0, 2.0]), ([1.0, 2.0], []), ([1.0, NAN, 2.0], [1.0, 2.0]),
                                   ([1.0, 2.0], [3.0, NAN, 4.0]), ([NAN], [NAN])], "ks_statistic")


# ---------------------------------------------------------------- ks_pvalue

def _kolmogorov(d, n, m):
    return scipy.stats.kstwobign.sf(math.sqrt(n * m / (n + m)) * d)


def _pvalue_mistake(got, d, n, m):
    """What most likely made ks_pvalue(d, n, m) return ``got``: the message for the student."""
    lam = math.sqrt(n * m / (n + m)) * d
    causes = [
        (scipy.stats.kstwobign.sf(math.sqrt(n * m // (n + m)) * d),
         "n_e = n*m/(n+m) needs true division (/): n*m // (n+m) truncates it"),
        (min(max(1.0 - scipy.stats.kstwobign.cdf(lam), 0.0), 1.0),
         "1 - cdf rounds tiny p-values to 0: sum the tail series Q(lambda) directly"),
        (_kolmogorov(d, n, m) / 2, "Q(lambda) has the factor 2 in front of the sum"),
        (scipy.stats.kstwobign.sf(math.sqrt(n + m) * d), "n_e is n*m/(n+m), not n+m"),
    ]
    right = _kolmogorov(d, n, m)
    for value, cause in causes:
        if math.isclose(got, value, rel_tol=1e-9) and not math.isclose(value, right, rel_tol=1e-9):
            return cause
    return ("lambda = sqrt(n*m/(n+m)) * D and Q(lambda) = 2 * sum (-1)^(k-1) exp(-2 k^2 lambda^2) over k = 1..100 "
            "at most, 1.0 when lambda < 0.1")


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_matches_kstwobign(student):
    """ks_pvalue(D, n, m) equals scipy.stats.kstwobign.sf(sqrt(n*m/(n+m)) * D) to 1e-9 for random D and sizes."""
    student.ks_pvalue  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(st.floats(0.0, 1.0), st.integers(1, 100_000), st.integers(1, 100_000))
    def check(d, n, m):
        got, expected = student.ks_pvalue(d, n, m), _kolmogorov(d, n, m)
        assert abs(got - expected) <= 1e-9, (
            f"ks_pvalue({d!r}, {n}, {m}) = {got}, expected {expected}: {_pvalue_mistake(got, d, n, m)}")

    check()


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_small_values_accurate(student):
    """ks_pvalue keeps tiny p-values (1e-7 down to 1e-96) accurate to a relative 1e-9."""
    for d, n, m in [(0.1, 5000, 5000), (0.05, 100_000, 80_000), (0.3, 1000, 1000), (0.004, 1_000_000, 1_000_000)]:
        got, expected = student.ks_pvalue(d, n, m), _kolmogorov(d, n, m)
        assert got == pytest.approx(expected, rel=1e-9, abs=0), (
            f"ks_pvalue({d}, {n}, {m}) = {got!r}, expected {expected!r} to a relative 1e-9: "
            f"{_pvalue_mistake(got, d, n, m)}")


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_zero_statistic_and_small_lambda(student):
    """ks_pvalue gives 1 for D = 0, and p within 1e-9 of the limit and in [0, 1] for small lambda (just above 0.1, the summed series exceeds 1 by a few ulps: clip it)."""
    assert student.ks_pvalue(0.0, 100, 100) == pytest.approx(1.0, abs=1e-12), "D = 0: p = 1"
    for d, n in [(1e-6, 10), (1e-4, 10), (0.01, 10), (0.05, 10)] + [(0.0100 + 0.0001 * i, 200) for i in range(20)]:
        p = student.ks_pvalue(d, n, n + 2 if n == 10 else n)
        assert 0.0 <= p <= 1.0, f"ks_pvalue({d}, {n}, ...) = {p!r}: clip the summed series to [0, 1]"
    for d in (1e-6, 1e-4, 0.01, 0.05):
        p = student.ks_pvalue(d, 10, 12)
        assert abs(p - _kolmogorov(d, 10, 12)) <= 1e-9, (
            f"ks_pvalue({d}, 10, 12) = {p}, expected {_kolmogorov(d, 10, 12)}: {_pvalue_mistake(p, d, 10, 12)}")


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_symmetric_and_decreasing(student, probe):
    """ks_pvalue is symmetric in the two sample sizes and never increases as D grows."""
    student.ks_pvalue  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(st.integers(1, 5000), st.integers(1, 5000))
    def check(n, m):
        grid = np.linspace(0.0, 1.0, 21)
        values = probe.call_each(student.ks_pvalue, [[float(d)] for d in grid], n, m)
        assert all(a >= b - 1e-12 for a, b in zip(values, values[1:])), f"p must not increase with D (sizes {n}, {m}): {values}"
        assert student.ks_pvalue(0.2, n, m) == pytest.approx(student.ks_pvalue(0.2, m, n), rel=1e-12), \
            "swapping the sample sizes must not change p: use n_e = n*m/(n+m)"

    check()


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_on_real_statistic(student, seeded):
    """On real samples ks_pvalue agrees with SciPy's asymptotic KS p-value to 5 %."""
    rng = seeded(21)
    a, b = rng.normal(size=3000), rng.normal(0.04, 1.0, 4000)
    result = scipy.stats.ks_2samp(a, b, method="asymp")
    got = student.ks_pvalue(result.statistic, 3000, 4000)
    assert got == pytest.approx(result.pvalue, rel=0.05), (
        f"ks_pvalue = {got}, SciPy's asymptotic KS p-value {result.pvalue}: "
        f"{_pvalue_mistake(got, result.statistic, 3000, 4000)}")


# ---------------------------------------------------------------- psi

EPSILON = 1e-4


def _psi_counts(r, c):
    r, c = np.asarray(r, float), np.asarray(c, float)
    rs, cs = np.maximum(r / r.sum(), EPSILON), np.maximum(c / c.sum(), EPSILON)
    return float(np.sum((cs - rs) * np.log(cs / rs)))


def _psi(ref, cur, bins=10):
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))[1:-1]
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.array([np.sum((ref >= lo) & (ref < hi)) for lo, hi in zip(full[:-1], full[1:])])
    c = np.array([np.sum((cur >= lo) & (cur < hi)) for lo, hi in zip(full[:-1], full[1:])])
    return _psi_counts(r, c)


@pytest.mark.task("ks_pvalue")
def test_ks_pvalue_refuses_bad_arguments(student):
    """ks_pvalue raises ValueError for a statistic outside [0, 1] or NaN, and for a sample size below 1 or NaN."""
    refuses(student.ks_pvalue, [(-0.5, 10, 10), (1.5, 10, 10), (NAN, 10, 10), (0.5, 0, 10), (0.5, 10, 0),
                                (0.5, NAN, 10), (0.5, 10, NAN)], "ks_pvalue")


@pytest.mark.task("psi")
def test_psi_from_counts_formula(student):
    """psi_from_counts equals sum (c - r) ln(c / r) over the shares counts / total, each floored at PSI_EPSILON."""
    student.psi_from_counts  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(st.integers(1, 12).flatmap(lambda k: st.tuples(
        st.lists(st.integers(0, 1000), min_size=k, max_size=k), st.lists(st.integers(0, 1000), min_size=k, max_size=k))))
    def check(pair):
        r, c = pair
        if sum(r) == 0 or sum(c) == 0:
            return
        got, expected = student.psi_from_counts(r, c), _psi_counts(r, c)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (
            f"psi_from_counts({r}, {c}) = {got}, expected {expected}: shares are counts / total, each floored "
            "at PSI_EPSILON (also shares that are small but not 0)")
        assert got >= 0.0 and math.isfinite(got), f"PSI must be finite and >= 0, got {got}"

    check()


@pytest.mark.task("psi")
def test_psi_from_counts_edge_cases(student):
    """psi_from_counts gives 0 for proportional counts and floors a share of 1e-5 at PSI_EPSILON."""
    assert student.psi_from_counts([3, 0, 7], [30, 0, 70]) == pytest.approx(0.0, abs=1e-15), \
        "the same shares (different totals) give PSI 0"
    assert student.psi_from_counts([1, 99_999], [50_000, 50_000]) == pytest.approx(
        _psi_counts([1, 99_999], [50_000, 50_000]), rel=1e-9), "a share of 1e-5 is floored at PSI_EPSILON = 1e-4"


@pytest.mark.task("psi")
def test_psi_from_counts_refuses_bad_counts(student):
    """psi_from_counts raises ValueError for vectors of different lengths, a negative, infinite or NaN count, or a vector with no counts (in either argument)."""
    bad = [([1, 2], [1, 2, 3]), ([5, -1], [3, 3]), ([5, INF], [3, 3]), ([5, NAN], [3, 3]), ([0, 0], [1, 1])]
    refuses(student.psi_from_counts, bad + [(c, r) for r, c in bad], "psi_from_counts")


@pytest.mark.task("psi")
def test_psi_refuses_bad_arguments(student):
    """psi raises ValueError for an empty sample, a NaN in either sample, or bins that is not a whole number >= 1 (0, -1, 2.5), and takes a whole number of any type (4, 4.0, numpy.int64(4))."""
    sample = [0.1, 0.5, 0.9, 1.3]
    refuses(student.psi, [([], sample), (sample, []), ([0.1, NAN], sample), (sample, [NAN, 0.2]),
                          (sample, sample, 0), (sample, sample, -1), (sample, sample, 2.5)], "psi")
    expected = student.psi(sample, [0.2, 0.4, 1.0, 1.2], 4)
    for bins in (4.0, np.int64(4)):
        got = student.psi(sample, [0.2, 0.4, 1.0, 1.2], bins)
        assert got == pytest.approx(expected, rel=1e-12), f"bins={bins!r} (a whole number) gave {got}, bins=4 gave {expected}"


@pytest.mark.task("psi")
def test_psi_matches_documented_binning(student):
    """psi equals the documented binning: np.quantile edges of the reference, then np.unique, then the outer two replaced by -inf and +inf, a value on an edge in the bin above."""
    def check(ref, cur, bins):
        got, expected = student.psi(ref, cur, bins=bins), _psi(ref, cur, bins)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (
            f"psi(reference {np.asarray(ref)[:8].tolist()}..., current {np.asarray(cur)[:8].tolist()}..., bins={bins}) "
            f"= {got}, expected {expected}: build the edges in this order: q = np.quantile(reference, np.linspace(0, 1, "
            "bins + 1)), then np.unique(q), then the first and last edge replaced by -inf and +inf; a value equal to "
            "an edge goes to the bin above it")

    # ties at the largest and at the smallest value: a quantile between them equals an outer one
    check([0.0, 1.0, 2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 2.0], 2)
    check([0.0, 0.0, 0.0, 0.0, 1.0, 2.0], [-1.0, 0.0, 1.0], 2)
    SETTINGS(given(tied_samples, tied_samples, st.integers(1, 20))(check))()


@pytest.mark.task("psi")
def test_psi_identical_shifted_and_outside(student, seeded):
    """psi is 0 for identical or reordered samples, grows with a shift, and counts values far beyond the reference's range in the outer bins."""
    x = seeded(31).normal(size=4000)
    assert student.psi(x, x) == pytest.approx(0.0, abs=1e-15), "a sample against itself: PSI 0"
    assert student.psi(x, seeded(32).permutation(x)) == pytest.approx(0.0, abs=1e-15), \
        "the same values in another order: PSI 0"
    values = [student.psi(x, x + s) for s in (0.0, 0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(values, values[1:])), f"PSI must grow with the shift: {values}"
    far = student.psi(x, x + 1000.0)
    assert far == pytest.approx(_psi(x, x + 1000.0), rel=1e-9), (
        f"PSI of a sample moved far beyond the reference is {far}, expected {_psi(x, x + 1000.0)}: "
        "the outer bins must reach -inf and +inf")


@pytest.mark.task("psi")
def test_psi_constant_reference(student, seeded):
    """psi of a constant reference is 0 against any sample (its edges collapse to a single bin)."""
    got = student.psi(np.zeros(100), seeded(33).normal(size=50))
    assert got == pytest.approx(0.0, abs=1e-12), (
        f"a constant reference has all quantiles equal: after removing duplicates there is one bin, so PSI is 0; got {got}")


# ---------------------------------------------------------------- chi_square_test

def _scipy_chi2(r, c):
    table = np.array([r, c], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = scipy.stats.chi2_contingency(table)
    return float(result[0]), float(result[1])


table_rows = st.integers(2, 8).flatmap(lambda k: st.tuples(
    st.lists(st.integers(0, 300), min_size=k, max_size=k), st.lists(st.integers(0, 300), min_size=k, max_size=k)))


@pytest.mark.task("chi_square_test")
def test_chi_square_matches_scipy(student):
    """chi_square_test's statistic and p-value equal scipy.stats.chi2_contingency on random tables of 2 to 8 categories (Yates' correction for 2) and on one of 300."""
    student.chi_square_test  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(table_rows)
    def check(rows):
        r, c = rows
        if sum(r) == 0 or sum(c) == 0:
            return
        statistic, p_value = student.chi_square_test(r, c)
        expected_statistic, expected_p = _scipy_chi2(r, c)
        assert statistic == pytest.approx(expected_statistic, rel=1e-9, abs=1e-9), (
            f"chi_square_test({r}, {c}) statistic {statistic}, SciPy {expected_statistic}: E = row * column / total, "
            "drop categories empty in both rows, Yates' correction only when 2 categories remain")
        assert abs(p_value - expected_p) <= 1e-6, (
            f"chi_square_test({r}, {c}) p-value {p_value}, SciPy {expected_p}: dof = categories kept - 1")

    check()
    r, c = [1 + i * 7 % 13 for i in range(300)], [1 + i * 5 % 11 for i in range(300)]
    statistic, p_value = student.chi_square_test(r, c)
    expected_statistic, expected_p = _scipy_chi2(r, c)
    assert statistic == pytest.approx(expected_statistic, rel=1e-9) and abs(p_value - expected_p) <= 1e-6, (
        f"on two samples of 300 categories: ({statistic}, {p_value}), SciPy ({expected_statistic}, {expected_p}); "
        "compare lengths with != (`is not` compares objects, and two equal lengths above 256 are different objects)")


@pytest.mark.task("chi_square_test")
def test_chi_square_two_categories_yates(student):
    """With two categories chi_square_test moves each O towards E by min(0.5, |O - E|) (Yates), also where |O - E| < 0.5."""
    # |O - E| is 0.233 and 0.249 in the first two tables (the correction must stop at E), 0.5 in the
    # third, and larger in the others
    for r, c in (([10, 11], [10, 12]), ([50, 50], [50, 51]), ([10, 12], [11, 11]), ([30, 70], [50, 50]),
                 ([500, 3], [480, 25]), ([1, 0], [0, 1])):
        statistic, p_value = student.chi_square_test(r, c)
        expected = _scipy_chi2(r, c)
        assert statistic == pytest.approx(expected[0], rel=1e-9, abs=1e-12), (
            f"chi_square_test({r}, {c}) = {statistic}, expected {expected[0]}: move each O towards E by "
            "min(0.5, |O - E|) before squaring (so an O within 0.5 of its E becomes E)")
        assert p_value == pytest.approx(expected[1], rel=1e-9, abs=1e-12), (
            f"chi_square_test({r}, {c}) p-value {p_value}, SciPy {expected[1]} (1 degree of freedom)")


@pytest.mark.task("chi_square_test")
def test_chi_square_unseen_and_empty_categories(student):
    """chi_square_test counts a category unseen in the reference, drops categories empty in both rows, and gives (0.0, 1.0) when one category is left."""
    statistic, p_value = student.chi_square_test([400, 600, 0], [150, 250, 100])
    expected = scipy.stats.chi2_contingency([[400, 600, 0], [150, 250, 100]])
    assert statistic == pytest.approx(expected[0], rel=1e-9) and p_value == pytest.approx(expected[1], rel=1e-6), (
        f"a new category (0 in the reference, 100 now) gave ({statistic}, {p_value}), SciPy ({expected[0]}, {expected[1]})")
    with_empty = student.chi_square_test([40, 0, 60, 0], [55, 0, 45, 0])
    without = scipy.stats.chi2_contingency([[40, 60], [55, 45]])
    assert with_empty[0] == pytest.approx(without[0], rel=1e-9), (
        "categories with 0 in both rows must be dropped before counting degrees of freedom "
        f"(got {with_empty[0]}, expected {without[0]} with Yates' correction on the 2 remaining)")
    assert tuple(student.chi_square_test([7, 0], [3, 0])) == (0.0, 1.0), "a single category left: (0.0, 1.0)"


@pytest.mark.task("chi_square_test")
def test_chi_square_symmetric_and_tail(student):
    """chi_square_test is symmetric in its two samples, and keeps a tiny p-value accurate to a relative 1e-6."""
    r, c = [120, 80, 50, 10], [60, 90, 70, 40]
    assert student.chi_square_test(r, c)[0] == pytest.approx(student.chi_square_test(c, r)[0], rel=1e-12), \
        "the test of homogeneity is symmetric in the two samples"
    r, c = [900, 50, 50], [100, 450, 450]
    statistic, p_value = student.chi_square_test(r, c)
    expected = scipy.stats.chi2_contingency([r, c])
    assert p_value == pytest.approx(expected[1], rel=1e-6), (
        f"p-value {p_value!r}, SciPy {expected[1]!r}: use chi2_sf (the upper tail), not 1 - cdf")


@pytest.mark.task("chi_square_test")
def test_chi_square_bad_counts(student):
    """chi_square_test raises ValueError for sequences of different lengths, a negative, infinite or NaN count, or a sample with no counts (in either argument)."""
    bad = [([1, 2, 3], [1, 2]), ([5, -1], [3, 3]), ([5, INF], [3, 3]), ([5, NAN], [3, 3]), ([0, 0], [3, 4])]
    refuses(student.chi_square_test, bad + [(c, r) for r, c in bad], "chi_square_test")


# ---------------------------------------------------------------- benjamini_hochberg

p_value_lists = st.lists(
    st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.01, 0.0125, 0.025, 0.05, 1.0])), min_size=1, max_size=40)


def _bh_mistake(got, p, expected):
    """What most likely made benjamini_hochberg return ``got``: the message for the student."""
    if got.tolist() == expected[np.argsort(p, kind="stable")].tolist():
        return "these are the right decisions in sorted p-value order: return them in the input order"
    return "find the LARGEST k with p_(k) <= k/m * alpha (<=, not <) and reject the k smallest p-values"


@pytest.mark.task("benjamini_hochberg")
def test_bh_refuses_bad_arguments(student):
    """benjamini_hochberg raises ValueError for a p-value outside [0, 1] or NaN, and for alpha outside (0, 1) (0 and 1 included)."""
    p = [0.01, 0.2, 0.5]
    refuses(student.benjamini_hochberg, [([0.01, -0.1],), ([0.01, 1.1],), ([0.01, NAN],), (p, 0.0), (p, 1.0),
                                         (p, -0.1), (p, 1.5)], "benjamini_hochberg")


@pytest.mark.task("benjamini_hochberg")
def test_bh_matches_statsmodels(student):
    """benjamini_hochberg returns a boolean array equal to statsmodels' multipletests(method="fdr_bh") decisions, ties and p-values exactly on the line included."""
    student.benjamini_hochberg  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(p_value_lists, st.sampled_from([0.01, 0.05, 0.1, 0.2]))
    def check(p, alpha):
        expected = multipletests(p, alpha=alpha, method="fdr_bh")[0]
        got = np.asarray(student.benjamini_hochberg(p, alpha))
        assert got.dtype == bool and got.shape == (len(p),), f"return a boolean array of length {len(p)}, got {got!r}"
        assert got.tolist() == expected.tolist(), (
            f"benjamini_hochberg({p}, alpha={alpha}) = {got.tolist()}, statsmodels {expected.tolist()}: "
            + _bh_mistake(got, p, expected))

    check()


@pytest.mark.task("benjamini_hochberg")
def test_bh_step_up_and_order(student):
    """benjamini_hochberg steps up: it rejects the k smallest p-values for the largest k with p_(k) <= k/m * alpha, even those above their own line."""
    p = [0.041, 0.02, 0.5, 0.03, 0.04]
    assert np.asarray(student.benjamini_hochberg(p, 0.05)).tolist() == [False, False, False, False, False], \
        "m = 5: p_(k) <= k/5 * 0.05 holds for no k (0.02 > 0.01, 0.03 > 0.02, 0.04 > 0.03, 0.041 > 0.04)"
    p = [0.041, 0.02, 0.03, 0.04]
    assert np.asarray(student.benjamini_hochberg(p, 0.05)).tolist() == [True, True, True, True], \
        "m = 4: 0.041 <= 4/4 * 0.05, so all four are rejected, even 0.02 above its own line 0.0125"


@pytest.mark.task("benjamini_hochberg")
def test_bh_results_follow_input_order(student, seeded):
    """benjamini_hochberg returns its decisions in the input order: shuffling the p-values (12 of 30 rejected) shuffles the decisions the same way."""
    rng = seeded(41)
    p = np.concatenate([rng.uniform(0, 0.01, 12), rng.uniform(0.2, 1.0, 18)])
    expected = multipletests(p, alpha=0.05, method="fdr_bh")[0]
    assert expected.sum() == 12  # the data can tell the input order from the sorted one
    for perm in (rng.permutation(30), np.arange(30)[::-1]):
        got = np.asarray(student.benjamini_hochberg(p[perm]))
        assert got.tolist() == expected[perm].tolist(), (
            "decision i belongs to p-value i (the input order), not to the i-th smallest: for p-values in the order "
            f"{np.round(p[perm], 3).tolist()} the decisions were {got.astype(int).tolist()}, expected "
            f"{expected[perm].astype(int).tolist()} (1 = rejected)")


@pytest.mark.task("benjamini_hochberg")
def test_bh_between_bonferroni_and_uncorrected(student):
    """benjamini_hochberg rejects every p-value <= alpha/m, never one above alpha, and keeps every rejection when alpha grows."""
    student.benjamini_hochberg  # a clear failure if the notebook does not define it

    @SETTINGS
    @given(p_value_lists)
    def check(p):
        p = np.asarray(p)
        got = np.asarray(student.benjamini_hochberg(p, 0.05))
        assert np.all(got[p <= 0.05 / len(p)]), "every p-value <= alpha/m (Bonferroni) must be rejected"
        assert not np.any(got[p > 0.05]), "a p-value above alpha can never be rejected"
        larger = np.asarray(student.benjamini_hochberg(p, 0.1))
        assert np.all(larger[got]), "raising alpha from 0.05 to 0.1 must keep every rejection"

    check()


@pytest.mark.task("benjamini_hochberg")
def test_bh_empty_and_real_pixels(student):
    """benjamini_hochberg returns an empty array for no p-values, and matches statsmodels on the 64 KS p-values of real digit pixels."""
    empty = np.asarray(student.benjamini_hochberg([]))
    assert empty.shape == (0,), f"no p-values: return an empty array, got {empty!r}"
    from tinytorch.core.data import load_digits

    digits = load_digits()
    reference, current = digits.train[0], np.clip(digits.test[0] * 1.15, 0.0, 1.0)
    p = np.array([scipy.stats.ks_2samp(reference[:, j], current[:, j], method="asymp").pvalue for j in range(64)])
    expected = multipletests(p, alpha=0.05, method="fdr_bh")[0]
    assert np.asarray(student.benjamini_hochberg(p)).tolist() == expected.tolist(), (
        "on the 64 KS p-values of real digit pixels (ink 15 % darker) the rejections differ from statsmodels")
