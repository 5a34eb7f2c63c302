"""MLOpsPipeline: the seed's end-to-end pipeline, composed from the library's parts.

    pipeline = MLOpsPipeline()
    trained_model = pipeline.train_with_trainer(Trainer, data)   # a Candidate: model + lineage
    compressed_model = pipeline.compress_model(quantize_model, trained_model)
    optimized_model = pipeline.optimize_inference(optimize_inference, compressed_model)
    benchmark_results = pipeline.benchmark_model(benchmark_model, optimized_model)
    deployed_model = pipeline.deploy_model(optimized_model)      # a real HTTP server
    ...
    pipeline.add_feedback(X_labelled, y_labelled)                # validated, quarantined, kept
    decision = pipeline.retrain_if_needed()                      # triggers, replay mix, gate
    if decision.model is not None:                               # blessed: release as a canary
        pipeline.deploy_model(pipeline.optimize_inference(optimize_inference, decision.model),
                              strategy="canary")
    pipeline.close()

Models travel as ``Candidate`` values (see ``candidate.py``): each step returns the model with
its lineage, and ``validate_model`` returns it with its gate report, which ``deploy_model``
then trusts; a plain model, or a candidate without a report, is measured by the gates there.

Each call is a step (or a sequence of steps) run by ``run_steps``: its inputs, outputs and timing
go to the run log in the registry, and a failure raises ``PipelineStepError`` after undoing what
the failed call had changed, so the deployment that was serving keeps serving.
"""

import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tinytorch.core.mlops.continuous import AuditLog, ContinuousLearner, DataPipeline

from .candidate import Candidate
from .canary import CanaryPolicy
from .deployment import CHAMPION, DeploymentManager, failed_step_message
from .learning import CanaryRelease
from .lineage import RunLog
from .search import hyperparameter_search
from .steps import Step, StepFailure, run_steps
from .validator import ProductionValidator, check_labelled_rows


class PipelineStepError(StepFailure):
    """A pipeline call that failed; ``records`` say which step and what was undone."""


@dataclass(frozen=True)
class Deployment:
    """What ``deploy_model`` put in production: the registry version, where it is served, how,
    the release gates it passed, and the step records."""

    name: str
    version: str
    url: str
    strategy: str
    validation: object
    records: tuple

    @property
    def uri(self):
        return f"models:/{self.name}/{self.version}"

    def endpoint(self):
        """A v2 client of the serving address (the service, not one server)."""
        from tinytorch.core.mlops.serving import InferenceEndpoint

        return InferenceEndpoint(self.url, model_name=self.name)

    def predict(self, x):
        """Class ids for ``x`` over HTTP."""
        return self.endpoint().predict(x)


class MLOpsPipeline:
    """Train (with a seeded hyperparameter search), compress, optimise, benchmark, validate,
    register with lineage and deploy behind a real HTTP server, one recorded step at a time.

    ``root``: where the registry lives (default: a fresh temporary directory). ``validator``:
    the release gates. ``policy``/``canary_steps``: how canaries are judged and widened.
    ``learner_options``: the continuous learner's ``policy`` (RetrainPolicy), ``gate``
    (GatePolicy), ``config`` (RetrainConfig), ``rollback``, ``window`` (library defaults).
    """

    def __init__(self, root=None, name="digits", validator=None, policy=CanaryPolicy(),
                 canary_steps=(0.1, 0.5), search_space=None, search_trials=4, epochs=20,
                 seed=0, monitor=None, server_options=None, learner_options=None):
        from tinytorch.core.mlops.monitoring import ModelMonitor
        from tinytorch.core.mlops.registry import ModelRegistry
        from tinytorch.core.training import Trainer

        self.root = Path(tempfile.mkdtemp(prefix="tinytorch-mlops-") if root is None else root)
        self.name = name
        self.registry = ModelRegistry(self.root / "registry", default_name=name)
        self.run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self.run_log = RunLog(self.registry.root, self.run_id)
        self.validator = validator or ProductionValidator()
        self.policy, self.canary_steps = policy, tuple(canary_steps)
        self.search_space, self.search_trials, self.epochs, self.seed = search_space, search_trials, epochs, seed
        self.monitor = monitor or ModelMonitor(window=500)
        self.server_options = server_options
        self.learner_options = dict(learner_options or {})
        self.continuous = None   # the ContinuousLearner of the serving model, made at the first feedback
        self.learner_name = f"{name}-continuous"  # the registered model its challengers go to
        self._feedback = self._audit = None  # its DataPipeline and AuditLog, kept across learners
        self.trainer_cls = Trainer
        self.data = None
        self.validation_data = None
        self.manager = None
        self.candidate = None    # the last trained Candidate
        self._released = {}      # registered version -> the Candidate released as it

    # -- running steps -------------------------------------------------------------------------
    def _run(self, group, steps, context, **details):
        records = run_steps(steps, context)
        self.run_log.append(group, records, **details)
        if any(r.status == "failed" for r in records):
            undone = [r.name for r in records if r.status == "undone"]
            serving = self.manager.stable_version if self.manager else None
            raise PipelineStepError(
                f"{group}: {failed_step_message(records)}"
                + (f"; undone: {', '.join(undone)}" if undone else "")
                + (f"; version {serving} keeps serving" if serving else ""), records)
        return context

    # -- the seed's steps ----------------------------------------------------------------------
    def train_with_trainer(self, trainer_cls, data):
        """Train on ``data`` (``.train``, ``.val``, ``.test`` splits, e.g. ``load_digits()``)
        with ``trainer_cls``, running the seeded hyperparameter search; returns the best model as
        a ``Candidate``. Its trials become lineage of the version it is registered as."""
        data = _check_splits(data)
        self.trainer_cls, self.data = trainer_cls, data
        self.validation_data = data.test

        def train(ctx):
            result = hyperparameter_search(trainer_cls, data, self.search_space, self.search_trials,
                                           self.epochs, seed=self.seed)
            return {"model": result.model, "config": result.config, "trials": result.trials,
                    "best_val_accuracy": result.trials[0]["val_accuracy"]}

        ctx = self._run("train", [Step("hyperparameter_search", train, inputs=("train_X", "val_X"))],
                        {"train_X": data.train[0], "val_X": data.val[0]}, trainer=trainer_cls.__name__)
        model = ctx["model"]
        self.candidate = Candidate(model, ("train",), trained=model, replay=data.train, config=ctx["config"],
                                   trials=tuple(ctx["trials"]), training_data=data.train)
        return self.candidate

    def train_model(self, new_data):
        """Retrain on ``new_data``: a dataset with splits, or labelled rows ``(X, y)`` (split
        80/20 into train/val, stratified, seeded). Validation data stays what it was unless
        there was none (then the new validation split). Returns the new ``Candidate``."""
        from tinytorch.core.data import SplitDataset, stratified_split

        if not hasattr(new_data, "train"):
            X, y = check_labelled_rows(new_data, "new_data")
            train, val = stratified_split(y, (0.8, 0.2), seed=self.seed)
            new_data = SplitDataset(train=(X[train], y[train]), val=(X[val], y[val]), test=(X[val], y[val]),
                                    num_classes=int(y.max()) + 1, input_shape=(X.shape[1],))
        validation_data = self.validation_data
        model = self.train_with_trainer(self.trainer_cls, new_data)
        self.validation_data = validation_data if validation_data is not None else new_data.val
        return model

    def validate_model(self, validation_data=None, model=None):
        """Put ``model`` (a Candidate or a plain model; default: the last trained) through the
        release gates on ``validation_data`` (default: the held-out test split) and make that
        data the one later releases are gated on. Returns the candidate carrying its
        ``ValidationReport`` (``.validation``), which ``deploy_model`` trusts."""
        if model is None and self.candidate is None:
            raise ValueError("no model to validate: train one first or pass model=")
        candidate = Candidate.of(self.candidate if model is None else model)
        if validation_data is not None:
            self.validation_data = check_labelled_rows(validation_data, "validation_data")
        data = self._require_validation_data()

        def validate(ctx):
            report = self.validator.validate(ctx["model"], data)
            return {"report": report.to_dict(), "passed": report.passed, "_report": report}

        ctx = self._run("validate", [Step("release_gates", validate, inputs=("model",))], {"model": candidate.model})
        return candidate.validated(ctx["_report"])

    def compress_model(self, quantize_fn, model):
        """``quantize_fn(model)`` (e.g. ``quantize_model``), recording size and accuracy change;
        returns the derived ``Candidate``."""
        return self._transform("compress", quantize_fn, model)

    def optimize_inference(self, optimize_fn, model):
        """``optimize_fn(model)`` (e.g. ``optimize_inference``), recording the change; returns
        the derived ``Candidate``."""
        return self._transform("optimize", optimize_fn, model)

    def _transform(self, group, fn, model):
        data = self.validation_data
        candidate = Candidate.of(model)

        def transform(ctx):
            out = fn(ctx["model"])
            figures = {"result": out, "nbytes_before": int(ctx["model"].nbytes), "nbytes_after": int(out.nbytes)}
            if data is not None:
                figures["accuracy_before"] = float(np.mean(ctx["model"].predict(data[0]) == data[1]))
                figures["accuracy_after"] = float(np.mean(out.predict(data[0]) == data[1]))
            return figures

        ctx = self._run(group, [Step(getattr(fn, "__name__", group), transform, inputs=("model",))],
                        {"model": candidate.model})
        return candidate.derive(ctx["result"], group)

    def benchmark_model(self, benchmark_fn, model, **options):
        """``benchmark_fn(model, **options)`` (e.g. ``benchmark_model``) on a model or a
        Candidate's model; returns the result, summarised in the run log."""
        def bench(ctx):
            return {"result": benchmark_fn(ctx["model"], **options)}

        ctx = self._run("benchmark", [Step(getattr(benchmark_fn, "__name__", "benchmark"), bench,
                                           inputs=("model",))], {"model": Candidate.of(model).model})
        return ctx["result"]

    # -- releasing -----------------------------------------------------------------------------
    def deploy_model(self, model, strategy="blue_green"):
        """Gate, register and release ``model`` (a Candidate or a plain model):
        ``strategy="blue_green"`` switches all traffic once the new server passed its smoke
        test; ``"canary"`` starts a canary that ``evaluate_canary()`` widens, promotes or rolls
        back on live figures. The gates use the candidate's own report if ``validate_model``
        gave it one, else measure it now. Returns the Deployment; raises PipelineStepError (the
        previous version keeps serving) if the gates fail or any release step does."""
        if strategy not in ("blue_green", "canary"):
            raise ValueError(f"strategy must be 'blue_green' or 'canary', got {strategy!r}")
        candidate = Candidate.of(model)
        model = candidate.model
        data = self._require_validation_data()
        manager = self._manager(data)

        def gates(ctx):
            report = candidate.validation or self.validator.validate(model, data)
            if not report.passed:
                raise ValueError("release gates failed: " + "; ".join(report.failures))
            return {"validation": report.to_dict(), "_report": report}

        def register(ctx):
            champion = self.registry.aliases().get(CHAMPION)
            measured = ctx["_report"].measured
            record = self.registry.register_model(
                model, metrics={k: measured[k] for k in ("accuracy", "p99_latency_ms", "size_bytes")},
                config={"hyperparameters": candidate.config, "produced_by": list(candidate.steps),
                        "search": {"seed": self.seed, "trials": list(candidate.trials)}},
                tags={"pipeline_run": self.run_id, "produced_by": candidate.produced_by,
                      **({"challenger": candidate.challenger} if candidate.challenger else {})},
                parent_version=champion, training_data=candidate.training_data,
                description=f"released by pipeline run {self.run_id} ({strategy})")
            self._released[record.version] = candidate
            return {"registered_version": record.version}

        def release(ctx):
            version = ctx["registered_version"]
            if strategy == "canary":
                manager.start_canary(version)
            else:
                manager.deploy_blue_green(version)
            return {"url": manager.router.stable.url if strategy == "blue_green" else manager.router.canary.url}

        ctx = self._run("deploy", [Step("release_gates", gates, inputs=("model",)),
                                   Step("register", register), Step(strategy, release)],
                        {"model": model}, strategy=strategy)
        if strategy == "blue_green":
            self._went_live(ctx["registered_version"])
        return Deployment(self.name, ctx["registered_version"], ctx["url"], strategy, ctx["_report"],
                          tuple(self.run_log.entries[-1]["steps"]))

    def evaluate_canary(self):
        """One canary decision on live traffic (see ``DeploymentManager.evaluate_canary``)."""
        if self.manager is None:
            raise RuntimeError("nothing deployed yet")
        canary = self.manager.canary_version
        decision = self.manager.evaluate_canary()
        if canary is not None and self.manager.stable_version == canary:
            self._went_live(canary)
        return decision

    def promote_canary(self):
        """Promote the running canary now, without waiting for the analysis (an operator's
        override)."""
        if self.manager is None or self.manager.canary_version is None:
            raise RuntimeError("no canary is running: deploy_model(model, strategy='canary') first")
        canary = self.manager.canary_version
        self.manager.promote_canary()
        self._went_live(canary)

    def _went_live(self, version):
        """Every release that changes what serves ends here: a canary of the learner's pending
        challenger makes it the learner's champion; any other version gets a new learner (at
        the next feedback), since the old one learns from a model that no longer serves."""
        learner = self.continuous
        if learner is None:
            return
        pending = learner.pending
        if pending is not None and self._released[version].challenger == f"{learner.name}/{pending.version}":
            learner.release.went_live(pending.version, version)
            learner.went_live(pending.version)
            return
        self._audit.record("learner_reset", serving=str(version), learner_champion=learner.deployment.version,
                           reason="a version the learner did not bless went live")
        self.continuous = None

    # -- continuous learning -------------------------------------------------------------------
    def add_feedback(self, X, y):
        """Hand a batch of labelled production rows to the continuous learner: rows that fail
        validation are quarantined with a reason (``quarantine_counts()``), the serving model is
        scored on the rest (progressive validation) and they are kept for retraining. Returns the
        ``ValidatedBatch``."""
        learner = self._learner()

        def validate(ctx):
            batch = learner.add_training_data(X, y)
            return {"_batch": batch, **{f"rows_{kind}": n for kind, n in batch.counts.items()}}

        return self._run("feedback", [Step("validate_rows", validate)], {})["_batch"]

    def retrain_if_needed(self):
        """One continuous-learning decision (``ContinuousLearner.retrain_if_needed``): the
        triggers (drift, accuracy decay, enough new data) decide whether to retrain; the
        challenger is trained on the replay mix and must pass ``challenger_passes_gate``.
        Returns the ``RetrainDecision``; when the gate blessed the challenger, ``decision.model``
        is it (float) as a ``Candidate`` with the serving version's lineage: compress it and
        ``deploy_model(..., strategy="canary")``: going live is the canary's decision. When the
        learner's probation finds its live champion worse than the one it replaced
        (``"rolled_back"``), its release has already switched serving back (``CanaryRelease``)."""
        learner = self._learner()

        def decide(ctx):
            decision = learner.retrain_if_needed()
            return {"_decision": decision, "action": decision.action, "reason": decision.reason,
                    "triggers": ",".join(decision.triggers)}

        decision = self._run("retrain", [Step("continuous_learner", decide)], {})["_decision"]
        if decision.model is None:
            return decision
        origin = self._released[learner.release.serving[learner.deployment.version]]
        return replace(decision, model=replace(
            origin, model=decision.model, trained=decision.model, steps=("retrain",), training_data=None,
            challenger=f"{learner.name}/{decision.version}", validation=None))

    def quarantine_counts(self):
        """Rows accepted and quarantined (by reason kind) over every feedback batch so far."""
        return {} if self._feedback is None else dict(self._feedback.counts)

    @property
    def audit_log(self):
        """The continuous learner's ``AuditLog`` (None before the first feedback)."""
        return self._audit

    def _learner(self):
        """The continuous learner of the serving version, made at the first call after it
        went live."""
        if self.continuous is not None:
            return self.continuous
        if self.manager is None or self.manager.stable_version is None:
            raise RuntimeError("nothing deployed yet: deploy_model() first; the learner learns from "
                               "the serving model")
        if self.data is None:
            raise ValueError("no golden set: train_with_trainer(Trainer, data) first; its .val split "
                             "is the fixed set the challenger gate checks for regressions")
        version = self.manager.stable_version
        origin = self._released.get(version, Candidate(None))
        if origin.trained is None:
            raise ValueError(f"version {version} was not trained by this pipeline: continuous learning "
                             "needs the float model and its training data (train_with_trainer first)")
        if self._feedback is None:
            folder = self.root / "continuous"
            self._feedback = DataPipeline(n_features=self.data.train[0].shape[1],
                                          quarantine_path=folder / "quarantine.jsonl")
            self._audit = AuditLog(folder / "audit.jsonl")
        self.continuous = ContinuousLearner(origin.trained, self.registry, golden=self.data.val,
                                            replay=origin.replay, name=self.learner_name,
                                            pipeline=self._feedback, audit_log=self._audit,
                                            release=CanaryRelease(self.manager), **self.learner_options)
        return self.continuous

    def _manager(self, data):
        if self.manager is None:
            self.manager = DeploymentManager(self.registry, name=self.name, policy=self.policy,
                                             canary_steps=self.canary_steps, smoke_rows=data[0][:32],
                                             monitor=self.monitor, server_options=self.server_options,
                                             seed=f"canary-{self.seed}")
        return self.manager

    def predict(self, unit_id, x, label=None):
        """Serve one request through the router (real HTTP to the serving version)."""
        if self.manager is None:
            raise RuntimeError("nothing deployed yet: deploy_model() first")
        return self.manager.router.predict(unit_id, x, label)

    # -- lineage -------------------------------------------------------------------------------
    def lineage(self, version):
        """The registry record of ``version`` and the run log of the run that made it."""
        record = self.registry.get_version(version)
        return {"version": record, "run": RunLog.load(self.registry.root, record.tags["pipeline_run"])}

    def _require_validation_data(self):
        if self.validation_data is None:
            raise ValueError("no validation data: train_with_trainer(Trainer, data) first, or call "
                             "validate_model((X, y)) with held-out rows")
        return self.validation_data

    def close(self):
        """Stop every server the pipeline started (the registry stays on disk)."""
        if self.manager is not None:
            self.manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _check_splits(data):
    if not all(hasattr(data, split) for split in ("train", "val", "test")):
        raise ValueError(f"data must have .train, .val and .test splits (e.g. load_digits()); got "
                         f"{type(data).__name__}; for plain (X, y) rows use train_model((X, y))")
    for split in ("train", "val", "test"):
        check_labelled_rows(getattr(data, split), f"data.{split}")
    return data
