"""Hidden checks of notebook 02 (model serving).

Several checks are real HTTP round trips on 127.0.0.1: the library's ModelServer, started on a
free port, with the student's piece put in its place (``parse_request=``, ``take_batch=``,
``metrics=ServerMetrics(histogram=...)``). Expected values are computed here or by the model and
prometheus_client, never by the library's answers to these tasks (they are stubs while the checks
run; the server's own defaults are bound when the library is imported, so it keeps working).
"""

import contextlib
import math
import threading
from collections import deque

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from autograder.grading.judge import abstract
from autograder.grading.protocol import take

FEW = settings(max_examples=30, deadline=None)
NUMERIC = ["FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]


@pytest.fixture(scope="module")
def rows():
    from tinytorch.core.data import load_digits

    return load_digits().test[0]


@contextlib.contextmanager
def serving(model, **pieces):
    """A real ModelServer on a free loopback port, with some of its pieces replaced."""
    from tinytorch.core.mlops.serving import InferenceEndpoint, ModelServer

    with ModelServer(model, name="digits", host="127.0.0.1", port=0, **pieces) as server:
        yield server, InferenceEndpoint(server)


def v2(shape, data, datatype="FP32"):
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}


def refused(student, body, input_shape=(4,)):
    """The InferenceError the student's parser raised for ``body`` (fails if it accepted it)."""
    try:
        x = student.parse_infer_request(body, input_shape)
    except Exception as error:  # noqa: BLE001 - the assert below says what was raised instead
        assert getattr(error, "status", None) == 400, (
            f"for {str(body)[:120]} you raised {type(error).__name__}: {abstract(str(error))}; raise InferenceError(400, message)")
        assert isinstance(getattr(error, "message", None), str) and error.message.strip(), (
            "InferenceError needs a message that says what was wrong")
        return error
    raise AssertionError(f"parse_infer_request accepted a bad request and returned shape {np.shape(x)}: {str(body)[:160]}")


# -- parse_infer_request --------------------------------------------------------------------------

@pytest.mark.task("parse_infer_request")
def test_parse_returns_float32_rows_for_any_numeric_request(student):
    """parse_infer_request returns a float32 array of shape (n, *input_shape) holding the data, flat or nested, for any numeric datatype and any input_shape, whether or not the tensor has a name."""
    @FEW
    @given(n=st.integers(1, 4), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
           datatype=st.sampled_from(NUMERIC), nested=st.booleans(), named=st.booleans(), seed=st.integers(0, 2**16))
    def check(n, shape, datatype, nested, named, seed):
        values = np.random.default_rng(seed).integers(-50, 50, size=(n, *shape)).astype(np.float32) / 4
        data = values.tolist() if nested else values.ravel().tolist()
        body = v2([n, *shape], data, datatype)
        if not named:  # the statement asks for shape, datatype and data only
            del body["inputs"][0]["name"]
        x = student.parse_infer_request(body, tuple(shape))
        assert isinstance(x, np.ndarray) and x.dtype == np.float32, (
            f"returned {type(x).__name__} of dtype {getattr(x, 'dtype', None)}; return a float32 numpy array")
        assert x.shape == (n, *shape), f"input_shape {tuple(shape)}, {n} rows: expected shape {(n, *shape)}, got {x.shape}"
        assert np.array_equal(x, values), "the returned values differ from the request's data (row-major order)"

    check()


@pytest.mark.task("parse_infer_request")
def test_parse_refuses_a_request_without_one_input_tensor(student):
    """A body that is not an object with an "inputs" list of exactly one tensor with shape, datatype and data is refused with InferenceError(400, a message)."""
    for body in ([1, 2], "inputs", None, {"instances": [[0, 0, 0, 0]]}, {"inputs": {"shape": [1, 4]}},
                 {"inputs": []}, {"inputs": [v2([1, 4], [0] * 4)["inputs"][0]] * 2},
                 {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32"}]}, {"inputs": ["not an object"]}):
        refused(student, body)


@pytest.mark.task("parse_infer_request")
def test_parse_refuses_a_wrong_shape(student):
    """A shape that is not [n, *input_shape] of integers with n >= 1 (0, -1, 1.0, True, text) is a 400 whose message contains "shape", even when the data holds prod(shape) numbers or the datatype is wrong too."""
    for shape, data in (([1, 5], [0.0] * 5), ([4], [0.0] * 4), ([1, 4, 1], [0.0] * 4), ([0, 4], []),
                        ([-1, 4], [0.0] * 4), ([1.0, 4], [0.0] * 4), ([True, 4], [0.0] * 4), ("1,4", [0.0] * 4),
                        ([1, "4"], [0.0] * 4)):
        error = refused(student, v2(shape, data))
        assert "shape" in error.message.lower(), f"for shape {shape!r} the message should talk about the shape: {error.message!r}"
    for shape in ([0, 4], [-1, 4]):  # and the shape is checked before the datatype, as the statement orders
        error = refused(student, v2(shape, [0.0] * 4, "BYTES"))
        assert "shape" in error.message.lower(), (
            f"shape {shape} with datatype BYTES: the first problem is the shape, but the message was {error.message!r}; "
            "check n >= 1 before the datatype")


@pytest.mark.task("parse_infer_request")
def test_parse_refuses_a_datatype_that_is_not_numeric(student):
    """A datatype outside NUMERIC_DATATYPES (BYTES, BOOL, lowercase, unknown, not a string) is a 400 whose message contains "datatype"."""
    for datatype in ("BYTES", "BOOL", "fp32", "FLOAT", None, 32):
        error = refused(student, v2([1, 4], [0, 1, 0, 1], datatype))
        assert "datatype" in error.message.lower(), (
            f"for datatype {datatype!r} the message should name the datatype: {error.message!r}")


@pytest.mark.task("parse_infer_request")
def test_parse_refuses_data_that_does_not_match_the_shape(student):
    """Data that is not prod(shape) numbers (too few, too many, text, None, ragged, an object) is a 400."""
    for shape, data in (([2, 4], [0] * 4), ([1, 4], [0] * 5), ([1, 4], ["a", "b", "c", "d"]),
                        ([2, 4], [[0, 0, 0, 0], [0, 0]]), ([1, 4], [[0, 0], [0, 0]] * 2), ([1, 4], [0, None, 0, 0]),
                        ([1, 4], {"a": 1})):
        refused(student, v2(shape, data))


@pytest.mark.task("parse_infer_request")
def test_parse_refuses_nan_and_values_infinite_in_float32(student):
    """NaN and infinity, including 1e39 (finite in JSON, infinite in float32), are a 400 whose message contains "nan", "inf" or "finite"; 3e38 is accepted."""
    for bad in (float("nan"), float("inf"), float("-inf"), 1e39, -3.5e38):
        error = refused(student, v2([1, 4], [0.5, bad, 0.5, 0.5]))
        assert any(word in error.message.lower() for word in ("nan", "inf", "finite")), (
            f"for the value {bad!r} the message should say NaN or infinite: {error.message!r}")
    assert student.parse_infer_request(v2([1, 4], [3.0e38, 0, 0, 0]), (4,)).shape == (1, 4), (
        "3e38 is finite in float32 and must be accepted")


@pytest.mark.task("parse_infer_request")
def test_parse_in_a_real_server_answers_good_and_bad_requests(student, trained, rows):
    """A real server using your parser answers good requests over HTTP like the model, each bad one with a 400 and {"error": your message}, and keeps serving."""
    bad_bodies = [
        v2([1, 63], rows[0, :63].tolist()), v2([2, 64], rows[0].tolist()), v2([1, 64], rows[0].tolist(), "BYTES"),
        v2([1, 64], [1e39] + rows[0, 1:].tolist()), {"instances": [rows[0].tolist()]}, v2([True, 64], rows[0].tolist()),
    ]
    with serving(trained, parse_request=student.parse_infer_request) as (server, client):
        expected = trained.predict(rows[:20])
        got = client.predict(rows[:20])
        assert np.array_equal(got, expected), "a server using your parser predicted differently from the model"
        for body in bad_bodies:
            status, payload = client.request("POST", "/v2/models/digits/infer", orjson.dumps(body))
            answer = orjson.loads(payload)
            assert status == 400, (f"the server answered {status} {str(answer)[:100]} to {str(body)[:100]}: your parser must raise "
                                   "InferenceError(400, ...) (a 500 means it raised another exception)")
            assert answer.get("error"), "the 400 answer must carry your message as {\"error\": ...}"
            assert np.array_equal(client.predict(rows[:3]), expected[:3]), "after a bad request the next good one must succeed"
        one = client.predict(rows[7])
        assert np.array_equal(one, expected[7:8]), "a single row (shape [1, 64]) must be served"


# -- take_batch ------------------------------------------------------------------------------------

def queue_of(row_counts):
    return deque((np.zeros((rows, 2), np.float32), object()) for rows in row_counts)


def same_entries(got, expected) -> bool:
    """The batch holds the queue's own entries: each request object is the one queued (the rows
    cross back to this process as copies, the request objects as themselves)."""
    return len(got) == len(expected) and all(a[1] is b[1] for a, b in zip(got, expected))


def expected_batch(row_counts, limit):
    take, total = 1, row_counts[0]
    while take < len(row_counts) and total + row_counts[take] <= limit:
        total += row_counts[take]
        take += 1
    return take


@pytest.mark.task("take_batch")
def test_take_batch_takes_the_longest_prefix_that_fits(student):
    """On random queues take_batch removes and returns the longest run of requests from the left whose rows fit in max_batch_size (at least one), the queue's own entries in order."""
    @FEW
    @given(row_counts=st.lists(st.integers(1, 12), min_size=1, max_size=12), limit=st.integers(1, 24))
    def check(row_counts, limit):
        queue = queue_of(row_counts)
        entries = list(queue)
        batch = student.take_batch(queue, limit)
        want = expected_batch(row_counts, limit)
        assert len(batch) == want, (f"queue rows {row_counts}, max_batch_size {limit}: expected the first {want} "
                                    f"request(s), got {len(batch)}")
        assert same_entries(batch, entries[:len(batch)]), "the batch must hold the queue's own entries, oldest first"
        assert list(queue) == entries[want:], "the requests taken must be removed from the queue, the rest left in order"

    check()


@pytest.mark.task("take_batch")
def test_take_batch_serves_an_oversized_request_alone(student):
    """A request with more rows than max_batch_size is taken alone."""
    queue = queue_of([10, 1, 1])
    batch = student.take_batch(queue, 4)
    assert len(batch) == 1 and len(batch[0][0]) == 10, (
        "the first request has 10 rows and max_batch_size is 4: take it alone, or it waits forever")
    assert len(queue) == 2


@pytest.mark.task("take_batch")
def test_take_batch_fills_the_limit_exactly(student):
    """Requests whose rows add up to exactly max_batch_size all go in one batch."""
    assert len(student.take_batch(queue_of([2, 2, 4, 1]), 8)) == 3, "2 + 2 + 4 = 8 rows fit in max_batch_size 8"
    assert len(student.take_batch(queue_of([1] * 8), 8)) == 8, "eight one-row requests fit in max_batch_size 8"


@pytest.mark.task("take_batch")
def test_take_batch_does_not_skip_ahead(student):
    """take_batch stops at the first request that does not fit; a smaller one behind it waits its turn."""
    queue = queue_of([3, 5, 1])
    batch = student.take_batch(queue, 4)
    assert len(batch) == 1, ("rows [3, 5, 1], max_batch_size 4: take only the first; taking the 1-row request "
                             "past the 5-row one reorders the queue and can starve big requests")
    assert [len(x) for x, _ in queue] == [5, 1]


@pytest.mark.task("take_batch")
def test_take_batch_takes_the_single_request_of_a_queue(student):
    """A queue of one request gives a batch of that request and leaves the queue empty."""
    queue = queue_of([3])
    entry = queue[0]
    batch = student.take_batch(queue, 64)
    assert same_entries(list(batch), [entry]) and not queue, "one queued request: the batch is that request and the queue is empty"


@pytest.mark.task("take_batch")
def test_take_batch_in_a_real_server_under_concurrent_clients(student, trained, rows):
    """A real server using your take_batch under 12 concurrent HTTP clients answers each client for its own rows, and no model call exceeds max_batch_size."""
    from tinytorch.core.mlops.serving import InferenceEndpoint

    expected = trained.predict(rows)
    batch_rows, wrong, failures, sent = [], [], [], []

    def recording_take_batch(queue, max_batch_size):
        batch = student.take_batch(queue, max_batch_size)
        batch_rows.append([len(x) for x, _ in batch])
        return batch

    def client(server, offset):
        endpoint = InferenceEndpoint(server, timeout=5)
        try:
            for i in range(25):
                start, size = (offset * 25 + i) % (len(rows) - 2), 1 + (offset + i) % 2
                sent.append(size)
                if not np.array_equal(endpoint.predict(rows[start:start + size]), expected[start:start + size]):
                    wrong.append((start, size))
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(f"{type(error).__name__}: {abstract(str(error))}")
        finally:
            endpoint.close()

    with serving(trained, take_batch=recording_take_batch, max_batch_size=3) as (server, _):
        threads = [threading.Thread(target=client, args=(server, k)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        rows_run = server.metrics.batch_size.sum
    assert not failures, f"requests failed while your take_batch formed the batches: {failures[:2]}"
    assert not wrong, f"{len(wrong)} requests got the answers for other rows than theirs (e.g. start, rows = {wrong[0]})"
    assert batch_rows, "no request had to queue: the check could not exercise your take_batch"
    assert rows_run == sum(sent), f"the model ran {rows_run:g} rows for {sum(sent)} requested rows"
    too_big = [b for b in batch_rows if sum(b) > 3 and len(b) > 1]
    assert not too_big, f"batches with more than max_batch_size=3 rows were formed, e.g. row counts {too_big[0]}"


# -- Histogram -------------------------------------------------------------------------------------

def parsed(text):
    families = list(text_string_to_metric_families(text))
    assert len(families) == 1, f"render() should describe one metric family, prometheus_client found {len(families)}"
    return families[0]


def samples_of(family, suffix):
    return [s for s in family.samples if s.name.endswith(suffix)]


def buckets_of(family):
    """A histogram family's cumulative counts, by upper bound (``le``, +Inf as math.inf)."""
    return {float(s.labels["le"]): s.value for s in samples_of(family, "_bucket")}


bounds_strategy = st.lists(st.sampled_from([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0]),
                           min_size=1, max_size=6, unique=True)
values_strategy = st.lists(st.sampled_from([0.0, 0.001, 0.003, 0.01, 0.02, 0.1, 0.3, 1.0, 1.5, 7.0, 20.0]), max_size=40)


@pytest.mark.task("Histogram")
def test_histogram_text_parses_as_prometheus_with_the_right_counts(student):
    """prometheus_client parses render() as one histogram whose cumulative buckets count the observations <= le, for random bounds and observations."""
    @FEW
    @given(bounds=bounds_strategy, values=values_strategy)
    def check(bounds, values):
        histogram = student.Histogram("check_seconds", "Check latency.", bounds)
        for value in values:
            histogram.observe(value)
        family = parsed(histogram.render())
        assert family.type == "histogram", f"# TYPE must say histogram, prometheus_client read {family.type!r}"
        got = buckets_of(family)
        expected = {b: sum(v <= b for v in values) for b in sorted(bounds)}
        expected[math.inf] = len(values)
        assert got == expected, (f"bounds {sorted(bounds)}, observations {values}: expected cumulative buckets "
                                 f"{expected}, your text has {got}")

    check()


@pytest.mark.task("Histogram")
def test_histogram_value_on_a_bound_belongs_to_that_bucket(student):
    """A value equal to a bound counts in that bound's bucket (le means less than or equal)."""
    histogram = student.Histogram("edge_seconds", "Edges.", [0.1, 1.0])
    for value in (0.1, 1.0, 1.0):
        histogram.observe(value)
    buckets = buckets_of(parsed(histogram.render()))
    assert buckets == {0.1: 1, 1.0: 3, math.inf: 3}, (
        f"observed 0.1, 1.0, 1.0 with bounds [0.1, 1.0]: expected le=0.1 -> 1, le=1.0 -> 3, +Inf -> 3, got {buckets}")


@pytest.mark.task("Histogram")
def test_histogram_sum_and_count(student):
    """_sum is the sum of the observations, and _count their number, equal to the +Inf bucket."""
    @FEW
    @given(values=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=30))
    def check(values):
        histogram = student.Histogram("sum_seconds", "Sums.", [1.0, 10.0])
        for value in values:
            histogram.observe(value)
        family = parsed(histogram.render())
        total = samples_of(family, "_sum")
        count = samples_of(family, "_count")
        assert len(total) == 1 and len(count) == 1, "render() needs one _sum and one _count line"
        assert math.isclose(total[0].value, sum(values), rel_tol=1e-9, abs_tol=1e-9), (
            f"_sum is {total[0].value}, the observations add up to {sum(values)}")
        assert count[0].value == len(values), f"_count is {count[0].value} after {len(values)} observations"
        inf = [s.value for s in samples_of(family, "_bucket") if s.labels["le"] == "+Inf"]
        assert inf == [len(values)], f"the +Inf bucket must count every observation: {inf}"

    check()


@pytest.mark.task("Histogram")
def test_histogram_text_layout(student):
    """render() writes # HELP then # TYPE, the buckets by increasing le written with repr and +Inf last, then _sum and _count, and ends with a newline."""
    histogram = student.Histogram("layout_seconds", "Layout check.", [0.5, 0.25, 1.0])
    histogram.observe(0.3)
    lines = histogram.render().splitlines()
    assert lines[:2] == ["# HELP layout_seconds Layout check.", "# TYPE layout_seconds histogram"], (
        f"the first two lines must be HELP and TYPE, got {lines[:2]}")
    les = [line.split('le="')[1].split('"')[0] for line in lines if "_bucket{" in line]
    assert les == ["0.25", "0.5", "1.0", "+Inf"], f"bucket lines must go by increasing bound (as repr) and end with +Inf: {les}"
    tail = [line.split(" ") for line in lines[-2:]]
    assert [t[0] for t in tail] == ["layout_seconds_sum", "layout_seconds_count"] and float(tail[1][-1]) == 1, (
        f"the last lines must be _sum then _count (1 observation): {lines[-2:]}")
    assert histogram.render().endswith("\n"), "the text must end with a newline (the next family starts on its own line)"


@pytest.mark.task("Histogram")
def test_histogram_empty_renders_zeros(student):
    """A histogram with no observations renders every bucket, _sum and _count as 0."""
    family = parsed(student.Histogram("empty_seconds", "Nothing yet.", [0.1, 1.0]).render())
    values = {s.name + s.labels.get("le", ""): s.value for s in family.samples}
    assert values == {"empty_seconds_bucket0.1": 0, "empty_seconds_bucket1.0": 0, "empty_seconds_bucket+Inf": 0,
                      "empty_seconds_sum": 0, "empty_seconds_count": 0}, f"an empty histogram rendered {values}"


@pytest.mark.task("Histogram")
def test_histogram_in_a_real_server_metrics_page(student, trained, rows):
    """A real server whose metrics use your Histogram shows on /metrics over HTTP exactly the requests and rows sent."""
    from tinytorch.core.mlops.serving.metrics import ServerMetrics

    sizes = [1, 3, 1, 7, 2, 1, 5]
    with serving(trained, metrics=ServerMetrics(histogram=student.Histogram)) as (server, client):
        for size in sizes:
            client.predict(rows[:size])
        text = client.metrics_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    latency = families.get("tinytorch_request_duration_seconds")
    batch = families.get("tinytorch_batch_size")
    assert latency is not None and batch is not None, (
        "/metrics has no tinytorch_request_duration_seconds or tinytorch_batch_size histogram: check render()")
    count = samples_of(latency, "_count")[0].value
    assert count == len(sizes), f"/metrics counted {count} requests, {len(sizes)} were sent"
    rows_run = samples_of(batch, "_sum")[0].value
    assert rows_run == sum(sizes), f"the batch-size histogram's _sum is {rows_run}, {sum(sizes)} rows were scored"
    buckets = buckets_of(batch)
    assert buckets[1.0] == 3 and buckets[4.0] == 5 and buckets[8.0] == 7, (
        f"batch sizes {sizes} should give le=1 -> 3, le=4 -> 5, le=8 -> 7, /metrics shows {buckets}")


# -- iter_chunks -----------------------------------------------------------------------------------

@pytest.mark.task("iter_chunks")
def test_iter_chunks_covers_every_row_once_in_order(student):
    """iter_chunks yields slices that cover range(n_rows) exactly once, in order, each chunk_size long except a shorter, non-empty last one."""
    @FEW
    @given(n_rows=st.integers(0, 500), chunk_size=st.integers(1, 120))
    def check(n_rows, chunk_size):
        chunks = take(student.iter_chunks(n_rows, chunk_size))
        assert all(isinstance(c, slice) for c in chunks), "yield slice objects (slice(start, stop))"
        covered = [i for c in chunks for i in range(n_rows)[c]]
        assert covered == list(range(n_rows)), (
            f"n_rows={n_rows}, chunk_size={chunk_size}: the slices do not cover every row once in order: {chunks[:4]}...")
        lengths = [len(range(n_rows)[c]) for c in chunks]
        assert all(length == chunk_size for length in lengths[:-1]) and all(0 < length <= chunk_size for length in lengths), (
            f"n_rows={n_rows}, chunk_size={chunk_size}: chunk lengths {lengths[:6]}...: all full but the last, none empty")

    check()


@pytest.mark.task("iter_chunks")
def test_iter_chunks_zero_rows_and_exact_multiples(student):
    """iter_chunks yields slice(start, stop) exactly (no step), nothing for zero rows, no empty chunk when chunk_size divides n_rows, and a last stop of n_rows."""
    assert take(student.iter_chunks(0, 8)) == [], "zero rows: yield nothing"
    assert take(student.iter_chunks(16, 8)) == [slice(0, 8), slice(8, 16)], "16 rows in chunks of 8: two slices"
    assert take(student.iter_chunks(1, 8)) == [slice(0, 1)], "the stop of the last slice is n_rows"


@pytest.mark.task("iter_chunks")
def test_iter_chunks_refuses_a_chunk_size_below_one(student):
    """iter_chunks raises ValueError for a chunk_size below 1 (0 or -1)."""
    for chunk_size in (0, -1):
        try:
            take(student.iter_chunks(10, chunk_size))
        except ValueError:
            continue
        raise AssertionError(f"iter_chunks(10, {chunk_size}) must raise ValueError saying chunk_size must be >= 1")


@pytest.mark.task("iter_chunks")
def test_iter_chunks_is_lazy(student):
    """iter_chunks is a generator: for a trillion rows it yields the first slices at once, without building a list."""
    chunks = student.iter_chunks(10**12, 10**6)
    try:
        first = take(chunks, 2, iterator=True)
    except TypeError as error:
        raise AssertionError(f"{error}; make iter_chunks a generator (yield each slice) so a huge job "
                             "does not build every slice up front") from None
    assert first == [slice(0, 10**6), slice(10**6, 2 * 10**6)], "the first chunks are wrong"


@pytest.mark.task("iter_chunks")
def test_iter_chunks_scores_a_memory_mapped_file_like_one_call(student, trained, rows, tmp_path):
    """A real model scoring a memory-mapped .npy file by your chunks, locally and through a server, predicts exactly what one call on everything does."""
    data = np.tile(rows, (5, 1))
    np.save(tmp_path / "rows.npy", data)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    whole = trained.predict(data)
    local = np.concatenate([trained.predict(np.asarray(mapped[c])) for c in take(student.iter_chunks(len(mapped), 333))])
    assert np.array_equal(local, whole), "scoring chunk by chunk gave other predictions than one call on everything"
    with serving(trained) as (server, client):
        remote = np.concatenate([client.predict(np.asarray(mapped[c])) for c in take(student.iter_chunks(len(mapped), 512))])
    assert np.array_equal(remote, whole), "scoring the chunks through the server gave other predictions"
