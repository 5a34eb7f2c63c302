"""Retraining triggers: when is it worth training a new model?

Four independent rules, each of which can be switched off in the ``RetrainPolicy``:

* ``drift``: the incoming features no longer look like the data the model was trained on
  (a ``DriftReport`` from ``tinytorch.core.mlops.drift`` said so);
* ``accuracy_decay``: live accuracy on labelled feedback fell more than a tolerance below the
  accuracy the model had when it was deployed;
* ``new_data``: enough new labelled rows have arrived that a retrain is worth it anyway;
* ``schedule``: the model is older than a maximum age (SageMaker's and TFX's cron retrain).

A trigger only says *why* one would retrain; ``min_new_samples`` says *whether one can*: with
too few new rows a retrain cannot learn the new population, and the evaluation of the result on
held-out recent rows would be noise.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RetrainPolicy:
    """Thresholds of the retraining triggers; ``None`` switches a trigger off."""

    accuracy_tolerance: float | None = 0.05   # decay: recent < baseline - tolerance
    new_data_samples: int | None = 2000       # new_data: this many new labelled rows
    retrain_every_seconds: float | None = None  # schedule: maximum model age
    use_drift: bool = True                    # drift: act on a drifted DriftReport
    min_new_samples: int = 200                # no retrain with fewer new labelled rows


@dataclass(frozen=True)
class StreamStatus:
    """What the learner knows about the stream since the last retrain attempt.

    ``baseline_accuracy`` is the deployed model's accuracy when it was deployed and
    ``recent_accuracy`` its accuracy on the latest labelled feedback; either is ``None`` when
    not known yet. ``new_samples`` counts labelled rows received since the last retrain attempt.
    """

    drift_detected: bool
    baseline_accuracy: float | None
    recent_accuracy: float | None
    new_samples: int
    seconds_since_retrain: float


def should_retrain(status, policy):
    """Decide whether to retrain now: return ``(retrain, reasons)``.

    ``reasons`` lists, in this order, the names of the triggers that fire: ``"drift"`` (drift
    detected and ``policy.use_drift``), ``"accuracy_decay"`` (both accuracies known and recent
    accuracy strictly below ``baseline - policy.accuracy_tolerance``), ``"new_data"``
    (``new_samples >= policy.new_data_samples``), ``"schedule"``
    (``seconds_since_retrain >= policy.retrain_every_seconds``). A threshold of ``None`` switches
    its trigger off. ``retrain`` is True only when at least one trigger fires *and* at least
    ``policy.min_new_samples`` new rows are there to learn from: a trigger with too little data
    waits (its reason is still reported, so the caller can log why it is waiting).

    Why this matters: retraining on every alarm wastes compute and churns the deployed model;
    never retraining lets accuracy rot silently. Explicit, named reasons make every retrain
    auditable.
    """
    reasons = []
    if policy.use_drift and status.drift_detected:
        reasons.append("drift")
    if (policy.accuracy_tolerance is not None and status.baseline_accuracy is not None
            and status.recent_accuracy is not None
            and status.recent_accuracy < status.baseline_accuracy - policy.accuracy_tolerance):
        reasons.append("accuracy_decay")
    if policy.new_data_samples is not None and status.new_samples >= policy.new_data_samples:
        reasons.append("new_data")
    if (policy.retrain_every_seconds is not None
            and status.seconds_since_retrain >= policy.retrain_every_seconds):
        reasons.append("schedule")
    return bool(reasons) and status.new_samples >= policy.min_new_samples, reasons
