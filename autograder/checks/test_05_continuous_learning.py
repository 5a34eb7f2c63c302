"""Hidden checks of notebook 05 (continuous learning).

Expected values are computed here by small reference rules written in this file, never taken from
the library (its reference answers are stubs while these checks run). The gate is also exercised
on real models: a champion trained on the digits and challengers trained on good or corrupted
labels.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from autograder.checks import reference_models

FEW = settings(max_examples=40, deadline=None, database=None, derandomize=True)
ACCURACY = st.one_of(st.none(), st.floats(0, 1))
# Random comparisons stay this far from their boundary, where `a < b - t` and `b - a > t` (equal
# answers to the statement) may round differently.
ROUNDING = 1e-9


def decision(got):
    """should_retrain's answer as (bool, list): any truthy or falsy decision, any sequence of reasons."""
    retrain, reasons = got
    return bool(retrain), list(reasons)


# -- should_retrain ------------------------------------------------------------------------------

def policy_of(student, **changes):
    values = dict(accuracy_tolerance=0.25, new_data_samples=1000, retrain_every_seconds=3600.0,
                  use_drift=True, min_new_samples=200)
    return student.RetrainPolicy(**{**values, **changes})


def status_of(student, **changes):
    values = dict(drift_detected=False, baseline_accuracy=0.75, recent_accuracy=0.75,
                  new_samples=500, seconds_since_retrain=60.0)
    return student.StreamStatus(**{**values, **changes})


def reference_reasons(s, p):
    reasons = []
    if p.use_drift and s.drift_detected:
        reasons.append("drift")
    if (p.accuracy_tolerance is not None and s.baseline_accuracy is not None
            and s.recent_accuracy is not None and s.recent_accuracy < s.baseline_accuracy - p.accuracy_tolerance):
        reasons.append("accuracy_decay")
    if p.new_data_samples is not None and s.new_samples >= p.new_data_samples:
        reasons.append("new_data")
    if p.retrain_every_seconds is not None and s.seconds_since_retrain >= p.retrain_every_seconds:
        reasons.append("schedule")
    return bool(reasons) and s.new_samples >= p.min_new_samples, reasons


@pytest.mark.task("should_retrain")
def test_each_trigger_fires_alone_at_its_threshold(student):
    """should_retrain fires each trigger alone at its threshold (reasons ['drift'], ['accuracy_decay'], ['new_data'] or ['schedule']) and not just before it."""
    cases = [
        ("drift", {"drift_detected": True}, {"drift_detected": False}, "no drift was detected"),
        ("accuracy_decay", {"recent_accuracy": 0.49}, {"recent_accuracy": 0.5},
         "0.5 is exactly baseline 0.75 - tolerance 0.25, and decay is recent < baseline - tolerance (strict)"),
        ("new_data", {"new_samples": 1000}, {"new_samples": 999}, "999 < new_data_samples 1000"),
        ("schedule", {"seconds_since_retrain": 3600.0}, {"seconds_since_retrain": 3599.9},
         "3599.9 s < retrain_every_seconds 3600"),
    ]
    for name, fires, quiet, why in cases:
        got = decision(student.should_retrain(status_of(student, **fires), policy_of(student)))
        assert got == (True, [name]), f"with {fires} expected (True, [{name!r}]), got {got!r}"
        got = decision(student.should_retrain(status_of(student, **quiet), policy_of(student)))
        assert got == (False, []), f"with {quiet} nothing should fire ({why}), got {got!r}"


@pytest.mark.task("should_retrain")
def test_decay_is_strictly_below_baseline_minus_tolerance(student):
    """should_retrain does not report accuracy_decay when recent accuracy is exactly baseline - tolerance."""
    got = decision(student.should_retrain(status_of(student, baseline_accuracy=0.75, recent_accuracy=0.5),
                                          policy_of(student, accuracy_tolerance=0.25)))
    assert got == (False, []), (f"0.5 is exactly 0.75 - 0.25: not decay (use a strict <), got {got!r}")


@pytest.mark.task("should_retrain")
def test_unknown_accuracies_never_fire(student):
    """should_retrain never reports accuracy_decay when the baseline or the recent accuracy is None."""
    for changes in ({"baseline_accuracy": None, "recent_accuracy": 0.0},
                    {"baseline_accuracy": 1.0, "recent_accuracy": None}):
        got = decision(student.should_retrain(status_of(student, **changes), policy_of(student)))
        assert got == (False, []), f"with {changes} decay cannot be judged: expected (False, []), got {got!r}"


@pytest.mark.task("should_retrain")
def test_none_switches_a_trigger_off(student):
    """should_retrain fires no trigger whose threshold is None, and no drift trigger with use_drift=False."""
    off = policy_of(student, accuracy_tolerance=None, new_data_samples=None, retrain_every_seconds=None,
                    use_drift=False)
    loud = status_of(student, drift_detected=True, recent_accuracy=0.0, new_samples=10**6,
                     seconds_since_retrain=10.0**9)
    got = decision(student.should_retrain(loud, off))
    assert got == (False, []), f"every trigger is switched off, yet got {got!r}"


@pytest.mark.task("should_retrain")
def test_too_little_data_waits_but_reports_reasons(student):
    """should_retrain does not retrain with fewer than min_new_samples new rows but still reports the reasons in order, and exactly min_new_samples is enough."""
    loud = status_of(student, drift_detected=True, recent_accuracy=0.0, seconds_since_retrain=10.0**6,
                     new_samples=199)
    got = decision(student.should_retrain(loud, policy_of(student, min_new_samples=200)))
    assert got == (False, ["drift", "accuracy_decay", "schedule"]), (
        f"199 < 200 new rows: expected (False, ['drift', 'accuracy_decay', 'schedule']), got {got!r}")
    got = decision(student.should_retrain(status_of(student, drift_detected=True, new_samples=200),
                                          policy_of(student, min_new_samples=200)))
    assert got == (True, ["drift"]), f"exactly min_new_samples rows is enough, got {got!r}"


@pytest.mark.task("should_retrain")
def test_random_statuses_agree_with_the_reference(student):
    """should_retrain gives the reference decision and reasons, in order, for random statuses and policies."""
    @FEW
    @given(st.booleans(), ACCURACY, ACCURACY, st.integers(0, 3000), st.floats(0, 1e4),
           st.one_of(st.none(), st.floats(0, 0.5)), st.one_of(st.none(), st.integers(1, 3000)),
           st.one_of(st.none(), st.floats(1, 1e4)), st.booleans(), st.integers(0, 500))
    def check(drift, baseline, recent, new, age, tolerance, volume, every, use_drift, minimum):
        s = status_of(student, drift_detected=drift, baseline_accuracy=baseline, recent_accuracy=recent,
                      new_samples=new, seconds_since_retrain=age)
        p = policy_of(student, accuracy_tolerance=tolerance, new_data_samples=volume,
                      retrain_every_seconds=every, use_drift=use_drift, min_new_samples=minimum)
        if None not in (baseline, recent, tolerance):
            assume(abs(recent - (baseline - tolerance)) > ROUNDING)
        got, want = decision(student.should_retrain(s, p)), reference_reasons(s, p)
        assert got == want, f"for {s} and {p} expected {want}, got {got!r}"

    check()


# -- challenger_passes_gate ------------------------------------------------------------------------

def scores(recent, golden):
    return {"recent_accuracy": recent, "golden_accuracy": golden}


def gate_of(student, floor=0.5, margin=0.25, tolerance=0.125):
    return student.GatePolicy(min_accuracy=floor, min_improvement=margin, golden_tolerance=tolerance)


def says_failed(reason):
    return "failed" in reason.lower()


@pytest.mark.task("challenger_passes_gate")
def test_first_run_checks_only_the_floor(student):
    """challenger_passes_gate without a champion checks only the floor (inclusive), giving two reasons in any order: the floor's, saying 'failed' when it fails, and one saying the change checks were skipped (with 'skip' in it)."""
    result = student.challenger_passes_gate(scores(0.5, 0.0), None, gate_of(student))
    assert bool(result.passed), f"first run: 0.5 meets the floor of 0.5 (>=), so it passes; got {result}"
    notes = [r for r in result.reasons if "skip" in r.lower()]
    assert len(result.reasons) == 2 and len(notes) == 1, (
        "first run: one reason for the floor and one saying the change checks were skipped (say 'skipped'); "
        f"got {result.reasons}")
    low = student.challenger_passes_gate(scores(0.49, 1.0), None, gate_of(student))
    floor = [r for r in low.reasons if "skip" not in r.lower()]
    assert not low.passed and floor and says_failed(floor[0]), (
        f"0.49 is below the floor 0.5: refuse, and say 'failed' in the floor's reason; got {low}")


@pytest.mark.task("challenger_passes_gate")
def test_thresholds_are_inclusive_and_fail_just_below(student):
    """challenger_passes_gate passes recent >= champion + margin and golden >= champion - tolerance exactly at the boundary, and refuses just below either."""
    champion = scores(0.5, 0.75)
    exact = student.challenger_passes_gate(scores(0.75, 0.625), champion, gate_of(student))
    assert bool(exact.passed), (f"0.75 = 0.5 + 0.25 and 0.625 = 0.75 - 0.125 are both on the boundary "
                                f"and pass (>=); got {exact}")
    short = student.challenger_passes_gate(scores(0.74, 0.625), champion, gate_of(student))
    assert not short.passed, "0.74 < 0.5 + 0.25: not enough improvement, refuse"
    forgets = student.challenger_passes_gate(scores(0.75, 0.62), champion, gate_of(student))
    assert not forgets.passed, "0.62 < 0.75 - 0.125: regressed on the golden set, refuse"


@pytest.mark.task("challenger_passes_gate")
def test_one_reason_per_check_marking_failures(student):
    """challenger_passes_gate with a champion gives three reasons in order (floor, improvement, golden set), each failing one saying 'failed' and no passing one."""
    result = student.challenger_passes_gate(scores(0.4, 0.1), scores(0.3, 0.9), gate_of(student))
    assert len(result.reasons) == 3, f"three checks, three reasons; got {result.reasons}"
    marks = [says_failed(r) for r in result.reasons]
    assert marks == [True, True, True], f"all three checks fail here, each reason says 'failed'; reasons were {result.reasons}"
    result = student.challenger_passes_gate(scores(0.6, 0.1), scores(0.3, 0.9), gate_of(student))
    marks = [says_failed(r) for r in result.reasons]
    assert marks == [False, False, True] and not result.passed, (
        f"only the golden check (the third) fails here, so only its reason says 'failed'; reasons were {result.reasons}")


@pytest.mark.task("challenger_passes_gate")
def test_real_models_corrupted_labels_refused_better_model_passes(student, gate_models):
    """challenger_passes_gate refuses a real challenger trained on 70 % wrong labels and passes the real champion on a first run."""
    champion, corrupted, golden, recent = gate_models
    def measure(model):
        return scores(float((model.predict(recent[0]) == recent[1]).mean()),
                      float((model.predict(golden[0]) == golden[1]).mean()))
    policy = student.GatePolicy(min_accuracy=0.8, min_improvement=0.01, golden_tolerance=0.02)
    verdict = student.challenger_passes_gate(measure(corrupted), measure(champion), policy)
    assert not verdict.passed, f"the corrupted-label model scored {measure(corrupted)} and must be refused"
    first = student.challenger_passes_gate(measure(champion), None, policy)
    assert bool(first.passed), f"a good first model scoring {measure(champion)} passes the first run"


@pytest.mark.task("challenger_passes_gate")
def test_random_scores_agree_with_the_reference(student):
    """challenger_passes_gate gives the reference verdict for random scores, policies and first runs."""
    @FEW
    @given(st.floats(0, 1), st.floats(0, 1), st.one_of(st.none(), st.tuples(st.floats(0, 1), st.floats(0, 1))),
           st.floats(0, 1), st.floats(0, 0.2), st.floats(0, 0.2))
    def check(recent, golden, champ, floor, margin, tolerance):
        champion = None if champ is None else scores(*champ)
        if champion is not None:
            assume(abs(recent - (champion["recent_accuracy"] + margin)) > ROUNDING)
            assume(abs(golden - (champion["golden_accuracy"] - tolerance)) > ROUNDING)
        want = recent >= floor and (champion is None or (
            recent >= champion["recent_accuracy"] + margin and golden >= champion["golden_accuracy"] - tolerance))
        got = student.challenger_passes_gate(scores(recent, golden), champion, gate_of(student, floor, margin, tolerance))
        assert bool(got.passed) == want, (f"challenger {scores(recent, golden)}, champion {champion}, floor "
                                          f"{floor}, margin {margin}, tolerance {tolerance}: expected {want}, got {got}")

    check()


# -- should_rollback ------------------------------------------------------------------------------

def rollback_policy(student, minimum=10, probation=20, tolerance=0.0):
    return student.RollbackPolicy(min_samples=minimum, probation_samples=probation, tolerance=tolerance)


@pytest.mark.task("should_rollback")
def test_waits_before_min_samples_however_bad(student):
    """should_rollback says 'wait' with fewer than min_samples rows, even if the new model got every row wrong, and gives its verdict at exactly min_samples."""
    got = student.should_rollback([0] * 9, [1] * 9, rollback_policy(student))
    assert got == "wait", f"9 < 10 rows is too little evidence: expected 'wait', got {got!r}"
    got = student.should_rollback([0] * 10, [1] * 10, rollback_policy(student))
    assert got == "rollback", f"at exactly min_samples rows the verdict is due: expected 'rollback', got {got!r}"


@pytest.mark.task("should_rollback")
def test_strictly_worse_rolls_back_equal_does_not(student):
    """should_rollback does not roll back at equal accuracy and rolls back when the new model is one row worse (tolerance 0)."""
    equal = [1, 0] * 5
    got = student.should_rollback(equal, equal[::-1], rollback_policy(student))
    assert got == "wait", f"equal accuracy (0.5 vs 0.5) before probation ends: expected 'wait', got {got!r}"
    got = student.should_rollback([1] * 9 + [0], [1] * 10, rollback_policy(student))
    assert got == "rollback", f"0.9 < 1.0 on the same 10 rows: expected 'rollback', got {got!r}"


@pytest.mark.task("should_rollback")
def test_tolerance_is_honoured(student):
    """should_rollback with tolerance t rolls back only when new accuracy < old accuracy - t, not exactly at it."""
    policy = rollback_policy(student, tolerance=0.25)
    got = student.should_rollback([1] * 3 + [0], [1] * 4, rollback_policy(student, minimum=4, tolerance=0.25))
    assert got == "wait", f"0.75 is exactly 1.0 - 0.25: not below it, expected 'wait', got {got!r}"
    got = student.should_rollback([1] * 6 + [0] * 4, [1] * 10, policy)
    assert got == "rollback", f"0.6 < 1.0 - 0.25: expected 'rollback', got {got!r}"


@pytest.mark.task("should_rollback")
def test_keep_only_once_probation_is_over(student):
    """should_rollback says 'keep' at probation_samples rows without a rollback and 'wait' one row earlier."""
    got = student.should_rollback([1] * 19, [1] * 19, rollback_policy(student))
    assert got == "wait", f"19 < 20 probation rows: expected 'wait', got {got!r}"
    got = student.should_rollback([1] * 20, [0] + [1] * 19, rollback_policy(student))
    assert got == "keep", f"20 rows, better than before: expected 'keep', got {got!r}"


@pytest.mark.task("should_rollback")
def test_numpy_booleans_and_mismatched_lengths(student):
    """should_rollback takes NumPy boolean arrays like lists and raises ValueError when the two outcome lists differ in length."""
    new, old = np.array([True] * 5 + [False] * 5), np.ones(10, dtype=bool)
    got = student.should_rollback(new, old, rollback_policy(student))
    assert got == "rollback", f"boolean arrays: 0.5 < 1.0, expected 'rollback', got {got!r}"
    with pytest.raises(ValueError):
        student.should_rollback([1] * 10, [1] * 11, rollback_policy(student))


@pytest.mark.task("should_rollback")
def test_random_outcomes_agree_with_the_reference(student):
    """should_rollback gives the reference verdict for random live outcomes and policies."""
    @FEW
    @given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60), st.integers(1, 30),
           st.integers(1, 60), st.sampled_from([0.0, 0.05, 0.1]))
    def check(pairs, minimum, probation, tolerance):
        new = [int(a) for a, _ in pairs]
        old = [int(b) for _, b in pairs]
        if len(pairs) < minimum:
            want = "wait"
        else:
            assume(abs(np.mean(new) - (np.mean(old) - tolerance)) > ROUNDING)
            rollback = np.mean(new) < np.mean(old) - tolerance
            want = "rollback" if rollback else "keep" if len(pairs) >= probation else "wait"
        got = student.should_rollback(new, old, rollback_policy(student, minimum, probation, tolerance))
        assert got == want, (f"{len(pairs)} rows, new accuracy {np.mean(new) if pairs else None}, old "
                             f"{np.mean(old) if pairs else None}, policy min={minimum} probation={probation} "
                             f"tolerance={tolerance}: expected {want!r}, got {got!r}")

    check()


@pytest.fixture(scope="module")
def gate_models():
    """A champion, a challenger trained on 70 % wrong labels, a golden set and recent rows."""
    return reference_models.gate_models()
