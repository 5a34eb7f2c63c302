"""Continuous learning inside the pipeline: the library's ``ContinuousLearner`` decides when to
retrain and blesses challengers; the pipeline releases them as canaries.

The learner validates every labelled feedback batch (``DataPipeline``: bad rows are
quarantined, never learnt), fires the retrain triggers (drift, accuracy decay, enough new data),
trains the challenger on its documented mix of new and replayed old rows, and puts it through
``challenger_passes_gate`` on held-out recent rows and the golden set; each decision goes to its
audit log. Its "promotion" is the gate's blessing (TFX's Pusher pushes only blessed models);
going live is the canary's job. So the learner must always start from the model that actually
serves: ``ServingLearner.follow`` rebuilds it around the serving version's float model whenever
the two differ (a blessed canary was rolled back, another release went out), keeping the one
quarantine and the one audit log.
"""

from pathlib import Path

from tinytorch.core.mlops.continuous import AuditLog, ContinuousLearner, DataPipeline


class ServingLearner:
    """A ``ContinuousLearner`` kept in step with the serving version.

    ``registry``: where challengers are registered (under ``name``, so the serving model's
    ``champion`` alias is never touched); ``golden``: the fixed ``(X, y)`` the gate checks for
    regressions; ``root``: directory of ``audit.jsonl`` and ``quarantine.jsonl``; ``options``:
    the learner's ``policy``, ``gate``, ``config``, ``rollback``, ``window``...
    """

    def __init__(self, registry, name, golden, root, n_features, **options):
        root = Path(root)
        self.registry, self.name, self.golden, self.options = registry, name, golden, options
        self.data = DataPipeline(n_features=n_features, quarantine_path=root / "quarantine.jsonl")
        self.audit = AuditLog(root / "audit.jsonl")
        self.learner = None
        self.serving_version = None

    def follow(self, model, replay, version):
        """The learner, learning from ``model`` (the float model behind serving ``version``,
        trained on ``replay``); rebuilt around it unless it already is its champion."""
        if self.learner is not None and self.learner.champion is model:
            self.serving_version = version
            return self.learner
        if self.learner is not None:
            self.audit.record("learner_reset", serving=str(version), learner_champion=self.serving_version,
                              reason="the serving version changed outside the learner")
        self.learner = ContinuousLearner(model, self.registry, golden=self.golden, replay=replay,
                                         name=self.name, pipeline=self.data, audit_log=self.audit,
                                         **self.options)
        self.serving_version = version
        return self.learner

    def quarantine_counts(self):
        """``{"accepted": n, <reason kind>: n, ...}`` over every feedback batch so far."""
        return dict(self.data.counts)
