"""The stream figure: deployed accuracy per batch with drift onset, retrains, promotions and
rollbacks marked."""

MARKERS = {
    "refused": ("x", "tab:gray", "retrain refused by the gate"),
    "promoted": ("^", "tab:green", "challenger promoted"),
    "rolled_back": ("v", "tab:red", "rolled back"),
}


def plot_stream(history, ax=None, title="Deployed model accuracy over the stream"):
    """Draw ``AutoRetrainer.history`` (``StreamStep`` records): accuracy of the deployed model on
    each batch before learning from it, a dashed line at the first drifted batch, and one marker
    per decision. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.8))
    scored = [s for s in history if s.accuracy is not None]
    ax.plot([s.index for s in scored], [s.accuracy for s in scored], "-o", markersize=3,
            color="tab:blue", label="accuracy on the batch (before learning)")
    onset = next((s.index for s in history if s.drifted), None)
    if onset is not None:
        ax.axvline(onset - 0.5, color="tab:orange", linestyle="--", label="drift onset")
    for action, (marker, color, label) in MARKERS.items():
        steps = [s for s in history if s.action == action]
        if steps:
            ax.scatter([s.index for s in steps], [1.03] * len(steps), marker=marker, s=60,
                       color=color, label=label, zorder=3, clip_on=False)
    ax.set(xlabel="batch", ylabel="accuracy", ylim=(0, 1.06), title=title)
    ax.legend(loc="lower right", fontsize=8)
    return ax
