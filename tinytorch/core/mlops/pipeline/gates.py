"""Release gates: the checks a candidate must pass before it may take production traffic.

TFX's Evaluator "blesses" a model with value thresholds; KServe and SageMaker deployments refuse a
model whose signature differs from what clients send. Here each gate compares one measured figure
with one limit and records both, so a refused release says exactly which figure failed and by how
much, and a passed one leaves evidence in the run's lineage.
"""

import math
from dataclasses import dataclass

# (gate name, measured figure, comparison, limit key)
RELEASE_GATES = (
    ("accuracy_floor", "accuracy", ">=", "min_accuracy"),
    ("p99_latency_ceiling", "p99_latency_ms", "<=", "max_p99_latency_ms"),
    ("size_ceiling", "size_bytes", "<=", "max_size_bytes"),
    ("signature_match", "signature", "==", "signature"),
)


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: its name, whether it passed, the measured figure, the limit, and a
    sentence for the release log."""

    name: str
    passed: bool
    value: object
    limit: object
    message: str


def normalize_signature(signature):
    """A signature dict with every list turned into a tuple (JSON stores tuples as lists), so that
    a signature read back from a registry file compares equal to one read off a model."""
    if isinstance(signature, dict):
        return {key: normalize_signature(value) for key, value in signature.items()}
    if isinstance(signature, (list, tuple)):
        return tuple(normalize_signature(value) for value in signature)
    return signature


def evaluate_release_gates(measured, limits):
    """Check a candidate's measured figures against the release limits; return a GateResult
    per configured gate, in the order of ``RELEASE_GATES``.

    ``measured`` holds the candidate's figures: ``accuracy`` (0..1 on held-out data),
    ``p99_latency_ms``, ``size_bytes`` and ``signature`` (a dict such as
    ``{"input_shape": (64,), "dtype": "float32", "output_shape": (10,)}``).
    ``limits`` holds ``min_accuracy``, ``max_p99_latency_ms``, ``max_size_bytes`` and the expected
    ``signature``; a gate whose limit is missing or None is not configured and gets no result.

    Rules (each gate in RELEASE_GATES is ``figure <op> limit``):
    - the limits are inclusive: accuracy exactly at the floor passes, latency exactly at the
      ceiling passes;
    - a figure that is missing, None or NaN fails its gate: a release is never waved through
      because something was not measured;
    - signatures compare equal after ``normalize_signature`` (lists and tuples are the same);
    - the message names the gate and shows the figure and the limit, in any format that keeps
      3 significant digits (``format_figure`` does), e.g. ``"accuracy_floor: accuracy 0.91 < 0.95"``
      when failing.
    Why it matters: a release log that says "gates failed" gets overridden; one that says
    "p99 latency 41.2 ms > 25 ms" gets fixed.
    """
    results = []
    for name, figure, op, limit_key in RELEASE_GATES:
        limit = limits.get(limit_key)
        if limit is None:
            continue
        value = measured.get(figure)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            results.append(GateResult(name, False, value, limit, f"{name}: {figure} was not measured"))
            continue
        if op == "==":
            passed = normalize_signature(value) == normalize_signature(limit)
        elif op == ">=":
            passed = value >= limit
        else:
            passed = value <= limit
        shown_op = op if passed else {">=": "<", "<=": ">", "==": "!="}[op]
        results.append(GateResult(name, bool(passed), value, limit,
                                  f"{name}: {figure} {format_figure(value)} {shown_op} {format_figure(limit)}"))
    return results


def format_figure(value):
    """A figure as the release log shows it: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
