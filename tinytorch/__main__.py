"""``python -m tinytorch``: train, compress, optimise and benchmark a digits classifier.

The first half of the course's main job, and a quick check that an installation works.
"""

import time

from tinytorch.core.benchmarking import benchmark_model
from tinytorch.core.compression import quantize_model
from tinytorch.core.data import load_digits
from tinytorch.core.kernels import optimize_inference
from tinytorch.core.training import accuracy, train_digits_classifier


def main() -> None:
    data = load_digits()
    X_test, y_test = data.test
    started = time.perf_counter()
    model, history = train_digits_classifier(hidden=(128,), data=data)
    seconds = time.perf_counter() - started
    print(f"trained {model.num_parameters:,} parameters in {seconds:.1f} s ({len(history)} epochs)")
    variants = {
        "float32": model,
        "int8 (quantize_model)": quantize_model(model),
        "fused (optimize_inference)": optimize_inference(model),
    }
    for name, variant in variants.items():
        test_accuracy = accuracy(variant.predict(X_test), y_test)
        print(f"{name:<28} test accuracy {test_accuracy:.2%}   size {variant.nbytes:>8,} bytes")
    print()
    print(benchmark_model(variants["fused (optimize_inference)"], X_test))


if __name__ == "__main__":
    main()
