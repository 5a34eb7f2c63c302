"""The new-writers drift scenario, end to end, with its figures.

Streams 5 batches of the old writers and 30 of new writers (slanted, lighter pen; 50 labelled
rows a batch) through a ContinuousLearner and prints: test accuracy of the deployed model before
the drift, on the new writers without retraining, and of the final champion after retraining;
every gate decision, promotion and rollback; and the same for a temporary drift with a
misconfigured gate, which the live comparison rolls back. Run twice in the same process to show
the run is reproducible.

    .venv/bin/python benchmarks/continuous_scenario.py
"""

import tempfile
import time

from tinytorch.core.mlops.continuous import (
    GatePolicy, RetrainConfig, run_scenario, writer_drift_scenario,
)


def show(run, title):
    print(f"\n== {title}")
    print(f"accuracy before drift (old writers, deployed model):   {run.before:.4f}")
    print(f"after drift, no retraining (new writers):              {run.drifted:.4f}"
          f"   ({100 * (run.before - run.drifted):+.1f} points lost)")
    print(f"after retraining (new writers, final champion):        {run.retrained:.4f}"
          f"   ({100 * (run.retrained - run.before):+.1f} points vs before)")
    print(f"final champion on the old writers:                     {run.retrained_old_writers:.4f}")
    counts = run.learner.pipeline.counts
    print(f"rows accepted {counts['accepted']}, quarantined {sum(counts.values()) - counts['accepted']}")
    for step in run.auto.events():
        print(f"  batch {step.index:2d} ({'new' if step.drifted else 'old'} writers) "
              f"{step.action:11s} champion={step.champion}: {step.reason}")
    return [(s.accuracy, s.action, s.champion) for s in run.auto.history]


def main():
    with tempfile.TemporaryDirectory() as root:
        started = time.process_time()
        first = show(run_scenario(writer_drift_scenario(), f"{root}/a"), "writer drift, default learner")
        seconds = time.process_time() - started
        second = [(s.accuracy, s.action, s.champion)
                  for s in run_scenario(writer_drift_scenario(), f"{root}/b").auto.history]
        print(f"\nCPU seconds for one run: {seconds:.1f}; second run identical: {first == second}")
        show(run_scenario(writer_drift_scenario(clean_batches=3, drifted_batches=4, recovered_batches=6),
                          f"{root}/c", gate=GatePolicy(golden_tolerance=1.0),
                          config=RetrainConfig(replay_ratio=0)),
             "temporary drift, gate without golden set, no replay (rollback expected)")


if __name__ == "__main__":
    main()
