"""Hidden checks of notebook 06 (the complete MLOps pipeline).

Expected values are computed here from the task statements, never from the library's answers to
these tasks (they are stubs while the checks run). The data types (GateResult, ArmStats, Step,
...) are the notebook's own provided copies.
"""

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.grading.protocol import by_reference

FEW = settings(max_examples=40, deadline=None, database=None, derandomize=True,
               phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False)

SIGNATURE = {"input_shape": (64,), "dtype": "float32", "output_shape": (10,)}
LIMITS = {"min_accuracy": 0.9, "max_p99_latency_ms": 5.0, "max_size_bytes": 20_000, "signature": SIGNATURE}
GOOD = {"accuracy": 0.95, "p99_latency_ms": 1.0, "size_bytes": 19_808, "signature": SIGNATURE}
NAMES = ["accuracy_floor", "p99_latency_ceiling", "size_ceiling", "signature_match"]
NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s?%)?")


def numbers_in(text):
    """Every number written in ``text`` (12, 0.065, 31,337, 3.134e+04, 6.5 %), a percentage as a fraction."""
    values = []
    for token in NUMBER.findall(str(text)):
        number = float(token.rstrip("% ").replace(",", ""))
        values.append(number / 100 if token.endswith("%") else number)
    return values


def shows(text, value):
    """Whether ``text`` writes ``value``, in any format, to 3 significant digits or more."""
    return any(math.isclose(number, value, rel_tol=5e-3) for number in numbers_in(text))


# -- Task 1: evaluate_release_gates ---------------------------------------------------------------


def gates_by_name(student, measured, limits=LIMITS):
    return {g.name: g for g in student.evaluate_release_gates(measured, limits)}


def names_gate(message, name):
    """Whether ``message`` names the gate, as ``accuracy_floor`` or ``accuracy floor``, in any case."""
    return name in message.lower().replace(" ", "_")


@pytest.mark.task("evaluate_release_gates")
def test_gates_in_order_with_figures(student):
    """evaluate_release_gates passes a candidate inside every limit on all four gates, in the order of RELEASE_GATES, each result recording the measured figure as value and the limit as limit."""
    gates = student.evaluate_release_gates(GOOD, LIMITS)
    assert [g.name for g in gates] == NAMES, f"expected one result per gate in the order {NAMES}"
    assert all(g.passed for g in gates), "a candidate inside every limit must pass every gate"
    assert [g.value for g in gates[:3]] == [0.95, 1.0, 19_808], "record the measured figure as value"
    assert [g.limit for g in gates[:3]] == [0.9, 5.0, 20_000], "record the limit as limit"


@pytest.mark.task("evaluate_release_gates")
def test_gates_compare_inclusively(student):
    """evaluate_release_gates passes accuracy >= floor, p99 <= ceiling and size <= ceiling, a figure exactly at its limit included, on random figures."""
    @FEW
    @given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 50), st.floats(0, 50), st.integers(0, 10**6),
           st.integers(0, 10**6))
    def check(accuracy, floor, latency, ceiling, size, max_size):
        limits = {"min_accuracy": floor, "max_p99_latency_ms": ceiling, "max_size_bytes": max_size}
        gates = gates_by_name(student, {"accuracy": accuracy, "p99_latency_ms": latency, "size_bytes": size}, limits)
        assert bool(gates["accuracy_floor"].passed) == (accuracy >= floor), f"accuracy {accuracy} vs floor {floor}"
        assert bool(gates["p99_latency_ceiling"].passed) == (latency <= ceiling), f"p99 {latency} vs ceiling {ceiling}"
        assert bool(gates["size_ceiling"].passed) == (size <= max_size), f"size {size} vs ceiling {max_size}"
        at_limit = gates_by_name(student, {"accuracy": floor, "p99_latency_ms": ceiling, "size_bytes": max_size}, limits)
        assert all(g.passed for g in at_limit.values()), "a figure exactly at its limit passes"

    check()


@pytest.mark.task("evaluate_release_gates")
def test_unmeasured_figures_fail(student):
    """evaluate_release_gates fails a gate whose figure is missing, None or NaN, and still passes the other gates."""
    # one check, as the statement lists it (a parametrized one would count three times)
    for missing, (figure, gate) in itertools.product(
            ["absent", None, math.nan], [("accuracy", "accuracy_floor"), ("p99_latency_ms", "p99_latency_ceiling"),
                                         ("size_bytes", "size_ceiling"), ("signature", "signature_match")]):
        measured = {k: v for k, v in GOOD.items() if k != figure}
        if missing != "absent":
            measured[figure] = missing
        results = gates_by_name(student, measured)
        assert gate in results, f"{gate} must still get a result when {figure} is {missing!r}"
        assert not results[gate].passed, f"{gate} passed although {figure} was {missing!r} (not measured)"
        assert all(results[n].passed for n in NAMES if n != gate), (
            f"with {figure} {missing!r} only {gate} may fail; the other figures are inside their limits")


@pytest.mark.task("evaluate_release_gates")
def test_signatures_compare_after_normalizing(student):
    """evaluate_release_gates matches signatures that differ only in lists vs tuples (on either side) and refuses a different shape or dtype."""
    as_json = {"input_shape": [64], "dtype": "float32", "output_shape": [10]}
    assert gates_by_name(student, {**GOOD, "signature": as_json})["signature_match"].passed, \
        "a measured signature read back from JSON (lists) must equal the expected one (tuples)"
    assert gates_by_name(student, GOOD, {"signature": as_json})["signature_match"].passed, \
        "an expected signature read back from JSON (lists) must equal the measured one (tuples)"
    for wrong in [{**SIGNATURE, "output_shape": (5,)}, {**SIGNATURE, "dtype": "float64"},
                  {**SIGNATURE, "input_shape": (8, 8)}]:
        assert not gates_by_name(student, {**GOOD, "signature": wrong})["signature_match"].passed, \
            f"signature {wrong} must not match {SIGNATURE}"


@pytest.mark.task("evaluate_release_gates")
def test_unconfigured_gates_are_left_out(student):
    """evaluate_release_gates gives no result for a gate whose limit is missing or None (no limits at all: an empty list)."""
    names = [g.name for g in student.evaluate_release_gates(GOOD, {"min_accuracy": None, "max_size_bytes": 1})]
    assert names == ["size_ceiling"], f"only configured gates get a result; got {names}"
    assert list(student.evaluate_release_gates(GOOD, {})) == [], "no limits: no gates"


@pytest.mark.task("evaluate_release_gates")
def test_messages_name_the_gate_and_both_figures(student):
    """evaluate_release_gates writes in each message the gate's name and both the measured figure and the limit, in any format, to 3 significant digits or more (0.8125 as 0.812 or 81.2 %)."""
    failing = {**GOOD, "accuracy": 0.8125, "p99_latency_ms": 41.25, "size_bytes": 31_337}
    limits = {**LIMITS, "max_p99_latency_ms": 7.5}
    for measured, verdict in [(failing, "failing"), (GOOD, "passing")]:
        gates = gates_by_name(student, measured, limits)
        for name, figure, limit_key in [("accuracy_floor", "accuracy", "min_accuracy"),
                                        ("p99_latency_ceiling", "p99_latency_ms", "max_p99_latency_ms"),
                                        ("size_ceiling", "size_bytes", "max_size_bytes")]:
            message = gates[name].message
            assert names_gate(message, name), f"the message of the {verdict} gate {name} must name it; got {message!r}"
            for what, value in [("figure", measured[figure]), ("limit", limits[limit_key])]:
                assert shows(message, value), (f"the message of the {verdict} gate {name} must show the {what} {value} "
                                               f"(any format, 3 significant digits or more); got {message!r}")


# -- Task 2: canary_decision ----------------------------------------------------------------------

def policy(student, **overrides):
    values = dict(min_requests=100, max_error_rate_increase=0.01, max_latency_regression=0.5,
                  latency_slack_ms=1.0, max_accuracy_drop=0.03)
    return student.CanaryPolicy(**{**values, **overrides})


def arm(student, requests=200, errors=0, p99=2.0, labelled=200, correct=190):
    return student.ArmStats(requests, errors, p99, labelled, correct)


def reason_about(decision, words):
    """The first of the decision's reasons that mentions one of ``words`` (any case), or None."""
    return next((r for r in decision.reasons if any(w in r.lower() for w in words)), None)


def assert_reason_shows(decision, words, canary, stable):
    """The decision rolls back, with a reason naming the figure (one of ``words``) and showing both values."""
    assert decision.action == "rollback", f"expected 'rollback', got {decision}"
    reason = reason_about(decision, words)
    assert reason is not None, f"no reason names the figure ({' or '.join(words)}); reasons were {decision.reasons}"
    assert shows(reason, canary) and shows(reason, stable), (
        f"the reason must show the canary's {canary:g} and stable's {stable:g} (any format, 3 significant digits "
        f"or more); got {reason!r}")


@pytest.mark.task("canary_decision")
def test_waits_for_requests_on_both_arms(student):
    """canary_decision waits while either arm has fewer than min_requests requests, even if the other looks worse, and exactly min_requests (with as many labels) is enough to advance."""
    p = policy(student)
    failing = arm(student, errors=100)
    assert student.canary_decision(arm(student), arm(student, requests=99, errors=50, labelled=99), p).action == "wait", \
        "the canary has 99 < 100 requests: wait, however bad its error rate looks"
    assert student.canary_decision(arm(student, requests=99, labelled=99), failing, p).action == "wait", \
        "the stable arm has 99 < 100 requests: it needs min_requests too before any verdict (even a rollback)"
    exact = student.canary_decision(arm(student, 100, 0, 2.0, 100, 95), arm(student, 100, 0, 2.0, 100, 95), p)
    assert exact.action == "advance", "exactly min_requests requests and labels is enough evidence: advance"


@pytest.mark.task("canary_decision")
def test_error_rate_limit_is_strict(student):
    """canary_decision rolls back only when the canary's error rate exceeds stable's by more than max_error_rate_increase, with a reason naming the error rate and showing both rates."""
    p = policy(student, max_error_rate_increase=0.0625)
    stable = arm(student, requests=160, errors=0, labelled=160, correct=152)
    at_limit = student.canary_decision(stable, arm(student, requests=160, errors=10, labelled=160, correct=152), p)
    assert at_limit.action == "advance", (
        f"error rate 0.0625 vs 0 is exactly the allowed increase of 0.0625, which is allowed (>, not >=); got {at_limit}")
    past = student.canary_decision(stable, arm(student, requests=160, errors=12, labelled=160, correct=152), p)
    assert_reason_shows(past, ["error"], 0.075, 0.0)


@pytest.mark.task("canary_decision")
def test_latency_limit_has_ratio_and_slack(student):
    """canary_decision allows a canary p99 up to stable p99 * (1 + max_latency_regression) + latency_slack_ms, rolls back past it with a reason naming the latency (or p99) and showing both p99s, and skips latency when either p99 is None."""
    p = policy(student, max_latency_regression=0.5, latency_slack_ms=2.0)
    stable = arm(student, p99=10.0)
    assert student.canary_decision(stable, arm(student, p99=17.0), p).action == "advance", \
        "a canary p99 of 17.0 = 1.5 * 10 + 2 is exactly the limit, which is allowed"
    assert_reason_shows(student.canary_decision(stable, arm(student, p99=17.01), p), ["latency", "p99"], 17.01, 10.0)
    for stable_p99, canary_p99 in [(10.0, None), (None, 10.0)]:
        decision = student.canary_decision(arm(student, p99=stable_p99), arm(student, p99=canary_p99), p)
        assert decision.action == "advance", (
            f"stable p99 {stable_p99}, canary p99 {canary_p99}: a p99 of None (nothing answered) skips the latency "
            f"comparison; got {decision}")


@pytest.mark.task("canary_decision")
def test_accuracy_needs_labels_errors_do_not(student):
    """canary_decision judges accuracy only once both arms have min_requests labels (rolling back past max_accuracy_drop with a reason naming the accuracy and showing both), and rolls back a failing canary without labels."""
    p = policy(student, max_accuracy_drop=0.03125)
    stable = arm(student, labelled=128, correct=96)  # 0.75
    assert student.canary_decision(stable, arm(student, labelled=128, correct=92), p).action == "advance", \
        "accuracy 0.71875 vs 0.75 is exactly the allowed drop of 0.03125, which is allowed"
    assert_reason_shows(student.canary_decision(stable, arm(student, labelled=128, correct=91), p),
                        ["accuracy"], 91 / 128, 0.75)
    few_labels = student.canary_decision(stable, arm(student, labelled=99, correct=0), p)
    assert few_labels.action == "wait", "the canary has 99 < 100 labels: its accuracy is unknown, wait"
    few_stable = student.canary_decision(arm(student, labelled=99, correct=99), arm(student, labelled=128, correct=0), p)
    assert few_stable.action == "wait", "the stable arm has 99 < 100 labels: accuracy cannot be compared yet, wait"
    dead = student.canary_decision(stable, student.ArmStats(150, 150, None, 0, 0), p)
    assert dead.action == "rollback", "a canary failing every request never gets labels: roll back on errors"


@pytest.mark.task("canary_decision")
def test_every_reason_is_listed(student):
    """canary_decision rolls back a canary worse on error rate, latency and accuracy with three reasons, not only the first."""
    decision = student.canary_decision(arm(student), arm(student, errors=50, p99=30.0, correct=100), policy(student))
    assert decision.action == "rollback", f"the canary is worse on every figure: roll back; got {decision}"
    assert len(decision.reasons) == 3, f"list every regression, not only the first; got {decision.reasons}"


@pytest.mark.task("canary_decision")
def test_a_canary_as_good_as_stable_advances(student):
    """canary_decision always advances a canary equal to (or better than) stable, with enough requests and labels."""
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
    """Readings 0.25, 0.75, 1.25, ...: half a second per call; the first two differ by 0.5 while
    their product, sum and remainder do not (a step timed with another operator shows)."""

    def __init__(self):
        self.now = -0.25

    def __call__(self):
        self.now += 0.5
        return self.now


@pytest.mark.task("run_steps")
def test_steps_run_in_order_and_record_outputs(student):
    """run_steps runs the steps in order on the shared context, merges each step's outputs into it, records one 'ok' record per step with its inputs and outputs (None as no outputs), and times each step with the clock it is given."""
    seen, context = [], {"seed": 7}
    steps = [student.Step("a", lambda ctx: seen.append("a") or {"x": ctx["seed"] + 1}, inputs=("seed",)),
             student.Step("b", lambda ctx: seen.append("b")),
             student.Step("c", lambda ctx: {"y": ctx["x"] * 2}, inputs=("x",))]
    records = student.run_steps(steps, by_reference(context), clock=FakeClock())
    assert seen == ["a", "b"] and context == {"seed": 7, "x": 8, "y": 16}, (
        f"run the steps in order and merge their outputs into the caller's context; it is {context}")
    assert [r.name for r in records] == ["a", "b", "c"] and [r.status for r in records] == ["ok"] * 3, (
        f"one 'ok' record per step, in order; got {[(r.name, r.status) for r in records]}")
    assert records[0].inputs == {"seed": 7} and records[0].outputs == {"x": 8}, "record the step's inputs and outputs"
    assert records[1].outputs == {}, "a step returning None has no outputs"
    assert all(r.seconds == 0.5 for r in records), "time each step with the clock you are given (clock() after - before)"


@pytest.mark.task("run_steps")
def test_inputs_are_recorded_before_the_step_runs(student):
    """run_steps records a step's inputs as they were before the step ran."""
    def bump(ctx):
        ctx["count"] = 99

    records = student.run_steps([student.Step("bump", bump, inputs=("count",))], {"count": 1})
    assert records[0].inputs == {"count": 1}, "record the input the step was given, not what it left behind"


@pytest.mark.task("run_steps")
def test_inputs_and_outputs_are_summarized(student):
    """run_steps records inputs and outputs through summarize (an array as its type, shape and dtype) while the context keeps the values themselves."""
    context = {"weights": np.zeros((2, 3))}
    steps = [student.Step("scale", lambda ctx: {"scaled": ctx["weights"] + 1.0}, inputs=("weights",))]
    record = student.run_steps(steps, by_reference(context))[0]
    summary = {"type": "ndarray", "shape": [2, 3], "dtype": "float64"}
    for part, recorded, key, how in [("inputs", record.inputs, "weights", "summarize(context[key])"),
                                     ("outputs", record.outputs, "scaled", "summarize(value)")]:
        got = recorded.get(key) if isinstance(recorded, dict) else recorded
        assert isinstance(got, dict) and got == summary, (
            f"record {part} as {{key: {how}}}, so an array is recorded as {summary}; {part}[{key!r}] was {got!r}")
    assert np.array_equal(context.get("scaled"), np.ones((2, 3))), "the context gets the output itself, not its summary"


@pytest.mark.task("run_steps")
def test_failure_skips_the_rest(student):
    """run_steps records a failing step as 'failed' with error 'TypeName: message' and its seconds from the clock, records every later step as 'skipped' and never runs it."""
    ran = []

    def boom(ctx):
        raise RuntimeError("registry offline")

    records = student.run_steps([student.Step("boom", boom), student.Step("later", lambda ctx: ran.append(1)),
                                 student.Step("last", lambda ctx: ran.append(2))], {}, clock=FakeClock())
    assert [r.status for r in records] == ["failed", "skipped", "skipped"], (
        f"expected statuses failed, skipped, skipped (one record per step); got {[r.status for r in records]}")
    assert ran == [], "a step after a failure must not run"
    assert records[0].error == "RuntimeError: registry offline", f"error must be 'TypeName: message', got {records[0].error!r}"
    assert records[0].seconds == 0.5, (
        f"time a failed step like any other (clock() when it raised - clock() before); got {records[0].seconds}")


@pytest.mark.task("run_steps")
def test_undo_in_reverse_order_of_finished_steps_only(student):
    """run_steps, after a failure, calls undo(context) of the finished steps last-first and marks them 'undone', never undoing the failed or skipped steps, and undoes nothing when every step succeeds."""
    undone = []
    steps = [student.Step("one", lambda ctx: {"port": 8080}, lambda ctx: undone.append(f"one:{ctx.get('port')}")),
             student.Step("two", lambda ctx: None),
             student.Step("three", lambda ctx: None, lambda ctx: undone.append("three")),
             student.Step("four", lambda ctx: [][1], lambda ctx: undone.append("four")),
             student.Step("five", lambda ctx: None, lambda ctx: undone.append("five"))]
    records = student.run_steps(steps, {})
    assert [u.split(":")[0] for u in undone] == ["three", "one"], f"undo the finished steps in reverse order; got {undone}"
    assert undone[1] == "one:8080", f"each undo gets the shared context (with the outputs so far); step one's saw {undone[1]}"
    assert [r.status for r in records] == ["undone", "ok", "undone", "failed", "skipped"], (
        f"finished steps with an undo become 'undone'; got {[r.status for r in records]}")
    assert student.run_steps([student.Step("fine", lambda ctx: None, lambda ctx: undone.append("x"))], {})[0].status == "ok"
    assert "x" not in undone, "nothing is undone when every step succeeded"


@pytest.mark.task("run_steps")
def test_a_failing_undo_does_not_stop_the_others(student):
    """run_steps records an undo that raises as error 'undo failed: TypeName: message' on a record left 'ok', and still runs the other undos."""
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
    """run_steps fails a step whose input is missing from the context without running it, with an error naming the key, then skips the rest and undoes the finished steps."""
    ran, undone = [], []
    records = student.run_steps([student.Step("start", lambda ctx: None, lambda ctx: undone.append("start")),
                                 student.Step("deploy", lambda ctx: ran.append(1), inputs=("model",)),
                                 student.Step("after", lambda ctx: ran.append(2))], {})
    assert ran == [], "neither the step nor anything after it may run"
    assert records[1].status == "failed" and "model" in (records[1].error or ""), (
        f"a missing input fails the step with an error naming the key 'model'; got {records[1].status!r}, {records[1].error!r}")
    assert records[2].status == "skipped", f"the step after the failure is 'skipped', got {records[2].status!r}"
    assert undone == ["start"] and records[0].status == "undone", (
        "a missing input is a failure like any other: undo the finished steps")
