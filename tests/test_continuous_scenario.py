"""Acceptance on the new-writers drift scenario, with real training end to end: accuracy falls
without retraining and recovers with the learner; a promotion that does worse live is rolled
back; runs are reproducible."""

import numpy as np
import pytest

from tinytorch.core.mlops.continuous import (
    GatePolicy, RetrainConfig, run_scenario, writer_drift_scenario,
)


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    return run_scenario(writer_drift_scenario(), tmp_path_factory.mktemp("registry"))


def temporary_drift(tmp_path):
    """Four batches from a pilot school, then the old writers return. The gate is misconfigured
    (no golden-set check) and retraining uses new rows only, so a model that forgot the old
    writers gets promoted: the live comparison must undo it."""
    return run_scenario(writer_drift_scenario(clean_batches=3, drifted_batches=4, recovered_batches=6),
                        tmp_path, gate=GatePolicy(golden_tolerance=1.0),
                        config=RetrainConfig(replay_ratio=0))


def test_drift_costs_at_least_15_points_and_the_learner_recovers_within_2(recovery):
    assert recovery.before - recovery.drifted >= 0.15, (recovery.before, recovery.drifted)
    assert recovery.retrained >= recovery.before - 0.02, (recovery.before, recovery.retrained)
    assert recovery.retrained_old_writers >= recovery.before - 0.03, "the old writers are not forgotten"


def test_recovery_events_are_logged_and_the_alias_follows(recovery):
    learner, auto = recovery.learner, recovery.auto
    promoted = [s for s in auto.events() if s.action == "promoted"]
    assert promoted and promoted[0].index > 0 and all(s.drifted for s in promoted)
    assert not any(s.action == "retrain" for s in auto.history[:5]), "no retrain before the drift"
    assert all(s.action == "none" for s in auto.history[:5])
    audit = learner.audit.events()
    assert [e["version"] for e in audit if e["event"] == "promotion"] == [s.champion for s in promoted]
    assert len([e for e in audit if e["event"] == "gate"]) == len(auto.events())
    assert [e["at"] for e in audit] == sorted(e["at"] for e in audit)
    assert learner.registry.get_alias("champion").version == learner.deployment.version
    first_check = next(e for e in audit if e["event"] == "retrain_check" and e["action"] == "retrain")
    assert "drift" in first_check["triggers"] or "accuracy_decay" in first_check["triggers"]


@pytest.fixture(scope="module")
def rollback_run(tmp_path_factory):
    return temporary_drift(tmp_path_factory.mktemp("registry"))


def test_a_promotion_that_does_worse_live_is_rolled_back(rollback_run):
    run = rollback_run
    actions = [(s.action, s.champion) for s in run.auto.events()]
    promoted_at = next(i for i, (a, _) in enumerate(actions) if a == "promoted")
    rolled = actions[promoted_at + 1]
    assert rolled == ("rolled_back", "1"), actions
    rollback, = run.learner.audit.events("rollback")
    assert rollback["champion_live_accuracy"] < rollback["previous_live_accuracy"]
    assert rollback["restored"] == "1" and rollback["rows"] >= 100
    assert run.learner.registry.alias_history("champion")[-1]["action"] == "rollback"
    assert run.learner.registry.get_alias("champion").version == "1"


def test_runs_are_reproducible(rollback_run, tmp_path):
    first, second = rollback_run, temporary_drift(tmp_path)
    assert [(s.accuracy, s.action, s.champion) for s in first.auto.history] == \
           [(s.accuracy, s.action, s.champion) for s in second.auto.history]
    for a, b in zip(first.learner.champion.parameters(), second.learner.champion.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert [v.sha256 for v in first.learner.registry.list_versions()] == \
           [v.sha256 for v in second.learner.registry.list_versions()]
