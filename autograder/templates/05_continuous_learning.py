# %% [markdown]
# # Module 05: continuous learning that decides with evidence and undoes its mistakes
#
# A digits model is deployed with 97 % accuracy. One Monday a new school starts sending forms:
# its pupils slant their digits and write with a lighter pen. Nothing crashes, no error is
# logged, and accuracy quietly falls to about 57 %. Continuous learning is the loop that notices,
# retrains on the new data, and deploys the new model only if it is really better, and takes it
# back if live traffic says otherwise.
#
# Production systems split that loop into parts you will recognise: **triggers** (SageMaker
# Model Monitor and Evidently raise drift alarms; cron jobs retrain on a schedule), an
# **evaluator** that "blesses" a candidate against thresholds (TFX's Evaluator, with *value*
# thresholds and *change* thresholds against the baseline, the latter skipped on the first run),
# a **registry alias** that moves on promotion (MLflow's `champion`), and a **rollback** when the
# deployed model misbehaves. Their known failure modes: gates that flip-flop between two nearly
# equal models, and detectors whose defaults raise false alarms on stable streams.
#
# **Objectives.** After this notebook you can
# - turn drift reports, accuracy, data volume and model age into a retrain decision with named
#   reasons, and explain why a retrain also needs enough new data;
# - gate a challenger against the champion on held-out recent data *and* a fixed golden set,
#   with margins, and handle the first run without a champion;
# - decide a rollback from a paired live comparison of the new and the old champion;
# - read the whole loop on a real drift: accuracy over the stream with every decision marked.
#
# **You will build** three pieces, each the same code `tinytorch.core.mlops.continuous` runs:
# `should_retrain`, `challenger_passes_gate` and `should_rollback`.
#
# **Grading** works as in 01 (the hidden checks train real models on the digits).
#
# **Build, use, export.** After a task's test passes, run the `export(...)` cell below it: from
# then on your `tinytorch` runs your code, here, after a restart and in later notebooks. The
# library's `ContinuousLearner` is complete except for your three pieces, and it keeps its
# models in the registry you built in 01;
# until a piece is exported, a cell that needs it stops with a message naming the task.

# %% provided id=setup
# Set-up. Binder and a laptop: the student repository's requirements.txt has installed its
# tinytorch, whose graded functions run the answers you export. Colab: this installs that
# tinytorch from the student repository (about a minute).
# Keep the course's notebooks together in one folder: in Colab your Drive's "Colab Notebooks"
# (where "Save a copy in Drive" puts them; allow Drive access when asked), in Binder the folder
# of this notebook (download each finished notebook and upload it again in a new session).
# Your exports are saved beside them in tinytorch-answers/, and `start` rebuilds a piece you did
# not export from your earlier notebook there.
import importlib.util, subprocess, sys
if importlib.util.find_spec("tinytorch") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "tinytorch-mlops @ git+{{REPOSITORY_URL}}"])
from tinytorch.export import export, require, start

start("05_continuous_learning")

import tempfile
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

# %% [markdown]
# ## 0. The drift, measured
#
# The scenario is real computation on the shipped digits. The deployed model (an MLP with 128
# hidden units) is trained on the old writers. The test split is then rewritten by the new
# writers: each image sheared by a slant drawn per image, its ink scaled by a pen pressure. The
# labels are unchanged; only the inputs moved.

# %% code
from tinytorch.core.mlops.continuous import new_writers, writer_drift_scenario
from tinytorch.core.training import accuracy

scenario = writer_drift_scenario(drifted_batches=20)
deployed, _ = scenario.train_champion()
X_old, y_test = scenario.test_before
X_new = scenario.test_after[0]
print(f"deployed model, old writers: {accuracy(deployed.predict(X_old), y_test):.3f}")
print(f"deployed model, new writers: {accuracy(deployed.predict(X_new), y_test):.3f}")

fig, axes = plt.subplots(2, 8, figsize=(9, 2.6))
for i in range(8):
    axes[0, i].imshow(X_old[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[1, i].imshow(X_new[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[0, i].set_title(str(y_test[i]))
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("the same digits, old writers (top) and new writers (bottom)")
plt.show()

# %% [markdown]
# ## 1. Triggers: when to retrain
#
# Four independent reasons to retrain, each a rule you can switch off:
#
# | trigger | fires when | catches |
# |---|---|---|
# | `drift` | the drift detector says the inputs moved | change *before* labels arrive |
# | `accuracy_decay` | recent accuracy $<$ baseline $-$ tolerance | change that hurts, whatever its cause |
# | `new_data` | at least $N$ new labelled rows | slow change no alarm sees |
# | `schedule` | the model is older than a maximum age | everything else, at a cost |
#
# A trigger says *why* one would retrain. Whether one *can* is a separate question: with 30 new
# rows a retrain cannot learn a new population, and the gate below would judge it on noise. So
# the decision is: at least one trigger fires **and** at least `min_new_samples` rows are there.
# The reasons are returned even when the answer is "wait", so the audit log can say what the
# loop is waiting for.
#
# The two records the function reads are given:

# %% provided id=trigger_types
#| provided tinytorch.core.mlops.continuous.triggers:RetrainPolicy


#| provided tinytorch.core.mlops.continuous.triggers:StreamStatus

# %% [markdown]
# **Task 1 (4 points).** Implement `should_retrain(status, policy)` as its docstring says. The
# decay comparison is strict: exactly at the tolerance is not decay.

# %% solution id=should_retrain
#| solution tinytorch.core.mlops.continuous.triggers:should_retrain

# %% test id=should_retrain points=4
policy = RetrainPolicy(accuracy_tolerance=0.05, new_data_samples=1000, retrain_every_seconds=3600,
                       min_new_samples=200)
calm = StreamStatus(drift_detected=False, baseline_accuracy=0.97, recent_accuracy=0.96,
                    new_samples=300, seconds_since_retrain=60.0)


def decided(status):
    retrain, reasons = should_retrain(status, policy)
    return bool(retrain), list(reasons)


assert decided(calm) == (False, []), "a calm stream does not retrain"
drifted = StreamStatus(True, 0.97, 0.96, 300, 60.0)
assert decided(drifted) == (True, ["drift"]), f"drift alone retrains; got {decided(drifted)}"
decayed = StreamStatus(False, 0.97, 0.90, 300, 60.0)
assert decided(decayed) == (True, ["accuracy_decay"]), f"0.97 -> 0.90 is more than 0.05 lost; got {decided(decayed)}"
everything = StreamStatus(True, 0.97, 0.5, 5000, 7200.0)
assert decided(everything) == (True, ["drift", "accuracy_decay", "new_data", "schedule"])
too_little = StreamStatus(True, 0.97, 0.5, 50, 60.0)
assert decided(too_little) == (False, ["drift", "accuracy_decay"]), "with too little new data: wait, but report the reasons"
print("should_retrain: visible checks passed")

# %% code
export("05_continuous_learning", should_retrain)

# %% [markdown]
# ## 2. The champion/challenger gate
#
# A retrained model (the *challenger*) is scored, together with the deployed *champion*, on two
# data sets neither was trained on:
#
# - **recent data**: a held-out share of the new rows, i.e. the population the model will serve.
#   The challenger must beat the champion by a margin $m$:
#   $\text{acc}_\text{chal} \ge \text{acc}_\text{champ} + m$. Without a margin, two equally good
#   models swap places on noise every retrain (on 300 rows the standard error of an accuracy near
#   0.95 is $\sqrt{0.95 \cdot 0.05 / 300} \approx 1.3$ points);
# - a **golden set**: fixed, curated, never trained on. The challenger may lose at most a
#   tolerance $t$ here: a model that learnt the new writers by forgetting the old ones is refused.
#
# Plus TFX's *value threshold*, an absolute floor that applies even on the first run, when there
# is no champion and the change thresholds are skipped.

# %% provided id=gate_types
#| provided tinytorch.core.mlops.continuous.gate:GatePolicy


#| provided tinytorch.core.mlops.continuous.gate:GateResult

# %% [markdown]
# **Task 2 (4 points).** Implement `challenger_passes_gate(challenger, champion, policy)` as its
# docstring says. Every threshold is inclusive: a challenger exactly on it passes.

# %% solution id=challenger_passes_gate
#| solution tinytorch.core.mlops.continuous.gate:challenger_passes_gate

# %% test id=challenger_passes_gate points=4
gate = GatePolicy(min_accuracy=0.8, min_improvement=0.01, golden_tolerance=0.02)
champion_scores = {"recent_accuracy": 0.90, "golden_accuracy": 0.97}
better = challenger_passes_gate({"recent_accuracy": 0.95, "golden_accuracy": 0.96}, champion_scores, gate)
assert better.passed and len(better.reasons) == 3, "better on recent data, within tolerance on golden"
forgetful = challenger_passes_gate({"recent_accuracy": 0.99, "golden_accuracy": 0.90}, champion_scores, gate)
assert not forgetful.passed and "failed" in forgetful.reasons[2].lower(), "it forgot the old writers"
noise = challenger_passes_gate({"recent_accuracy": 0.905, "golden_accuracy": 0.97}, champion_scores, gate)
assert not noise.passed, "half a point is within the margin: keep the champion"
first = challenger_passes_gate({"recent_accuracy": 0.85, "golden_accuracy": 0.5}, None, gate)
assert first.passed and len(first.reasons) == 2, "first run: floor only, and say the rest was skipped"
print("challenger_passes_gate: visible checks passed")

# %% code
export("05_continuous_learning", challenger_passes_gate)

# %% [markdown]
# ## 3. Rollback: let live traffic overrule the gate
#
# The gate judged the challenger on a few hundred held-out rows; live traffic is the real test,
# and it can differ (here: the new school was a pilot, and the old writers come back). After a
# promotion the previous champion keeps predicting the same labelled live rows in the *shadow*
# (it answers no one), so the two are compared on exactly the same rows: a difference in traffic
# cannot explain a gap. The new champion is on probation: after `min_samples` rows it can be
# rolled back; after `probation_samples` rows without a rollback it is kept.

# %% provided id=rollback_types
#| provided tinytorch.core.mlops.continuous.rollback:RollbackPolicy

# %% [markdown]
# **Task 3 (3 points).** Implement `should_rollback(new_correct, old_correct, policy)` as its
# docstring says: "wait" before `min_samples` however bad it looks, and outcomes may come as lists
# or as NumPy boolean arrays.

# %% solution id=should_rollback
#| solution tinytorch.core.mlops.continuous.rollback:should_rollback

# %% test id=should_rollback points=3
probation = RollbackPolicy(min_samples=100, probation_samples=400, tolerance=0.0)
assert should_rollback([0] * 50, [1] * 50, probation) == "wait", "50 rows are not enough evidence"
assert should_rollback([1] * 90 + [0] * 10, [1] * 99 + [0], probation) == "rollback", "0.90 new vs 0.99 old on 100 rows"
assert should_rollback([1] * 100, [1] * 100, probation) == "wait", "as good, but probation is not over"
assert should_rollback([1] * 400, [1] * 399 + [0], probation) == "keep", "probation over (400 rows) and no worse: keep"
try:
    should_rollback([1, 1], [1], probation)
    raise AssertionError("different lengths must raise ValueError: compare on the same rows")
except ValueError:
    pass
print("should_rollback: visible checks passed")

# %% code
export("05_continuous_learning", should_rollback)

# %% [markdown]
# ## 4. The loop on the stream
#
# The library's `ContinuousLearner` composes the three pieces (the ones you exported) with a
# `DataPipeline` that quarantines bad rows, retraining with the tinytorch `Trainer` on a mix of
# the new rows and as many replayed old ones, a registry whose `champion` alias moves on
# promotion and rollback, and an append-only audit log. `AutoRetrainer` feeds it the stream batch
# by batch; each batch is first scored by the deployed model, before anything learns from it.
#
# Two runs: the new school stays (recovery), and a pilot school leaves again after four batches
# while the gate is misconfigured (no golden-set check, no replay), so a model that forgot the
# old writers is promoted and must be rolled back.

# %% code
require("01_registry", "content_hash", "atomic_write_bytes", "allocate_version", "AliasHistory",
        "03_monitoring", "chi_square_test", "05_continuous_learning")  # every piece the loop runs, listed at once
from tinytorch.core.mlops.continuous import (
    GatePolicy as LibraryGatePolicy, RetrainConfig, plot_stream, run_scenario,
)

recovery = run_scenario(scenario, tempfile.mkdtemp(prefix="continuous-"))
pilot = run_scenario(writer_drift_scenario(clean_batches=3, drifted_batches=4, recovered_batches=6),
                     tempfile.mkdtemp(prefix="continuous-"), gate=LibraryGatePolicy(golden_tolerance=1.0),
                     config=RetrainConfig(replay_ratio=0))

fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
plot_stream(recovery.auto.history, ax=top, title="the new writers stay: retrain, gate, promote")
plot_stream(pilot.auto.history, ax=bottom, title="a pilot school leaves again: promote, then roll back")
fig.tight_layout()
plt.show()
print(f"test accuracy: before drift {recovery.before:.3f}, after drift {recovery.drifted:.3f}, "
      f"after retraining {recovery.retrained:.3f}")
for step in recovery.auto.events() + pilot.auto.events():
    print(f"batch {step.index:2d}: {step.action:11s} {step.reason}")

# Every decision is in the audit log, one JSON line each, never rewritten:
for event in pilot.learner.audit.events():
    if event["event"] in ("gate", "promotion", "rollback"):
        print(event["time"][11:23], event["event"], {k: v for k, v in event.items()
                                                     if k in ("version", "passed", "reason", "restored")})

# %% [markdown]
# ## Systems thinking (written answer, 2 points)
#
# Answer **two** of these questions in the answer cell below, a short paragraph each. Your
# instructor grades it by hand: a point for each answer that names the mechanism at work and
# what it costs.
#
# 1. The first retrain after the drift onset was refused by the golden set, not by the recent
#    data. What did that challenger learn from, and why would promoting it have been a mistake?
# 2. Accuracy decay needs labels; drift detection does not. In your domain, how long do labels
#    take to arrive, and what does that imply for which trigger must act first?
# 3. The rollback compares the two models on the same rows. Why is comparing today's live accuracy
#    with the old champion's accuracy last week not good enough?
# 4. A gate margin of 1 point refused two challengers that were probably as good as the champion.
#    What does a larger margin cost, and what does a smaller one cost?

# %% answer id=systems_thinking points=2
# Grading guide (instructors only; the release shows YOUR ANSWER HERE). 1 point per answer, at most 2:
# the answer names the mechanism and what it costs or risks. For example: 1. it learned from
# a window mixing old and new data (or too little new data); it would do worse on what matters,
# which the golden set measures. 2. when labels take days or weeks, drift (or proxy metrics) must
# trigger first, and accuracy confirms later. 3. the data changed between the two weeks, so the
# difference mixes model and data; only the same rows isolate the model. 4. a larger margin keeps
# a worse champion longer (missed improvements); a smaller one promotes noise (churn, risk).

# %% code
# Submit: save this notebook (File > Save, or Ctrl-S), then run this cell. It runs the notebook
# from the top in a fresh kernel, as the grader will, lists what the grader would find wrong,
# and writes the file to upload, whatever your copy is called (in Colab it is downloaded too):
# submission/05_continuous_learning.ipynb
# From a terminal: python -m tinytorch.submission "Copy of 05_continuous_learning.ipynb"
from tinytorch.submission import check_and_package

check_and_package("05_continuous_learning")
