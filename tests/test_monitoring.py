"""ModelMonitor / PerformanceTracker: windows, percentiles, alerts with an injected clock."""

import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops import ModelMonitor, PerformanceTracker
from tinytorch.core.mlops.drift import DriftDetector
from tinytorch.core.mlops.monitoring import AlertRule, SlidingWindowPercentiles, percentile_from_sorted, plot_dashboard


class FakeClock:
    """Seconds that advance only when the test says so."""

    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=300), st.integers(1, 50))
def test_window_percentiles_equal_numpy_over_last_n(values, size):
    window = SlidingWindowPercentiles(size)
    for v in values:
        window.add(v)
    last = np.array(values[-size:])
    for q in (0.5, 0.95, 0.99):
        assert window.percentile(q) == pytest.approx(np.percentile(last, q * 100), abs=1e-12)
    assert len(window) == min(size, len(values)) and len(window.ordered) == len(window)


def test_percentile_edge_cases():
    assert percentile_from_sorted([], 0.5) is None
    assert percentile_from_sorted([1, 2, 3, 4], 0.5) == 2.5
    with pytest.raises(ValueError, match="quantile"):
        percentile_from_sorted([1.0], 1.5)
    with pytest.raises(ValueError, match="NaN"):
        SlidingWindowPercentiles(3).add(float("nan"))


def test_tracker_accuracy_error_rate_and_bounded_memory():
    clock = FakeClock()
    tracker = PerformanceTracker(window=100, history=50, clock=clock)
    for i in range(1000):
        clock.now += 0.01
        tracker.track_latency(0.001 * (i % 10))
        if i % 4 == 0:
            tracker.track_error()
    assert len(tracker.latencies) == 100 and len(tracker.outcomes) == 100 and len(tracker.latency_series) == 50
    assert tracker.error_rate() == pytest.approx(20 / 100, abs=0.02)
    assert tracker.requests_total == 1250 and tracker.errors_total == 250
    assert tracker.track_accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    assert tracker.accuracy() == 0.5
    with pytest.raises(ValueError, match="equally long"):
        tracker.track_accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="latency"):
        tracker.track_latency(-1)


def test_alert_fires_only_after_holding_for_duration_and_resolves():
    clock = FakeClock()
    monitor = ModelMonitor(window=10, clock=clock)
    monitor.add_alert(AlertRule("latency_p50", ">", 0.1, for_seconds=30, name="slow"))
    for _ in range(10):
        clock.now += 1
        monitor.track_latency(0.01)
    start = clock.now
    for _ in range(25):  # condition true from here on, but only for 25 s
        clock.now += 1
        monitor.track_latency(0.5)
    assert monitor.firing_alerts() == [] and not monitor.alert_history
    for _ in range(10):
        clock.now += 1
        monitor.track_latency(0.5)
    fired = monitor.alert_history[0]
    assert fired.state == "firing" and fired.rule == "slow"
    # p50 of 10 latencies is the mean of the 5th and 6th: (0.01 + 0.5) / 2 > 0.1 once 5 are slow
    assert fired.timestamp == start + 5 + 30
    for _ in range(10):
        clock.now += 1
        monitor.track_latency(0.01)
    assert [e.state for e in monitor.alert_history] == ["firing", "resolved"]
    assert monitor.firing_alerts() == []


def test_alert_for_count_and_a_blip_resets_it():
    rule = AlertRule("error_rate", ">=", 0.5, for_count=3)
    assert rule.evaluate(0.6, 0) is None and rule.evaluate(0.6, 1) is None
    assert rule.evaluate(0.1, 2) is None  # blip resets the streak
    assert rule.evaluate(0.6, 3) is None and rule.evaluate(0.6, 4) is None
    assert rule.evaluate(0.6, 5).state == "firing"
    assert rule.evaluate(None, 6).state == "resolved"
    with pytest.raises(ValueError, match="operator"):
        AlertRule("accuracy", "=<", 0.9)
    with pytest.raises(ValueError, match="unknown metric"):
        ModelMonitor().add_alert(AlertRule("acuracy", "<", 0.9))


def test_snapshot_is_json_and_reports_drift():
    clock = FakeClock()
    monitor = ModelMonitor(window=50, clock=clock)
    empty = monitor.snapshot()
    assert empty["metrics"]["latency_p99"] is None and empty["drift"] is None
    monitor.add_alert(AlertRule("drift_share", ">=", 0.5))
    rng = np.random.default_rng(0)
    monitor.record_drift(DriftDetector(rng.normal(size=(300, 2))).detect_drift(rng.normal(1, 1, (300, 2))))
    for i in range(20):
        clock.now += 0.5
        monitor.track_latency(0.002 * (i + 1))
    snap = json.loads(json.dumps(monitor.snapshot(), allow_nan=False))
    assert snap["metrics"]["latency_p50"] == pytest.approx(0.021)
    assert snap["metrics"]["throughput"] == pytest.approx(2.0)
    assert snap["drift"]["dataset_drift"] is True and snap["alerts"]["firing"] == ["drift_share >= 0.5"]


def test_prometheus_text_parses_with_the_official_parser():
    from prometheus_client.parser import text_string_to_metric_families

    monitor = ModelMonitor(window=100)
    monitor.add_alert(AlertRule("latency_p99", ">", 1.0, name='p99 "too" high'))
    for v in (0.01, 0.02, 0.03):
        monitor.track_latency(v)
    monitor.track_accuracy([1, 1], [1, 0])
    families = {f.name: f for f in text_string_to_metric_families(monitor.prometheus_text())}
    quantiles = {s.labels["quantile"]: s.value for s in families["tinytorch_monitor_latency_seconds"].samples
                 if "quantile" in s.labels}
    assert quantiles["0.5"] == pytest.approx(0.02)
    assert families["tinytorch_monitor_accuracy"].samples[0].value == 0.5
    assert families["tinytorch_monitor_alert_firing"].samples[0].labels["alert"] == 'p99 "too" high'


def test_predict_with_a_real_model_tracks_latency_accuracy_and_errors():
    training = pytest.importorskip("tinytorch.core.training")
    data = pytest.importorskip("tinytorch.core.data").load_digits()
    model, _ = training.train_digits_classifier(hidden=(32,), epochs=5, seed=0)
    monitor = ModelMonitor(model)
    X, y = data.test
    monitor.predict(X, labels=y)
    assert monitor.tracker.requests_total == 1 and monitor.tracker.accuracy() > 0.8
    with pytest.raises(Exception):
        monitor.predict(np.zeros((2, 3), dtype=np.float32))
    assert monitor.tracker.errors_total == 1


def test_concurrent_tracking_loses_nothing():
    monitor = ModelMonitor(window=10_000)

    def work():
        for _ in range(500):
            monitor.track_latency(0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert monitor.tracker.requests_total == 2000 and len(monitor.tracker.latencies) == 2000


def test_plot_dashboard_marks_alerts():
    clock = FakeClock()
    monitor = ModelMonitor(window=20, clock=clock)
    monitor.add_alert(AlertRule("latency_p95", ">", 0.05))
    for i in range(60):
        clock.now += 1
        monitor.track_latency(0.1 if 20 <= i < 40 else 0.01)
        if i % 5 == 0:
            monitor.track_accuracy([1, 1, 0], [1, 1, 1])
    figure = plot_dashboard(monitor)
    assert len(figure.axes) == 2
    assert len(monitor.alert_history) == 2
    dashed = [line for line in figure.axes[0].lines if line.get_linestyle() == "--"]
    assert len(dashed) == 2
