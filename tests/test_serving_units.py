"""Serving building blocks in isolation: v2 request validation, the micro-batcher, metrics,
batch inference. No sockets here; tests/test_serving_http.py does the real round trips."""

import asyncio
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tinytorch.core.mlops.serving import (BatchInference, Histogram, InferenceError, MicroBatcher,
                                          iter_chunks, parse_infer_request, take_batch)
from tinytorch.core.mlops.serving.batching import split_outputs
from tinytorch.core.mlops.serving.metrics import ServerMetrics, format_labels
from tinytorch.core.mlops.serving.protocol import (decode_infer_response, encode_infer_request,
                                                   encode_infer_response, requested_outputs)


@pytest.fixture(scope="session")
def digits_model():
    from tinytorch.core.training import train_digits_classifier

    return train_digits_classifier(hidden=(32,), seed=0)[0]


@pytest.fixture(scope="session")
def digits_test(digits):
    return digits.test


def request(shape, data, datatype="FP32"):
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}


# -- parse_infer_request -------------------------------------------------------------------

def test_parse_accepts_flat_and_nested_data():
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    flat = parse_infer_request(request([3, 4], rows.ravel().tolist()), (4,))
    nested = parse_infer_request(request([3, 4], rows.tolist(), "INT64"), (4,))
    for x in (flat, nested):
        assert x.dtype == np.float32 and x.shape == (3, 4)
        np.testing.assert_array_equal(x, rows)


@pytest.mark.parametrize("body, fragment", [
    ([1, 2], '"inputs" list'),
    ({"inputs": {}}, '"inputs" list'),
    ({"inputs": []}, "exactly one input"),
    ({"inputs": [request([1, 4], [0] * 4)["inputs"][0]] * 2}, "exactly one input"),
    ({"inputs": [{"name": "x", "shape": [1, 4]}]}, '"data"'),
    (request([1, 5], [0] * 5), "[n, 4]"),
    (request([4], [0] * 4), "[n, 4]"),
    (request([0, 4], []), "n >= 1"),
    (request([1.0, 4], [0] * 4), "[n, 4]"),
    (request([1, 4], [0] * 4, "BYTES"), "numeric"),
    (request([1, 4], [0] * 4, "BOOL"), "numeric"),
    (request([2, 4], [0] * 4), "has 4 values but shape [2, 4] needs 8"),
    (request([1, 4], ["a", "b", "c", "d"]), "list of numbers"),
    (request([2, 4], [[0, 0, 0, 0], [0, 0]]), "list of numbers"),
    (request([1, 4], [0, 0, float("nan"), 0]), "NaN or infinite"),
    (request([1, 4], [0, float("-inf"), 0, 0]), "NaN or infinite"),
    (request([1, 4], [0, 1e39, 0, 0]), "NaN or infinite"),  # finite in JSON, inf in float32
])
def test_parse_rejects_bad_requests_with_400_and_a_reason(body, fragment):
    with pytest.raises(InferenceError) as caught:
        parse_infer_request(body, (4,))
    assert caught.value.status == 400
    assert fragment in caught.value.message


def test_requested_outputs_defaults_to_all_and_rejects_unknown_names():
    assert requested_outputs({}, ("predict", "predict_proba")) == ["predict", "predict_proba"]
    assert requested_outputs({"outputs": [{"name": "predict"}]}, ("predict",)) == ["predict"]
    with pytest.raises(InferenceError, match="unknown output"):
        requested_outputs({"outputs": [{"name": "logits"}]}, ("predict",))


def test_request_and_response_encoding_round_trip():
    x = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    body = __import__("orjson").loads(encode_infer_request(x, outputs=["predict"], request_id="7"))
    np.testing.assert_array_equal(parse_infer_request(body, (4,)), x)
    assert body["outputs"] == [{"name": "predict"}] and body["id"] == "7"
    outputs = {"predict": np.array([1, 2, 3], dtype=np.int64), "predict_proba": x}
    decoded = decode_infer_response(encode_infer_response("m", "1", "7", outputs))
    np.testing.assert_array_equal(decoded["predict"], outputs["predict"])
    np.testing.assert_array_equal(decoded["predict_proba"], x)
    assert decoded["predict"].dtype == np.int64 and decoded["predict_proba"].dtype == np.float32


# -- take_batch and the MicroBatcher ---------------------------------------------------------

def pending(*row_counts):
    from collections import deque
    return deque((np.zeros((rows, 2)), f"request {i}") for i, rows in enumerate(row_counts))


def test_take_batch_fills_up_to_the_limit_in_arrival_order():
    queue = pending(2, 3, 4, 1)
    assert [tag for _, tag in take_batch(queue, 5)] == ["request 0", "request 1"]
    assert [tag for _, tag in take_batch(queue, 5)] == ["request 2", "request 3"]
    assert not queue


def test_take_batch_serves_an_oversized_request_alone():
    queue = pending(10, 1)
    assert [tag for _, tag in take_batch(queue, 4)] == ["request 0"]
    assert len(queue) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=30), st.integers(1, 16))
def test_take_batch_partitions_the_queue_in_order(row_counts, max_batch_size):
    queue = pending(*row_counts)
    seen = []
    while queue:
        batch = take_batch(queue, max_batch_size)
        rows = sum(len(x) for x, _ in batch)
        assert len(batch) == 1 or rows <= max_batch_size
        if queue:  # a batch stops only when the next request would not fit
            assert rows + len(queue[0][0]) > max_batch_size
        seen += [tag for _, tag in batch]
    assert seen == [f"request {i}" for i in range(len(row_counts))]


def test_split_outputs_returns_each_request_its_rows():
    outputs = {"a": np.arange(6), "b": np.arange(12).reshape(6, 2)}
    pieces = split_outputs(outputs, [1, 3, 2])
    assert [p["a"].tolist() for p in pieces] == [[0], [1, 2, 3], [4, 5]]
    assert pieces[2]["b"].tolist() == [[8, 9], [10, 11]]


class RecordingModel:
    """Doubles its input and records the batch sizes it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, x):
        self.calls.append(len(x))
        return {"double": x * 2}


def test_an_idle_model_runs_the_first_request_at_once_and_batches_the_rest():
    model = RecordingModel()

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64)
        inputs = [np.full((rows, 2), i, dtype=np.float32) for i, rows in enumerate([1, 2, 1, 3])]
        return inputs, await asyncio.gather(*(batcher.submit(x) for x in inputs))

    inputs, results = asyncio.run(scenario())
    assert model.calls == [1, 6]  # the first found the model idle; the others arrived meanwhile
    for x, result in zip(inputs, results):
        np.testing.assert_array_equal(result["double"], x * 2)


def test_max_batch_size_splits_a_burst_into_several_calls():
    model = RecordingModel()

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=4)
        await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(10)))

    asyncio.run(scenario())
    assert model.calls == [1, 4, 4, 1]


def test_a_lone_request_is_dispatched_on_the_next_loop_turn_not_after_a_window():
    """With a 10-second max_latency_ms a waiting batcher would stall; this one answers within
    two turns of the event loop (counted, not timed)."""
    model = RecordingModel()

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64, max_latency_ms=10_000)
        task = asyncio.ensure_future(batcher.submit(np.ones((1, 2))))
        turns = 0
        while not task.done():
            await asyncio.sleep(0)
            turns += 1
            assert turns < 10, "the request waited for a batch window"
        return turns

    assert asyncio.run(scenario()) <= 3
    assert model.calls == [1]


def test_full_queue_answers_503_at_once_and_serves_the_rest():
    model = RecordingModel()

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64, max_queue_size=3)
        return await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(5)), return_exceptions=True)

    results = asyncio.run(scenario())
    rejected = [r for r in results if isinstance(r, InferenceError)]
    assert len(rejected) == 1 and all(r.status == 503 and "max_queue_size" in r.message for r in rejected)
    assert model.calls == [1, 3]


class CostedModel(RecordingModel):
    """A RecordingModel whose every call advances a fake clock by a fixed cost per batch size:
    the batcher measures exact costs, whatever else the machine is doing."""

    def __init__(self, seconds_per_row_by_rows):
        super().__init__()
        self.cost = seconds_per_row_by_rows
        self.now = 0.0

    def clock(self):
        return self.now

    def __call__(self, x):
        self.now += len(x) * self.cost(len(x))
        return super().__call__(x)


def test_expected_wait_beyond_max_latency_answers_503():
    model = CostedModel(lambda rows: 0.0005)  # 0.5 ms per row at every batch size

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64, max_latency_ms=1.0, clock=model.clock)
        await batcher.submit(np.ones((1, 2)))      # measures batches of 1 row
        await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(3)))  # 1, then 2
        return await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(4)), return_exceptions=True)

    results = asyncio.run(scenario())
    # the first runs at once; then 1, 2 queued rows wait 0.5 and 1.0 ms; a third would wait 1.5 ms
    assert [isinstance(r, InferenceError) for r in results] == [False, False, False, True]
    assert results[3].status == 503 and "max_latency_ms" in results[3].message
    assert model.calls == [1, 1, 2, 1, 2]


def test_a_lone_large_request_on_an_idle_server_is_never_refused():
    """Single-row calls cost 0.5 ms per row, so a per-row estimate from them would put 2,048 rows
    at 1 s, ten times the budget; the model is idle, so there is nothing to wait behind."""
    model = CostedModel(lambda rows: 0.0005 if rows == 1 else 0.00002)

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64, max_latency_ms=100.0, clock=model.clock)
        for _ in range(20):
            await batcher.submit(np.ones((1, 2)))
        return await batcher.submit(np.ones((2048, 2)))

    assert len(asyncio.run(scenario())["double"]) == 2048


def test_queued_rows_are_priced_at_the_cost_measured_for_their_batch_size():
    """Batches of 32-63 rows cost 20 us per row and single rows 500 us: 40 queued rows are
    admitted (0.8 ms) under a 5 ms budget, though 40 single-row costs would be 20 ms."""
    model = CostedModel(lambda rows: 0.0005 if rows == 1 else 0.00002)

    async def scenario():
        batcher = MicroBatcher(model, max_batch_size=64, max_latency_ms=5.0, clock=model.clock)
        await batcher.submit(np.ones((1, 2)))
        await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(41)))  # 1, then 40
        return await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(41)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert not any(isinstance(r, InferenceError) for r in results)
    assert model.calls[-2:] == [1, 40]


def test_a_failing_model_fails_its_batch_and_the_batcher_keeps_working():
    def refuses_negative_rows(x):
        if (x < 0).any():
            raise RuntimeError("negative input")
        return {"y": x}

    async def scenario():
        batcher = MicroBatcher(refuses_negative_rows)
        rows = [np.ones((1, 2)), -np.ones((1, 2)), np.ones((1, 2))]  # the last two share a batch
        first = await asyncio.gather(*(batcher.submit(x) for x in rows), return_exceptions=True)
        return first, await batcher.submit(np.ones((1, 2)))

    first, after = asyncio.run(scenario())
    assert first[0]["y"].shape == (1, 2)
    assert all(isinstance(r, RuntimeError) for r in first[1:])
    assert after["y"].shape == (1, 2)


def test_a_batching_policy_is_pluggable_and_a_broken_one_fails_requests_instead_of_hanging():
    def one_at_a_time(queue, max_batch_size):
        return [queue.popleft()]

    def takes_nothing(queue, max_batch_size):
        return []

    async def scenario(policy):
        batcher = MicroBatcher(RecordingModel(), take_batch=policy)
        rows = [np.ones((1, 2)) for _ in range(4)]
        results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(x) for x in rows), return_exceptions=True), 5)
        return batcher, results

    batcher, results = asyncio.run(scenario(one_at_a_time))
    assert batcher.predict_batch.calls == [1, 1, 1, 1] and all(r["double"].shape == (1, 2) for r in results)
    batcher, results = asyncio.run(scenario(takes_nothing))
    assert isinstance(results[1], ValueError) and "at least one" in str(results[1])
    assert not batcher.queue and batcher.queued_rows == 0


def test_batcher_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        MicroBatcher(RecordingModel(), max_batch_size=0)


# -- metrics ---------------------------------------------------------------------------------

def test_histogram_buckets_are_cumulative_and_parse_as_prometheus():
    hist = Histogram("latency_seconds", "Latency.", [0.1, 0.5, 1.0])
    for value in (0.05, 0.1, 0.3, 2.0):
        hist.observe(value)
    (family,) = text_string_to_metric_families(hist.render())
    assert family.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("latency_seconds_bucket", "0.1")] == 2  # a value equal to a bound is counted in it
    assert samples[("latency_seconds_bucket", "0.5")] == 3
    assert samples[("latency_seconds_bucket", "1.0")] == 3
    assert samples[("latency_seconds_bucket", "+Inf")] == 4 == samples[("latency_seconds_count", None)]
    assert math.isclose(samples[("latency_seconds_sum", None)], 2.45)


def test_label_values_are_escaped():
    assert format_labels({"v": 'a"b\\c\nd'}) == '{v="a\\"b\\\\c\\nd"}'


def test_server_metrics_render_every_family_parseably():
    metrics = ServerMetrics()
    metrics.requests.inc(status="200")
    metrics.requests.inc(status="400")
    metrics.latency.observe(0.002)
    metrics.batch_size.observe(7)
    metrics.model_info.set(1, model="digits", version="3")
    families = {f.name: f for f in text_string_to_metric_families(metrics.render(queue_depth=5, in_flight=2))}
    assert {s.labels["status"]: s.value for s in families["tinytorch_inference_requests"].samples} == {"200": 1, "400": 1}
    assert families["tinytorch_queue_depth"].samples[0].value == 5
    assert families["tinytorch_inflight_requests"].samples[0].value == 2
    assert families["tinytorch_model_info"].samples[0].labels == {"model": "digits", "version": "3"}
    assert families["tinytorch_batch_size"].type == "histogram"


# -- batch inference -------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.integers(0, 200), st.integers(1, 50))
def test_iter_chunks_covers_every_row_once_in_order(n_rows, chunk_size):
    chunks = list(iter_chunks(n_rows, chunk_size))
    assert [i for s in chunks for i in range(n_rows)[s]] == list(range(n_rows))
    assert all(0 < s.stop - s.start <= chunk_size for s in chunks)


def test_batch_inference_matches_one_shot_predict_for_arrays_and_files(digits_model, digits_test, tmp_path):
    x, _ = digits_test
    expected = digits_model.predict(x)
    np.save(tmp_path / "rows.npy", x)
    np.savetxt(tmp_path / "rows.csv", x, delimiter=",")
    out = io.StringIO()
    job = BatchInference(digits_model, chunk_size=37, stream=out)
    np.testing.assert_array_equal(job.run(x), expected)
    np.testing.assert_array_equal(job.run(tmp_path / "rows.npy", output=tmp_path / "labels.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), expected)
    np.testing.assert_array_equal(job.run(str(tmp_path / "rows.csv")), expected)
    assert job.report.rows == len(x) and job.report.chunks == math.ceil(len(x) / 37)
    assert "rows/s" in str(job.report) and f"{job.report.chunks}/{job.report.chunks} chunks" in out.getvalue()


def test_batch_inference_explains_bad_input(digits_model, tmp_path):
    job = BatchInference(digits_model, progress=False)
    with pytest.raises(FileNotFoundError, match="no input file"):
        job.run(tmp_path / "missing.npy")
    (tmp_path / "rows.txt").write_text("1,2")
    with pytest.raises(ValueError, match=".npy or .csv"):
        job.run(tmp_path / "rows.txt")
    with pytest.raises(ValueError, match="non-empty 2-D"):
        job.run(np.zeros(5))
    with pytest.raises(TypeError, match="predict"):
        BatchInference(object())
