"""The pipeline's standalone pieces: release gates, the canary decision, the step runner."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from tinytorch.core.mlops.pipeline import (
    ArmStats, CanaryPolicy, Step, canary_decision, evaluate_release_gates, run_steps,
)

SIGNATURE = {"input_shape": (64,), "dtype": "float32", "output_shape": (10,)}
LIMITS = {"min_accuracy": 0.9, "max_p99_latency_ms": 5.0, "max_size_bytes": 1000, "signature": SIGNATURE}
GOOD = {"accuracy": 0.95, "p99_latency_ms": 1.0, "size_bytes": 500, "signature": SIGNATURE}


def verdicts(measured, limits=LIMITS):
    return {gate.name: gate.passed for gate in evaluate_release_gates(measured, limits)}


def test_all_gates_pass_on_a_good_candidate_in_order():
    gates = evaluate_release_gates(GOOD, LIMITS)
    assert [g.name for g in gates] == ["accuracy_floor", "p99_latency_ceiling", "size_ceiling", "signature_match"]
    assert all(g.passed for g in gates)
    assert gates[0].value == 0.95 and gates[0].limit == 0.9


def test_limits_are_inclusive():
    at_limits = {**GOOD, "accuracy": 0.9, "p99_latency_ms": 5.0, "size_bytes": 1000}
    assert all(verdicts(at_limits).values())


@pytest.mark.parametrize("figure, value, gate", [("accuracy", 0.8999, "accuracy_floor"),
                                                 ("p99_latency_ms", 5.01, "p99_latency_ceiling"),
                                                 ("size_bytes", 1001, "size_ceiling")])
def test_each_gate_fails_alone_and_says_by_how_much(figure, value, gate):
    results = evaluate_release_gates({**GOOD, figure: value}, LIMITS)
    failed = [g for g in results if not g.passed]
    assert [g.name for g in failed] == [gate]
    assert f"{value:.4g}" in failed[0].message and gate in failed[0].message


@pytest.mark.parametrize("missing", [None, math.nan])
def test_unmeasured_figures_fail(missing):
    assert not verdicts({**GOOD, "accuracy": missing})["accuracy_floor"]
    assert not verdicts({k: v for k, v in GOOD.items() if k != "size_bytes"})["size_ceiling"]


def test_signatures_compare_across_json_lists_and_differ_on_shape():
    as_json = {"input_shape": [64], "dtype": "float32", "output_shape": [10]}
    assert verdicts({**GOOD, "signature": as_json})["signature_match"]
    assert not verdicts({**GOOD, "signature": {**SIGNATURE, "output_shape": (5,)}})["signature_match"]


def test_unconfigured_gates_are_left_out():
    assert set(verdicts(GOOD, {"min_accuracy": 0.9, "max_size_bytes": None})) == {"accuracy_floor"}


def arm(requests=200, errors=0, p99=2.0, labelled=200, correct=190):
    return ArmStats(requests, errors, p99, labelled, correct)


POLICY = CanaryPolicy(min_requests=100, max_error_rate_increase=0.01, max_latency_regression=0.5,
                      latency_slack_ms=1.0, max_accuracy_drop=0.03)


def test_canary_waits_for_evidence_on_both_arms():
    assert canary_decision(arm(), arm(requests=99, labelled=99), POLICY).action == "wait"
    assert canary_decision(arm(labelled=50), arm(), POLICY).action == "wait"
    assert canary_decision(arm(), arm(labelled=99, correct=0), POLICY).action == "wait"


def test_canary_advances_when_within_policy():
    decision = canary_decision(arm(), arm(errors=2, p99=3.9, correct=185), POLICY)
    assert decision.action == "advance" and decision.reasons


@pytest.mark.parametrize("canary, word", [(arm(errors=5), "error"), (arm(p99=4.01), "latency"),
                                          (arm(correct=183), "accuracy")])
def test_canary_rolls_back_on_each_regression(canary, word):
    decision = canary_decision(arm(), canary, POLICY)
    assert decision.action == "rollback"
    assert len(decision.reasons) == 1 and word in decision.reasons[0]


def test_canary_rollback_lists_every_reason():
    decision = canary_decision(arm(), arm(errors=50, p99=20.0, correct=100), POLICY)
    assert decision.action == "rollback" and len(decision.reasons) == 3


@settings(max_examples=60, deadline=None)
@given(st.integers(100, 1000), st.integers(0, 100), st.integers(0, 100))
def test_a_canary_equal_to_stable_never_rolls_back(requests, errors, wrong):
    same = ArmStats(requests, min(errors, requests), 3.0, requests, requests - min(wrong, requests))
    assert canary_decision(same, same, POLICY).action == "advance"


def test_steps_run_in_order_and_share_the_context():
    seen = []
    steps = [Step("a", lambda ctx: seen.append("a") or {"x": 1}),
             Step("b", lambda ctx: seen.append("b") or {"y": ctx["x"] + 1}, inputs=("x",))]
    context = {}
    records = run_steps(steps, context)
    assert seen == ["a", "b"] and context == {"x": 1, "y": 2}
    assert [r.status for r in records] == ["ok", "ok"]
    assert records[1].inputs == {"x": 1} and records[1].outputs == {"y": 2}
    assert all(r.seconds >= 0 for r in records)


def test_a_failure_skips_the_rest_and_undoes_in_reverse_order():
    undone = []
    steps = [Step("start", lambda ctx: {"server": "up"}, lambda ctx: undone.append("start")),
             Step("switch", lambda ctx: None, lambda ctx: undone.append("switch")),
             Step("alias", lambda ctx: 1 / 0),
             Step("retire", lambda ctx: undone.append("never ran"))]
    records = run_steps(steps, {})
    assert [r.status for r in records] == ["undone", "undone", "failed", "skipped"]
    assert undone == ["switch", "start"]
    assert records[2].error.startswith("ZeroDivisionError")


def test_a_failing_undo_is_recorded_and_the_others_still_run():
    undone = []

    def broken(ctx):
        raise RuntimeError("port busy")

    steps = [Step("a", lambda ctx: None, lambda ctx: undone.append("a")), Step("b", lambda ctx: None, broken),
             Step("c", lambda ctx: [][0])]
    records = run_steps(steps, {})
    assert undone == ["a"]
    assert records[1].status == "ok" and "undo failed: RuntimeError: port busy" in records[1].error


def test_a_missing_input_fails_the_step_without_running_it():
    ran = []
    records = run_steps([Step("needs_model", lambda ctx: ran.append(1), inputs=("model",))], {})
    assert ran == [] and records[0].status == "failed" and "'model'" in records[0].error


def test_a_canary_failing_every_request_is_rolled_back_without_labels():
    dead = ArmStats(requests=150, errors=150, p99_ms=None, labelled=0, correct=0)
    decision = canary_decision(arm(), dead, POLICY)
    assert decision.action == "rollback" and "error rate 1.000" in decision.reasons[0]
