import numpy as np
import pytest

from tinytorch.core.benchmarking import benchmark_model, latency_percentiles
from tinytorch.core.compression import dequantize, quantize_model, quantize_per_channel
from tinytorch.core.kernels import BROADCAST_ROWS, optimize_inference
from tinytorch.core.layers import Linear, ReLU, Sequential, Softmax, Tanh
from tinytorch.core.training import train_digits_classifier


@pytest.fixture(scope="module")
def model(digits):
    return train_digits_classifier(data=digits)[0]


def accuracy(model, split):
    X, y = split
    return np.mean(model.predict(X) == y)


def test_per_channel_quantization_error_is_half_a_step_per_column():
    weight = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    weight[:, 1] *= 100  # a large column must not coarsen the others
    weight[:, 3] = 0
    q, scale = quantize_per_channel(weight)
    assert q.dtype == np.int8 and scale.shape == (4,)
    assert np.all(np.abs(q).max(axis=0)[:3] == 127) and np.all(q[:, 3] == 0)
    error = np.abs(dequantize(q, scale) - weight)
    assert np.all(error <= scale / 2 + 1e-6)


def test_quantized_model_is_smaller_and_as_accurate(model, digits):
    quantized = quantize_model(model)
    assert model.nbytes / quantized.nbytes >= 3.5
    weights = sum(p.data.nbytes for p in model.parameters() if p.data.ndim == 2)
    assert weights / quantized.weight_nbytes >= 3.5
    assert quantized.num_parameters == model.num_parameters
    assert abs(accuracy(quantized, digits.test) - accuracy(model, digits.test)) <= 0.01
    probabilities = quantized.predict_proba(digits.test[0])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert quantized.predict(digits.test[0]).dtype == np.int64


def test_optimized_model_predicts_the_same(model, digits):
    fast = optimize_inference(model)
    X = digits.test[0]
    np.testing.assert_allclose(fast.forward(X), model.forward(X), atol=1e-5)
    np.testing.assert_array_equal(fast.predict(X), model.predict(X))
    np.testing.assert_allclose(fast(X[:1]), model(X[:1]), atol=1e-5)
    assert fast.input_shape == model.input_shape and fast.nbytes == model.nbytes
    assert all(w.flags.c_contiguous and w.dtype == np.float32 for w, _, _ in fast.stages)


def test_optimized_model_is_a_copy(model, digits):
    fast = optimize_inference(model)
    before = fast.forward(digits.test[0][:5])
    model.parameters()[0].data += 1
    try:
        np.testing.assert_array_equal(fast.forward(digits.test[0][:5]), before)
    finally:
        model.parameters()[0].data -= 1


def test_optimized_model_keeps_no_state_between_calls(model, digits):
    fast = optimize_inference(model)
    X = digits.test[0]
    first = fast.forward(X[:3]).copy()
    fast.forward(X[3:10])
    np.testing.assert_array_equal(fast.forward(X[:3]), first)
    assert vars(fast).keys() == {"stages", "_in_features", "_kernels", "_kernels_by_rows"}
    assert sorted(fast._kernels_by_rows) == [3, 7], "per batch size: views of the stored arrays only"
    kernels = [*fast._kernels, *(k for cut in fast._kernels_by_rows.values() for k in cut)]
    stored = [array for kernel in kernels for array in kernel[1:3] if array is not None]
    assert stored and not any(array.flags.writeable for array in stored)


def test_optimized_model_is_exact_below_and_above_the_broadcast_rows(model, digits):
    fast = optimize_inference(model)
    X = np.resize(digits.test[0], (BROADCAST_ROWS + 44, digits.test[0].shape[1]))
    for rows in (1, 7, BROADCAST_ROWS, BROADCAST_ROWS + 44):
        np.testing.assert_array_equal(fast.forward(X[:rows]), model.forward(X[:rows]))


def test_all_activations_compile():
    rng = np.random.default_rng(0)
    network = Sequential(Linear(5, 4, rng=rng), Tanh(), Linear(4, 4, rng=rng), ReLU(),
                         Linear(4, 3, rng=rng), Softmax())
    X = rng.random((6, 5), dtype=np.float32)
    np.testing.assert_allclose(optimize_inference(network).predict_proba(X),
                               network.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(quantize_model(network).predict_proba(X),
                               network.predict_proba(X), atol=0.02)


def test_unsupported_chain_is_explained():
    with pytest.raises(ValueError, match="layer 2"):
        optimize_inference(Sequential(Linear(2, 2), ReLU(), Tanh()))
    with pytest.raises(TypeError, match="tinytorch model"):
        quantize_model(object())


def test_inference_model_checks_its_input(model):
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        optimize_inference(model).predict(np.zeros((2, 8)))
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        quantize_model(model).predict(np.zeros((2, 8)))


def test_latency_percentiles():
    assert latency_percentiles(list(range(1, 101))) == pytest.approx(
        {"p50": 50.5, "p95": 95.05, "p99": 99.01})


def test_benchmark_reports_every_figure(model, digits):
    result = benchmark_model(model, digits.test[0][:10], batch_sizes=(1, 64), repeats=20, warmup=2)
    assert result.latency_ms["p50"] <= result.latency_ms["p95"] <= result.latency_ms["p99"]
    assert set(result.throughput) == {1, 64} and all(r > 0 for r in result.throughput.values())
    assert result.nbytes == model.nbytes and result.num_parameters == model.num_parameters
    table = str(result)
    assert "p99" in table and "batch 64" in table and f"{model.nbytes:,} bytes" in table
    assert result.to_dict()["throughput"].keys() == {"1", "64"}


def test_benchmark_from_a_shape(model):
    result = benchmark_model(quantize_model(model), (64,), batch_sizes=(8,), repeats=5, warmup=0,
                             name="int8")
    assert result.model == "int8" and 8 in result.throughput
    with pytest.raises(ValueError, match="repeats"):
        benchmark_model(model, repeats=0)
