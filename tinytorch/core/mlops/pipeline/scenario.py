"""The whole loop on the shipped digits, end to end, with real servers and real traffic:

train (seeded search) -> validate -> compress -> optimise -> benchmark -> register -> deploy
(blue/green, real HTTP on 127.0.0.1) -> monitor live traffic -> inject drift (thicker strokes)
-> detect it -> retrain on the new population -> canary 10 % -> 50 % -> 100 % -> promote ->
an injected bad release (validated on a stale snapshot) -> canary rollback, with zero failed
client requests throughout. ``run_loop`` returns everything the report shows.
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
    notes: list = field(default_factory=list)
    seconds: float = 0.0


def _benchmark_function():
    try:
        from tinytorch.core.benchmarking import benchmark_model
    except ImportError:
        return None
    return benchmark_model


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


def run_loop(root, seed=0, clients=3, search_trials=4, epochs=20, phase_requests=800, min_requests=100,
             benchmark=True):
    """Run the loop once under ``root`` (registry, run log); returns a LoopResult. Servers are
    stopped before it returns, whatever happens. ``phase_requests`` client requests are sent in
    each phase; the canary needs ``min_requests`` per arm and step (smaller: faster, noisier).
    ``benchmark=False`` skips the benchmark step."""
    from tinytorch.core.compression import quantize_model
    from tinytorch.core.data import load_digits
    from tinytorch.core.kernels import optimize_inference
    from tinytorch.core.mlops.drift import DriftDetector
    from tinytorch.core.mlops.monitoring import AlertRule
    from tinytorch.core.training import Trainer

    started = time.perf_counter()
    data = load_digits()
    # Gates run while client threads share this interpreter with the servers, so the in-process
    # p99 includes waits for the interpreter lock: the ceiling allows for that (25 ms, not 10).
    validator = ProductionValidator(min_accuracy=0.9, max_p99_latency_ms=25.0)
    pipeline = MLOpsPipeline(root=root, validator=validator, seed=seed,
                             search_trials=search_trials, epochs=epochs,
                             policy=CanaryPolicy(min_requests=min_requests))
    pipeline.monitor.add_alert(AlertRule("accuracy", "<", 0.85, for_count=min_requests // 2, name="live accuracy < 0.85"))
    result = LoopResult(pipeline, None)
    mark = lambda label: result.phases.append((time.time(), label))  # noqa: E731
    try:
        # 1. train, validate, compress, optimise, benchmark
        trained = pipeline.train_with_trainer(Trainer, data)
        result.trials = pipeline._provenance[id(trained)]["trials"]
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

        # 4. retrain on old + newly labelled rows of the new population, gate on both
        X_new = np.concatenate([data.train[0], thicker_strokes(data.train[0])])
        y_new = np.concatenate([data.train[1], data.train[1]])
        mark("retrain")
        retrained = pipeline.train_model((X_new, y_new))
        val_mix = (np.concatenate([data.val[0], thicker_strokes(data.val[0])]), np.concatenate([data.val[1]] * 2))
        pipeline.validate_model(val_mix, model=retrained)
        improved = pipeline.optimize_inference(optimize_inference, pipeline.compress_model(quantize_model, retrained))
        pipeline.validate_model(val_mix, model=improved)

        # 5. canary of the retrained model, promoted on live evidence
        canary = pipeline.deploy_model(improved, strategy="canary")
        result.versions["v2 (retrained on both populations)"] = canary.version
        result.validations["v2"] = canary.validation
        _run_canary(pipeline, traffic, result, f"v{canary.version}", 2 * min_requests)
        traffic.wait_for(phase_requests)
        result.live_accuracy["after promotion, drifted population"] = pipeline.monitor.metrics()["accuracy"]

        # 6. an injected bad release: trained on the stale snapshot, validated on stale data
        stale = pipeline.train_model((data.train[0], data.train[1]))
        try:
            pipeline.validate_model(val_mix, model=stale)
            pipeline.deploy_model(stale, strategy="canary")
        except PipelineStepError as error:
            result.notes.append(f"the gate on current validation data refused the stale model: {error}")
        stale_opt = pipeline.optimize_inference(optimize_inference, stale)
        pipeline.validate_model(data.val, model=stale_opt)     # the bug: yesterday's validation set
        bad = pipeline.deploy_model(stale_opt, strategy="canary")
        result.versions["v3 (injected bad release)"] = bad.version
        result.validations["v3"] = bad.validation
        _run_canary(pipeline, traffic, result, f"v{bad.version}", 2 * min_requests)
        traffic.wait_for(phase_requests)
        result.live_accuracy["after rollback"] = pipeline.monitor.metrics()["accuracy"]
    finally:
        if result.traffic is not None:
            result.traffic.stop()
        pipeline.close()
        result.seconds = time.perf_counter() - started
    return result
