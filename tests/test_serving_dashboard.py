"""The /dashboard page of ModelServer: its data endpoint over real HTTP, and the page itself
rendered by headless Chromium while real traffic runs (skipped if Chromium is not installed)."""

import io
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np
import orjson
import pytest
from PIL import Image  # matplotlib's own dependency

from tinytorch.core.mlops.drift import DriftDetector
from tinytorch.core.mlops.monitoring import AlertRule, ModelMonitor
from tinytorch.core.mlops.serving import InferenceEndpoint, ModelServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def model():
    from tinytorch.core.training import train_digits_classifier

    return train_digits_classifier(hidden=(32,), epochs=4, seed=0)[0]


def get_json(client, path):
    status, payload = client.request("GET", path)
    assert status == 200, (status, payload[:200])
    return orjson.loads(payload)


def brighter(x):
    """Images from a new scanner: every pixel 60 % brighter (a drift the detector must see)."""
    return np.clip(x * 1.6, 0, 1).astype(np.float32)


def test_the_page_is_self_contained_and_polls_its_data_endpoint(model):
    with ModelServer(model, name="digits", port=0) as server:
        status, page = InferenceEndpoint(server).request("GET", "/dashboard")
    assert status == 200
    html = page.decode()
    assert html.startswith("<!DOCTYPE html>") and "/data" in html and "setTimeout(poll, 1000)" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the page must not load anything from elsewhere"


def test_data_endpoint_counts_what_happened_and_shows_the_served_version(model, digits):
    X, _ = digits.test
    with ModelServer(model, name="digits", port=0) as server:
        client = InferenceEndpoint(server)
        for size in (1, 3, 5):
            client.predict(X[:size])
        client.request("POST", "/v2/models/digits/infer", b"{not json")
        data = get_json(client, "/dashboard/data")
        assert data["requests"] == {"200": 3, "400": 1}
        latency = data["latency_seconds"]
        assert latency["count"] == 4 and latency["cumulative"][-1] == 4 and latency["bounds"][-1] is None
        assert latency["cumulative"] == sorted(latency["cumulative"]), "cumulative counts never decrease"
        assert len(latency["bounds"]) == len(latency["cumulative"])
        assert data["batch_size"]["sum"] == 9 and data["batch_size"]["count"] == 3
        assert data["model"] == {"name": "digits", "version": "1", "ready": True}
        assert data["monitor"] is None and data["queue_depth"] == 0 and data["in_flight"] == 0
        assert 0 < data["uptime_seconds"] < 60
        server.swap_model(model)
        server.set_ready(False)
        assert get_json(client, "/dashboard/data")["model"] == {"name": "digits", "version": "2", "ready": False}


def test_an_attached_monitor_brings_accuracy_drift_and_alerts(model, digits):
    X, y = digits.test
    monitor = ModelMonitor(alert_rules=[AlertRule("accuracy", "<", 0.99, name="accuracy_below_99")])
    with ModelServer(model, name="digits", port=0) as server:
        assert server.attach_monitor(monitor) is monitor
        client = InferenceEndpoint(server)
        predictions = client.predict(X)
        monitor.track_accuracy(predictions, y)
        monitor.record_drift(DriftDetector(digits.train[0]).detect_drift(brighter(X)))
        snapshot = get_json(client, "/dashboard/data")["monitor"]
        server.attach_monitor(None)
        assert get_json(client, "/dashboard/data")["monitor"] is None
    assert snapshot["metrics"]["accuracy"] == pytest.approx(float((predictions == y).mean()))
    assert snapshot["drift"]["dataset_drift"] is True and snapshot["drift"]["number_drifted"] > 0
    assert snapshot["alerts"]["firing"] == ["accuracy_below_99"]
    assert snapshot["totals"]["predictions"] == len(y)


def chromium(url, screenshot):
    """The page's DOM after 3 s of virtual time (the scripts have run), and a screenshot of it."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--virtual-time-budget=3000", "--window-size=1280,900", "--dump-dom", f"--screenshot={screenshot}", url],
            capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_headless_chromium_renders_the_live_page(model, digits, tmp_path):
    X, y = digits.test
    shifted = brighter(X)
    monitor = ModelMonitor(alert_rules=[AlertRule("accuracy", "<", 0.9, for_count=50, name="accuracy_below_90")])
    monitor.record_drift(DriftDetector(digits.train[0]).detect_drift(shifted))
    stop = threading.Event()

    def traffic(offset):  # real clients: mostly good rows, some from the new scanner, a few malformed bodies
        client = InferenceEndpoint(server)
        i = offset
        while not stop.is_set():
            start = (i * 4) % (len(X) - 4)
            rows = X[start:start + 4] if i % 5 else shifted[start:start + 4]
            monitor.track_accuracy(client.predict(rows), y[start:start + 4])
            if i % 20 == 0:
                client.request("POST", "/v2/models/digits/infer", b"{truncated")
            i += 1
        client.close()

    with ModelServer(model, name="digits", port=0, monitor=monitor) as server:
        clients = [threading.Thread(target=traffic, args=(k,)) for k in range(2)]
        for t in clients:
            t.start()
        try:
            while get_json(InferenceEndpoint(server), "/dashboard/data")["latency_seconds"]["count"] < 200:
                pass
            dom = chromium(server.url + "/dashboard", tmp_path / "dashboard.png")
        finally:
            stop.set()
            for t in clients:
                t.join(10)
    assert 'id="model" class="pill">digits v1<' in dom, "the page did not render a sample"
    throughput = re.search(r'id="throughput">([\d,]+)<small>req/s', dom)
    assert throughput and int(throughput.group(1).replace(",", "")) > 0, "no throughput shown while traffic ran"
    assert re.search(r'id="p99">[\d.]+<small>ms', dom), "no p99 latency shown"
    assert re.search(r'id="accuracy">[\d.]+<small>%', dom) and "DRIFT DETECTED" in dom
    assert "<polyline" in dom, "the sparklines were not drawn"

    screenshot = (tmp_path / "dashboard.png").read_bytes()
    assert screenshot[:8] == b"\x89PNG\r\n\x1a\n", "Chromium did not write a PNG"
    pixels = np.asarray(Image.open(io.BytesIO(screenshot)).convert("RGB"))
    assert pixels.shape == (900, 1280, 3)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 100, f"the screenshot has only {len(colours)} colours: blank or unstyled"
    blue_bars = ((pixels[..., 2] > 200) & (pixels[..., 0] < 130)).sum()
    assert blue_bars > 2000, "the latency histogram's bars are missing from the screenshot"
