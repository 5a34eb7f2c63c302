"""optimize_inference and quantize_model against the training model, in the same run.

Speed: the compiled ``InferenceModel.forward`` is timed against its floor, the least work any
forward pass of the model must do: per layer one float32 matmul, one bias add and (hidden layers)
one ReLU pass, on operands prepared in advance (``floor_forward``). The target: the optimised
forward within 10 % of the floor at batch 1 and batch 256, i.e. almost no per-call overhead. The
training ``Sequential.forward`` is timed beside them for the speed-up (information).

The verdict must not depend on what else the machine runs: every figure is CPU time of this
process (``time.process_time``) with BLAS limited to one thread (threadpoolctl), so other
processes' load does not count and BLAS does not spin threads that wait for a busy core; the
candidates alternate in rounds and each keeps its best round. (Wall-clock timing with two
OpenBLAS threads once moved the batch-256 ratio from 0.82x to 3.31x with unchanged code.)
Size and accuracy: int8 per-channel quantization against the float model on the test split.

    .venv/bin/python benchmarks/inference.py
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

from tinytorch.core.benchmarking import benchmark_model
from tinytorch.core.compression import quantize_model
from tinytorch.core.data import load_digits
from tinytorch.core.kernels import optimize_inference
from tinytorch.core.training import accuracy, train_digits_classifier

ROUNDS = 15
CALLS = {1: 2000, 256: 200}


FLOOR_MARGIN = 1.10  # the optimised forward may cost at most 10 % more CPU than the floor


def seconds_per_call(forward, x, calls):
    """CPU seconds per call of ``forward(x)`` (this process, all threads)."""
    started = time.process_time()
    for _ in range(calls):
        forward(x)
    return (time.process_time() - started) / calls


def best_times(forwards, x, calls):
    """Best-of-rounds time per call of each of ``{name: forward}``, measured alternately."""
    best = dict.fromkeys(forwards, np.inf)
    for _ in range(ROUNDS):
        for name, forward in forwards.items():
            best[name] = min(best[name], seconds_per_call(forward, x, calls))
    return best


def floor_forward(model, rows):
    """The least work of a forward pass of ``model`` (an InferenceModel) on ``rows`` rows: per
    stage the matmul, one in-place bias add and one in-place ReLU, with the bias and ReLU's
    zeros already at full shape; no input checks, nothing else."""
    stages = [(weight, np.tile(bias, (rows, 1)), np.zeros((rows, bias.size), np.float32) if activation == "relu" else None)
              for weight, bias, activation in model.stages]
    if any(activation not in ("relu", None) for _, _, activation in model.stages):
        raise ValueError("the floor is defined for ReLU networks")

    def forward(x):
        for weight, bias, zeros in stages:
            x = x @ weight
            x += bias
            if zeros is not None:
                np.maximum(x, zeros, out=x)
        return x

    return forward


def main():
    with threadpool_limits(limits=1):
        return run()


def run():
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
                           "floor": floor_forward(fast, batch)}, rows, calls)
        over_floor = best["inference"] / best["floor"]
        ok &= over_floor <= FLOOR_MARGIN
        print(f"  batch {batch:>3} (CPU time, 1 BLAS thread): inference {best['inference'] * 1e6:7.1f} us = "
              f"{over_floor:.3f}x the floor of {best['floor'] * 1e6:7.1f} us (target <= {FLOOR_MARGIN:.2f}x); "
              f"training forward {best['training'] * 1e6:7.1f} us, speed-up {best['training'] / best['inference']:.2f}x")

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
