"""MLOpsPipeline and DeploymentManager on real models, real files and real HTTP (127.0.0.1)."""

import copy
import importlib
import pkgutil

import numpy as np
import pytest

from tinytorch.core.data import load_digits
from tinytorch.core.layers import mlp
from tinytorch.core.mlops.pipeline import (
    CanaryPolicy, DeploymentError, DeploymentManager, MLOpsPipeline, PipelineStepError, ProductionValidator,
)
from tinytorch.core.mlops.registry import ModelRegistry
from tinytorch.core.training import train_digits_classifier

DIGITS = load_digits()
X_TEST, Y_TEST = DIGITS.test


@pytest.fixture(scope="module")
def models():
    good, _ = train_digits_classifier(hidden=(16,), epochs=8, seed=0)
    other, _ = train_digits_classifier(hidden=(16,), epochs=8, seed=1)
    shuffled = load_digits()
    rng = np.random.default_rng(0)
    bad_labels = type(shuffled)(train=(shuffled.train[0], rng.permutation(shuffled.train[1])), val=shuffled.val,
                                test=shuffled.test, num_classes=10, input_shape=(64,))
    bad, _ = train_digits_classifier(hidden=(16,), epochs=3, seed=0, data=bad_labels, patience=None)
    return {"good": good, "other": other, "bad": bad}


class RequestClock:
    """The router's timer in these tests: every request takes 1 ms, plus ``extra[version]``
    seconds for the versions a test slows down. Latency verdicts then depend on the versions
    served, never on how busy the machine is."""

    def __init__(self):
        self.now, self.extra, self.calls = 0.0, {}, 0

    def __call__(self):
        self.calls += 1
        if self.calls % 2 == 0:  # the end of a request
            self.now += 0.001
        return self.now

    def slow_down(self, backend, seconds):
        predict = backend.predict

        def slow_predict(x):
            self.now += seconds
            return predict(x)

        backend.predict = slow_predict


@pytest.fixture
def clock():
    return RequestClock()


@pytest.fixture
def manager(tmp_path, models, clock):
    registry = ModelRegistry(tmp_path / "registry", default_name="digits")
    for key in ("good", "other", "bad"):
        registry.register_model(models[key], tags={"key": key})
    with DeploymentManager(registry, name="digits", smoke_rows=X_TEST[:8],
                           policy=CanaryPolicy(min_requests=60, latency_slack_ms=2.0), timer=clock) as running:
        yield running


def drive(manager, n, offset=0):
    for i in range(n):
        row = (offset + i) % len(X_TEST)
        manager.router.predict(f"unit-{offset + i}", X_TEST[row], int(Y_TEST[row]))


def test_blue_green_switches_and_keeps_blue_warm(manager, models):
    manager.deploy_blue_green("1")
    drive(manager, 20)
    manager.deploy_blue_green("2")
    assert manager.stable_version == "2" and manager.previous.version == "1"
    assert manager.registry.get_alias("champion").version == "2"
    url = manager.router.stable.url
    from tinytorch.core.mlops.serving import InferenceEndpoint
    served = InferenceEndpoint(url, model_name="digits").predict(X_TEST[:50])
    assert np.array_equal(served, models["other"].predict(X_TEST[:50]))
    manager.finish_release()
    assert not manager.previous


def test_a_failed_release_leaves_the_previous_version_serving(manager, monkeypatch):
    manager.deploy_blue_green("1")
    with pytest.raises(DeploymentError, match="still serving version 1"):
        manager.deploy_blue_green("9")
    assert manager.stable_version == "1"

    def refuse(*args, **kwargs):
        raise OSError("registry disk full")

    monkeypatch.setattr(manager.registry, "set_alias", refuse)
    with pytest.raises(DeploymentError) as error:
        manager.deploy_blue_green("2")
    statuses = {r.name: r.status for r in error.value.records}
    assert statuses == {"start_green": "undone", "switch_traffic": "undone", "set_champion_alias": "failed"}
    assert manager.stable_version == "1" and manager.router.client_failures == 0
    drive(manager, 10)
    assert manager.router.arms["stable"].errors == 0


def test_blue_green_rolls_back_on_accuracy_regression(manager):
    manager.deploy_blue_green("1")
    drive(manager, 80)
    manager.deploy_blue_green("3")  # the model trained on shuffled labels
    drive(manager, 80, offset=80)
    decision = manager.check_release()
    assert decision.action == "rollback" and "accuracy" in decision.reasons[0]
    assert manager.stable_version == "1"
    assert manager.registry.get_alias("champion").version == "1"


def test_canary_promotes_a_good_version_step_by_step(manager):
    manager.deploy_blue_green("1")
    manager.start_canary("2")
    actions, offset = [], 0
    while manager.canary_version is not None and offset < 5000:
        drive(manager, 100, offset)
        offset += 100
        actions.append(manager.evaluate_canary().action)
    assert actions[-1] == "advance" and "rollback" not in actions
    assert manager.stable_version == "2" and manager.registry.get_alias("champion").version == "2"
    assert [e.action for e in manager.events] == ["deploy", "canary_start", "canary_advance", "promote"]
    assert manager.router.client_failures == 0


def test_a_slow_canary_is_rolled_back_on_latency(manager, clock):
    """Each canary request takes 5 ms more than stable's 1 ms: above 1.5 * 1 + 2 ms."""
    manager.deploy_blue_green("1")
    manager.start_canary("2")
    clock.slow_down(manager.router.canary, 0.005)
    offset = 0
    while manager.canary_version is not None and offset < 3000:
        drive(manager, 100, offset)
        offset += 100
        decision = manager.evaluate_canary()
    assert decision.action == "rollback"
    assert decision.reasons == ("p99 latency 6.00 ms vs stable 1.00 ms",)
    assert manager.stable_version == "1" and manager.router.client_failures == 0


def test_a_crashed_canary_is_rolled_back_with_no_failed_client_request(manager):
    manager.deploy_blue_green("1")
    manager.start_canary("2")
    manager.router.canary.server.stop()  # the canary process dies: connections refused
    offset = 0
    while manager.canary_version is not None and offset < 3000:
        drive(manager, 100, offset)
        offset += 100
        decision = manager.evaluate_canary()
    assert decision.action == "rollback" and "error rate" in decision.reasons[0]
    assert manager.router.client_failures == 0
    retried = [r for r in manager.router.log if r.retried]
    assert retried and all(r.ok and r.arm == "stable" for r in retried)


def test_the_seed_integration_block_runs_verbatim():
    pytest.importorskip("tinytorch.core.benchmarking")
    data = DIGITS
    # --- the seed's block, verbatim ---
    from tinytorch.core.training import Trainer
    from tinytorch.core.compression import quantize_model
    from tinytorch.core.kernels import optimize_inference
    from tinytorch.core.benchmarking import benchmark_model
    from tinytorch.core.mlops import MLOpsPipeline

    # End-to-end pipeline
    pipeline = MLOpsPipeline()
    trained_model = pipeline.train_with_trainer(Trainer, data)
    compressed_model = pipeline.compress_model(quantize_model, trained_model)
    optimized_model = pipeline.optimize_inference(optimize_inference, compressed_model)
    benchmark_results = pipeline.benchmark_model(benchmark_model, optimized_model)
    deployed_model = pipeline.deploy_model(optimized_model)
    # ---
    try:
        assert benchmark_results is not None
        assert np.mean(deployed_model.predict(X_TEST) == Y_TEST) > 0.9
    finally:
        pipeline.close()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    with MLOpsPipeline(root=tmp_path_factory.mktemp("pipeline"), search_trials=2, epochs=6,
                       search_space={"hidden": [(16,)], "lr": [0.01, 0.02]}) as running:
        yield running


def test_seed_retraining_calls_and_lineage(pipeline):
    from tinytorch.core.kernels import optimize_inference
    from tinytorch.core.training import Trainer

    first = pipeline.optimize_inference(optimize_inference, pipeline.train_with_trainer(Trainer, DIGITS))
    v1 = pipeline.deploy_model(first)
    new_data = DIGITS.train
    validation_data = DIGITS.val
    # --- the seed's calls ---
    improved_model = pipeline.train_model(new_data)
    pipeline.validate_model(validation_data)
    deployed = pipeline.deploy_model(improved_model)
    # ---
    assert pipeline.manager.stable_version == deployed.version != v1.version
    lineage = pipeline.lineage(deployed.version)
    record = lineage["version"]
    assert record.lineage.parent_version == v1.version and record.lineage.data_hash
    trials = record.params["search"]["trials"]
    assert len(trials) == 2 and trials[0]["val_accuracy"] >= trials[1]["val_accuracy"]
    groups = [entry["group"] for entry in lineage["run"]["entries"]]
    assert groups[:3] == ["train", "optimize", "deploy"] and "validate" in groups
    steps = lineage["run"]["entries"][groups.index("deploy")]["steps"]
    assert [s["name"] for s in steps] == ["release_gates", "register", "blue_green"]
    assert all(s["status"] == "ok" and s["seconds"] >= 0 for s in steps)


def test_a_model_failing_the_gates_is_refused_and_the_champion_keeps_serving(pipeline, models):
    before = pipeline.manager.stable_version
    versions = len(pipeline.registry.list_versions())
    with pytest.raises(PipelineStepError, match=f"accuracy_floor.*version {before} keeps serving"):
        pipeline.deploy_model(models["bad"])
    assert pipeline.manager.stable_version == before
    assert len(pipeline.registry.list_versions()) == versions
    last = pipeline.run_log.entries[-1]["steps"]
    assert [s["status"] for s in last] == ["failed", "skipped", "skipped"]
    assert pipeline.predict("u", X_TEST[0], int(Y_TEST[0])) in range(10)


def test_a_model_is_never_released_on_another_models_report(pipeline, models, monkeypatch):
    """A report belongs to the model it measured, not to its ``id()``. A new model may reuse the
    memory, so the ``id()``, of a validated one that was freed; whether it does is up to the
    allocator, so here every model has the same ``id()`` in the pipeline's modules, and an
    untrained model must still face the release gates."""
    import tinytorch.core.mlops.pipeline as package

    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        monkeypatch.setattr(importlib.import_module(info.name), "id", lambda obj: 0, raising=False)
    pipeline.validate_model(DIGITS.test, model=copy.deepcopy(models["good"]))
    untrained = mlp([64, 16, 10], seed=0)
    assert np.mean(untrained.predict(X_TEST) == Y_TEST) < 0.5
    versions = len(pipeline.registry.list_versions())
    with pytest.raises(PipelineStepError, match="accuracy_floor"):
        pipeline.deploy_model(untrained)
    assert len(pipeline.registry.list_versions()) == versions


def test_bad_input_gets_clear_errors(pipeline):
    with pytest.raises(ValueError, match="train, .val and .test"):
        pipeline.train_with_trainer(object, (X_TEST, Y_TEST))
    with pytest.raises(ValueError, match="strategy"):
        pipeline.deploy_model(None, strategy="yolo")
    with pytest.raises(ValueError, match=r"\(X, y\)"):
        pipeline.validate_model(X_TEST)
    with pytest.raises(ValueError, match="min_accuracy"):
        ProductionValidator(min_accuracy=-1)


@pytest.fixture
def learning(tmp_path):
    """A pipeline serving a small model, its continuous learner on a permissive or strict gate."""
    from tinytorch.core.kernels import optimize_inference
    from tinytorch.core.mlops.continuous import GatePolicy, RetrainConfig, RetrainPolicy
    from tinytorch.core.training import Trainer

    def make(gate):
        running = MLOpsPipeline(root=tmp_path / "learning", search_trials=1, epochs=6,
                                validator=ProductionValidator(min_accuracy=0.5),
                                search_space={"hidden": [(16,)], "lr": [0.02]},
                                learner_options={"policy": RetrainPolicy(min_new_samples=100), "gate": gate,
                                                 "config": RetrainConfig(epochs=6), "window": 100})
        running.deploy_model(running.optimize_inference(optimize_inference, running.train_with_trainer(Trainer, DIGITS)))
        return running

    made = []
    yield lambda gate=GatePolicy(min_accuracy=0.0, min_improvement=-1.0, golden_tolerance=1.0): made.append(make(gate)) or made[-1]
    for running in made:
        running.close()


def faulty_feedback():
    from tinytorch.core.mlops.pipeline.scenario import labelled_feedback
    from tinytorch.core.mlops.pipeline.traffic import thicker_strokes

    return labelled_feedback(thicker_strokes(DIGITS.train[0]), DIGITS.train[1], batches=3, seed=0)


def test_feedback_is_validated_and_a_blessed_challenger_goes_out_as_a_canary(learning):
    pipeline = learning()
    batches = faulty_feedback()
    decisions = []
    for X, y in batches[:2]:
        pipeline.add_feedback(X, y)
        decisions.append(pipeline.retrain_if_needed())
    counts = pipeline.quarantine_counts()
    assert {k: v for k, v in counts.items() if k != "accepted"} == {
        "out_of_range": 10, "non_finite": 5, "bad_label": 5, "duplicate": 20}
    assert counts["accepted"] == len(batches[0][1]) + len(batches[1][1]) - 40
    assert "drift" in decisions[0].triggers and decisions[0].action == "promoted"
    challenger = decisions[0].model
    canary = pipeline.deploy_model(challenger, strategy="canary")
    record = pipeline.registry.get_version(canary.version)
    assert record.tags["produced_by"] == "retrain" and record.tags["challenger"] == f"digits-continuous/{decisions[0].version}"
    assert record.lineage.parent_version == "1"
    events = [e["event"] for e in pipeline.audit_log.events()]
    assert events[:4] == ["deployed", "retrain_check", "retrain", "gate"] and "quarantine" in events
    assert pipeline.registry.get_alias("champion").version == "1"   # the canary is not live yet
    groups = [entry["group"] for entry in pipeline.run_log.entries]
    assert groups.count("feedback") == 2 and groups.count("retrain") == 2


def bless_a_challenger(learning):
    """A pipeline whose continuous learner blessed a challenger after one feedback batch, and
    that challenger (a Candidate)."""
    pipeline = learning()
    pipeline.add_feedback(*faulty_feedback()[0])
    return pipeline, pipeline.retrain_if_needed().model


def test_a_blessed_challenger_is_the_learners_champion_only_once_its_canary_is_promoted(learning):
    pipeline, blessed = bless_a_challenger(learning)
    learner = pipeline.continuous
    serving = pipeline._released["1"].trained
    pipeline.deploy_model(blessed, strategy="canary")
    assert learner.champion is serving and learner.pending.model is blessed.model
    pipeline.manager.rollback_canary("test")
    X, y = faulty_feedback()[2]
    pipeline.add_feedback(X[:50] * 0.5, y[:50])
    assert pipeline.continuous is learner and learner.champion is serving

    canary = pipeline.deploy_model(blessed, strategy="canary")
    pipeline.promote_canary()
    assert pipeline.manager.stable_version == canary.version
    assert learner.champion is blessed.model and learner.previous.model is serving
    assert pipeline.audit_log.events("promotion")[-1]["version"] == blessed.challenger.split("/")[1]


def test_a_learner_rollback_switches_serving_back_and_a_foreign_release_resets_the_learner(learning):
    pipeline, blessed = bless_a_challenger(learning)
    learner = pipeline.continuous
    canary = pipeline.deploy_model(blessed, strategy="canary")
    pipeline.promote_canary()
    assert pipeline.manager.stable_version == canary.version
    restored = learner.release.roll_back(learner.deployment.version, learner.previous.version)
    assert restored == learner.previous.version and pipeline.manager.stable_version == "1"

    pipeline.deploy_model(pipeline.candidate)   # a release the learner did not bless
    assert pipeline.continuous is None
    assert pipeline.audit_log.events("learner_reset")[-1]["reason"] == "a version the learner did not bless went live"


def test_a_challenger_refused_by_the_gate_is_never_released(learning):
    from tinytorch.core.mlops.continuous import GatePolicy

    pipeline = learning(GatePolicy(min_accuracy=1.01))
    X, y = faulty_feedback()[0]
    pipeline.add_feedback(X, y)
    decision = pipeline.retrain_if_needed()
    assert decision.action == "refused" and decision.model is None and "value threshold" in decision.reason
    assert pipeline.audit_log.events("gate")[0]["passed"] is False
    assert len(pipeline.registry.list_versions()) == 1 and pipeline.manager.canary_version is None


def test_feedback_errors_are_clear(learning, tmp_path):
    with MLOpsPipeline(root=tmp_path / "empty") as empty, pytest.raises(RuntimeError, match="deploy_model"):
        empty.add_feedback(X_TEST, Y_TEST)
    pipeline = learning()
    with pytest.raises(PipelineStepError, match="one label per row"):
        pipeline.add_feedback(X_TEST[:5], Y_TEST[:4])
