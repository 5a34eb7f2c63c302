"""The run report: one Markdown file with PNG figures, from a LoopResult."""

from pathlib import Path

import numpy as np

EVENT_COLOURS = {"deploy": "tab:blue", "drift": "tab:red", "retrain": "tab:purple", "canary_start": "tab:orange",
                 "advance": "tab:green", "promote": "tab:green", "rollback": "tab:red"}


def _figure(**options):
    """A figure outside pyplot: it works headless and leaves a notebook's backend alone (a
    notebook shows it inline when it is a cell's value)."""
    from matplotlib.figure import Figure

    return Figure(layout="tight", **options)


def plot_search(trials):
    """Validation accuracy of each hyperparameter trial, the chosen one highlighted."""
    figure = _figure(figsize=(6, 3))
    axis = figure.subplots()
    labels = [f"hidden={t['config'].get('hidden')}\nlr={t['config'].get('lr')}" for t in trials]
    colours = ["tab:green" if i == 0 else "tab:gray" for i in range(len(trials))]
    axis.bar(range(len(trials)), [t["val_accuracy"] for t in trials], color=colours)
    axis.set_xticks(range(len(trials)), labels, fontsize=8)
    low = min(t["val_accuracy"] for t in trials)
    axis.set(ylim=(max(0.0, low - 0.05), 1.0), ylabel="validation accuracy",
             title="Hyperparameter search (chosen trial in green)")
    return figure


def plot_stages(stages):
    """Accuracy, size and p99 single-row latency of the trained, compressed, optimised model."""
    figure = _figure(figsize=(10, 3))
    names = list(stages)
    for axis, (key, label) in zip(figure.subplots(1, 3), (("accuracy", "test accuracy"),
                                                          ("file_bytes", "model file (bytes)"),
                                                          ("p99_latency_ms", "p99 latency, 1 row (ms)"))):
        values = [stages[name][key] for name in names]
        axis.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"][: len(names)])
        axis.set_title(label)
        if key == "accuracy":
            axis.set_ylim(max(0.0, min(values) - 0.05), 1.0)
        for i, value in enumerate(values):
            axis.annotate(f"{value:.4g}", (i, value), ha="center", va="bottom", fontsize=8)
    return figure


def _rolling(values, window):
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return np.full(len(values), np.nan)
    kernel = np.ones(window) / window
    return np.concatenate([np.full(window - 1, np.nan), np.convolve(values, kernel, mode="valid")])


def plot_timeline(log, phases, window=100):
    """The live traffic of the whole run: rolling accuracy per arm, the canary's share of
    requests and rolling p99 latency, with the run's phases marked."""
    records = sorted(log, key=lambda r: r.time)
    figure = _figure(figsize=(11, 7))
    accuracy_axis, share_axis, latency_axis = figure.subplots(3, 1, sharex=True)
    if not records:
        return figure
    start = records[0].time
    t = np.array([r.time - start for r in records])
    for arm, colour in (("stable", "tab:blue"), ("canary", "tab:orange")):
        rows = [i for i, r in enumerate(records) if r.arm == arm and r.correct is not None]
        if rows:
            accuracy_axis.plot(t[rows], _rolling([records[i].correct for i in rows], min(window, len(rows))),
                               color=colour, label=f"{arm} arm")
    accuracy_axis.set(ylabel=f"accuracy (last {window})", ylim=(0, 1.02))
    accuracy_axis.legend(loc="lower left", fontsize=8)
    share_axis.plot(t, _rolling([r.arm == "canary" for r in records], window), color="tab:orange")
    share_axis.set(ylabel="canary share", ylim=(-0.02, 1.02))
    latencies = np.array([r.latency * 1000 for r in records])
    step = max(1, window // 2)
    centres = [t[i] for i in range(window, len(t), step)]
    latency_axis.plot(centres, [np.percentile(latencies[i - window:i], 99) for i in range(window, len(t), step)],
                      label="p99", color="tab:red")
    latency_axis.plot(centres, [np.percentile(latencies[i - window:i], 50) for i in range(window, len(t), step)],
                      label="p50", color="tab:gray")
    latency_axis.set(ylabel="client latency (ms)", xlabel="time since first request (s)")
    latency_axis.legend(loc="upper left", fontsize=8)
    for when, label in phases:
        x = when - start
        if x < 0:
            continue
        colour = next((c for key, c in EVENT_COLOURS.items() if key in label), "tab:gray")
        for axis in (accuracy_axis, share_axis, latency_axis):
            axis.axvline(x, color=colour, ls="--", lw=1)
        accuracy_axis.annotate(label, (x, 0.02), rotation=90, fontsize=7, color=colour, va="bottom", ha="right")
    figure.suptitle("Live traffic through the router (real HTTP, 127.0.0.1)")
    return figure


def continuous_learning_lines(result):
    """The continuous learner's part of the report: each labelled feedback batch with its
    quarantine counts and the decision after it, the challenger gate's checks, the totals."""
    audit = result.pipeline.audit_log
    if audit is None:
        return []
    lines = ["### Continuous learning: labelled feedback, retrain triggers, challenger gate", "",
             "| batch | accepted | quarantined | decision | triggers | reason |", "|---|---|---|---|---|---|"]
    for index, (counts, decision) in enumerate(result.feedback):
        refused = {kind: n for kind, n in counts.items() if kind != "accepted"}
        lines.append(f"| {index} | {counts.get('accepted', 0)} | "
                     f"{', '.join(f'{kind} {n}' for kind, n in refused.items()) or '0'} | "
                     f"{'gate passed: canary' if decision.action == 'promoted' else decision.action} | "
                     f"{', '.join(decision.triggers) or '-'} | {decision.reason} |")
    quarantined = sum(n for kind, n in result.quarantine.items() if kind != "accepted")
    lines += ["", f"Rows accepted: {result.quarantine.get('accepted', 0)}; quarantined: {quarantined} "
              f"({', '.join(f'{k} {n}' for k, n in result.quarantine.items() if k != 'accepted') or 'none'})."]
    for gate in audit.events("gate"):
        lines += ["", f"Challenger {result.pipeline.learner_name}/{gate['version']}: gate **{'passed' if gate['passed'] else 'refused'}**", ""]
        lines += [f"- {reason}" for reason in gate["reasons"]]
    lines += ["", f"Audit log: `{audit.path}` ({len(audit)} decisions)", ""]
    return lines


def write_report(result, out):
    """Write ``out/report.md`` and its figures; returns the report's path."""
    from tinytorch.core.mlops.drift import plot_drift
    from tinytorch.core.mlops.monitoring import plot_dashboard

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    router, traffic = result.pipeline.manager.router, result.traffic
    figures = {
        "search.png": plot_search(result.trials),
        "stages.png": plot_stages(result.stages),
        "timeline.png": plot_timeline(router.log, sorted(result.phases + [
            (e.time, f"{e.action} v{e.version}") for e in result.pipeline.manager.events])),
        "drift.png": plot_drift(result.drift["drifted"], result.drift["reference"], result.drift["current"],
                                max_features=4),
        "monitor.png": plot_dashboard(result.pipeline.monitor),
    }
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=90)
    lines = [f"# MLOps pipeline run {result.pipeline.run_id}", "",
             f"One full loop on the shipped digits in {result.seconds:.1f} s: {traffic.sent:,} client requests "
             f"over real HTTP on 127.0.0.1, **{traffic.failed} failed** "
             f"({router.client_failures} the router could not serve).", "",
             "## 1. Training: seeded hyperparameter search", "",
             "| hidden | lr | validation accuracy | epochs | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {t['config'].get('hidden')} | {t['config'].get('lr')} | {t['val_accuracy']:.4f} | "
              f"{t['epochs_run']} | {t['seconds']:.2f} |" for t in result.trials]
    lines += ["", "![search](search.png)", "", "## 2. Compress and optimise", "",
              "| model | test accuracy | in-memory bytes | file bytes | p99 1-row latency (ms) |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {s['accuracy']:.4f} | {s['nbytes']:,} | {s['file_bytes']:,} | {s['p99_latency_ms']:.3f} |"
              for name, s in result.stages.items()]
    lines += ["", "![stages](stages.png)", "", "## 3. Benchmark", ""]
    lines += ["```", str(result.benchmark), "```"] if result.benchmark is not None else ["(not run: see notes)"]
    lines += ["", "## 4. Release gates (ProductionValidator)", ""]
    for release, report in result.validations.items():
        lines += [f"**{release}**: {'passed' if report.passed else 'FAILED'}", ""]
        lines += [f"- {'ok' if g.passed else 'FAIL'}: {g.message}" for g in report.gates if g.name != "signature_match"]
        lines += [f"- {'ok' if g.passed else 'FAIL'}: signature {g.name}" for g in report.gates if g.name == "signature_match"]
        lines.append("")
    lines += ["## 5. Registered versions (lineage in the registry)", "", "| release | version | parent | produced by | run |",
              "|---|---|---|---|---|"]
    for release, version in result.versions.items():
        record = result.pipeline.registry.get_version(version)
        lines.append(f"| {release} | {version} | {record.lineage.parent_version} | {record.tags.get('produced_by')} | "
                     f"{record.tags.get('pipeline_run')} |")
    lines += ["", f"Step log: `{result.pipeline.run_log.path}`", "", "## 6. Live traffic, drift, canary, rollback", "",
              "![timeline](timeline.png)", "", "| when | live accuracy (monitor window) |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in result.live_accuracy.items() if v is not None]
    clean, drifted = result.drift["clean"], result.drift["drifted"]
    lines += ["", f"Drift (DriftDetector against the training inputs): before injection "
              f"{clean.share_drifted:.0%} of pixels drifted (dataset drift: {bool(clean)}); after "
              f"{drifted.share_drifted:.0%} (dataset drift: {bool(drifted)}).", "", "![drift](drift.png)", ""]
    lines += continuous_learning_lines(result)
    lines += ["| release | canary share | decision | reasons |", "|---|---|---|---|"]
    lines += [f"| {release} | {share:.0%} | {d.action} | {'; '.join(d.reasons)} |" for release, share, d in result.decisions]
    lines += ["", "Deployment events:", ""]
    start = result.phases[0][0] if result.phases else 0
    lines += [f"- t={e.time - start:+.1f} s {e.action} v{e.version}: {e.detail}" for e in result.pipeline.manager.events]
    lines += ["", "## 7. Monitor", "", "![monitor](monitor.png)", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in result.notes] + [""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
