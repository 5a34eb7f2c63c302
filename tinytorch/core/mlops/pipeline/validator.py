"""ProductionValidator: measure a candidate release and put it through the release gates."""

import time
from dataclasses import asdict, dataclass

import numpy as np

from .candidate import Candidate
from .gates import evaluate_release_gates

DIGITS_SIGNATURE = {"input_shape": (64,), "dtype": "float32", "output_shape": (10,)}


@dataclass(frozen=True)
class ValidationReport:
    """Measured figures, each gate's verdict, and ``passed`` (every configured gate passed)."""

    measured: dict
    gates: tuple

    @property
    def passed(self):
        return all(gate.passed for gate in self.gates)

    @property
    def failures(self):
        return [gate.message for gate in self.gates if not gate.passed]

    def to_dict(self):
        return {"passed": self.passed, "measured": _jsonable(self.measured),
                "gates": [_jsonable(asdict(gate)) for gate in self.gates]}

    def __str__(self):
        lines = [f"release gates: {'PASSED' if self.passed else 'FAILED'}"]
        lines += [f"  [{'ok' if g.passed else 'FAIL'}] {g.message}" for g in self.gates]
        return "\n".join(lines)


def measure_p99_latency_ms(model, X, requests=300, clock=time.thread_time):
    """p99 over ``requests`` single-row ``predict`` calls (rows cycled from ``X``), in ms,
    after a warm-up call: what one client sending one image at a time waits for the model.

    Timed by ``clock``, by default this thread's CPU time: a release gate judges the model's own
    cost, which must not depend on what else the machine (or this process's client and server
    threads) is doing at that moment; waiting for a CPU is the serving system's latency, which
    the canary measures on live traffic."""
    rows = np.asarray(X, dtype=np.float32)
    model.predict(rows[:1])
    times = np.empty(requests)
    for i in range(requests):
        row = rows[i % len(rows)][None, :]
        started = clock()
        model.predict(row)
        times[i] = clock() - started
    return float(np.percentile(times, 99) * 1000)


class ProductionValidator:
    """Release gates on held-out data: accuracy floor, p99 latency ceiling, size ceiling and
    signature match (TFX's Evaluator "blessing", with the serving-side checks added).

    >>> validator = ProductionValidator(min_accuracy=0.95, max_p99_latency_ms=5)  # doctest: +SKIP
    >>> report = validator.validate(model, digits.test)                           # doctest: +SKIP
    >>> report.passed, report.failures                                            # doctest: +SKIP

    A limit of None switches its gate off. ``signature`` is the contract clients rely on
    (default: 64 float32 pixels in, 10 scores out).
    """

    def __init__(self, min_accuracy=0.9, max_p99_latency_ms=10.0, max_size_bytes=1_000_000,
                 signature=DIGITS_SIGNATURE, latency_requests=300):
        for name, value in (("min_accuracy", min_accuracy), ("max_p99_latency_ms", max_p99_latency_ms),
                            ("max_size_bytes", max_size_bytes)):
            if value is not None and not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0 or None (gate off), got {value!r}")
        self.limits = {"min_accuracy": min_accuracy, "max_p99_latency_ms": max_p99_latency_ms,
                       "max_size_bytes": max_size_bytes, "signature": signature}
        self.latency_requests = int(latency_requests)

    def measure(self, model, data):
        """The candidate's figures on ``data = (X, y)``: accuracy, p99 single-row latency (ms),
        artifact size (bytes of the model file) and signature."""
        from tinytorch.core.mlops.registry import ModelSignature
        from tinytorch.core.serialization import model_to_bytes

        X, y = check_labelled_rows(data)
        return {
            "accuracy": float(np.mean(model.predict(X) == y)),
            "p99_latency_ms": measure_p99_latency_ms(model, X, self.latency_requests),
            "size_bytes": len(model_to_bytes(model)),
            "signature": asdict(ModelSignature.infer(model)),
        }

    def validate(self, model, data):
        """Measure ``model`` (a model or a pipeline ``Candidate``) on ``data = (X, y)`` and
        return the ValidationReport."""
        measured = self.measure(Candidate.of(model).model, data)
        return ValidationReport(measured, tuple(evaluate_release_gates(measured, self.limits)))


def check_labelled_rows(data, what="validation data"):
    """``data`` as ``(X float32 (n, features), y (n,))``, or a ValueError saying what is wrong."""
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be labelled rows (X, y), e.g. load_digits().test") from None
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{what} must be (X, y) with X (n, features) and y (n,), n > 0; "
                         f"got shapes {X.shape} and {y.shape}")
    return X, y


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
