"""Hidden checks of notebook 06 (the complete MLOps pipeline).

Expected values are computed here from the task statements, never from the library's answers to
these tasks (they are stubs while the checks run). The data types (GateResult, ArmStats, Step,
...) are the notebook's own provided copies.
"""

import math

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.protocol import by_reference

FEW = settings(max_examples=40, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
               report_multiple_bugs=False)

SIGNATURE = {"input_shape": (64,), "dtype": "float32", "output_shape": (10,)}
LIMITS = {"min_accuracy": 0.9, "max_p99_latency_ms": 5.0, "max_size_bytes": 20_000, "signature": SIGNATURE}
GOOD = {"accuracy": 0.95, "p99_latency_ms": 1.0, "size_bytes": 19_808, "signature": SIGNATURE}
NAMES = ["accuracy_floor", "p99_latency_ceiling", "size_ceiling", "signature_match"]

# -- Task 1: evaluate_release_gates ---------------------------------------------------------------


def gates_by_name(student, measured, limits=LIMITS):
    return {g.name: g for g in student.evaluate_release_gates(measured, limits)}


@pytest.mark.task("evaluate_release_gates")
def test_gates_in_order_with_figures(student):
    """a good candidate passes all four gates, in order, each recording its figure and limit"""
    gates = student.evaluate_release_gates(GOOD, LIMITS)
    assert [g.name for g in gates] == NAMES, f"expected one result per gate in the order {NAMES}"
    assert all(g.passed for g in gates), "a candidate inside every limit must pass every gate"
    assert [g.value for g in gates[:3]] == [0.95, 1.0, 19_808], "record the measured figure as value"
    assert [g.limit for g in gates[:3]] == [0.9, 5.0, 20_000], "record the limit as limit"


@pytest.mark.task("evaluate_release_gates")
def test_gates_compare_inclusively(student):
    """accuracy >= floor, p99 <= ceiling and size <= ceiling, the limits themselves included"""
    @FEW
    @given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 50), st.floats(0, 50), st.integers(0, 10**6),
           st.integers(0, 10**6))
    def check(accuracy, floor, latency, ceiling, size, max_size):
        limits = {"min_accuracy": floor, "max_p99_latency_ms": ceiling, "max_size_bytes": max_size}
        gates = gates_by_name(student, {"accuracy": accuracy, "p99_latency_ms": latency, "size_bytes": size}, limits)
        assert gates["accuracy_floor"].passed == (accuracy >= floor), f"accuracy {accuracy} vs floor {floor}"
        assert gates["p99_latency_ceiling"].passed == (latency <= ceiling), f"p99 {latency} vs ceiling {ceiling}"
        assert gates["size_ceiling"].passed == (size <= max_size), f"size {size} vs ceiling {max_size}"
        at_limit = gates_by_name(student, {"accuracy": floor, "p99_latency_ms": ceiling, "size_bytes": max_size}, limits)
        assert all(g.passed for g in at_limit.values()), "a figure exactly at its limit passes"

    check()


@pytest.mark.task("evaluate_release_gates")
@pytest.mark.parametrize("missing", ["absent", None, math.nan])
def test_unmeasured_figures_fail(student, missing):
    """missing, None and NaN figures each fail their gate"""
    for figure, gate in [("accuracy", "accuracy_floor"), ("p99_latency_ms", "p99_latency_ceiling"),
                         ("size_bytes", "size_ceiling"), ("signature", "signature_match")]:
        measured = {k: v for k, v in GOOD.items() if k != figure}
        if missing != "absent":
            measured[figure] = missing
        results = gates_by_name(student, measured)
        assert gate in results, f"{gate} must still get a result when {figure} is {missing!r}"
        assert not results[gate].passed, f"{gate} passed although {figure} was {missing!r} (not measured)"
        assert all(results[n].passed for n in NAMES if n != gate), "only the unmeasured gate may fail"


@pytest.mark.task("evaluate_release_gates")
def test_signatures_compare_after_normalizing(student):
    """signatures equal up to lists vs tuples match; a different shape or dtype does not"""
    as_json = {"input_shape": [64], "dtype": "float32", "output_shape": [10]}
    assert gates_by_name(student, {**GOOD, "signature": as_json})["signature_match"].passed, \
        "a signature read back from JSON (lists) must equal the model's (tuples)"
    assert gates_by_name(student, GOOD, {"signature": as_json})["signature_match"].passed
    for wrong in [{**SIGNATURE, "output_shape": (5,)}, {**SIGNATURE, "dtype": "float64"},
                  {**SIGNATURE, "input_shape": (8, 8)}]:
        assert not gates_by_name(student, {**GOOD, "signature": wrong})["signature_match"].passed, \
            f"signature {wrong} must not match {SIGNATURE}"


@pytest.mark.task("evaluate_release_gates")
def test_unconfigured_gates_are_left_out(student):
    """a gate whose limit is missing or None gets no result"""
    names = [g.name for g in student.evaluate_release_gates(GOOD, {"min_accuracy": None, "max_size_bytes": 1})]
    assert names == ["size_ceiling"], f"only configured gates get a result; got {names}"
    assert student.evaluate_release_gates(GOOD, {}) == [], "no limits: no gates"


@pytest.mark.task("evaluate_release_gates")
def test_messages_name_the_gate_and_both_figures(student):
    """each message names its gate and shows the measured figure and the limit"""
    gates = gates_by_name(student, {**GOOD, "accuracy": 0.8125, "p99_latency_ms": 41.25, "size_bytes": 31_337})
    for name, value, limit in [("accuracy_floor", "0.8125", "0.9"), ("p99_latency_ceiling", "41.25", "5"),
                               ("size_ceiling", "31337", "20000")]:
        message = gates[name].message
        assert name in message and value in message and limit in message, \
            f"the message of {name} must show the figure {value} and the limit {limit}; got {message!r}"
        assert not gates[name].passed


# -- Task 2: canary_decision ----------------------------------------------------------------------

def policy(student, **overrides):
    values = dict(min_requests=100, max_error_rate_increase=0.01, max_latency_regression=0.5,
                  latency_slack_ms=1.0, max_accuracy_drop=0.03)
    return student.CanaryPolicy(**{**values, **overrides})


def arm(student, requests=200, errors=0, p99=2.0, labelled=200, correct=190):
    return student.ArmStats(requests, errors, p99, labelled, correct)


@pytest.mark.task("canary_decision")
def test_waits_for_requests_on_both_arms(student):
    """fewer than min_requests on either arm means wait; exactly min_requests is enough"""
    p = policy(student)
    assert student.canary_decision(arm(student), arm(student, requests=99, labelled=99), p).action == "wait"
    assert student.canary_decision(arm(student, requests=99, labelled=99), arm(student), p).action == "wait", \
        "the stable arm needs min_requests too"
    exact = student.canary_decision(arm(student, 100, 0, 2.0, 100, 95), arm(student, 100, 0, 2.0, 100, 95), p)
    assert exact.action == "advance", "exactly min_requests requests and labels is enough evidence"


@pytest.mark.task("canary_decision")
def test_error_rate_limit_is_strict(student):
    """rollback only when the canary's error rate exceeds stable's by more than the limit"""
    p = policy(student, max_error_rate_increase=0.05)
    stable = arm(student, requests=200, errors=2)  # 1 %
    at_limit = student.canary_decision(stable, arm(student, requests=200, errors=12), p)  # 6 %: +5 points
    assert at_limit.action == "advance", "an increase exactly at the limit is allowed"
    past = student.canary_decision(stable, arm(student, requests=200, errors=13), p)
    assert past.action == "rollback" and "error" in past.reasons[0], "6.5 % vs 1 % is past a 5-point limit"
    assert "0.065" in past.reasons[0] and "0.010" in past.reasons[0], "say both error rates in the reason"


@pytest.mark.task("canary_decision")
def test_latency_limit_has_ratio_and_slack(student):
    """p99 may reach stable * (1 + max_latency_regression) + latency_slack_ms, not more"""
    p = policy(student, max_latency_regression=0.5, latency_slack_ms=2.0)
    stable = arm(student, p99=10.0)
    assert student.canary_decision(stable, arm(student, p99=17.0), p).action == "advance", "17.0 = 1.5 * 10 + 2"
    slow = student.canary_decision(stable, arm(student, p99=17.01), p)
    assert slow.action == "rollback" and "latency" in slow.reasons[0]
    no_answers = student.canary_decision(stable, arm(student, p99=None), p)
    assert no_answers.action == "advance", "p99 None (nothing answered) skips the latency comparison"


@pytest.mark.task("canary_decision")
def test_accuracy_needs_labels_errors_do_not(student):
    """accuracy is judged only with min_requests labels per arm; errors roll back without labels"""
    p = policy(student, max_accuracy_drop=0.03)
    stable = arm(student, labelled=200, correct=192)  # 0.96
    assert student.canary_decision(stable, arm(student, labelled=200, correct=186), p).action == "advance", \
        "0.93 vs 0.96 is exactly the allowed drop"
    worse = student.canary_decision(stable, arm(student, labelled=200, correct=185), p)
    assert worse.action == "rollback" and "accuracy" in worse.reasons[0]
    few_labels = student.canary_decision(stable, arm(student, labelled=99, correct=0), p)
    assert few_labels.action == "wait", "with fewer than min_requests labels accuracy is unknown: wait"
    dead = student.canary_decision(stable, student.ArmStats(150, 150, None, 0, 0), p)
    assert dead.action == "rollback", "a canary failing every request never gets labels: roll back on errors"


@pytest.mark.task("canary_decision")
def test_every_reason_is_listed(student):
    """a canary worse on all three figures gets three reasons"""
    decision = student.canary_decision(arm(student), arm(student, errors=50, p99=30.0, correct=100), policy(student))
    assert decision.action == "rollback"
    assert len(decision.reasons) == 3, f"list every regression, not only the first; got {decision.reasons}"


@pytest.mark.task("canary_decision")
def test_a_canary_as_good_as_stable_advances(student):
    """a canary equal to (or better than) stable always advances"""
    @FEW
    @given(st.integers(100, 2000), st.floats(0, 1), st.floats(0, 1), st.floats(0.1, 100))
    def check(requests, error_share, correct_share, p99):
        errors, correct = round(error_share * requests), round(correct_share * requests)
        same = student.ArmStats(requests, errors, p99, requests, correct)
        better = student.ArmStats(requests, 0, p99 / 2, requests, requests)
        for canary in (same, better):
            decision = student.canary_decision(same, canary, policy(student))
            assert decision.action == "advance", f"stable {same}, canary {canary}: {decision}"

    check()


# -- Task 3: run_steps ----------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.5
        return self.now


@pytest.mark.task("run_steps")
def test_steps_run_in_order_and_record_outputs(student):
    """steps run in order on a shared context; outputs are merged and recorded"""
    seen, context = [], {"seed": 7}
    steps = [student.Step("a", lambda ctx: seen.append("a") or {"x": ctx["seed"] + 1}, inputs=("seed",)),
             student.Step("b", lambda ctx: seen.append("b")),
             student.Step("c", lambda ctx: {"y": ctx["x"] * 2}, inputs=("x",))]
    records = student.run_steps(steps, by_reference(context), clock=FakeClock())
    assert seen == ["a", "b"] and context == {"seed": 7, "x": 8, "y": 16}, f"context is {context}"
    assert [r.name for r in records] == ["a", "b", "c"] and [r.status for r in records] == ["ok"] * 3
    assert records[0].inputs == {"seed": 7} and records[0].outputs == {"x": 8}
    assert records[1].outputs == {}, "a step returning None has no outputs"
    assert all(r.seconds == 0.5 for r in records), "time each step with the clock you are given"


@pytest.mark.task("run_steps")
def test_inputs_are_recorded_before_the_step_runs(student):
    """inputs are summarized as they were before the step ran"""
    def bump(ctx):
        ctx["count"] = 99

    records = student.run_steps([student.Step("bump", bump, inputs=("count",))], {"count": 1})
    assert records[0].inputs == {"count": 1}, "record the input the step was given, not what it left behind"


@pytest.mark.task("run_steps")
def test_failure_skips_the_rest(student):
    """a failing step is recorded with 'TypeName: message' and later steps never run"""
    ran = []

    def boom(ctx):
        raise KeyError("registry offline")

    records = student.run_steps([student.Step("ok", lambda ctx: None), student.Step("boom", boom),
                                 student.Step("later", lambda ctx: ran.append(1))], {})
    assert [r.status for r in records] == ["ok", "failed", "skipped"]
    assert ran == [], "a step after a failure must not run"
    assert records[1].error == "KeyError: 'registry offline'", f"error must be 'TypeName: message', got {records[1].error!r}"


@pytest.mark.task("run_steps")
def test_undo_in_reverse_order_of_finished_steps_only(student):
    """after a failure, finished steps with an undo are undone last-first; the failed one is not"""
    undone = []
    steps = [student.Step("one", lambda ctx: None, lambda ctx: undone.append("one")),
             student.Step("two", lambda ctx: None),
             student.Step("three", lambda ctx: None, lambda ctx: undone.append("three")),
             student.Step("four", lambda ctx: [][1], lambda ctx: undone.append("four")),
             student.Step("five", lambda ctx: None, lambda ctx: undone.append("five"))]
    records = student.run_steps(steps, {})
    assert undone == ["three", "one"], f"undo the finished steps in reverse order; got {undone}"
    assert [r.status for r in records] == ["undone", "ok", "undone", "failed", "skipped"]
    assert student.run_steps([student.Step("fine", lambda ctx: None, lambda ctx: undone.append("x"))], {})[0].status == "ok"
    assert "x" not in undone, "nothing is undone when every step succeeded"


@pytest.mark.task("run_steps")
def test_a_failing_undo_does_not_stop_the_others(student):
    """an undo that raises is recorded as 'undo failed: ...' and the other undos still run"""
    undone = []

    def broken(ctx):
        raise RuntimeError("port busy")

    steps = [student.Step("a", lambda ctx: None, lambda ctx: undone.append("a")),
             student.Step("b", lambda ctx: None, broken),
             student.Step("c", lambda ctx: 1 / 0)]
    records = student.run_steps(steps, {})
    assert undone == ["a"], "an undo failing must not stop the earlier steps' undos"
    assert records[1].status == "ok" and records[1].error == "undo failed: RuntimeError: port busy", \
        f"got status {records[1].status!r}, error {records[1].error!r}"
    assert records[0].status == "undone"


@pytest.mark.task("run_steps")
def test_a_missing_input_fails_without_running(student):
    """a step whose input is missing from the context fails without running"""
    ran = []
    records = student.run_steps([student.Step("deploy", lambda ctx: ran.append(1), inputs=("model",)),
                                 student.Step("after", lambda ctx: ran.append(2))], {})
    assert ran == [], "neither the step nor anything after it may run"
    assert records[0].status == "failed" and "'model'" in records[0].error, f"name the missing input; got {records[0].error!r}"
    assert records[1].status == "skipped"
