"""Routing live traffic to models: A/B tests, shadow deployments and canary rollouts.

Nothing here speaks HTTP: a server (tinytorch.core.mlops.serving) calls ``route(unit_id)`` or
``predict(unit_id, x)`` with the id it takes from the request (a user id header, a session id)
and serves what comes back. Every decision is a pure function of (seed, unit id), so any number
of server processes agree on who sees what without sharing state.
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import arguments
from .assignment import assign_variant, validate_split
from .tracker import ExperimentTracker

ACCURACY, LATENCY = "accuracy", "latency_ms"


def _timed_predict(model, x):
    """model.predict on a batch, and how long it took in milliseconds."""
    start = time.perf_counter()
    predictions = model.predict(x)
    return predictions, (time.perf_counter() - start) * 1000.0


def _require_predict(model, role):
    """Raise TypeError unless ``model`` has a callable ``predict``; ``role`` starts the message."""
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"{role} needs a predict(x) method; got {type(model).__name__}")


def _as_batch(x):
    x = np.asarray(x, dtype=np.float32)
    return (x[None, :], True) if x.ndim == 1 else (x, False)


class ShadowDeployment:
    """Send every request to a candidate model too, but serve only the primary's answer.

    The candidate's predictions are compared with what was served (agreement rate), its latency
    is recorded, and its exceptions are counted instead of raised: a broken shadow must never
    break serving.
    """

    def __init__(self, primary, shadow, name="shadow"):
        _require_predict(primary, "the primary model")
        _require_predict(shadow, "the shadow model")
        self.primary, self.shadow, self.name = primary, shadow, name
        self.requests = 0
        self.agreements = 0
        self.rows = 0
        self.errors = 0
        self.latencies_ms = []

    def observe(self, x, served):
        """Run the shadow on batch ``x`` and compare with the ``served`` predictions."""
        self.requests += 1
        try:
            predictions, elapsed = _timed_predict(self.shadow, x)
        except Exception:  # a failing candidate is data about the candidate, not a serving error
            self.errors += 1
            return
        self.latencies_ms.append(elapsed)
        self.rows += len(served)
        self.agreements += int(np.sum(np.asarray(predictions) == np.asarray(served)))

    def predict(self, x):
        """Serve the primary's predictions for ``x``; the shadow's are recorded and discarded."""
        batch, single = _as_batch(x)
        served, _ = _timed_predict(self.primary, batch)
        self.observe(batch, served)
        return served[0] if single else served

    @property
    def agreement_rate(self):
        return self.agreements / self.rows if self.rows else math.nan


class ABTestManager:
    """Split traffic between models by a sticky hash of the unit id and analyse the outcome.

    >>> ab_test = ABTestManager(seed="exp-1")
    >>> ab_test.add_variant("control", model_v1, traffic_split=0.8)     # doctest: +SKIP
    >>> ab_test.add_variant("treatment", model_v2, traffic_split=0.2)   # doctest: +SKIP
    >>> results = ab_test.run_experiment((X_test, y_test))              # doctest: +SKIP

    The first variant added is the control. ``coverage`` is the share of units in the experiment;
    the others get the control and are not recorded. Each experiment needs its own ``seed``:
    reusing one seed for two experiments splits the same users the same way both times.
    """

    def __init__(self, seed="experiment", coverage=1.0, alpha=0.05):
        if not 0.0 <= coverage <= 1.0:
            raise ValueError(f"coverage is the share of units in the experiment, in [0, 1]; got {coverage}")
        self.seed = str(seed)
        self.coverage = coverage
        self.alpha = arguments.probability("alpha", alpha)
        self.models = {}
        self.weights = {}
        self.shadow = None
        self._tracker = None

    def add_variant(self, name, model, traffic_split):
        """Add a variant: a name, a model with ``predict(x)``, and its share of traffic."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a variant name must be a non-empty string, got {name!r}")
        if name in self.models:
            raise ValueError(f"variant {name!r} already exists; variant names must be unique")
        _require_predict(model, f"variant {name!r}: the model")
        weight = float(traffic_split)
        if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
            raise ValueError(f"variant {name!r}: traffic_split is a share in [0, 1], got {traffic_split}")
        self.models[name] = model
        self.weights[name] = weight
        self._tracker = None
        return self

    def add_shadow(self, model, name="shadow"):
        """Mirror every request to ``model`` without serving its answers (see ShadowDeployment)."""
        self.shadow = ShadowDeployment(self.models.get(self.control, model), model, name)
        return self.shadow

    @property
    def control(self):
        return next(iter(self.models), None)

    @property
    def tracker(self):
        """The ExperimentTracker of this experiment (created once the split is complete)."""
        if self._tracker is None:
            self._tracker = ExperimentTracker(self._split(), alpha=self.alpha)
        return self._tracker

    def _split(self):
        if len(self.models) < 2:
            raise ValueError(f"an experiment needs at least two variants; add_variant() more (have {list(self.models)})")
        return validate_split(self.weights)

    def assign(self, unit_id):
        """The variant of ``unit_id``, or None when the unit is outside the coverage."""
        return assign_variant(self.seed, unit_id, self.weights, self.coverage)

    def route(self, unit_id):
        """Return (variant_name, model) for a request from ``unit_id`` and record the exposure."""
        variant, model, _ = self._route(unit_id)
        return variant, model

    def _route(self, unit_id):
        self._split()
        variant = self.assign(unit_id)
        if variant is None:
            return self.control, self.models[self.control], False
        self.tracker.log_exposure(variant, unit_id)
        return variant, self.models[variant], True

    def predict(self, unit_id, x):
        """Predict ``x`` (one row or a batch) with the model of ``unit_id``'s variant.

        Latency is recorded as metric "latency_ms" for units in the experiment; a shadow model,
        if any, sees the same input.
        """
        variant, model, in_experiment = self._route(unit_id)
        batch, single = _as_batch(x)
        predictions, elapsed = _timed_predict(model, batch)
        if in_experiment:
            self.tracker.log_metric(variant, LATENCY, elapsed)
        if self.shadow is not None:
            self.shadow.observe(batch, predictions)
        return predictions[0] if single else predictions

    def log_outcome(self, unit_id, metric, value, binary=False):
        """Record an outcome of ``unit_id`` (e.g. whether its prediction was right) to its variant."""
        variant = self.assign(unit_id)
        if variant is None:
            return
        if binary:
            self.tracker.log_conversion(variant, metric, value)
        else:
            self.tracker.log_metric(variant, metric, value)

    def run_experiment(self, test_data, unit_ids=None):
        """Route each row of ``test_data = (X, y)`` to its variant's model and analyse the results.

        Unit ids default to the row indices. Records, per variant, exposures, whether each
        prediction was correct (metric "accuracy", binary) and per-row latency ("latency_ms"),
        and returns the ExperimentAnalysis (accuracy per variant, lift with intervals, p-values,
        SRM check, decision).
        """
        X, y = _check_test_data(test_data)
        ids = range(len(X)) if unit_ids is None else list(unit_ids)
        if len(ids) != len(X):
            raise ValueError(f"got {len(ids)} unit ids for {len(X)} rows; pass one id per row")
        for unit_id, row, label in zip(ids, X, y):
            prediction = self.predict(unit_id, row)
            self.log_outcome(unit_id, ACCURACY, int(prediction == label), binary=True)
        return self.tracker.analyze(primary_metric=ACCURACY)


def _check_test_data(test_data):
    try:
        X, y = test_data
    except (TypeError, ValueError):
        raise ValueError("test_data must be a pair (X, y): X of shape (n, features), y of shape (n,)") from None
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"test_data must be (X, y) with X (n, features) and y (n,); got {X.shape} and {y.shape}")
    return X, y


class CanaryRollout:
    """Roll a new model out in steps (5 % -> 25 % -> 100 % by default), or back.

    A unit is in the canary when its hash falls in the first ``percentage`` of [0, 1) (the same
    GrowthBook hash as assignment, with its own seed), so raising the percentage only adds units:
    nobody flips back and forth between models. Latency of both arms goes to ``tracker``; with
    guardrails added there (``rollout.tracker.add_guardrail("latency_ms", 0.1)``), ``advance()``
    rolls back instead of advancing when one fails.
    """

    def __init__(self, stable, canary, steps=(0.05, 0.25, 1.0), seed="canary"):
        steps = tuple(float(s) for s in steps)
        if not steps or any(not 0 < s <= 1 for s in steps) or list(steps) != sorted(set(steps)):
            raise ValueError(f"steps must be increasing shares in (0, 1], e.g. (0.05, 0.25, 1.0); got {steps}")
        _require_predict(stable, "the stable model")
        _require_predict(canary, "the canary model")
        self.models = {"stable": stable, "canary": canary}
        self.steps = steps
        self.seed = str(seed)
        self.stage = 0
        self.rolled_back = False
        self.tracker = ExperimentTracker(control="stable")
        self.history = [("start", self.percentage)]

    @property
    def percentage(self):
        """Share of units currently served by the canary."""
        return 0.0 if self.rolled_back else self.steps[self.stage]

    def route(self, unit_id):
        """Return ("canary" | "stable", model) for ``unit_id``."""
        in_canary = assign_variant(self.seed, unit_id, {"canary": 1.0}, coverage=self.percentage)
        arm = "canary" if in_canary else "stable"
        self.tracker.log_exposure(arm, unit_id)
        return arm, self.models[arm]

    def predict(self, unit_id, x):
        arm, model = self.route(unit_id)
        batch, single = _as_batch(x)
        predictions, elapsed = _timed_predict(model, batch)
        self.tracker.log_metric(arm, LATENCY, elapsed)
        return predictions[0] if single else predictions

    def advance(self):
        """Go to the next step, unless a guardrail fails (then roll back). Returns the new share."""
        if self.rolled_back:
            raise RuntimeError("the rollout was rolled back; start a new CanaryRollout to try again")
        failed = [g for g in self.tracker.check_guardrails() if not g.passed]
        if failed:
            return self.rollback(reason="; ".join(f"{g.metric} {g.statistic} {g.change:+.1%}" for g in failed))
        if self.stage == len(self.steps) - 1:
            raise RuntimeError(f"the rollout is at its last step ({self.percentage:.0%}); nothing to advance")
        self.stage += 1
        self.history.append(("advance", self.percentage))
        return self.percentage

    def rollback(self, reason="manual"):
        """Send all traffic back to the stable model."""
        self.rolled_back = True
        self.history.append((f"rollback: {reason}", 0.0))
        return 0.0
