"""The whole loop on the shipped digits, end to end, with real servers and real traffic:

train (seeded search) -> validate -> compress -> optimise -> benchmark -> register -> deploy
(blue/green, real HTTP on 127.0.0.1) -> monitor live traffic -> inject drift (thicker strokes)
-> detect it -> labelled feedback from the new writers (one faulty batch, quarantined) -> the
continuous learner's triggers -> a challenger on new + replayed rows, blessed by its gate ->
canary 10 % -> 50 % -> 100 % -> promote -> an injected bad release (validated on a stale
snapshot) -> canary rollback, with zero failed client requests throughout. ``run_loop`` returns
everything the report shows.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from .canary import CanaryPolicy
from .pipeline import MLOpsPipeline, PipelineStepError
from .traffic import TrafficGenerator, thicker_strokes
from .validator import ProductionValidator


@dataclass
class LoopResult:
    """Figures and objects of one run of the loop (read by the report)."""

    pipeline: object
    traffic: object
    stages: dict = field(default_factory=dict)       # name -> {"accuracy", "nbytes", "p99_latency_ms"}
    trials: list = field(default_factory=list)
    validations: dict = field(default_factory=dict)  # release -> ValidationReport
    benchmark: object = None
    drift: dict = field(default_factory=dict)        # "clean"/"drifted" -> DriftReport, plus data
    decisions: list = field(default_factory=list)    # (release, CanaryDecision)
    phases: list = field(default_factory=list)       # (time, label) of drift and retraining
    versions: dict = field(default_factory=dict)     # release -> registry version
    live_accuracy: dict = field(default_factory=dict)
    feedback: list = field(default_factory=list)     # (ValidatedBatch.counts, RetrainDecision) per batch
    quarantine: dict = field(default_factory=dict)   # rows accepted and quarantined, by reason kind
    notes: list = field(default_factory=list)
    seconds: float = 0.0


def _benchmark_function():
    try:
        from tinytorch.core.benchmarking import benchmark_model
    except ImportError:
        return None
    return benchmark_model


def labelled_feedback(X, y, batches, seed=0):
    """``(X, y)`` as ``batches`` labelled batches in a seeded order, the second of them a faulty
    export that data validation must catch: 10 rows in raw 0..16 pixel units, 5 with a missing
    pixel (NaN), 5 with a label outside 0..9 (removed from its good rows), and the first batch's
    first 20 rows sent again. Returns a list of ``(X, y)``; X is float32, y int64."""
    X, y = np.asarray(X, np.float32), np.asarray(y, np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    out = [(X[rows], y[rows]) for rows in np.array_split(order, batches)]
    if batches < 2:
        return out
    X_bad, y_bad = out[1][0].copy(), out[1][1].copy()
    X_bad[:10] *= 16.0
    X_bad[10:15, 0] = np.nan
    y_bad[15:20] = 10
    out[1] = (np.concatenate([X_bad, out[0][0][:20]]), np.concatenate([y_bad, out[0][1][:20]]))
    return out


def _run_canary(pipeline, traffic, result, release, check_every, timeout=60.0):
    """Evaluate the running canary each time both arms have enough evidence, until it is
    promoted or rolled back."""
    deadline = time.monotonic() + timeout
    while pipeline.manager.canary_version is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"canary of {release} undecided after {timeout} s")
        traffic.wait_for(check_every)
        share = pipeline.manager.canary_share
        decision = pipeline.evaluate_canary()
        if decision.action != "wait":
            result.decisions.append((release, share, decision))


def _release_canary(pipeline, traffic, result, model, release, label, min_requests, phase_requests, after):
    """Release ``model`` as a canary, decide it on live traffic, then record the live accuracy
    once ``phase_requests`` more requests were served (as ``after``)."""
    canary = pipeline.deploy_model(model, strategy="canary")
    result.versions[f"{release} ({label})"] = canary.version
    result.validations[release] = canary.validation
    _run_canary(pipeline, traffic, result, f"v{canary.version}", 2 * min_requests)
    traffic.wait_for(phase_requests)
    result.live_accuracy[after] = pipeline.monitor.metrics()["accuracy"]


def run_loop(root, seed=0, clients=3, search_trials=4, epochs=20, phase_requests=800, min_requests=100,
             benchmark=True, feedback_batches=4, learner_options=None):
    """Run the loop once under ``root`` (registry, run log); returns a LoopResult. Servers are
    stopped before it returns, whatever happens. ``phase_requests`` client requests are sent in
    each phase; the canary needs ``min_requests`` per arm and step (smaller: faster, noisier).
    ``benchmark=False`` skips the benchmark step. The new writers' labelled training rows reach
    the continuous learner in ``feedback_batches`` batches; ``learner_options`` go to it (see
    ``MLOpsPipeline``)."""
    from tinytorch.core.compression import quantize_model
    from tinytorch.core.data import load_digits
    from tinytorch.core.kernels import optimize_inference
    from tinytorch.core.mlops.drift import DriftDetector
    from tinytorch.core.mlops.monitoring import AlertRule
    from tinytorch.core.training import Trainer

    started = time.perf_counter()
    data = load_digits()
    validator = ProductionValidator(min_accuracy=0.9)
    pipeline = MLOpsPipeline(root=root, validator=validator, seed=seed,
                             search_trials=search_trials, epochs=epochs,
                             policy=CanaryPolicy(min_requests=min_requests), learner_options=learner_options)
    pipeline.monitor.add_alert(AlertRule("accuracy", "<", 0.85, for_count=min_requests // 2, name="live accuracy < 0.85"))
    result = LoopResult(pipeline, None)
    mark = lambda label: result.phases.append((time.time(), label))  # noqa: E731
    try:
        # 1. train, validate, compress, optimise, benchmark
        trained = pipeline.train_with_trainer(Trainer, data)
        result.trials = list(trained.trials)
        pipeline.validate_model(data.val, model=trained)
        compressed = pipeline.compress_model(quantize_model, trained)
        optimized = pipeline.optimize_inference(optimize_inference, compressed)
        for name, model in (("trained", trained), ("compressed", compressed), ("optimized", optimized)):
            report = pipeline.validator.validate(model, data.test)
            result.stages[name] = {"accuracy": report.measured["accuracy"], "nbytes": int(model.nbytes),
                                   "file_bytes": report.measured["size_bytes"],
                                   "p99_latency_ms": report.measured["p99_latency_ms"]}
        benchmark_fn = _benchmark_function() if benchmark else None
        if not benchmark:
            result.notes.append("benchmark step skipped (benchmark=False)")
        elif benchmark_fn is None:
            result.notes.append("tinytorch.core.benchmarking is not in this tree yet: benchmark step skipped")
        else:
            result.benchmark = pipeline.benchmark_model(benchmark_fn, optimized, sample=data.test[0])

        # 2. register and deploy (blue/green; first release), start live traffic
        deployment = pipeline.deploy_model(optimized)
        result.versions["v1 (trained on the original digits)"] = deployment.version
        result.validations["v1"] = deployment.validation
        traffic = result.traffic = TrafficGenerator(pipeline.predict, *data.test, clients=clients, seed=seed).start()
        traffic.wait_for(phase_requests)
        result.live_accuracy["v1 on original population"] = pipeline.monitor.metrics()["accuracy"]

        # 3. drift: a new population of writers; detect it on the inputs served
        detector = DriftDetector(data.train[0])
        result.drift["clean"] = detector.detect_drift(traffic.recent_inputs(phase_requests // 2))
        traffic.use(thicker_strokes(data.test[0]), data.test[1])
        mark("drift injected")
        traffic.wait_for(phase_requests)
        current = traffic.recent_inputs(phase_requests // 2)
        result.drift["drifted"] = detector.detect_drift(current)
        result.drift["reference"], result.drift["current"] = data.train[0], current
        pipeline.monitor.record_drift(result.drift["drifted"])
        result.live_accuracy["v1 on drifted population"] = pipeline.monitor.metrics()["accuracy"]
        mark(f"drift detected ({result.drift['drifted'].share_drifted:.0%} of pixels)")

        # 4. labelled feedback from the new writers goes to the continuous learner, batch by batch
        #    (one faulty export among them); its triggers decide when to retrain, the challenger
        #    learns new + replayed old rows and must pass the champion/challenger gate
        mark("labelled feedback")
        retrained = None
        for X_batch, y_batch in labelled_feedback(thicker_strokes(data.train[0]), data.train[1],
                                                  feedback_batches, seed):
            batch = pipeline.add_feedback(X_batch, y_batch)
            decision = pipeline.retrain_if_needed()
            result.feedback.append((batch.counts, decision))
            if decision.action in ("refused", "promoted"):
                mark(f"retrain: gate {'passed' if decision.model is not None else 'refused'}")
            if decision.model is not None:
                retrained = decision.model
                break
        result.quarantine = pipeline.quarantine_counts()
        val_mix = (np.concatenate([data.val[0], thicker_strokes(data.val[0])]), np.concatenate([data.val[1]] * 2))
        if retrained is None:
            pipeline.validate_model(val_mix, model=pipeline.candidate)
            result.notes.append("the continuous learner blessed no challenger: no canary of a retrained model")
        else:
            improved = pipeline.optimize_inference(optimize_inference, pipeline.compress_model(quantize_model, retrained))
            improved = pipeline.validate_model(val_mix, model=improved)

            # 5. canary of the blessed challenger, promoted on live evidence
            _release_canary(pipeline, traffic, result, improved, "v2", "retrained by the continuous learner",
                            min_requests, phase_requests, after="after promotion, drifted population")

        # 6. an injected bad release: trained on the stale snapshot, validated on stale data
        stale = pipeline.train_model((data.train[0], data.train[1]))
        try:
            pipeline.deploy_model(pipeline.validate_model(val_mix, model=stale), strategy="canary")
        except PipelineStepError as error:
            result.notes.append(f"the gate on current validation data refused the stale model: {error}")
        stale_opt = pipeline.optimize_inference(optimize_inference, stale)
        stale_opt = pipeline.validate_model(data.val, model=stale_opt)  # the bug: yesterday's validation set
        _release_canary(pipeline, traffic, result, stale_opt, "v3", "injected bad release",
                        min_requests, phase_requests, after="after rollback")
    finally:
        if result.traffic is not None:
            result.traffic.stop()
        pipeline.close()
        result.seconds = time.perf_counter() - started
    return result
