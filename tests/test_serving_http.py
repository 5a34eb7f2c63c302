"""ModelServer over real loopback HTTP: the v2 routes, every error status followed by a good
request, metrics, lifecycle (stop frees the port, restart, no leaked threads), hot swap under
load, the registry, a standard v2 client (tritonclient) and the standalone process."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_serving_units import digits_model, digits_test  # noqa: F401  (shared fixtures)

from tinytorch.core.mlops.serving import BatchInference, InferenceEndpoint, InferenceError, ModelServer
from tinytorch.core.mlops.serving.protocol import encode_infer_request


@pytest.fixture(scope="module")
def server(digits_model):  # noqa: F811
    with ModelServer(digits_model, name="digits", port=0, max_body_bytes=256 * 1024) as running:
        yield running


def call(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        return response.status, (orjson.loads(payload) if response.getheader("content-type", "").startswith("application/json") else payload)
    finally:
        conn.close()


def good_request_succeeds(server, digits_test):  # noqa: F811
    x, _ = digits_test
    status, body = call(server, "POST", "/v2/models/digits/infer", encode_infer_request(x[:2], outputs=["predict"]))
    return status == 200 and body["outputs"][0]["data"] == server.model.predict(x[:2]).tolist()


def test_predictions_match_the_model(server, digits_model, digits_test):  # noqa: F811
    x, y = digits_test
    endpoint = InferenceEndpoint(server)
    np.testing.assert_array_equal(endpoint.predict(x), digits_model.predict(x))
    np.testing.assert_array_equal(endpoint.predict(x[0]), digits_model.predict(x[:1]))
    np.testing.assert_allclose(endpoint.predict_proba(x[:5]), digits_model.predict_proba(x[:5]), rtol=1e-5)
    assert (endpoint.predict(x) == y).mean() > 0.9


def test_v2_health_and_metadata_routes(server):
    assert call(server, "GET", "/v2/health/live") == (200, {"live": True})
    assert call(server, "GET", "/v2/health/ready")[0] == 200
    assert call(server, "GET", "/v2/models/digits/ready")[0] == 200
    assert call(server, "GET", "/v2/models/digits/versions/1/ready")[0] == 200
    assert call(server, "GET", "/v2")[1]["name"] == "tinytorch"
    status, meta = call(server, "GET", "/v2/models/digits")
    assert status == 200 and meta["versions"] == ["1"] and meta["inputs"][0]["shape"] == [-1, 64]
    assert call(server, "GET", "/v2/models/digits/versions/1")[1] == meta
    status, body = call(server, "POST", "/v2/models/digits/versions/1/infer",
                        orjson.dumps({"id": "abc", "inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP64", "data": [0.5] * 64}]}))
    assert status == 200 and body["id"] == "abc" and body["model_version"] == "1"
    assert {o["name"] for o in body["outputs"]} == {"predict", "predict_proba"}


ROW = [0.5] * 64


@pytest.mark.parametrize("method, path, body, status, fragment", [
    ("POST", "/v2/models/digits/infer", b'{"inputs": [', 400, "malformed JSON"),
    ("POST", "/v2/models/digits/infer", b'{"inputs": [{"data": [NaN]}]}', 400, "malformed JSON"),
    ("POST", "/v2/models/digits/infer", orjson.dumps({"inputs": [{"name": "x", "shape": [1, 63], "datatype": "FP32", "data": ROW[:63]}]}), 400, "[n, 64]"),
    ("POST", "/v2/models/digits/infer", orjson.dumps({"inputs": [{"name": "x", "shape": [1, 64], "datatype": "BYTES", "data": ROW}]}), 400, "numeric"),
    ("POST", "/v2/models/digits/infer", orjson.dumps({"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": ["a"] * 64}]}), 400, "numbers"),
    ("POST", "/v2/models/digits/infer", orjson.dumps({"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": [1e39] + ROW[1:]}]}), 400, "NaN or infinite"),
    ("POST", "/v2/models/digits/infer", orjson.dumps({"outputs": [{"name": "logits"}], "inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": ROW}]}), 400, "unknown output"),
    ("POST", "/v2/models/fraud/infer", orjson.dumps({"inputs": []}), 404, "unknown model 'fraud'"),
    ("POST", "/v2/models/digits/versions/9/infer", orjson.dumps({"inputs": []}), 404, "unknown version '9'"),
    ("GET", "/v2/models/fraud", None, 404, "unknown model"),
    ("GET", "/v2/models/digits/versions/9/ready", None, 404, "unknown version"),
    ("GET", "/v3/anything", None, 404, "no route"),
    ("POST", "/v2/models/digits/infer", b"[" + b"0," * 150_000 + b"0]", 413, "max_body_bytes"),
    ("GET", "/v2/models/digits/infer", None, 405, "POST"),
    ("GET", "/v2/models/digits/versions/1/infer", None, 405, "POST"),
    ("DELETE", "/v2/health/live", None, 405, "GET"),
])
def test_each_error_is_json_with_its_status_and_the_server_keeps_serving(
        server, digits_test, method, path, body, status, fragment):  # noqa: F811
    got_status, got = call(server, method, path, body)
    assert got_status == status
    assert fragment in got["error"]
    assert good_request_succeeds(server, digits_test)


@pytest.mark.parametrize("size", [300_000, 4_000_000])
def test_413_reaches_a_client_that_closes_after_its_request(server, digits_test, size):  # noqa: F811
    """With ``Connection: close`` the server must still read (and drop) the body before it
    answers: closing a socket with unread data resets it, and the client never sees the 413."""
    status, body = call(server, "POST", "/v2/models/digits/infer", b"[" + b"0," * (size // 2) + b"0]",
                        headers={"Connection": "close"})
    assert status == 413 and "max_body_bytes" in body["error"]
    assert good_request_succeeds(server, digits_test)


def test_oversized_chunked_body_is_refused_with_413(server, digits_test):  # noqa: F811
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/v2/models/digits/infer", body=iter([b"[" + b"0," * 100_000] * 3 + [b"0]"]),
                  encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    assert response.status == 413 and "max_body_bytes" in orjson.loads(response.read())["error"]
    conn.close()
    assert good_request_succeeds(server, digits_test)


def test_not_ready_answers_503_until_ready_again(server, digits_test):  # noqa: F811
    server.set_ready(False)
    try:
        assert call(server, "GET", "/v2/health/ready")[0] == 503
        assert call(server, "GET", "/v2/models/digits/ready")[0] == 503
        status, body = call(server, "POST", "/v2/models/digits/infer", encode_infer_request(np.zeros((1, 64))))
        assert status == 503 and "not ready" in body["error"]
        assert call(server, "GET", "/v2/health/live")[0] == 200
    finally:
        server.set_ready(True)
    assert good_request_succeeds(server, digits_test)


class SlowModel:
    """A real model that takes 50 ms per call, so that requests pile up behind it."""

    def __init__(self, model):
        self.model, self.input_shape = model, model.input_shape

    def forward(self, x):
        time.sleep(0.05)
        return self.model.forward(x)

    def predict(self, x):
        return self.model.predict(x)


def test_full_queue_answers_503_and_the_server_recovers(digits_model, digits_test):  # noqa: F811
    with ModelServer(SlowModel(digits_model), name="digits", port=0, max_queue_size=1) as slow:
        body = encode_infer_request(np.zeros((1, 64)))
        connections = [http.client.HTTPConnection("127.0.0.1", slow.port, timeout=10) for _ in range(8)]
        for conn in connections:
            conn.connect()
        statuses, start = [], threading.Barrier(len(connections))

        def send(conn):
            start.wait()
            conn.request("POST", "/v2/models/digits/infer", body=body)
            response = conn.getresponse()
            statuses.append((response.status, orjson.loads(response.read())))

        threads = [threading.Thread(target=send, args=(conn,)) for conn in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(status for status, _ in statuses)
        assert 200 in codes and 503 in codes and set(codes) == {200, 503}
        assert all("max_queue_size" in body["error"] for status, body in statuses if status == 503)
        assert good_request_succeeds(slow, digits_test)


def test_metrics_parse_as_prometheus_and_count_what_happened(digits_model, digits_test):  # noqa: F811
    with ModelServer(digits_model, name="digits", version="7", port=0) as fresh:
        endpoint = InferenceEndpoint(fresh)
        for _ in range(3):
            endpoint.predict(digits_test[0][:4])
        call(fresh, "POST", "/v2/models/digits/infer", b"{")
        families = {f.name: f for f in text_string_to_metric_families(endpoint.metrics_text())}
    by_status = {s.labels["status"]: s.value for s in families["tinytorch_inference_requests"].samples}
    assert by_status == {"200": 3, "400": 1}
    latency = {s.name: s.value for s in families["tinytorch_request_duration_seconds"].samples if "le" not in s.labels}
    assert latency["tinytorch_request_duration_seconds_count"] == 4
    batch = {s.labels.get("le"): s.value for s in families["tinytorch_batch_size"].samples}
    assert batch["4.0"] == 3 and batch["2.0"] == 0  # three model calls of 4 rows
    assert families["tinytorch_queue_depth"].samples[0].value == 0
    assert families["tinytorch_inflight_requests"].samples[0].value == 0
    assert families["tinytorch_model_info"].samples[0].labels == {"model": "digits", "version": "7"}


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_stop_frees_the_port_and_restart_reuses_it_without_leaks(digits_model, digits_test):  # noqa: F811
    threads_before, fds_before = set(threading.enumerate()), open_fds()
    server = ModelServer(digits_model, name="digits", port=0).start()
    port = server.port
    endpoint = InferenceEndpoint(server)
    assert endpoint.predict(digits_test[0][:1]).shape == (1,)
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    with pytest.raises(OSError, match="port=0"):
        ModelServer(digits_model, port=port).start()
    server.stop()
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    server.start()
    assert server.port == port
    assert endpoint.predict(digits_test[0][:1]).shape == (1,)  # the client reconnects by itself
    server.restart()
    assert endpoint.predict(digits_test[0][:1]).shape == (1,)
    endpoint.close()
    server.stop()
    server.stop()  # twice is harmless
    assert set(threading.enumerate()) == threads_before
    assert open_fds() == fds_before


def test_hot_swap_under_continuous_load_fails_no_request(digits_model, digits_test):  # noqa: F811
    from tinytorch.core.layers import mlp

    x = digits_test[0][:3]
    with ModelServer(digits_model, name="digits", port=0) as live:
        stop, failures, versions = threading.Event(), [], set()

        def client():
            endpoint = InferenceEndpoint(live)
            while not stop.is_set():
                try:
                    status, body = endpoint.request("POST", endpoint.model_path + "/infer", encode_infer_request(x))
                    if status != 200:
                        failures.append(body)
                    else:
                        versions.add(orjson.loads(body)["model_version"])
                except OSError as error:
                    failures.append(error)
            endpoint.close()

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(0.2)
        for seed in (1, 2, 3):
            live.swap_model(mlp([64, 32, 10], seed=seed))
            time.sleep(0.2)
        with pytest.raises(ValueError, match="clients would break"):
            live.swap_model(mlp([32, 10], seed=4))
        time.sleep(0.1)
        stop.set()
        for thread in clients:
            thread.join()
        assert failures == []
        assert versions == {"1", "2", "3", "4"}
        assert call(live, "GET", "/v2/models/digits")[1]["versions"] == ["4"]
        assert call(live, "GET", "/v2/models/digits/versions/1/ready")[0] == 404
        np.testing.assert_array_equal(InferenceEndpoint(live).predict(x), mlp([64, 32, 10], seed=3).predict(x))
        families = {f.name: f for f in text_string_to_metric_families(InferenceEndpoint(live).metrics_text())}
        assert [s.labels["version"] for s in families["tinytorch_model_info"].samples] == ["4"]


def test_from_registry_serves_the_alias(digits_model, digits_test, tmp_path):  # noqa: F811
    from tinytorch.core.layers import mlp
    from tinytorch.core.mlops.registry import ModelRegistry

    registry = ModelRegistry(tmp_path / "registry")
    registry.register_model(mlp([64, 16, 10], seed=5), name="digits")
    registry.register_model(digits_model, name="digits")
    registry.set_alias("champion", "2", name="digits")
    with ModelServer.from_registry(registry, "digits", alias="champion", port=0) as served:
        assert served.model_version == "2"
        x = digits_test[0][:20]
        np.testing.assert_array_equal(InferenceEndpoint(served).predict(x), digits_model.predict(x))


def test_a_standard_v2_client_can_call_it(server, digits_model, digits_test):  # noqa: F811
    httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("digits")
        assert client.get_model_metadata("digits")["name"] == "digits"
        x = digits_test[0][:5].astype(np.float32)
        tensor = httpclient.InferInput("input-0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=False)
        result = client.infer("digits", [tensor], outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)])
        np.testing.assert_array_equal(result.as_numpy("predict"), digits_model.predict(x))
    finally:
        client.close()


def test_batch_inference_through_the_server_matches_the_model(server, digits_model, digits_test):  # noqa: F811
    x, _ = digits_test
    job = BatchInference(InferenceEndpoint(server), chunk_size=100, progress=False)
    np.testing.assert_array_equal(job.run(x), digits_model.predict(x))


def test_client_raises_the_servers_error(server):
    with pytest.raises(InferenceError) as caught:
        InferenceEndpoint(server).predict(np.zeros((2, 10)))
    assert caught.value.status == 400 and "[n, 64]" in caught.value.message


def test_standalone_process_serves_a_saved_model(digits_model, digits_test, tmp_path):  # noqa: F811
    from tinytorch.core.serialization import save_model

    save_model(digits_model, tmp_path / "digits.ttm")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tinytorch.core.mlops.serving", "--model", str(tmp_path / "digits.ttm"),
                                "--name", "digits", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = InferenceEndpoint(f"http://127.0.0.1:{port}", model_name="digits")
        deadline = time.monotonic() + 20
        while True:
            try:
                if endpoint.is_ready():
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
                time.sleep(0.05)
        x = digits_test[0][:10]
        np.testing.assert_array_equal(endpoint.predict(x), digits_model.predict(x))
        endpoint.close()
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a process should
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr
    assert f"127.0.0.1:{port}/v2" in stdout


def test_load_plot_comes_from_a_real_load_run(digits_model):  # noqa: F811
    import matplotlib

    matplotlib.use("Agg")
    from tinytorch.core.mlops.serving.loadtest import plot_serving_load

    figure, results = plot_serving_load(digits_model, batch_sizes=(1, 8), concurrency=4, seconds=0.3)
    assert len(figure.axes) == 2 and set(results) == {1, 8}
    assert all(len(r.latencies) > 0 and r.errors == 0 for r in results.values())
    assert len(figure.axes[1].lines[0].get_xdata()) == 2
