"""Reference-versus-current distributions of the drifted features, as one matplotlib Figure."""

import numpy as np

from .detector import _categories, _category_counts, as_columns


def plot_drift(report, reference, current, max_features=6, feature_names=None):
    """One panel per drifted feature (at most ``max_features``): histograms for numeric tests,
    category shares for categorical ones, titled with the test and its verdict.

    With no drifted feature the figure says so instead of being empty.
    """
    from matplotlib.figure import Figure  # no pyplot: works headless and leaves a notebook's backend alone

    ref_columns = as_columns(reference, feature_names or [f.name for f in report.features])
    cur_columns = as_columns(current, feature_names or [f.name for f in report.features])
    drifted = [f for f in report.features if f.drifted][:max_features]
    figure = Figure(figsize=(4.2 * max(len(drifted), 1), 3.4), layout="constrained")
    if not drifted:
        axis = figure.subplots()
        axis.text(0.5, 0.5, f"No drift in {len(report.features)} features", ha="center", va="center")
        axis.set_axis_off()
        return figure
    axes = np.atleast_1d(figure.subplots(1, len(drifted)))
    for axis, feature in zip(axes, drifted):
        ref, cur = ref_columns[feature.name], cur_columns[feature.name]
        if feature.test in ("ks", "wasserstein", "psi") and ref.dtype.kind in "biuf":
            _histograms(axis, ref.astype(float), cur.astype(float))
        else:
            _category_bars(axis, _categories(ref), _categories(cur))
        score = f"p={feature.p_value:.2g}" if feature.p_value is not None else f"{feature.statistic:.3f}"
        axis.set_title(f"{feature.name}\n{feature.test}: {score} (threshold {feature.threshold:.3g})", fontsize=9)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Drifted features: {len(report.drifted_features)} of {len(report.features)}")
    return figure


def _histograms(axis, ref, cur):
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=30)
    axis.hist(ref, bins=edges, density=True, alpha=0.5, label="reference")
    axis.hist(cur, bins=edges, density=True, alpha=0.5, label="current")


def _category_bars(axis, ref, cur):
    ref_counts, cur_counts, labels = _category_counts(ref, cur)
    x = np.arange(len(labels))
    axis.bar(x - 0.2, ref_counts / ref_counts.sum(), width=0.4, label="reference")
    axis.bar(x + 0.2, cur_counts / cur_counts.sum(), width=0.4, label="current")
    axis.set_xticks(x, labels, rotation=45, fontsize=7)
    axis.set_ylabel("share")
