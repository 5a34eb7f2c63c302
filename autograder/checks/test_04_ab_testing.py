"""Hidden checks of notebook 04 (A/B testing and safe rollout).

Reference values come from scipy and statsmodels, from the published FNV-1a vectors, from an
independent port of GrowthBook's JavaScript hash, or are computed here; never from the library's
answers to these tasks (they are stubs while the checks run).
"""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportions_ztest

from autograder.grading.judge import abstract

# Few examples, no shrinking and no example database: fast, and the first failure's message is
# what the student reads.
FEW = settings(max_examples=40, deadline=None, database=None, derandomize=True,
               phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False)


def growthbook_fnv32a(text):
    """GrowthBook's JS SDK hashFnv32a, ported: shift-adds instead of a multiply, over characters."""
    h = 0x811C9DC5
    for ch in text:
        h ^= ord(ch)
        h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) & 0xFFFFFFFF
    return h


def reference_bucket(seed, unit_id):
    return growthbook_fnv32a(str(growthbook_fnv32a(str(seed) + str(unit_id)))) % 10000 / 10000


def reference_assignment(seed, unit_id, split, coverage=1.0):
    position, start = reference_bucket(seed, unit_id), 0.0
    for name, weight in split:
        if start <= position < start + coverage * weight:
            return name
        start += weight
    return None


def border_note(seed, unit_id, split, coverage=1.0):
    """A hint when the unit's bucket lies exactly on the start or the end of a variant's range, or ''."""
    position, start = reference_bucket(seed, unit_id), 0.0
    for name, weight in split:
        end = start + coverage * weight
        if math.isclose(position, start, abs_tol=1e-12) or math.isclose(position, end, abs_tol=1e-12):
            return (f"; its bucket {position:g} lies exactly on a border of {name}'s range [{start:g}, {end:g}): "
                    "a range holds its start but not its end")
        start += weight
    return ""


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


# ---- Task 1: fnv1a_32 ---------------------------------------------------------------------------

@pytest.mark.task("fnv1a_32")
def test_fnv_reference_vectors(student):
    """fnv1a_32 matches the published FNV-1a 32-bit test vectors."""
    vectors = {"": 0x811C9DC5, "a": 0xE40C292C, "b": 0xE70C2DE5, "foobar": 0xBF9CF968,
               "chongo was here!\n": 0xD49930D5}
    for text, expected in vectors.items():
        got = student.fnv1a_32(text)
        assert got == expected, (f"fnv1a_32({text!r}) = {got:#x}, expected {expected:#x}: start from 0x811C9DC5 and, "
                                 "per byte, XOR first, then multiply by 0x01000193 (FNV-1 does it the other way round)")


@pytest.mark.task("fnv1a_32")
def test_fnv_matches_growthbook(student):
    """fnv1a_32 agrees with GrowthBook's JavaScript hash on random ASCII ids."""
    @FEW
    @given(text=ascii_text)
    def check(text):
        got, expected = student.fnv1a_32(text), growthbook_fnv32a(text)
        assert got == expected, f"fnv1a_32({text!r}) = {got}, GrowthBook computes {expected}"

    check()


@pytest.mark.task("fnv1a_32")
def test_fnv_hashes_utf8_bytes(student):
    """fnv1a_32 hashes non-ASCII text as its UTF-8 bytes, not its code points."""
    for text in ["é", "Zürich-ü", "用户-42", "🙂"]:
        expected = 0x811C9DC5
        for byte in text.encode("utf-8"):
            expected = ((expected ^ byte) * 0x01000193) & 0xFFFFFFFF
        got = student.fnv1a_32(text)
        assert got == expected, (f"fnv1a_32({text!r}) = {got}, expected {expected}: hash text.encode('utf-8') byte by "
                                 "byte, not the characters' code points")


@pytest.mark.task("fnv1a_32")
def test_fnv_fits_in_32_bits(student):
    """fnv1a_32 returns an integer in [0, 2**32), the right hash, for texts of thousands of characters."""
    for text in ["x" * 5000, "user-" * 2000, "\x00" * 100]:
        got = student.fnv1a_32(text)
        integer = isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_))
        assert integer and 0 <= got < 2**32, (
            f"fnv1a_32 of a {len(text)}-character text returned {got!r}: keep the low 32 bits (& 0xFFFFFFFF) after each multiply")
        assert got == growthbook_fnv32a(text), f"fnv1a_32 of a {len(text)}-character text is wrong"


# ---- Task 2: assign_variant ---------------------------------------------------------------------

COVERAGE_NOTE = ("; with coverage < 1 each variant still starts where the weights before it end and only its "
                 "length shrinks: [start_i, start_i + coverage * w_i)")

@pytest.fixture
def assign_many(student, probe):
    """``assign_many(seed, ids, split[, coverage])``: the student's assign_variant for every id,
    called inside the worker in one request (thousands of calls, one round trip)."""
    return lambda seed, ids, split, *coverage: probe.call_each(student.assign_variant, [[seed, unit] for unit in ids],
                                                               split, *coverage)


@pytest.mark.task("assign_variant")
def test_assign_border_goes_to_next_variant(student):
    """assign_variant gives a unit whose bucket is exactly on a border the variant that starts there (ranges are [start, end)), and bucket 0.0 the first variant."""
    on_border, at_zero = [8692, 36405, 51303], [1343, 25701, 26250]
    assert all(reference_bucket("border", i) == 0.8 for i in on_border), "check set-up: bucket 0.8 ids changed"
    assert all(reference_bucket("border", i) == 0.0 for i in at_zero), "check set-up: bucket 0.0 ids changed"
    split = {"control": 0.8, "treatment": 0.2}
    for unit_id in on_border:
        got = student.assign_variant("border", unit_id, split)
        assert got == "treatment", (f"unit {unit_id} has bucket exactly 0.8 and got {got!r}: ranges are [start, end), "
                                    "so 0.8 is in treatment's [0.8, 1.0), not in control's [0, 0.8) (use start <= b < end)")
    for unit_id in at_zero:
        got = student.assign_variant("border", unit_id, split)
        assert got == "control", f"unit {unit_id} has bucket 0.0 and got {got!r}: the first variant's range [0, 0.8) holds 0"


@pytest.mark.task("assign_variant")
def test_assign_80_20_within_one_point(student, assign_many):
    """assign_variant gives each of 10,000 ids split 80/20 a variant, and treatment gets 20 % of them within one point."""
    split = {"control": 0.8, "treatment": 0.2}
    variants = assign_many("exp-80-20", [f"user-{i}" for i in range(10_000)], split)
    share = variants.count("treatment") / len(variants)
    assert variants.count("control") + variants.count("treatment") == len(variants), (
        "some ids got neither variant at coverage 1: every bucket in [0, 1) belongs to some variant")
    assert abs(share - 0.2) < 0.01, f"treatment got {share:.2%} of 10,000 ids, expected 20% +- 1 point"


@pytest.mark.task("assign_variant")
def test_assign_weight_change_moves_fewest(student, assign_many):
    """assign_variant, when the split changes from 80/20 to 70/30, moves exactly the control users with a bucket in [0.7, 0.8) to treatment and nobody else."""
    ids = [f"u{i}" for i in range(3_000)]
    before = assign_many("reweight", ids, {"control": 0.8, "treatment": 0.2})
    after = assign_many("reweight", ids, {"control": 0.7, "treatment": 0.3})
    for u, old, new in zip(ids, before, after):
        position = reference_bucket("reweight", u)
        should_move = 0.7 <= position < 0.8
        assert (old != new) == should_move, (
            f"user {u!r} (bucket {position:g}) went {old} -> {new} when the split changed 80/20 -> 70/30; only users "
            "with a bucket in [0.7, 0.8) should move (lay the variants out side by side from 0, in the split's order)"
            + border_note("reweight", u, [("control", 0.7), ("treatment", 0.3)]))
        assert old == new or (old, new) == ("control", "treatment"), f"user {u!r} moved {old} -> {new}"


@pytest.mark.task("assign_variant")
def test_assign_coverage_only_adds_units(student, assign_many):
    """assign_variant keeps every included unit's variant when coverage rises from 0.2 to 0.6, and gives None to the about 80 % outside coverage 0.2."""
    split = {"a": 0.5, "b": 0.3, "c": 0.2}
    ids = [f"member-{i}" for i in range(3_000)]
    small = assign_many("cov", ids, split, 0.2)
    large = assign_many("cov", ids, split, 0.6)
    for u, s, l in zip(ids, small, large):
        assert s is None or s == l, (f"user {u!r} was {s!r} at coverage 0.2 but {l!r} at 0.6: raising coverage must only "
                                     "add users (variant i owns [start_i, start_i + coverage * w_i), start_i fixed)"
                                     + border_note("cov", u, split.items(), 0.2))
    outside = small.count(None) / len(ids)
    assert abs(outside - 0.8) < 0.03, f"{outside:.1%} of users were outside coverage 0.2, expected about 80% (None)"


@pytest.mark.task("assign_variant")
def test_assign_rejects_bad_split(student):
    """assign_variant raises ValueError for weights not summing to 1, a negative weight and an empty split."""
    for bad in [{"control": 0.8, "treatment": 0.1}, {"control": 1.2, "treatment": -0.2}, {}]:
        with pytest.raises(ValueError):
            student.assign_variant("exp", "user-1", bad)
            raise AssertionError(f"assign_variant accepted the split {bad}: call validate_split first")


@pytest.mark.task("assign_variant")
def test_assign_respects_pair_order(student, assign_many):
    """assign_variant takes a split given as (name, weight) pairs too, and lays it out in the given order."""
    ids = [f"p{i}" for i in range(3_000)]
    pairs = [("b", 0.3), ("a", 0.7)]
    for u, got in zip(ids, assign_many("pairs", ids, pairs)):
        expected = "b" if reference_bucket("pairs", u) < 0.3 else "a"
        assert got == expected, (f"a split given as (name, weight) pairs {pairs} is laid out in that order, so [0, 0.3) "
                                 f"is b's; user {u!r} (bucket {reference_bucket('pairs', u):g}) got {got!r}, expected "
                                 f"{expected!r} (validate_split turns either form into pairs)" + border_note("pairs", u, pairs))


@pytest.mark.task("assign_variant")
def test_assign_matches_reference(student):
    """assign_variant gives the variant of GrowthBook's bucket ranges for random seeds, ids, splits and coverages, and the same one on a second call."""
    @FEW
    @given(seed=ascii_text, unit_id=st.one_of(ascii_text, st.integers(0, 10**9)),
           weights=st.lists(st.integers(1, 20), min_size=2, max_size=4),
           coverage=st.sampled_from([1.0, 0.5, 0.25]))
    def check(seed, unit_id, weights, coverage):
        split = {f"v{i}": w / sum(weights) for i, w in enumerate(weights)}
        split[f"v{len(weights) - 1}"] = 1.0 - sum(list(split.values())[:-1])
        expected = reference_assignment(seed, unit_id, list(split.items()), coverage)
        got = student.assign_variant(seed, unit_id, split, coverage)
        assert got == expected, (f"assign_variant({seed!r}, {unit_id!r}, {split}, coverage={coverage}) = {got!r}, "
                                 f"expected {expected!r} (bucket {reference_bucket(seed, unit_id)})"
                                 + border_note(seed, unit_id, split.items(), coverage) + (COVERAGE_NOTE if coverage < 1 else ""))
        assert student.assign_variant(seed, unit_id, dict(split), coverage) == got, "a second call gave another variant"

    check()


# ---- Task 3: two_proportion_ztest ---------------------------------------------------------------

NAN_HINT = "; a NaN fails every comparison, so test that 0 <= conversions <= n holds rather than that it is violated"
counts = st.integers(1, 5000).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n)))


@pytest.mark.task("two_proportion_ztest")
def test_ztest_matches_statsmodels(student):
    """two_proportion_ztest gives the z and p of statsmodels' proportions_ztest (pooled, two-sided) to 1e-9 on random counts."""
    @FEW
    @given(a=counts, b=counts)
    def check(a, b):
        (x_a, n_a), (x_b, n_b) = a, b
        pooled = (x_a + x_b) / (n_a + n_b)
        assume(0 < pooled < 1)
        z, p = proportions_ztest([x_b, x_a], [n_b, n_a])
        got = student.two_proportion_ztest(x_a, n_a, x_b, n_b)
        assert abs(got[0] - z) < 1e-9 * max(1, abs(z)), (
            f"two_proportion_ztest({x_a}, {n_a}, {x_b}, {n_b}) gave z = {got[0]}, statsmodels {z}: use the pooled rate "
            "in the standard error, and z = (rate_b - rate_a) / se")
        assert abs(got[1] - p) < 1e-9, f"two_proportion_ztest({x_a}, {n_a}, {x_b}, {n_b}) gave p = {got[1]}, statsmodels {p} (two-sided)"

    check()


@pytest.mark.task("two_proportion_ztest")
def test_ztest_named_fields_and_sign(student):
    """two_proportion_ztest returns a ZTest with .z and .p_value, z > 0 when treatment (b) converts more, and swapping the variants flips z and keeps p."""
    result = student.two_proportion_ztest(50, 500, 80, 500)
    assert hasattr(result, "z") and hasattr(result, "p_value"), "return ZTest(z, p_value), the named tuple given above"
    assert result.z > 0, f"b converts 16% vs a's 10% but z = {result.z}: z is (rate_b - rate_a) / se"
    flipped = student.two_proportion_ztest(80, 500, 50, 500)
    assert abs(flipped.z + result.z) < 1e-12 and math.isclose(flipped.p_value, result.p_value, rel_tol=1e-12), (
        "swapping the variants must flip the sign of z and keep p")


@pytest.mark.task("two_proportion_ztest")
def test_ztest_tail_precision(student):
    """two_proportion_ztest keeps the tiny p-values of large effects accurate (relative 1e-6), not rounded to 0."""
    for x_a, n_a, x_b, n_b in [(100, 10_000, 400, 10_000), (1000, 10_000, 1600, 10_000)]:
        z, got = student.two_proportion_ztest(x_a, n_a, x_b, n_b)
        expected = 2 * scipy.stats.norm.sf(abs(z))
        assert got > 0 and abs(got - expected) <= 1e-6 * expected, (
            f"p-value for z = {z:.2f} is {got}, expected {expected:.3e}: compute it as erfc(|z| / sqrt(2)), "
            "not 2 * (1 - cdf), which loses every digit this far in the tail")


@pytest.mark.task("two_proportion_ztest")
def test_ztest_degenerate(student):
    """two_proportion_ztest returns z = 0, p = 1 when nobody or everybody converts, not a division by zero."""
    for args in [(0, 100, 0, 200), (100, 100, 200, 200)]:
        got = tuple(student.two_proportion_ztest(*args))
        assert got == (0.0, 1.0), f"two_proportion_ztest{args} = {got}: with no variation there is no evidence, return z = 0, p = 1"


@pytest.mark.task("two_proportion_ztest")
def test_ztest_rejects_bad_counts(student):
    """two_proportion_ztest raises ValueError for an empty variant (n = 0) and for conversions outside [0, n] or NaN, and accepts a variant of one unit."""
    try:
        student.two_proportion_ztest(1, 1, 0, 1)
    except ValueError as error:
        raise AssertionError(f"two_proportion_ztest(1, 1, 0, 1) raised ValueError ({abstract(str(error))}): one unit per variant is a "
                             "(tiny) experiment; only n <= 0 is empty") from None
    for args, what in [((0, 0, 5, 10), "n_a = 0"), ((5, 10, 0, 0), "n_b = 0"), ((11, 10, 5, 10), "conversions_a > n_a"),
                       ((-1, 10, 5, 10), "conversions_a < 0"), ((5, 10, -1, 10), "conversions_b < 0"), ((math.nan, 10, 5, 10), f"conversions_a is nan{NAN_HINT}"),
                       ((5, 10, math.nan, 10), f"conversions_b is nan{NAN_HINT}")]:
        with pytest.raises(ValueError):
            student.two_proportion_ztest(*args)
            raise AssertionError(f"two_proportion_ztest{args} did not raise ValueError ({what})")


# ---- Task 4: srm_check ----------------------------------------------------------------------------

@pytest.mark.task("srm_check")
def test_srm_matches_scipy(student):
    """srm_check gives the chi2 and p of scipy.stats.chisquare for random counts of 2 to 4 variants."""
    @FEW
    @given(weights=st.lists(st.integers(1, 10), min_size=2, max_size=4),
           data=st.data())
    def check(weights, data):
        observed = data.draw(st.lists(st.integers(0, 20_000), min_size=len(weights), max_size=len(weights)))
        assume(sum(observed) > 0)
        expected = [sum(observed) * w / sum(weights) for w in weights]
        reference = scipy.stats.chisquare(observed, expected)
        got = student.srm_check(observed, [w / sum(weights) for w in weights])
        assert abs(got[0] - reference.statistic) <= 1e-9 * max(1.0, reference.statistic), (
            f"srm_check({observed}) chi2 = {got[0]}, scipy {reference.statistic}: sum (observed - expected)^2 / expected")
        assert abs(got[1] - reference.pvalue) < 1e-9, (
            f"srm_check({observed}) p = {got[1]}, scipy {reference.pvalue}: chi2_sf(chi2, k - 1) with k variants")

    check()


@pytest.mark.task("srm_check")
def test_srm_weights_need_not_sum_to_one(student):
    """srm_check treats weights as relative: weights 8:2 give the same chi2 as 0.8/0.2."""
    a, b = student.srm_check([8100, 1900], [8, 2]), student.srm_check([8100, 1900], [0.8, 0.2])
    assert abs(a[0] - b[0]) < 1e-9 and abs(a[0] - 6.25) < 1e-9, (
        f"weights [8, 2] gave chi2 {a[0]}, [0.8, 0.2] gave {b[0]}, expected 6.25: expected_i = total * w_i / sum(w)")


@pytest.mark.task("srm_check")
def test_srm_threshold(student):
    """srm_check returns an SRMResult whose mismatch is p < threshold, strictly, with threshold 0.001 unless another is passed."""
    counts = [5150, 4850]  # chi2 = 9, p = 0.0027
    default = student.srm_check(counts, [0.5, 0.5])
    assert hasattr(default, "mismatch"), "return SRMResult(chi2, p_value, mismatch), the named tuple given above"
    assert not default.mismatch, f"p = {default.p_value:.4f} is above 0.001: not a mismatch at the default threshold"
    assert student.srm_check(counts, [0.5, 0.5], threshold=0.01).mismatch, "p = 0.0027 < threshold 0.01 is a mismatch"
    exact = student.srm_check([50, 50], [0.5, 0.5], threshold=1.0)
    assert exact.p_value == 1.0 and not exact.mismatch, "p = 1 with threshold 1.0 is not a mismatch: the rule is p < threshold, strictly"


@pytest.mark.task("srm_check")
def test_srm_flags_broken_split(student):
    """srm_check flags a 50/50 split of 10,000 users whose treatment loses a tenth of its logs, and not the healthy split."""
    from tinytorch.core.mlops.experiments.assignment import bucket

    arms = ["treatment" if bucket("srm-demo", f"user-{i}") >= 0.5 else "control" for i in range(10_000)]
    healthy = [arms.count("control"), arms.count("treatment")]
    broken = [healthy[0], sum(1 for i, arm in enumerate(arms) if arm == "treatment" and i % 10 != 7)]
    ok = student.srm_check(healthy, [0.5, 0.5])
    assert not ok.mismatch, f"the healthy counts {healthy} were flagged (p = {ok.p_value:.3g})"
    flagged = student.srm_check(broken, [0.5, 0.5])
    assert flagged.mismatch and flagged.p_value < 0.001, (
        f"counts {broken} on a 50/50 split were not flagged (p = {flagged.p_value:.3g}); the treatment lost 10% of its users")


@pytest.mark.task("srm_check")
def test_srm_rejects_bad_input(student):
    """srm_check raises ValueError for counts and weights of different lengths, one variant, no units, a weight that is not finite and > 0, and a count that is negative, infinite or NaN."""
    for counts, weights, what in [
            ([10, 20], [0.5, 0.3, 0.2], "3 weights for 2 counts"), ([10, 20, 30], [0.5, 0.5], "3 counts for 2 weights"),
            ([10], [1.0], "one variant"),
            ([0, 0], [0.5, 0.5], "no units"), ([10, 20], [1.0, 0.0], "a zero weight"),
            ([10, 20], [1.5, -0.5], "a negative weight"), ([10, 20], [math.inf, 1.0], "an infinite weight"),
            ([10, -1], [0.5, 0.5], "a negative count"), ([10, math.nan], [0.5, 0.5], "a NaN count"),
            ([10, math.inf], [0.5, 0.5], "an infinite count")]:
        with pytest.raises(ValueError):
            student.srm_check(counts, weights)
            raise AssertionError(f"srm_check({counts}, {weights}) did not raise ValueError: {what}")


# ---- Task 5: msprt_log_likelihood_ratio -------------------------------------------------------------

@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_equals_density_ratio(student):
    """msprt_log_likelihood_ratio equals log N(diff; 0, V + tau2) - log N(diff; 0, V) (scipy) to 1e-8 on random values."""
    @FEW
    @given(diff=st.floats(-0.5, 0.5), variance=st.floats(1e-6, 1e-1), ratio=st.floats(0.1, 100))
    def check(diff, variance, ratio):
        tau2 = ratio * variance
        expected = (scipy.stats.norm.logpdf(diff, 0, math.sqrt(variance + tau2))
                    - scipy.stats.norm.logpdf(diff, 0, math.sqrt(variance)))
        got = float(student.msprt_log_likelihood_ratio(diff, variance, tau2))
        assert abs(got - expected) <= 1e-8 * max(1.0, abs(expected)), (
            f"msprt_log_likelihood_ratio({diff}, {variance}, {tau2}) = {got}, expected {expected}: "
            "0.5 log(V / (V + tau2)) + tau2 diff^2 / (2 V (V + tau2))")

    check()


@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_elementwise(student):
    """msprt_log_likelihood_ratio takes NumPy arrays and returns an array of the same shape, equal to scalar calls."""
    diff = np.linspace(-0.05, 0.05, 12).reshape(3, 4)
    variance = np.full((3, 4), 2e-4) * np.arange(1, 5)
    got = np.asarray(student.msprt_log_likelihood_ratio(diff, variance, 1e-3))
    assert got.shape == (3, 4), f"a (3, 4) input gave shape {got.shape}: use NumPy operations (np.log), not math"
    for idx in np.ndindex(3, 4):
        one = float(student.msprt_log_likelihood_ratio(float(diff[idx]), float(variance[idx]), 1e-3))
        assert abs(got[idx] - one) < 1e-12, f"element {idx} differs from the scalar call"


@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_shape_of_evidence(student):
    """msprt_log_likelihood_ratio is symmetric in the sign of diff, negative at diff = 0 and growing with |diff|."""
    diffs = np.linspace(0, 0.1, 21)
    values = np.asarray(student.msprt_log_likelihood_ratio(diffs, np.full(21, 1e-4), 1e-3), dtype=float)
    mirrored = np.asarray(student.msprt_log_likelihood_ratio(-diffs, np.full(21, 1e-4), 1e-3), dtype=float)
    assert np.allclose(values, mirrored, rtol=1e-12), "log Lambda must not depend on the sign of diff"
    assert values[0] < 0, f"with no difference log Lambda is 0.5 log(V / (V + tau2)) < 0, got {values[0]}"
    assert np.all(np.diff(values) > 0), "log Lambda must grow with |diff|"


@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_finite_for_overwhelming_evidence(student):
    """msprt_log_likelihood_ratio stays finite and exact when the evidence is overwhelming (computed in logs, no exp)."""
    got = float(student.msprt_log_likelihood_ratio(1.0, 1e-5, 1e-2))
    expected = 0.5 * math.log(1e-5 / (1e-5 + 1e-2)) + 1e-2 / (2 * 1e-5 * (1e-5 + 1e-2))
    assert math.isfinite(got), "got an infinite or NaN value: exp() overflows here, compute log Lambda directly"
    assert abs(got - expected) < 1e-6 * expected, (
        f"msprt_log_likelihood_ratio(1.0, 1e-5, 1e-2) = {got}, expected {expected:.6g}: "
        "0.5 log(V / (V + tau2)) + tau2 diff^2 / (2 V (V + tau2))")


@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_rejects_bad_variances(student):
    """msprt_log_likelihood_ratio raises ValueError when a variance or tau2 is not > 0 or a diff is NaN."""
    for args, what in [((0.01, 0.0, 1e-3), "variance 0"), ((0.01, -1e-4, 1e-3), "a negative variance"),
                       ((0.01, 1e-4, 0.0), "tau2 0"), ((0.01, 1e-4, -1e-3), "a negative tau2"), ((math.nan, 1e-4, 1e-3), "diff NaN"),
                       ((np.array([0.01, 0.02]), np.array([1e-4, 0.0]), 1e-3), "one variance of an array 0")]:
        with pytest.raises(ValueError):
            student.msprt_log_likelihood_ratio(*args)
            raise AssertionError(f"msprt_log_likelihood_ratio did not raise ValueError for {what}: variances must be > 0")


def _aa_paths(rng, experiments, looks, per_look, rate_a, rate_b):
    """Cumulative diff and pooled null variance of experiments checked after every ``per_look`` users."""
    n = np.arange(1, looks + 1) * per_look // 2  # users per arm at each look
    conv_a = np.cumsum(rng.binomial(per_look // 2, rate_a, (experiments, looks)), axis=1)
    conv_b = np.cumsum(rng.binomial(per_look // 2, rate_b, (experiments, looks)), axis=1)
    pooled = (conv_a + conv_b) / (2 * n)
    variance = np.maximum(pooled * (1 - pooled) * 2 / n, 1e-12)
    return conv_b / n - conv_a / n, variance, 2 * n


@pytest.mark.task("msprt_log_likelihood_ratio")
def test_msprt_survives_peeking(student):
    """msprt_log_likelihood_ratio, in simulated A/A experiments checked every 100 users, crosses log(1/alpha) in at most 5 % of them, and finds a real 10 % -> 16 % effect in 80 %."""
    rng = np.random.default_rng(2024)
    looks, alpha, planned = 50, 0.05, 5000
    ratio = 8.2  # tau^2 = r * V at the planned sample size
    for rate_b, should in [(0.10, "null"), (0.16, "effect")]:
        diff, variance, units = _aa_paths(rng, 600, looks, 100, 0.10, rate_b)
        tau2 = ratio * variance * units / planned
        log_lr = np.asarray(student.msprt_log_likelihood_ratio(diff, variance, tau2), dtype=float)
        ever = (log_lr >= math.log(1 / alpha)).any(axis=1).mean()
        if should == "null":
            assert ever <= alpha, (f"{ever:.1%} of A/A experiments crossed log(1/alpha) at some look; the mSPRT keeps "
                                   "this below 5% (check the 0.5 log(V / (V + tau2)) term)")
        else:
            assert ever >= 0.8, f"only {ever:.1%} of experiments with a real 10% -> 16% effect were detected"
