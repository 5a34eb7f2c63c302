"""A plot of a metric across a model's versions, with an alias's history marked."""

from .aliases import AliasHistory


def plot_version_metrics(registry, name, metric, alias="champion"):
    """Plot `metric` of every version of model `name` and the history of `alias`; return the Figure.

    Left: the metric per version in registration order; versions that ever held `alias` are
    ringed, the current holder is starred. Right: the metric of whatever `alias` pointed at after
    each change (set, rollback, deletion), so a regression and its rollback are visible at a glance.
    """
    from matplotlib.figure import Figure  # imported here: registering models needs no matplotlib

    name = registry.default_name if name is None else name
    versions = registry.list_versions(name)
    value = {r.version: r.metrics.get(metric) for r in versions}
    events = registry.alias_history(alias, name=name)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)

    xs = range(len(versions))
    left.plot(xs, [value[r.version] for r in versions], "o-", color="tab:blue", label=metric)
    held = {e["version"] for e in events if e["action"] != "remove_version"}
    ringed = [(i, value[r.version]) for i, r in enumerate(versions) if r.version in held]
    if ringed:
        left.scatter(*zip(*ringed), s=160, facecolors="none", edgecolors="tab:orange",
                     linewidths=2, label=f"was {alias}")
    current = registry.aliases(name).get(alias)
    if current in value:
        i = [r.version for r in versions].index(current)
        left.scatter([i], [value[current]], marker="*", s=260, color="tab:red", zorder=3,
                     label=f"{alias} now (v{current})")
    left.set_xticks(list(xs), [r.version for r in versions])
    left.set(xlabel="version", ylabel=metric, title=f"{name}: {metric} by version")
    left.legend(loc="best", fontsize=8)

    targets = [(AliasHistory.targets(events[: k + 1]) or [None])[-1] for k in range(len(events))]
    ys = [value.get(v) if v is not None else None for v in targets]
    steps = range(1, len(events) + 1)
    right.step(steps, [float("nan") if y is None else y for y in ys], "o-", where="post",
               color="tab:orange")
    for step, e, v in zip(steps, events, targets):
        label = {"set": f"set v{v}", "rollback": f"rollback→v{v}"}.get(e["action"], f"del v{e['version']}")
        right.annotate(label, (step, ys[step - 1] if ys[step - 1] is not None else 0),
                       textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7)
    right.set_xticks(list(steps))
    right.margins(x=0.12, y=0.15)
    right.set(xlabel=f"change # of alias '{alias}'", ylabel=f"{metric} of {alias}",
              title=f"what '{alias}' served over time")
    return fig
