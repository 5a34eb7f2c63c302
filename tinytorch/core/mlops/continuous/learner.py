"""``ContinuousLearner``: collect labelled feedback, decide when to retrain, gate the challenger,
promote it, and roll back a promotion that does worse live. The learner decides; its release
(``release.py``: by default the registry's ``champion`` alias) is what changes what serves.

One step of the loop (``retrain_if_needed``), every decision appended to the audit log:

1. on probation? compare the promoted model with its predecessor on the same live rows
   (``should_rollback``); roll the ``champion`` alias back if it lost;
2. ``should_retrain``: drift, accuracy decay, new data, schedule; wait while data is short;
3. train a challenger on ``replay_mix`` of the new rows (minus a held-out share) and old rows;
4. ``challenger_passes_gate`` on the held-out recent rows and the golden set;
5. register the challenger (always: refused models are evidence too); if blessed, move the
   release promote it; once it serves, its probation starts.
"""

import tempfile
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from tinytorch.core.mlops.drift import DriftDetector
from tinytorch.core.mlops.monitoring import PerformanceTracker
from tinytorch.core.mlops.registry import ModelRegistry
from tinytorch.core.training import accuracy

from .audit import AuditLog
from .gate import GatePolicy, challenger_passes_gate
from .release import CHAMPION, AliasRelease
from .retraining import RetrainConfig, replay_mix, split_holdout, train_challenger
from .rollback import RollbackPolicy, should_rollback
from .triggers import RetrainPolicy, StreamStatus, should_retrain
from .validation import DataPipeline

CHALLENGER = "challenger"


@dataclass(frozen=True)
class RetrainDecision:
    """What ``retrain_if_needed`` did. Truthy when a new model was promoted (``model``).

    ``action``: ``"none"`` (no trigger), ``"waiting"`` (triggered, too little new data),
    ``"refused"`` (the gate refused the challenger), ``"promoted"`` or ``"rolled_back"``.
    """

    model: object
    action: str
    reason: str
    triggers: tuple = ()
    gate: object = None
    version: str | None = None
    metrics: dict = field(default_factory=dict)

    def __bool__(self):
        return self.model is not None


@dataclass
class _Deployment:
    """The serving model and what the learner knows about it."""

    model: object
    version: str
    baseline_accuracy: float | None
    detector: object


class ContinuousLearner:
    """Retrains a deployed model when the stream says so, with evidence and an undo.

    >>> learner = ContinuousLearner(model, golden=data.val, replay=data.train)   # doctest: +SKIP
    >>> learner.add_training_data(X_new, y_new)                                  # doctest: +SKIP
    >>> improved_model = learner.retrain_if_needed()    # a RetrainDecision      # doctest: +SKIP
    >>> if improved_model: serve(improved_model.model)                           # doctest: +SKIP

    ``model``: the deployed champion (a trainable ``Sequential``); with ``deployed=False`` it is
    only the architecture to train and the first challenger faces the gate without a champion.
    ``golden``: fixed labelled ``(X, y)`` the gate checks for regressions; never train on it.
    ``replay``: the old training data ``(X, y)`` mixed into retraining (None: new data only).
    ``reference``: features the drift detector compares against (default: ``replay``'s X).
    ``registry``: a ``ModelRegistry`` or a directory (default: a new temporary directory).
    ``window``: live rows behind ``recent_accuracy`` and the drift check.
    ``buffer_size``: the most recent accepted rows kept for retraining.
    ``drift_method``: the ``DriftDetector`` test per feature; Wasserstein distance by default
    (Evidently's choice for large data): exact KS p-values on 64 pixel columns cost seconds
    per check, and a p-value says how sure, not how much.
    ``release``: what carries out promotions and rollbacks (``release.py``); default
    ``AliasRelease(registry, name)``, the ``champion`` alias.
    """

    def __init__(self, model, registry=None, *, golden, replay=None, reference=None,
                 name="model", deployed=True, policy=RetrainPolicy(), gate=GatePolicy(),
                 rollback=RollbackPolicy(), config=RetrainConfig(), pipeline=None,
                 audit_log=None, window=200, buffer_size=2000, drift_method="wasserstein",
                 clock=time.time, release=None):
        if not isinstance(registry, ModelRegistry):
            registry = ModelRegistry(registry or tempfile.mkdtemp(prefix="tinytorch-continuous-"))
        self.registry, self.name, self.clock = registry, name, clock
        self.release = release or AliasRelease(registry, name)
        self.template = model
        self.golden = _pair(golden, "golden")
        self.replay = None if replay is None else _pair(replay, "replay")
        reference = reference if reference is not None else (self.replay or self.golden)[0]
        self.policy, self.gate_policy, self.rollback_policy, self.config = policy, gate, rollback, config
        self.pipeline = pipeline or DataPipeline(n_features=model.input_shape[0])
        self.audit = audit_log if isinstance(audit_log, AuditLog) else AuditLog(
            audit_log or registry.root / "continuous_audit.jsonl", clock=clock)
        self.window, self.buffer_size = int(window), int(buffer_size)
        self.buffer_X = np.empty((0, model.input_shape[0]), np.float32)
        self.buffer_y = np.empty(0, np.int64)
        self.new_samples, self.attempts = 0, 0
        self.last_retrain_at = clock()
        self.last_accuracy = None  # the champion's accuracy on the latest batch
        self.previous = None   # the deployment a promoted champion replaced, while on probation
        self.pending = None    # a blessed deployment its release has not put live yet
        self.probation = ([], [])
        self.live = PerformanceTracker(window=self.window, clock=clock)
        self.deployment = None
        self.drift_method = drift_method
        if deployed:
            record = registry.register_model(model, name=name, tags={"role": "initial"},
                                             metrics={"golden_accuracy": self._accuracy(model, self.golden)})
            self.deployment = _Deployment(model, record.version, record.metrics["golden_accuracy"],
                                          DriftDetector(reference, method=drift_method))
            self.release.deployed(record.version)
            self.audit.record("deployed", version=record.version,
                              golden_accuracy=record.metrics["golden_accuracy"])

    # -- the deployed model --------------------------------------------------------------------

    @property
    def champion(self):
        """The model serving now (None before the first promotion when ``deployed=False``)."""
        return None if self.deployment is None else self.deployment.model

    def predict(self, X):
        if self.champion is None:
            raise ValueError("no model is deployed yet: add data and call retrain_if_needed() "
                             "until a first challenger passes the gate")
        return self.champion.predict(X)

    # -- feedback ------------------------------------------------------------------------------

    def add_training_data(self, X, y=None):
        """Validate a labelled batch, score the deployed model on it (before learning from it:
        progressive validation), and keep its good rows for retraining. ``X`` may be an
        ``(X, y)`` pair. Returns the ``ValidatedBatch``; bad rows go to the quarantine."""
        if y is None:
            X, y = _unpack(X, "new data")
        self.last_accuracy = None
        batch = self.pipeline.process(X, y)
        if batch.quarantined:
            self.audit.record("quarantine", batch=self.pipeline.batches - 1, counts=batch.counts,
                              reasons=[q.reason for q in batch.quarantined[:20]])
        if len(batch.y) == 0:
            return batch
        if self.champion is not None:
            predictions = self.champion.predict(batch.X)
            self.last_accuracy = self.live.track_accuracy(predictions, batch.y)
            if self.previous is not None:
                self.probation[0].extend((predictions == batch.y).tolist())
                self.probation[1].extend((self.previous.model.predict(batch.X) == batch.y).tolist())
        self.buffer_X = np.concatenate([self.buffer_X, batch.X])[-self.buffer_size:]
        self.buffer_y = np.concatenate([self.buffer_y, batch.y])[-self.buffer_size:]
        self.new_samples += len(batch.y)
        return batch

    def status(self):
        """The ``StreamStatus`` the triggers see now (runs the drift check on the last
        ``window`` rows)."""
        recent = self.buffer_X[-min(self.window, self.new_samples):] if self.new_samples else None
        drifted = False
        if self.deployment is not None and recent is not None and len(recent) >= self.window // 2:
            drifted = bool(self.deployment.detector.detect_drift(recent))
        live_rows = len(self.live.correct)
        return StreamStatus(
            drift_detected=drifted,
            baseline_accuracy=None if self.deployment is None else self.deployment.baseline_accuracy,
            recent_accuracy=self.live.accuracy() if live_rows >= self.window // 2 else None,
            new_samples=self.new_samples,
            seconds_since_retrain=self.clock() - self.last_retrain_at,
        )

    # -- decisions -----------------------------------------------------------------------------

    def retrain_if_needed(self):
        """Run one step of the loop (see the module docstring); returns a ``RetrainDecision``."""
        rolled_back = self.check_rollback()
        if rolled_back is not None:
            return rolled_back
        status = self.status()
        retrain, reasons = should_retrain(status, self.policy)
        retrain, reasons = bool(retrain), list(reasons)  # a NumPy bool, a tuple of reasons: as the statement allows
        if not retrain:
            action = "waiting" if reasons else "none"
            reason = (f"triggered by {', '.join(reasons)} but only {status.new_samples} new rows "
                      f"(need {self.policy.min_new_samples})" if reasons else "no trigger fired")
            self.audit.record("retrain_check", action=action, reason=reason, triggers=reasons,
                              status=asdict(status))
            return RetrainDecision(None, action, reason, tuple(reasons))
        self.audit.record("retrain_check", action="retrain", triggers=reasons, status=asdict(status))
        return self._retrain(reasons)

    def _retrain(self, reasons):
        self.attempts += 1
        config = replace(self.config, seed=self.config.seed + self.attempts)
        train_rows, holdout_rows = split_holdout(len(self.buffer_y), config.holdout_fraction, config.seed)
        new = (self.buffer_X[train_rows], self.buffer_y[train_rows])
        holdout = (self.buffer_X[holdout_rows], self.buffer_y[holdout_rows])
        train = replay_mix(new, self.replay, config.replay_ratio, config.seed)
        challenger, history = train_challenger(self.template if self.champion is None else self.champion,
                                               train, config)
        scores = {"recent_accuracy": self._accuracy(challenger, holdout),
                  "golden_accuracy": self._accuracy(challenger, self.golden)}
        champion_scores = None if self.champion is None else {
            "recent_accuracy": self._accuracy(self.champion, holdout),
            "golden_accuracy": self._accuracy(self.champion, self.golden)}
        verdict = challenger_passes_gate(scores, champion_scores, self.gate_policy)
        record = self.registry.register_model(
            challenger, name=self.name, metrics=scores, config=asdict(config), training_data=train,
            parent_version=None if self.deployment is None else self.deployment.version,
            tags={"triggers": ",".join(reasons), "gate": "passed" if verdict else "refused"},
            description=f"retrained on {len(new[1])} new + {len(train[1]) - len(new[1])} replayed rows")
        self.registry.set_alias(CHALLENGER, record.version, name=self.name)
        self.new_samples, self.last_retrain_at = 0, self.clock()
        self.audit.record("retrain", version=record.version, triggers=reasons, epochs=len(history),
                          new_rows=len(new[1]), replayed_rows=len(train[1]) - len(new[1]),
                          holdout_rows=len(holdout[1]))
        self.audit.record("gate", version=record.version, passed=bool(verdict), reasons=list(verdict.reasons),
                          challenger=scores, champion=champion_scores)
        if not verdict:
            return RetrainDecision(None, "refused", "gate refused the challenger: " + "; ".join(
                r for r in verdict.reasons if r.lower().endswith("failed")), tuple(reasons), verdict,
                record.version, scores)
        live = self.promote(challenger, record.version, baseline_accuracy=scores["recent_accuracy"],
                            reference=self.buffer_X[-self.window:])
        return RetrainDecision(challenger, "promoted", f"promoted version {record.version}"
                               + ("" if live else " (its release decides when it goes live)")
                               + f" (triggers: {', '.join(reasons)})", tuple(reasons), verdict,
                               record.version, scores)

    def promote(self, model, version, baseline_accuracy, reference):
        """Ask the release to promote registered ``version`` (holding ``model``); once it serves
        (at once, or when the release calls ``went_live``) it is the champion, on probation
        against the model it replaces, and future drift is measured against ``reference``: the
        latest ``window`` rows, the population it was promoted to serve (its training mix also
        holds replayed old rows, against which new data would always drift). Returns True if it
        serves now."""
        self.pending = _Deployment(model, str(version), float(baseline_accuracy),
                                   DriftDetector(reference, method=self.drift_method))
        if not self.release.promote(str(version)):
            return False
        self.went_live(str(version))
        return True

    def went_live(self, version):
        """The release put the pending ``version`` live: it becomes the champion, on probation."""
        if self.pending is None or self.pending.version != str(version):
            raise ValueError(f"version {version} is not the learner's pending promotion "
                             f"({None if self.pending is None else self.pending.version})")
        self.previous, self.deployment, self.pending = self.deployment, self.pending, None
        self.probation = ([], [])
        self.live = PerformanceTracker(window=self.window, clock=self.clock)
        self.audit.record("promotion", version=self.deployment.version, replaced=None if self.previous is None
                          else self.previous.version, baseline_accuracy=self.deployment.baseline_accuracy)

    def check_rollback(self):
        """Judge a champion on probation; roll the alias back if it does worse live than its
        predecessor on the same rows. Returns a ``RetrainDecision`` if it rolled back."""
        if self.previous is None:
            return None
        verdict = str(should_rollback(*self.probation, self.rollback_policy)).lower()
        if verdict == "wait":
            return None
        new_accuracy, old_accuracy = (float(np.mean(c)) for c in self.probation)
        evidence = {"rows": len(self.probation[0]), "champion_live_accuracy": new_accuracy,
                    "previous_live_accuracy": old_accuracy}
        if verdict == "keep":
            self.audit.record("probation_passed", version=self.deployment.version, **evidence)
            self.previous = None
            return None
        demoted = self.deployment.version
        restored = self.release.roll_back(demoted, self.previous.version)
        self.deployment, self.previous = self.previous, None
        self.live = PerformanceTracker(window=self.window, clock=self.clock)
        self.new_samples, self.last_retrain_at = 0, self.clock()
        reason = (f"rolled back version {demoted} to {restored}: live accuracy "
                  f"{new_accuracy:.4f} < previous champion's {old_accuracy:.4f} on the same "
                  f"{evidence['rows']} rows")
        self.audit.record("rollback", demoted=demoted, restored=restored, reason=reason, **evidence)
        return RetrainDecision(None, "rolled_back", reason, version=restored, metrics=evidence)

    @staticmethod
    def _accuracy(model, data):
        return accuracy(model.predict(data[0]), data[1])


def _unpack(data, what):
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an (X, y) pair of features and labels") from None
    return X, y


def _pair(data, what):
    X, y = _unpack(data, what)
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)
    if len(X) != len(y):
        raise ValueError(f"{what}: X has {len(X)} rows but y has {len(y)} labels")
    return X, y
