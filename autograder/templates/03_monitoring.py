# %% [markdown]
# # Module 03: monitoring and drift detection
#
# A deployed model fails quietly. It keeps answering, every request returns 200, and its accuracy
# slides because the world it sees is no longer the world it was trained on: a new camera, a new
# app version, a new customer segment. Labels, the only direct proof, arrive hours or weeks later,
# if ever. So production teams watch two things: the **service** (latency, errors, accuracy once
# labels arrive) with alert rules that page a human, and the **inputs** with statistical drift
# tests that say "this is not the data you trained on" before the labels do.
#
# Drift detection is where teaching code usually lies: a "KS test" that compares means, p-values
# that flag every feature on a large table, a crash on a category the reference never saw. You
# will build the statistics the way SciPy and Evidently compute them, and learn why a p-value alone
# is the wrong alarm on big data.
#
# **You will build**, each the same code the `tinytorch.core.mlops.drift` library runs:
#
# 1. `ks_statistic`: the two-sample Kolmogorov-Smirnov distance, ties included;
# 2. `ks_pvalue`: its p-value from Kolmogorov's limiting distribution;
# 3. `psi` and `psi_from_counts`: the Population Stability Index of credit-risk and ML monitoring;
# 4. `chi_square_test`: drift of a categorical feature, including categories never seen before;
# 5. `benjamini_hochberg`: the multiple-testing correction for 64 features tested at once.
#
# Around them you will monitor a real digits classifier through a "new scanner" incident, watch an
# alert rule fire and resolve, see a million rows make a negligible shift "significant", and plot
# the drifted pixels.
#
# **Grading** works as in 01.
#
# **Build, use, export.** After a task's test passes, run the `export(...)` cell below it: from
# then on your `tinytorch` runs your code, here, after a restart and in later notebooks. The
# library's `DriftDetector` is complete except for your pieces, so section 7 runs on yours;
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
from tinytorch.export import export, start

start("03_monitoring")

%matplotlib inline
import math

import numpy as np
from matplotlib.figure import Figure

# %% [markdown]
# ## 1. Watching a served model
#
# A `ModelMonitor` wraps a model: every `predict` is timed, a failure counts as an error, and when
# labels come back their accuracy is recorded. All statistics live in **sliding windows** of the
# last $N$ requests (bounded memory: a monitor that runs for a month uses what it used after the
# first $N$ requests), and latency is reported as percentiles, not a mean: one user in a hundred
# waiting 2 s is invisible in the mean and obvious in p99.
#
# An **alert rule** is a condition that must *hold for a while* before it fires, like a Prometheus
# rule with `for: 5m`: one slow request should not page anyone at 3 a.m., five minutes of it
# should. The rule is *pending* when the condition first holds, *fires* once it has held for the
# whole duration, and *resolves* as soon as it stops holding.
#
# Below, a digits classifier serves one batch of 32 scanned digits a minute (we replay 90 minutes
# in a second with a replayed clock; latencies and accuracies are measured for real). From minute
# 30 to 59 a new scanner with a brighter background is in use: every pixel is 0.3 lighter.

# %% code
from tinytorch.core.data import load_digits
from tinytorch.core.mlops import ModelMonitor
from tinytorch.core.mlops.monitoring import AlertRule, plot_dashboard
from tinytorch.core.training import train_digits_classifier

digits = load_digits()
model, _ = train_digits_classifier(hidden=(64,), epochs=15, seed=0)
X_train, y_train = digits.train
X_val, y_val = digits.val
X_test, y_test = digits.test


def new_scanner(images, brightness=0.3):
    """Digits from a scanner with a brighter background: every pixel lighter, still in [0, 1]."""
    return np.clip(images + brightness, 0.0, 1.0).astype(np.float32)


replay = {"now": 0.0}  # seconds since the start of the replay
monitor = ModelMonitor(model, window=256, clock=lambda: replay["now"])
monitor.add_alert(AlertRule("accuracy", "<", 0.9, for_seconds=300, name="accuracy < 90% for 5 min"))
monitor.add_alert(AlertRule("latency_p99", ">", 0.05, for_seconds=300, name="p99 latency > 50 ms for 5 min"))

rng = np.random.default_rng(0)
for minute in range(90):
    replay["now"] = 60.0 * minute
    rows = rng.choice(len(X_test), size=32, replace=False)
    images = new_scanner(X_test[rows]) if 30 <= minute < 60 else X_test[rows]
    monitor.predict(images, labels=y_test[rows])  # in production the labels come later

for event in monitor.alert_history:
    print(f"minute {event.timestamp / 60:4.0f}: {event.state:8s} {event.rule} ({event.message})")
metrics = monitor.metrics()
print(f"now: accuracy {metrics['accuracy']:.1%} over the last {monitor.tracker.window} predictions, "
      f"p50 {metrics['latency_p50'] * 1e3:.2f} ms, p99 {metrics['latency_p99'] * 1e3:.2f} ms per batch")
plot_dashboard(monitor)

# %% [markdown]
# The accuracy alert fired minutes after the scanner changed and resolved after it was replaced.
# But it needed the labels. In most systems they arrive late (a loan defaults after months, a
# fraud report after weeks) or never. The inputs, though, are there at once, and they changed at
# minute 30. Detecting that is **drift detection**: compare the distribution of each feature in
# recent traffic with a *reference* sample (usually the training or validation data).
#
# ## 2. The Kolmogorov-Smirnov statistic
#
# For a numeric feature, the empirical CDF of a sample is $F(x) = \frac{\#\{\text{values} \le x\}}{n}$.
# The two-sample KS statistic is the largest vertical gap between the two ECDFs:
#
# $$D = \max_x \left| F_{\text{ref}}(x) - F_{\text{cur}}(x) \right| \in [0, 1].$$
#
# It sees any change in the distribution (location, spread, shape), not just the mean, and it
# depends only on the order of the values (any increasing transformation leaves it unchanged).
# Both ECDFs jump only at observed values, so it is enough to evaluate them there. **Ties are the
# trap**: with `[1, 2, 2, 3]` against `[2, 2, 3, 4]`, evaluating after only *some* of the 2s have
# been counted invents a gap of 0.75 where the true $D$ is 0.25. Evaluate after *all* copies of a
# value.
#
# **Task 1 (3 points).** Implement `ks_statistic(reference, current)` (any approach that is right
# with ties; sorting is enough, no loop over values is needed). An empty sample has no ECDF:
# raise `ValueError` for it.

# %% solution id=ks_statistic
#| solution tinytorch.core.mlops.drift.stats:ks_statistic

# %% test id=ks_statistic points=3
# D is compared to 1e-12: sums of 1/n steps may round differently from counts / n.
def near(got, expected):
    return abs(got - expected) <= 1e-12


d = ks_statistic([1.0, 2.0, 3.0], [3.0, 1.0, 2.0])
assert near(d, 0.0), f"the same values in another order: D = 0, got {d}"
d = ks_statistic([1.0, 2.0], [3.0, 4.0])
assert near(d, 1.0), f"no overlap at all: D = 1, got {d}"
d = ks_statistic([1, 2, 2, 3], [2, 2, 3, 4])
assert near(d, 0.25), f"ties: evaluate the ECDFs after all copies of a value: D = 0.25, got {d}"
sample_a, sample_b = np.random.default_rng(3).integers(0, 5, (2, 200))
gap = max(abs(np.mean(sample_a <= x) - np.mean(sample_b <= x)) for x in range(5))
d_ab, d_ba = ks_statistic(sample_a, sample_b), ks_statistic(sample_b, sample_a)
assert near(d_ab, gap), f"D is the largest gap between the two ECDFs: {gap}, got {d_ab}"
assert near(d_ab, d_ba), f"D is symmetric: ks_statistic(a, b) = {d_ab} but ks_statistic(b, a) = {d_ba}"
print("ks_statistic: visible checks passed")

# %% code
export("03_monitoring", ks_statistic)

# %% [markdown]
# ## 3. From D to a p-value
#
# If both samples come from the same continuous distribution, how large would $D$ be by chance?
# Kolmogorov found the limit: with the effective sample size $n_e = \frac{n m}{n + m}$ and
# $\lambda = \sqrt{n_e}\, D$,
#
# $$P(D \ge d) \approx Q(\lambda) = 2 \sum_{k=1}^{\infty} (-1)^{k-1} e^{-2 k^2 \lambda^2}.$$
#
# This is the p-value drift tools report for large samples (`scipy.stats.kstwobign.sf`); the
# library's `kolmogorov.ks_2samp` adds SciPy's exact small-sample values. The series converges
# fast for large $\lambda$ and slowly near 0, where a truncated sum can leave $[0, 1]$; summing
# the tail directly keeps tiny p-values accurate, where `1 - cdf` would round them to 0.
#
# **Task 2 (2 points).** Implement `ks_pvalue(statistic, n_reference, n_current)`, following its
# docstring (where to stop the series, and when to return 1).

# %% solution id=ks_pvalue
#| solution tinytorch.core.mlops.drift.stats:ks_pvalue

# %% test id=ks_pvalue points=2
assert ks_pvalue(0.0, 100, 100) == 1.0, "D = 0 is no evidence at all: p = 1"
p = ks_pvalue(0.1, 1000, 1000)
assert math.isclose(p, 9.079985952496105e-05, rel_tol=1e-9), f"D = 0.1, n = m = 1000 (n_e = 500): p = 9.08e-05, got {p}"
p = ks_pvalue(0.05, 400, 600)
assert abs(p - 0.5859697195590101) <= 1e-9, f"n_e = 400 * 600 / 1000 = 240 (true division): p = 0.58597, got {p}"
assert 0.0 <= ks_pvalue(0.001, 10, 10) <= 1.0, "near lambda = 0 the truncated series must be clipped to [0, 1]"
print("ks_pvalue: visible checks passed")

# %% code
export("03_monitoring", ks_pvalue)

# %% [markdown]
# ### Why a p-value threshold flags everything on a million rows
#
# A p-value answers "how sure are we that the distributions differ?", not "how much do they
# differ?". For a fixed, negligible shift, $D$ stays about the same while $\sqrt{n_e}$ grows, so
# $p$ goes to 0 and any fixed threshold ($p < 0.05$) eventually fires. Below, the current data is
# the reference shifted by **0.01 standard deviations** (a change no model would notice) at growing
# sample sizes, using your KS functions. Beside it, the **Wasserstein distance** (the
# area between the two ECDFs, in the feature's own units) divided by the reference's standard
# deviation: an *effect size*, which does not grow with $n$.

# %% code
from tinytorch.core.mlops.drift import wasserstein_distance

sizes = [1_000, 10_000, 100_000, 1_000_000]
draws = 3  # independent reference/current pairs per size; the plot shows their median
rng = np.random.default_rng(1)
p_values, distances = np.zeros((len(sizes), draws)), np.zeros((len(sizes), draws))
for i, n in enumerate(sizes):
    for k in range(draws):
        reference, current = rng.normal(0.0, 1.0, n), rng.normal(0.01, 1.0, n)
        d = ks_statistic(reference, current)
        p_values[i, k] = ks_pvalue(d, n, n)
        distances[i, k] = wasserstein_distance(reference, current) / reference.std()
    print(f"n = {n:>9,}: KS p-values {', '.join(f'{p:.2g}' for p in p_values[i])}   "
          f"Wasserstein / std {', '.join(f'{w:.3f}' for w in distances[i])}")

figure = Figure(figsize=(10, 3.6), layout="constrained")
left, right = figure.subplots(1, 2)
left.loglog(sizes, np.median(p_values, axis=1), "o-", label="median of 3 draws")
left.loglog(np.repeat(sizes, draws), p_values.ravel(), ".", color="tab:blue", alpha=0.4)
left.axhline(0.05, color="tab:red", ls="--", label="p = 0.05: 'drift'")
left.set(xlabel="rows in each sample", ylabel="KS p-value", title="p-value of a 0.01-std shift")
right.semilogx(sizes, np.median(distances, axis=1), "o-", color="tab:green", label="median of 3 draws")
right.semilogx(np.repeat(sizes, draws), distances.ravel(), ".", color="tab:green", alpha=0.4)
right.axhline(0.1, color="tab:red", ls="--", label="Evidently's threshold 0.1")
right.set(xlabel="rows in each sample", ylabel="Wasserstein / reference std", ylim=(0, 0.15),
          title="effect size of the same shift")
for axis in (left, right):
    axis.legend(fontsize=8)
figure

# %% [markdown]
# That is why Evidently switches tests by reference size: up to 1,000 rows it uses KS with
# $p < 0.05$ (small samples: the p-value is the honest guard against noise); above 1,000 rows it
# uses the Wasserstein distance divided by the reference's standard deviation with a threshold
# of 0.1 (large samples: noise is no longer the problem, relevance is). The library's
# `DriftDetector` makes the same choice. On big data, ask "is the change big enough to matter?"
# and pick the threshold from what your model can tolerate, not from a significance level.
#
# ## 4. The Population Stability Index
#
# Banks have monitored credit scores with the **PSI** for decades, and many ML teams use it on
# features and on model scores. Cut the reference into bins holding equal shares of it (its
# quantiles), and compare the share of each sample in each bin:
#
# $$\text{PSI} = \sum_i (c_i - r_i) \ln\frac{c_i}{r_i}.$$
#
# Each term is $\ge 0$ (both factors have the same sign), so PSI $\ge 0$, and 0 means identical
# shares. It is a symmetrised Kullback-Leibler divergence, so an empty bin ($c_i = 0$) would give
# $\ln 0$: Evidently floors every share at $\varepsilon = 10^{-4}$. Rule of thumb: below 0.1
# stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one. The outer bins must reach to
# $\pm\infty$, or the values that moved outside the reference's range (the drift you most want to
# see) fall out of the count.

# %% provided id=psi_constant
#| provided tinytorch.core.mlops.drift.stats:PSI_EPSILON

# %% [markdown]
# **Task 3 (4 points).** Implement `psi_from_counts` (the formula on two count vectors) and
# `psi` (quantile bins of the reference, counts of both samples, then the formula). Build the
# edges in the order the docstring gives (quantiles, then duplicates removed, then the outer two
# opened to $\pm\infty$): with ties another order gives other bins. A constant reference has a
# single bin, so its PSI is 0.

# %% solution id=psi
#| solution tinytorch.core.mlops.drift.stats:psi


#| solution tinytorch.core.mlops.drift.stats:psi_from_counts

# %% test id=psi points=4
assert abs(psi_from_counts([10, 20, 30], [20, 40, 60])) <= 1e-12, "the same shares give PSI 0"
assert abs(psi_from_counts([50, 50], [25, 75]) - 0.25 * math.log(3)) < 1e-12, "(0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5)"
assert math.isfinite(psi_from_counts([10, 0], [0, 10])), "empty bins use the floor PSI_EPSILON, never log(0)"
scores = np.random.default_rng(5).normal(size=5_000)
assert abs(psi(scores, scores)) <= 1e-12, "a sample against itself: PSI 0"
assert 0.0 < psi(scores, scores + 0.1) < psi(scores, scores + 1.0), "PSI grows with the shift"
assert psi(scores, scores + 100.0) > 5, "values beyond the reference's range must land in the outer bin"
print("psi: visible checks passed")

# %% code
export("03_monitoring", psi, psi_from_counts)

# %% [markdown]
# PSI is often computed on the model's **output**, which summarises all features in one number:
# here on the model's confidence (its top class probability), reference = validation images,
# current = test images from the old and from the new scanner (your `psi`):

# %% code

confidence = {name: model.predict_proba(images).max(axis=1) for name, images in
              [("validation", X_val), ("old scanner", X_test), ("new scanner", new_scanner(X_test))]}
for name in ("old scanner", "new scanner"):
    print(f"PSI of the model's confidence, {name}: {psi(confidence['validation'], confidence[name]):.3f}")

# %% [markdown]
# ## 5. Categorical features: the chi-square test
#
# For a categorical feature (device type, country, app version, or the model's predicted class),
# count each category in both samples and ask whether the two rows of the table
#
# | | cat 1 | cat 2 | ... | cat $k$ |
# |---|---|---|---|---|
# | reference | $O_{1,1}$ | $O_{1,2}$ | ... | $O_{1,k}$ |
# | current | $O_{2,1}$ | $O_{2,2}$ | ... | $O_{2,k}$ |
#
# could share one distribution. Under that hypothesis the expected count is
# $E_{ij} = \frac{\text{row}_i \cdot \text{column}_j}{\text{total}}$, and
#
# $$\chi^2 = \sum_{i,j} \frac{(O_{ij} - E_{ij})^2}{E_{ij}}, \qquad p = P(\chi^2_{k-1} \ge \chi^2).$$
#
# With only two categories ($k - 1 = 1$ degree of freedom) SciPy applies **Yates' continuity
# correction**: move each $O$ towards its $E$ by $\min(0.5, |O - E|)$ before squaring.
#
# The classic bug: looping over the *reference's* categories and looking each one up in the current
# data. A category the reference never saw (app version 1.6, released yesterday) is then ignored,
# or crashes the lookup. Build the table over the **union** of categories: an unseen category is a
# 0 in the reference row, and is exactly the drift you want to see. A category with 0 in *both*
# rows carries no information (and $E = 0$), so drop it. `chi2_sf(x, dof)` is given.

# %% provided id=chi2_helper
from tinytorch.core.mlops.drift import chi2_sf  # P(X >= x) for X ~ chi-square(dof)

# %% [markdown]
# **Task 4 (3 points).** Implement `chi_square_test(reference_counts, current_counts)` returning
# `(statistic, p_value)`, as its docstring says; the hidden checks compare it with
# `scipy.stats.chi2_contingency`.

# %% solution id=chi_square_test
#| solution tinytorch.core.mlops.drift.stats:chi_square_test

# %% test id=chi_square_test points=3
statistic, p_value = chi_square_test([30, 70], [50, 50])
assert abs(statistic - 7.520833333333334) < 1e-9, f"chi2 = {statistic}: two categories need Yates' correction (8.33 without)"
assert abs(p_value - 0.006098945931214352) < 1e-9, f"p = {p_value}, expected 0.0061 (1 degree of freedom)"
statistic, p_value = chi_square_test([50, 50, 0], [30, 40, 30])
assert abs(statistic - 36.111111111111114) < 1e-9, "a category unseen in the reference is counted, not skipped"
assert math.isclose(p_value, 1.440694355076914e-08, rel_tol=1e-6), f"p = {p_value}, expected 1.44e-08 (2 degrees of freedom)"
assert chi_square_test([10, 0], [20, 0]) == (0.0, 1.0), "one category left after dropping empty ones: no test, p = 1"
print("chi_square_test: visible checks passed")

# %% code
export("03_monitoring", chi_square_test)

# %% [markdown]
# The model's predicted classes are a categorical feature that every model has. Their
# distribution moves when the inputs do (your `chi_square_test`; validation predictions as reference):

# %% code

reference_classes = np.bincount(model.predict(X_val), minlength=10)
for name, images in [("old scanner", X_test), ("new scanner", new_scanner(X_test))]:
    current_classes = np.bincount(model.predict(images), minlength=10)
    statistic, p_value = chi_square_test(reference_classes, current_classes)
    print(f"predicted classes, {name}: {current_classes.tolist()}  chi2 = {statistic:6.1f}  p = {p_value:.2g}")
print(f"predicted classes, reference:   {reference_classes.tolist()}")

# %% [markdown]
# ## 6. Sixty-four tests at once
#
# A digits image has 64 pixels, so a drift check runs 64 tests. At $\alpha = 0.05$ each test
# raises a false alarm 5 % of the time; if the tests were independent, a day without drift would
# still flag at least one pixel with probability $1 - 0.95^{64} \approx 96\%$. Two corrections:
#
# - **Bonferroni** (alibi-detect's default): reject when $p_i \le \alpha / m$. Controls the chance
#   of *any* false alarm, at the cost of missing real drift when many features move together.
# - **Benjamini-Hochberg** (alibi-detect's "fdr"): sort $p_{(1)} \le \dots \le p_{(m)}$, find the
#   largest $k$ with $p_{(k)} \le \frac{k}{m}\alpha$ and reject the $k$ smallest, even one above its
#   own line. Controls the expected share of false alarms among the alarms (the false discovery
#   rate), and finds far more of a broad drift.
#
# **Task 5 (3 points).** Implement `benjamini_hochberg(p_values, alpha=0.05)`, returning a boolean
# array in the input order (decision $i$ belongs to `p_values[i]`); the hidden checks compare it
# with statsmodels' `multipletests(method="fdr_bh")`.

# %% solution id=benjamini_hochberg
#| solution tinytorch.core.mlops.drift.stats:benjamini_hochberg

# %% test id=benjamini_hochberg points=3
assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005, 0.5]).tolist() == [True, True, True, True, False]
assert benjamini_hochberg([0.02, 0.03, 0.04, 0.041]).all(), "step-up: 0.041 <= 4/4 * 0.05 rejects all four, 0.02 too"
assert not benjamini_hochberg([0.02, 0.03, 0.04, 0.06]).any(), "no p_(k) <= k/m * alpha: reject nothing"
assert benjamini_hochberg([]).shape == (0,), "no tests, no rejections"
print("benjamini_hochberg: visible checks passed")

# %% code
export("03_monitoring", benjamini_hochberg)

# %% [markdown]
# KS p-values of all 64 pixels (your functions), for validation images (no drift) and for the
# new scanner, with no correction, Bonferroni and Benjamini-Hochberg:

# %% code
from tinytorch.core.mlops.drift import bonferroni


def pixel_p_values(current):
    return np.array([ks_pvalue(ks_statistic(X_train[:, j], current[:, j]), len(X_train), len(current))
                     for j in range(X_train.shape[1])])


for name, images in [("validation (no drift)", X_val), ("new scanner", new_scanner(X_test))]:
    p = pixel_p_values(images)
    print(f"{name:22s} pixels flagged: none {int(np.sum(p < 0.05)):2d}, Bonferroni {int(bonferroni(p).sum()):2d}, "
          f"Benjamini-Hochberg {int(benjamini_hochberg(p).sum()):2d} of 64")

# %% [markdown]
# ## 7. The whole check: `DriftDetector` and its report
#
# The library's `DriftDetector` puts the pieces together: per feature it picks the test as
# Evidently does (KS or chi-square up to 1,000 reference rows, Wasserstein / std or
# Jensen-Shannon above), handles constant columns, missing values and unseen categories with a
# documented verdict (never a crash or a NaN), applies the correction to the p-value tests, and
# calls the *dataset* drifted when at least half of the features drift. The reference here is the
# 1,078 training images, so every pixel gets the effect-size rule (note the few pixels it flags
# for the old scanner, and question 3 below); the figure compares the reference and current
# distributions of the four middle pixels.

# %% code
from tinytorch.core.mlops.drift import DriftDetector, plot_drift

pixel_names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
detector = DriftDetector(X_train, feature_names=pixel_names)
for name, images in [("old scanner", X_test), ("new scanner", new_scanner(X_test))]:
    report = detector.detect_drift(images)
    print(f"{name}: dataset drift {report.dataset_drift}, {len(report.drifted_features)} of 64 pixels drifted")
print(report["pixel_3_3"])
print(report["pixel_0_0"])

centre = [27, 28, 35, 36]  # the four middle pixels, where the digits' strokes are
centre_report = DriftDetector(X_train[:, centre], feature_names=[pixel_names[j] for j in centre]).detect_drift(
    new_scanner(X_test)[:, centre])
plot_drift(centre_report, X_train[:, centre], new_scanner(X_test)[:, centre])

# %% [markdown]
# ## Systems thinking (written answer, 2 points)
#
# Answer **two** of these questions in the answer cell below, a short paragraph each. Your
# instructor grades it by hand: a point for each answer that names the mechanism at work and
# what it costs.
#
# 1. The accuracy alert above needed labels. Which of the signals in this notebook would have
#    fired first at minute 30 with no labels at all, and what would you put on the pager?
# 2. Your reference has 2 million rows and every feature "drifts" every day at $p < 0.05$. Your
#    colleague proposes $\alpha = 10^{-6}$. Why is that still the wrong fix, and what is the right one?
# 3. Run Evidently's large-reference rule (Wasserstein / std $\ge 0.1$) on the digits pixels and a
#    pixel that is almost always 0 in the reference. What happens to the normalised distance when
#    the reference's standard deviation is tiny, and how would you guard against it?
# 4. Bonferroni or Benjamini-Hochberg for a 500-feature table where a schema change usually breaks
#    many columns at once? And for a fraud model where one false page a week is one too many?
# 5. The drift detector says the inputs moved, but the accuracy (when labels arrive) is unchanged.
#    Give two reasons this happens, and decide whether you would retrain.

# %% answer id=systems_thinking points=2
# Grading guide (instructors only; the release shows YOUR ANSWER HERE). 1 point per answer, at most 2:
# the answer names the mechanism and what it costs or risks. For example: 1. the error rate or
# latency, or input drift; page on the signal tied to user impact. 2. with huge samples every tiny
# shift is significant; use an effect size (PSI, Wasserstein distance) with a threshold that
# matters. 3. division by a near-zero std explodes the distance; add a floor or use absolute
# distance for such features. 4. Benjamini-Hochberg when many columns break together;
# Bonferroni (family-wise control) when one false page is too costly. 5. the shift is in
# features the model ignores, or the model generalises; retrain only if accuracy or business
# metrics suffer.

# %% code
# Submit: save this notebook (File > Save, or Ctrl-S), then run this cell. It runs the notebook
# from the top in a fresh kernel, as the grader will, lists what the grader would find wrong,
# and writes the file to upload, whatever your copy is called (in Colab it is downloaded too):
# submission/03_monitoring.ipynb
# From a terminal: python -m tinytorch.submission "Copy of 03_monitoring.ipynb"
from tinytorch.submission import check_and_package

check_and_package("03_monitoring")
