"""Production monitoring: latency, accuracy and error rate over sliding windows, alert rules that
must hold for a while before they fire, Prometheus exposition and a dashboard figure.

Memory is bounded: every window is a fixed-size ``deque``, so a monitor that runs for a month
uses what it used after the first ``window`` requests. Time comes from an injectable ``clock``
(``time.time`` by default), so alert timing is testable without sleeping.
"""

import bisect
import math
import operator
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

QUANTILES = (0.5, 0.95, 0.99)
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def percentile_from_sorted(sorted_values, q):
    """The q-quantile (0 <= q <= 1) of an ascending list, interpolating linearly between ranks.

    Position h = (n - 1) * q; result = v[floor(h)] + (h - floor(h)) * (v[floor(h)+1] - v[floor(h)]).
    This is NumPy's default (``np.percentile(..., method="linear")``), so p50 of [1, 2, 3, 4] is
    2.5. Returns None for an empty window rather than inventing a number.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    position = (n - 1) * q
    low = int(math.floor(position))
    high = min(low + 1, n - 1)
    fraction = position - low
    return float(sorted_values[low] + fraction * (sorted_values[high] - sorted_values[low]))


class SlidingWindowPercentiles:
    """Percentiles of the last ``size`` observations, updated as each one arrives.

    Keeps the arrival order in a ``deque`` (to know which value leaves the window) and the same
    values in a sorted list (``bisect.insort`` in, ``bisect_left`` + ``pop`` out), so a query is
    O(1) instead of sorting the window again: what a /metrics scrape every second needs.
    """

    def __init__(self, size):
        if int(size) < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = int(size)
        self.arrivals = deque()
        self.ordered = []

    def add(self, value):
        value = float(value)
        if math.isnan(value):
            raise ValueError("cannot add NaN to a percentile window; drop or count it instead")
        if len(self.arrivals) == self.size:
            oldest = self.arrivals.popleft()
            self.ordered.pop(bisect.bisect_left(self.ordered, oldest))
        self.arrivals.append(value)
        bisect.insort(self.ordered, value)

    def percentile(self, q):
        return percentile_from_sorted(self.ordered, q)

    def __len__(self):
        return len(self.arrivals)


@dataclass(frozen=True)
class AlertEvent:
    """A state change of an alert rule: "firing" or "resolved", when, and the value seen."""

    rule: str
    state: str
    value: float | None
    timestamp: float
    message: str


class AlertRule:
    """``metric op threshold`` that must hold for ``for_seconds`` AND ``for_count`` evaluations.

    Like a Prometheus alerting rule: the first time the condition holds the rule is *pending*;
    it *fires* once the condition has held continuously for ``for_seconds`` seconds and for at
    least ``for_count`` consecutive evaluations; it *resolves* the first time the condition no
    longer holds. A missing value (None, e.g. no traffic yet) counts as "condition false".
    ``evaluate`` returns an AlertEvent on a state change, otherwise None.
    Why: one slow request should not page anyone; a p99 above 100 ms for five minutes should.
    """

    def __init__(self, metric, op, threshold, for_seconds=0.0, for_count=1, name=None):
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r}; use one of {list(OPERATORS)}")
        if for_seconds < 0 or for_count < 1:
            raise ValueError(f"need for_seconds >= 0 and for_count >= 1, got {for_seconds}, {for_count}")
        self.metric, self.op, self.threshold = metric, op, float(threshold)
        self.for_seconds, self.for_count = float(for_seconds), int(for_count)
        self.name = name or f"{metric} {op} {threshold}"
        self.pending_since = None
        self.streak = 0
        self.firing = False

    def evaluate(self, value, now):
        holds = value is not None and OPERATORS[self.op](value, self.threshold)
        if not holds:
            self.pending_since, self.streak = None, 0
            if self.firing:
                self.firing = False
                return AlertEvent(self.name, "resolved", value, now, f"{self.metric} back to {value}")
            return None
        if self.pending_since is None:
            self.pending_since = now
        self.streak += 1
        held_long_enough = now - self.pending_since >= self.for_seconds and self.streak >= self.for_count
        if held_long_enough and not self.firing:
            self.firing = True
            return AlertEvent(self.name, "firing", value, now,
                              f"{self.metric}={value:.4g} {self.op} {self.threshold:g}")
        return None

    def to_dict(self):
        return {"name": self.name, "metric": self.metric, "op": self.op, "threshold": self.threshold,
                "for_seconds": self.for_seconds, "for_count": self.for_count, "firing": self.firing}


class PerformanceTracker:
    """Sliding-window latency, accuracy and error-rate statistics (no alerting, no model).

    ``window`` bounds every buffer: the last ``window`` latencies, prediction outcomes and
    request outcomes. ``history`` bounds the time series kept for plotting.
    """

    def __init__(self, window=1000, history=1000, clock=time.time):
        self.window, self.clock = int(window), clock
        self.latencies = SlidingWindowPercentiles(window)
        self.correct = deque(maxlen=self.window)
        self.outcomes = deque(maxlen=self.window)  # (timestamp, ok)
        self.latency_series = deque(maxlen=history)  # (timestamp, seconds)
        self.accuracy_series = deque(maxlen=history)  # (timestamp, window accuracy)
        self.requests_total = 0
        self.errors_total = 0
        self.predictions_total = 0

    def track_latency(self, seconds):
        seconds = float(seconds)
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"latency must be a finite number of seconds >= 0, got {seconds}")
        now = self.clock()
        self.latencies.add(seconds)
        self.outcomes.append((now, True))
        self.latency_series.append((now, seconds))
        self.requests_total += 1

    def track_error(self):
        self.outcomes.append((self.clock(), False))
        self.requests_total += 1
        self.errors_total += 1

    def track_accuracy(self, predictions, labels):
        predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
        if predictions.shape != labels.shape or predictions.size == 0:
            raise ValueError(f"predictions and labels must be non-empty and equally long; got "
                             f"{predictions.size} and {labels.size}")
        hits = predictions == labels
        self.correct.extend(hits.tolist())
        self.predictions_total += hits.size
        self.accuracy_series.append((self.clock(), self.accuracy()))
        return float(hits.mean())

    def accuracy(self):
        return sum(self.correct) / len(self.correct) if self.correct else None

    def error_rate(self):
        if not self.outcomes:
            return None
        return sum(1 for _, ok in self.outcomes if not ok) / len(self.outcomes)

    def throughput(self):
        """Requests per second over the window (None until two requests span some time)."""
        if len(self.outcomes) < 2:
            return None
        span = self.outcomes[-1][0] - self.outcomes[0][0]
        return (len(self.outcomes) - 1) / span if span > 0 else None

    def latency_percentiles(self):
        return {f"p{round(q * 100)}": self.latencies.percentile(q) for q in QUANTILES}

    def metrics(self):
        """Current value of every metric an AlertRule can watch (None when there is no data)."""
        values = {f"latency_{k}": v for k, v in self.latency_percentiles().items()}
        window = self.latencies.arrivals
        values["latency_mean"] = sum(window) / len(window) if window else None
        values.update(accuracy=self.accuracy(), error_rate=self.error_rate(), throughput=self.throughput(),
                      requests_total=self.requests_total)
        return values


class ModelMonitor:
    """Monitors one served model: a PerformanceTracker, alert rules with a history, drift status.

    >>> monitor = ModelMonitor(model, window=1000)                            # doctest: +SKIP
    >>> monitor.add_alert(AlertRule("latency_p99", ">", 0.1, for_seconds=60))  # doctest: +SKIP
    >>> monitor.track_latency(0.004); monitor.track_accuracy(pred, y)        # doctest: +SKIP

    Every ``track_*`` call re-evaluates the rules; ``alert_history`` keeps the last
    ``history`` firing/resolved events. Thread-safe: a server may track from several threads.
    """

    def __init__(self, model=None, window=1000, history=1000, clock=time.time, alert_rules=()):
        self.model = model
        self.clock = clock
        self.tracker = PerformanceTracker(window=window, history=history, clock=clock)
        self.rules = []
        self.alert_history = deque(maxlen=history)
        self.drift_report = None
        self.lock = threading.Lock()
        for rule in alert_rules:
            self.add_alert(rule)

    def add_alert(self, rule):
        known = self.tracker.metrics()
        if rule.metric not in known and rule.metric != "drift_share":
            raise ValueError(f"alert on unknown metric {rule.metric!r}; use one of {sorted(known) + ['drift_share']}")
        self.rules.append(rule)
        return rule

    def track_latency(self, seconds):
        with self.lock:
            self.tracker.track_latency(seconds)
            self._evaluate()

    def track_error(self):
        with self.lock:
            self.tracker.track_error()
            self._evaluate()

    def track_accuracy(self, predictions, labels):
        with self.lock:
            batch_accuracy = self.tracker.track_accuracy(predictions, labels)
            self._evaluate()
            return batch_accuracy

    def record_drift(self, report):
        """Keep the latest DriftReport so snapshots and alerts (metric "drift_share") see it."""
        with self.lock:
            self.drift_report = report
            self._evaluate()

    def predict(self, x, labels=None):
        """Run ``model.predict`` timing it; a raised exception is tracked as an error."""
        if self.model is None:
            raise ValueError("this ModelMonitor has no model; pass ModelMonitor(model) to use predict()")
        start = time.perf_counter()
        try:
            predictions = self.model.predict(x)
        except Exception:
            self.track_error()
            raise
        self.track_latency(time.perf_counter() - start)
        if labels is not None:
            self.track_accuracy(predictions, labels)
        return predictions

    def metrics(self):
        values = self.tracker.metrics()
        values["drift_share"] = None if self.drift_report is None else self.drift_report.share_drifted
        return values

    def _evaluate(self):
        if not self.rules:  # every track_* call lands here; computing all metrics for no rule is waste
            return
        values, now = self.metrics(), self.clock()
        for rule in self.rules:
            event = rule.evaluate(values.get(rule.metric), now)
            if event is not None:
                self.alert_history.append(event)

    def firing_alerts(self):
        return [rule.name for rule in self.rules if rule.firing]

    def snapshot(self):
        """JSON-ready state for a dashboard: metrics, window sizes, alerts, drift (no NaN)."""
        with self.lock:
            drift = None
            if self.drift_report is not None:
                summary = self.drift_report.to_dict()
                drift = {k: summary[k] for k in ("dataset_drift", "share_drifted", "drift_share",
                                                 "number_drifted", "number_of_features")}
                drift["drifted_features"] = self.drift_report.drifted_features
            return {
                "timestamp": self.clock(),
                "window": self.tracker.window,
                "latency_window_size": len(self.tracker.latencies),
                "metrics": self.metrics(),
                "totals": {"requests": self.tracker.requests_total, "errors": self.tracker.errors_total,
                           "predictions": self.tracker.predictions_total},
                "alerts": {"rules": [rule.to_dict() for rule in self.rules], "firing": self.firing_alerts(),
                           "history": [asdict(e) for e in list(self.alert_history)[-20:]]},
                "drift": drift,
            }

    def prometheus_text(self, prefix="tinytorch_monitor"):
        """The monitor's state in Prometheus text exposition format (version 0.0.4)."""
        from .serving.metrics import format_labels, format_value

        with self.lock:
            values = self.metrics()
            lines = [f"# HELP {prefix}_latency_seconds Request latency over the last {self.tracker.window} requests.",
                     f"# TYPE {prefix}_latency_seconds summary"]
            for q in QUANTILES:
                v = self.tracker.latencies.percentile(q)
                if v is not None:
                    lines.append(f"{prefix}_latency_seconds{format_labels({'quantile': q})} {format_value(v)}")
            lines.append(f"{prefix}_latency_seconds_sum {format_value(sum(self.tracker.latencies.arrivals))}")
            lines.append(f"{prefix}_latency_seconds_count {len(self.tracker.latencies)}")
            gauges = (("accuracy", "Share of correct predictions in the window."),
                      ("error_rate", "Share of failed requests in the window."),
                      ("throughput", "Requests per second over the window."),
                      ("drift_share", "Share of features drifted in the latest drift report."))
            for name, text in gauges:
                if values[name] is not None:
                    lines += [f"# HELP {prefix}_{name} {text}", f"# TYPE {prefix}_{name} gauge",
                              f"{prefix}_{name} {format_value(values[name])}"]
            lines += [f"# HELP {prefix}_requests_total Requests tracked.", f"# TYPE {prefix}_requests_total counter",
                      f"{prefix}_requests_total {self.tracker.requests_total}",
                      f"# HELP {prefix}_alert_firing 1 while the alert rule fires.",
                      f"# TYPE {prefix}_alert_firing gauge"]
            lines += [f"{prefix}_alert_firing{format_labels({'alert': r.name})} {int(r.firing)}" for r in self.rules]
            return "\n".join(lines) + "\n"


def plot_dashboard(monitor):
    """Figure: latency (with p95 of the window) and accuracy over time, alerts marked."""
    from matplotlib.figure import Figure  # no pyplot: works headless and leaves a notebook's backend alone

    tracker = monitor.tracker
    figure = Figure(figsize=(9, 5), layout="constrained")
    latency_axis, accuracy_axis = figure.subplots(2, 1, sharex=True)
    start = min([t for t, _ in tracker.latency_series] + [t for t, _ in tracker.accuracy_series]
                + [e.timestamp for e in monitor.alert_history] or [0.0])
    if tracker.latency_series:
        t, v = np.array(tracker.latency_series).T
        latency_axis.plot(t - start, v * 1000, ".", ms=3, alpha=0.5, label="request latency")
        p95 = monitor.metrics()["latency_p95"]
        latency_axis.axhline(p95 * 1000, color="tab:orange", lw=1, label=f"window p95 {p95 * 1000:.1f} ms")
    latency_axis.set_ylabel("latency (ms)")
    if tracker.accuracy_series:
        t, v = np.array(tracker.accuracy_series).T
        accuracy_axis.plot(t - start, v, "-o", ms=3, label="window accuracy")
    accuracy_axis.set_ylabel("accuracy")
    accuracy_axis.set_xlabel("time (s)")
    for event in monitor.alert_history:
        colour = "tab:red" if event.state == "firing" else "tab:green"
        for axis in (latency_axis, accuracy_axis):
            axis.axvline(event.timestamp - start, color=colour, ls="--", lw=1)
        latency_axis.annotate(f"{event.state}: {event.rule}", (event.timestamp - start, 1.0),
                              xycoords=("data", "axes fraction"), fontsize=7, color=colour, rotation=90, va="top")
    for axis in (latency_axis, accuracy_axis):
        if axis.lines:
            axis.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Model monitor: {len(monitor.firing_alerts())} alerts firing")
    return figure
