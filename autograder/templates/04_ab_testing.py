# %% [markdown]
# # Module 04: A/B testing and safe rollout
#
# A new model scores better offline. Does it serve users better? The only honest answer comes from
# live traffic: send some users to the new model, keep the rest on the old one, and compare. Done
# carelessly this goes wrong in ways that look like success: users flip between models, the split
# silently drifts from 80/20, and a team that checks the dashboard every morning "finds" winners
# that are pure noise.
#
# **You will build** the five pieces that make an experiment trustworthy, each the same code the
# `tinytorch.core.mlops.experiments` library runs:
#
# 1. `fnv1a_32`: a hash that is identical in every process, language and restart;
# 2. `assign_variant`: sticky, deterministic assignment of users to variants by weight;
# 3. `two_proportion_ztest`: is treatment's conversion rate really different?
# 4. `srm_check`: the sample-ratio-mismatch alarm that tells you when *not* to trust a result;
# 5. `msprt_log_likelihood_ratio`: a sequential test you may check after every user.
#
# Then you will run an A/B test of two real digits models, watch peeking produce false winners in
# a simulation, and roll a bad model out as a canary and back.
#
# **Grading** works as in 01.
#
# **Build, use, export.** After a task's test passes, run the `export(...)` cell below it: from
# then on your `tinytorch` runs your code, here, after a restart and in later notebooks. The
# library's routers assign users with your `assign_variant`;
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

start("04_ab_testing")

import math

import matplotlib.pyplot as plt
import numpy as np

# %% [markdown]
# ## 1. A hash that survives restarts
#
# Assignment must be **sticky**: user 42 sees the same model on every request, on every server
# replica, after every deploy. Storing a user-to-variant table works but needs a shared database
# on the request path. GrowthBook, Statsig and Optimizely instead *compute* the variant from a
# hash of (experiment seed, user id), so any process anywhere agrees without talking to anyone.
#
# The hash must be the same everywhere. Python's built-in `hash()` is not: it is salted per
# process (`PYTHONHASHSEED`), so an assignment built on it reshuffles every user at each restart.
# GrowthBook's SDKs use **FNV-1a 32-bit**, which fits in four lines:
#
# $$h_0 = \texttt{0x811C9DC5},\qquad h_{i+1} = \big((h_i \oplus \text{byte}_i) \times \texttt{0x01000193}\big) \bmod 2^{32}$$
#
# (FNV-1, its older sibling, multiplies *before* the XOR; the order matters.)
#
# **Task 1 (2 points).** Implement `fnv1a_32(text)` over the UTF-8 bytes of `text`.

# %% solution id=fnv1a_32
#| solution tinytorch.core.mlops.experiments.hashing:fnv1a_32

# %% test id=fnv1a_32 points=2
assert fnv1a_32("") == 0x811C9DC5, "the hash of no bytes is the offset basis"
assert fnv1a_32("a") == 0xE40C292C, "FNV-1a reference vector for 'a'"
assert fnv1a_32("foobar") == 0xBF9CF968, "FNV-1a reference vector for 'foobar'"
assert 0 <= fnv1a_32("user-" * 1000) < 2**32, "keep only the low 32 bits after every multiply"
print("fnv1a_32: visible checks passed")

# %% code
export("04_ab_testing", fnv1a_32)

# %% [markdown]
# Python's `hash()` against FNV-1a, in two fresh processes (as two server replicas would be):

# %% code

require("04_ab_testing", "fnv1a_32")  # the replicas import your exported fnv1a_32
probe = "print(hash('user-42'), __import__('tinytorch.core.mlops.experiments', fromlist=['x']).fnv1a_32('user-42'))"
for replica in (1, 2):
    builtin, fnv = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"replica {replica}: hash() = {int(builtin):>20}   fnv1a_32 = {fnv}")
print(f"this kernel: hash() = {hash('user-42'):>20}   fnv1a_32 = {fnv1a_32('user-42')}")

# %% [markdown]
# ## 2. Sticky assignment that respects the weights
#
# GrowthBook turns the hash into a position on $[0, 1)$ (its "version 2" hash, hashing twice so
# that ids sharing a prefix do not cluster):
#
# $$\text{bucket}(\text{seed}, \text{id}) = \text{fnv}(\text{str}(\text{fnv}(\text{seed} + \text{id}))) \bmod 10000 \,/\, 10000$$
#
# and lays the variants out side by side: with weights 0.8/0.2, control owns $[0, 0.8)$ and
# treatment $[0.8, 1)$. `coverage` shrinks every range in place (variant $i$ owns
# $[\text{start}_i, \text{start}_i + \text{coverage} \cdot w_i)$), so raising coverage from 10 % to
# 50 % only *adds* users: nobody already in the experiment changes variant. Moving weight between
# two neighbouring variants moves exactly that share of users across their common border and
# nobody else. (A classic complaint about home-grown splitters: changing 80/20 to 70/30
# re-randomised every user and mixed the two groups' histories.)
#
# The helpers below are given. `bucket` comes from your `tinytorch`, so here it runs the
# `fnv1a_32` you exported above (grading uses the reference `bucket`, so this task is graded
# on its own).

# %% provided id=assignment_helpers
from tinytorch.core.mlops.experiments.assignment import bucket  # fnv1a_32 twice, as above

#| provided tinytorch.core.mlops.experiments.assignment:SPLIT_TOLERANCE


#| provided tinytorch.core.mlops.experiments.assignment:validate_split


#| provided tinytorch.core.mlops.experiments.assignment:bucket_ranges

# %% [markdown]
# **Task 2 (3 points).** Implement `assign_variant(seed, unit_id, variants, coverage)`: validate
# the split, lay out the ranges, and return the variant whose range $[\text{start}, \text{end})$
# holds the unit's bucket (None outside coverage). A bucket exactly on a border belongs to the
# variant that starts there. The split may be a dict or a list of (name, weight) pairs
# (`validate_split` turns either into pairs).

# %% solution id=assign_variant
#| solution tinytorch.core.mlops.experiments.assignment:assign_variant

# %% test id=assign_variant points=3
split = {"control": 0.8, "treatment": 0.2}
assert assign_variant("exp-1", "user-1", split) == assign_variant("exp-1", "user-1", split), "must be sticky"
assert assign_variant("exp-1", "user-1", {"a": 0.5, "b": 0.5}) == "b", "bucket('exp-1', 'user-1') is 0.5069"
assert assign_variant("exp-1", 0, {"a": 0.5, "b": 0.5}) == "a", "bucket('exp-1', 0) is 0.3113"
assert assign_variant("exp-1", "user-1", split, coverage=0.0) is None, "coverage 0: nobody is in the experiment"
shares = [assign_variant("exp-1", f"user-{i}", split) for i in range(2_000)].count("treatment") / 2_000
assert abs(shares - 0.2) < 0.015, f"treatment got {shares:.1%} of 2,000 users, expected about 20%"
try:
    assign_variant("exp-1", "user-1", {"control": 0.8, "treatment": 0.1})
    raise AssertionError("weights summing to 0.9 must raise ValueError")
except ValueError:
    pass
print("assign_variant: visible checks passed")

# %% code
export("04_ab_testing", assign_variant)

# %% [markdown]
# What changing the weights does to 10,000 users (your `assign_variant`):

# %% code

users = [f"user-{i}" for i in range(10_000)]
before = [assign_variant("checkout-v2", u, {"control": 0.8, "treatment": 0.2}) for u in users]
after = [assign_variant("checkout-v2", u, {"control": 0.7, "treatment": 0.3}) for u in users]
moves = {}
for old, new in zip(before, after):
    if old != new:
        moves[f"{old} -> {new}"] = moves.get(f"{old} -> {new}", 0) + 1
print(f"treatment share before {before.count('treatment') / len(users):.2%}, after {after.count('treatment') / len(users):.2%}")
print(f"users who changed variant: {moves} ({sum(moves.values()) / len(users):.1%}; only the users between 0.7 and 0.8 had to move)")

# %% [markdown]
# ## 3. Is the difference real? The two-proportion z-test
#
# Each user either converts (clicks, buys, gets a correct prediction) or not. With $x_a$ of $n_a$
# control users and $x_b$ of $n_b$ treatment users converting, the question "could both variants
# share one rate?" is answered by
#
# $$\hat p = \frac{x_a + x_b}{n_a + n_b},\qquad z = \frac{x_b/n_b - x_a/n_a}{\sqrt{\hat p (1 - \hat p)\left(\frac{1}{n_a} + \frac{1}{n_b}\right)}},\qquad p = P(|Z| \ge |z|) = \operatorname{erfc}\!\left(\frac{|z|}{\sqrt 2}\right).$$
#
# The standard error is *pooled* because the test assumes the null hypothesis (one shared rate).
# `erfc` keeps the tiny p-values of large effects: `1 - cdf(z)` rounds them to 0.

# %% provided id=stats_types
from typing import NamedTuple


#| provided tinytorch.core.mlops.experiments.stats:ZTest


#| provided tinytorch.core.mlops.experiments.stats:SRMResult

# %% [markdown]
# **Task 3 (3 points).** Implement `two_proportion_ztest` as its docstring says.

# %% solution id=two_proportion_ztest
#| solution tinytorch.core.mlops.experiments.stats:two_proportion_ztest

# %% test id=two_proportion_ztest points=3
result = two_proportion_ztest(100, 1000, 130, 1000)
assert abs(result.z - 2.102740605622114) < 1e-9, f"z = {result.z}, expected 2.1027 (pooled standard error)"
assert abs(result.p_value - 0.03548845046647471) < 1e-9, f"p = {result.p_value}, expected 0.0355 (two-sided)"
assert two_proportion_ztest(130, 1000, 100, 1000).z < 0, "z is negative when the control converts more"
assert two_proportion_ztest(0, 50, 0, 80) == (0.0, 1.0), "no conversions at all: no evidence, z = 0, p = 1"
print("two_proportion_ztest: visible checks passed")

# %% code
export("04_ab_testing", two_proportion_ztest)

# %% [markdown]
# ## 4. Sample ratio mismatch: when not to trust a result
#
# If you configured 50/50 and logged 5,200 vs 4,800 users, something is broken: a redirect that
# drops slow users, a crash in one arm, bots, a logging filter. Such a bug biases *who* is in each
# group, so no statistic computed on them means anything. Microsoft's and Booking.com's experimentation teams
# count it among the most common reasons an experiment is invalid. Every serious platform therefore
# runs Pearson's chi-square goodness-of-fit test on the counts before showing any result:
#
# $$E_i = N \frac{w_i}{\sum_j w_j},\qquad \chi^2 = \sum_i \frac{(O_i - E_i)^2}{E_i},\qquad p = P(\chi^2_{k-1} > \chi^2),$$
#
# and GrowthBook flags a mismatch at $p < 0.001$ (strict: many experiments are checked every day,
# and a false alarm stops a good one). `chi2_sf(x, df)` is given.

# %% provided id=srm_helpers
from tinytorch.core.mlops.experiments.distributions import chi2_sf  # P(X > x), X ~ chi-square(df)

# %% [markdown]
# **Task 4 (3 points).** Implement `srm_check` as its docstring says. Weights need not sum to 1,
# and its docstring lists the inputs it must refuse with ValueError.

# %% solution id=srm_check
#| solution tinytorch.core.mlops.experiments.stats:srm_check

# %% test id=srm_check points=3
healthy = srm_check([5020, 4980], [0.5, 0.5])
assert not healthy.mismatch and healthy.p_value > 0.5, f"5020/4980 on a 50/50 split is fine, got {healthy}"
broken = srm_check([5200, 4800], [0.5, 0.5])
assert abs(broken.chi2 - 16.0) < 1e-9, f"chi2 = {broken.chi2}, expected 16"
assert abs(broken.p_value - 6.334248366623988e-05) < 1e-9 and broken.mismatch, f"5200/4800 is a mismatch, got {broken}"
assert abs(srm_check([8100, 1900], [8, 2]).chi2 - 6.25) < 1e-9, "weights 8:2 mean 80/20"
print("srm_check: visible checks passed")

# %% code
export("04_ab_testing", srm_check)

# %% [markdown]
# A real broken split: 10,000 users assigned 50/50 by your `assign_variant`, but the treatment's page
# crashes before logging for one user in ten (those whose id ends in 7). The treatment is only
# 5 % short, easy to miss on a dashboard:

# %% code

logged = {"control": 0, "treatment": 0}
for i in range(10_000):
    variant = assign_variant("checkout-v2", f"user-{i}", {"control": 0.5, "treatment": 0.5})
    crashed = variant == "treatment" and i % 10 == 7
    logged[variant] += not crashed
print(f"logged users: {logged}")
print(srm_check(list(logged.values()), [0.5, 0.5]))

# %% [markdown]
# ## 5. Peeking, and a test that allows it
#
# A p-value is valid when you look **once**, at a sample size fixed in advance. Dashboards invite
# you to look every day and stop as soon as $p < 0.05$. Each look is another chance for noise to
# cross the line, so the false-positive rate grows with the number of looks: Optimizely measured
# 5 % turning into about 30 %.
#
# The **mixture sequential probability ratio test** (mSPRT, Johari, Pekelis and Walsh, 2017; the
# idea behind Optimizely's stats engine and GrowthBook's sequential mode) compares how likely the
# observed difference $\hat\theta$ (with variance $V$) is under "some effect $\theta \sim N(0,
# \tau^2)$" versus "no effect":
#
# $$\Lambda = \frac{N(\hat\theta;\, 0,\, V + \tau^2)}{N(\hat\theta;\, 0,\, V)}, \qquad
# \log \Lambda = \tfrac12 \log\frac{V}{V + \tau^2} + \frac{\tau^2 \hat\theta^2}{2 V (V + \tau^2)}.$$
#
# Under no effect $\Lambda$ is a martingale with mean 1, and Ville's inequality says it ever reaches
# $1/\alpha$ with probability at most $\alpha$, **however often you look**. So: reject when
# $\log \Lambda \ge \log(1/\alpha)$, at any look.
#
# **Task 5 (3 points).** Implement `msprt_log_likelihood_ratio`, elementwise on NumPy arrays.
# Work in logs: $\Lambda$ itself overflows when the evidence is overwhelming.

# %% solution id=msprt_log_likelihood_ratio
#| solution tinytorch.core.mlops.experiments.sequential:msprt_log_likelihood_ratio

# %% test id=msprt_log_likelihood_ratio points=3
assert abs(msprt_log_likelihood_ratio(0.0, 1e-4, 8e-4) - 0.5 * math.log(1 / 9)) < 1e-12, "no difference: 0.5 log(V / (V + tau2))"
assert abs(msprt_log_likelihood_ratio(0.03, 1e-4, 8e-4) - 2.90138771133189) < 1e-9, "diff 0.03, V 1e-4, tau2 8e-4"
values = msprt_log_likelihood_ratio(np.array([-0.03, 0.0, 0.03]), np.array([1e-4] * 3), 8e-4)
assert np.shape(values) == (3,), f"one value per element, got shape {np.shape(values)}"
assert abs(values[0] - values[2]) < 1e-12 and values[0] > values[1], f"symmetric in the sign of diff, and larger away from 0: {values}"
print("msprt_log_likelihood_ratio: visible checks passed")

# %% code
export("04_ab_testing", msprt_log_likelihood_ratio)

# %% [markdown]
# 1,000 simulated A/A experiments (both arms convert at 10 %, so every "winner" is false), 5,000
# users each, with a look after every 100 users. The naive analyst stops at the first $p < 0.05$;
# the sequential one at the first $\log\Lambda \ge \log 20$ (the library's simulation, vectorised,
# with your mSPRT):

# %% code
from tinytorch.core.mlops.experiments import plot_peeking, simulate_peeking

peeking = simulate_peeking(n_experiments=1000, n_units=5000, look_every=100, rate=0.1, alpha=0.05, seed=4)
print(f"one look at the end: {peeking.fixed_horizon_fpr:.1%} false positives")
print(f"a look every 100 users, stop at p < 0.05: {peeking.naive_fpr[-1]:.1%}")
print(f"a look every 100 users, mSPRT: {peeking.sequential_fpr[-1]:.1%}")
plot_peeking(peeking);

# %% [markdown]
# ## 6. An A/B test of two real models
#
# The library's `ABTestManager` runs a whole experiment: two variants split 80/20, then
# `run_experiment(test_data)`. The control is a small network trained briefly, the treatment a
# bigger one trained longer.
# Each test image plays one request from one user (its row index is the unit id); the manager
# routes it by `assign_variant`, records exposure, latency and whether the prediction was right,
# and analyses with your z-test and SRM check (your functions).

# %% code
from tinytorch.core.data import load_digits
from tinytorch.core.mlops import ABTestManager
from tinytorch.core.training import train_digits_classifier

digits = load_digits()
model_v1, _ = train_digits_classifier(hidden=(16,), epochs=3, seed=0)
model_v2, _ = train_digits_classifier(hidden=(64,), epochs=15, seed=0)

ab_test = ABTestManager(seed="digits-v2-vs-v1")
ab_test.add_variant("control", model_v1, traffic_split=0.8)
ab_test.add_variant("treatment", model_v2, traffic_split=0.2)
results = ab_test.run_experiment(digits.test)
print(results)

# %% [markdown]
# With 359 requests and only a fifth of them on the treatment, even an 8-point accuracy gain is
# barely significant. How many users would a 50/50 test need to detect 89 % -> 92 % with 80 %
# power?

# %% code
from tinytorch.core.mlops.experiments import sample_size_two_proportions

for target in (0.92, 0.95, 0.97):
    n = sample_size_two_proportions(0.89, target, alpha=0.05, power=0.8)
    print(f"89% -> {target:.0%}: {math.ceil(n):>5} users per variant")

# %% [markdown]
# ## 7. Shadow and canary: safer than an experiment
#
# Before any user sees a new model, run it in **shadow**: it receives a copy of every request, its
# answers are recorded and thrown away. Then roll it out as a **canary**: 5 % of users, then 25 %,
# then everyone, with guardrail metrics checked before each step. The canary uses the same hash
# (with its own seed), so growing from 5 % to 25 % only adds users.
#
# Below, a half-trained model is the candidate. The shadow shows how often it disagrees with the
# model users see; the canary serves it to 5 % of users, a guardrail on accuracy (at most 2 %
# worse than stable) fails, and the rollout goes back to 0 % instead of advancing.

# %% code
from tinytorch.core.mlops.experiments import CanaryRollout, ShadowDeployment

candidate, _ = train_digits_classifier(hidden=(8,), epochs=3, seed=0)
X_test, y_test = digits.test

shadow = ShadowDeployment(primary=model_v2, shadow=candidate, name="candidate")
served = np.array([shadow.predict(row) for row in X_test])  # users get the primary's answers only
print(f"shadow: served accuracy {np.mean(served == y_test):.1%}; "
      f"the candidate agreed with it on {shadow.agreement_rate:.1%} of {shadow.requests} requests")

rollout = CanaryRollout(stable=model_v2, canary=candidate, steps=(0.05, 0.25, 1.0), seed="candidate-rollout")
rollout.tracker.add_guardrail("accuracy", 0.02, statistic="mean", higher_is_better=True)
for user in range(3000):
    row = user % len(X_test)
    arm, model = rollout.route(user)
    rollout.tracker.log_conversion(arm, "accuracy", int(model.predict(X_test[row:row + 1])[0] == y_test[row]))
print(f"canary served {rollout.tracker.exposures()['canary']} of 3000 users at {rollout.percentage:.0%}")
rollout.advance()
for event, share in rollout.history:
    print(f"  {event}: canary at {share:.0%}")

# %% [markdown]
# ## Systems thinking (written answer, 2 points)
#
# Answer **two** of these questions in the answer cell below, a short paragraph each. Your
# instructor grades it by hand: a point for each answer that names the mechanism at work and
# what it costs.
#
# 1. Two experiments run at once, both seeded `"homepage"`. What do their treatment groups have in
#    common, and why does that ruin both results? What does a per-experiment seed change?
# 2. A mobile SDK release changes its hash function. Nothing crashes. What happens to every running
#    experiment, and which check in this notebook would notice first?
# 3. Your SRM alarm fires at $p < 0.001$ on an experiment that otherwise looks like a big win.
#    List three engineering causes you would investigate before looking at the win at all.
# 4. The sequential test needs a planned sample size to tune $\tau^2$. What happens to its power if
#    you guess ten times too small? Ten times too large? Is it still valid in both cases?
# 5. The canary above measured accuracy with labels available immediately. In production labels
#    arrive hours or weeks later. Which guardrails can you check at 5 % traffic in the first
#    minutes, and which must wait?

# %% answer id=systems_thinking points=2
# Grading guide (instructors only; the release shows YOUR ANSWER HERE). 1 point per answer, at most 2:
# the answer names the mechanism and what it costs or risks. For example: 1. the same users are in
# both treatment groups, so the effects are confounded; a per-experiment seed makes the splits
# independent. 2. users change groups mid-experiment, mixing exposures; the sample-ratio check (or
# assignment-stability check) notices first. 3. logging loss in one arm, a redirect or crash in one
# arm, bot filtering, caching, assignment bugs. 4. too small a plan: less power at the real sample
# size; too large: slower to detect; the test stays valid (always-valid p-values) in both cases.
# 5. errors, latency and crashes at once; accuracy and business outcomes wait for labels.

# %% code
# Submit: save this notebook (File > Save, or Ctrl-S), then run this cell. It runs the notebook
# from the top in a fresh kernel, as the grader will, lists what the grader would find wrong,
# and writes the file to upload, whatever your copy is called (in Colab it is downloaded too):
# submission/04_ab_testing.ipynb
# From a terminal: python -m tinytorch.submission "Copy of 04_ab_testing.ipynb"
from tinytorch.submission import check_and_package

check_and_package("04_ab_testing")
