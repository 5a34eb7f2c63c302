"""Continuous learning (module 05): retrain on real drift, decide with evidence, undo mistakes.

One job per module: ``validation`` (``DataPipeline``: validate and quarantine incoming rows),
``triggers`` (``should_retrain``), ``retraining`` (the old/new data mix and the Trainer),
``gate`` (``challenger_passes_gate``), ``rollback`` (``should_rollback``), ``release`` (what
carries out promotions and rollbacks: the ``champion`` alias by default), ``audit`` (the
append-only decision log), ``learner`` (``ContinuousLearner`` composes them), ``auto``
(``AutoRetrainer`` runs it over a stream), ``scenario`` (new writers on the digits), ``plot``.
"""

from .audit import AuditLog
from .auto import AutoRetrainer, StreamStep
from .gate import GatePolicy, GateResult, challenger_passes_gate
from .learner import ContinuousLearner, RetrainDecision
from .release import AliasRelease
from .plot import plot_stream
from .retraining import RetrainConfig, replay_mix, split_holdout, starting_point, train_challenger
from .rollback import RollbackPolicy, should_rollback
from .scenario import (
    SCENARIO_POLICY, DriftScenario, ScenarioRun, StreamBatch, new_writers, run_scenario, slant_images,
    writer_drift_scenario,
)
from .triggers import RetrainPolicy, StreamStatus, should_retrain
from .validation import DataPipeline, QuarantinedRow, ValidatedBatch, row_problem

__all__ = [
    "SCENARIO_POLICY", "AliasRelease", "AuditLog", "AutoRetrainer", "ContinuousLearner", "DataPipeline",
    "DriftScenario", "GatePolicy", "GateResult", "QuarantinedRow", "RetrainConfig",
    "RetrainDecision", "RetrainPolicy", "RollbackPolicy", "StreamBatch", "StreamStatus",
    "StreamStep", "ValidatedBatch", "challenger_passes_gate", "new_writers", "plot_stream",
    "replay_mix", "row_problem", "run_scenario", "ScenarioRun", "should_retrain", "should_rollback", "slant_images",
    "split_holdout", "starting_point", "train_challenger", "writer_drift_scenario",
]
