"""optimize_inference and quantize_model against the training model, in the same run.

Speed: the training ``Sequential.forward`` and the compiled ``InferenceModel.forward`` are timed
on the same real digits rows at batch 1 and batch 256, alternating in rounds so that a noisy
machine slows both alike; the figure is the ratio of the best round of each. The bare matmuls
(the model's two float32 matrix products and nothing else) are timed alongside: no forward pass
that computes them can beat that time, so training / bare matmuls is the ceiling on the speed-up.
Size and accuracy: int8 per-channel quantization against the float model on the test split.

    .venv/bin/python benchmarks/inference.py
"""

import time

import numpy as np

from tinytorch.core.benchmarking import benchmark_model
from tinytorch.core.compression import quantize_model
from tinytorch.core.data import load_digits
from tinytorch.core.kernels import optimize_inference
from tinytorch.core.training import accuracy, train_digits_classifier

ROUNDS = 15
CALLS = {1: 2000, 256: 200}


def seconds_per_call(forward, x, calls):
    started = time.perf_counter()
    for _ in range(calls):
        forward(x)
    return (time.perf_counter() - started) / calls


def best_times(forwards, x, calls):
    """Best-of-rounds time per call of each of ``{name: forward}``, measured alternately."""
    best = dict.fromkeys(forwards, np.inf)
    for _ in range(ROUNDS):
        for name, forward in forwards.items():
            best[name] = min(best[name], seconds_per_call(forward, x, calls))
    return best


def bare_matmuls(model):
    """The model's matrix products alone: the floor under any forward pass of it."""
    weights = [weight for weight, _, _ in model.stages]

    def forward(x):
        for weight in weights:
            x = x @ weight
        return x

    return forward


def main():
    data = load_digits()
    model, _ = train_digits_classifier(hidden=(128,), data=data)
    fast, small = optimize_inference(model), quantize_model(model)
    X, y = data.test
    ok = True

    difference = float(np.abs(fast.forward(X) - model.forward(X)).max())
    print(f"optimize_inference: max |logit difference| on the test split {difference:.2e} "
          f"(must be <= 1e-5)")
    ok &= difference <= 1e-5
    for batch, calls in CALLS.items():
        rows = np.ascontiguousarray(np.resize(X, (batch, X.shape[1])))
        best = best_times({"training": model.forward, "inference": fast.forward,
                           "matmuls": bare_matmuls(fast)}, rows, calls)
        ratio = best["training"] / best["inference"]
        ok &= ratio >= 1.5
        print(f"  batch {batch:>3}: training forward {best['training'] * 1e6:8.1f} us, inference "
              f"{best['inference'] * 1e6:8.1f} us, speed-up {ratio:.2f}x (target >= 1.5x); "
              f"bare matmuls {best['matmuls'] * 1e6:8.1f} us, ceiling "
              f"{best['training'] / best['matmuls']:.2f}x")

    float_accuracy = accuracy(model.predict(X), y)
    int8_accuracy = accuracy(small.predict(X), y)
    float_weights = sum(p.data.nbytes for p in model.parameters() if p.data.ndim == 2)
    weight_ratio = float_weights / small.weight_nbytes
    print(f"quantize_model: weights {float_weights:,} -> {small.weight_nbytes:,} bytes "
          f"({weight_ratio:.2f}x); whole model {model.nbytes:,} -> {small.nbytes:,} bytes "
          f"({model.nbytes / small.nbytes:.2f}x)")
    print(f"  test accuracy float {float_accuracy:.2%}, int8 {int8_accuracy:.2%}, "
          f"delta {100 * (int8_accuracy - float_accuracy):+.2f} points")
    ok &= weight_ratio >= 3.5 and abs(int8_accuracy - float_accuracy) <= 0.01

    for name, candidate in (("training Sequential", model), ("optimize_inference", fast),
                            ("quantize_model", small)):
        print(f"\nbenchmark_model: {name}")
        print(benchmark_model(candidate, X, name=name))
    print(f"\nacceptance: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
