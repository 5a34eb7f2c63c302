"""Comparing versions: metric deltas, parameter differences, metric filters, measured latency."""

import operator
import re
import time

import numpy as np


def compare_metrics(a: dict, b: dict) -> dict:
    """Compare two versions' metrics: {metric: {"a": value_a, "b": value_b, "delta": b - a}}.

    Every metric of either version appears (sorted by name). A metric missing from one side gets
    None for that side and a delta of None, rather than being dropped: "the new version no longer
    reports latency" is something a reviewer must see before promoting it.

    >>> compare_metrics({"accuracy": 0.5}, {"accuracy": 0.75, "loss": 0.2})
    {'accuracy': {'a': 0.5, 'b': 0.75, 'delta': 0.25}, 'loss': {'a': None, 'b': 0.2, 'delta': None}}
    """
    result = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        delta = vb - va if va is not None and vb is not None else None
        result[key] = {"a": va, "b": vb, "delta": delta}
    return result


def diff_params(a: dict, b: dict) -> dict:
    """{param: (value_a, value_b)} for every parameter that differs (None where missing)."""
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


_OPERATORS = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq,
    "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}
_FILTER = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*")


def parse_metric_filter(text: str):
    """Parse "accuracy>=0.95" into ("accuracy", ">=", 0.95); a clear ValueError otherwise."""
    match = _FILTER.fullmatch(text) if isinstance(text, str) else None
    try:
        value = float(match.group(3)) if match else None
    except ValueError:
        value = None
    if value is None:
        raise ValueError(
            f"metric filter {text!r} is not understood; write <metric> <op> <number> with op one "
            f"of {' '.join(_OPERATORS)}, e.g. 'accuracy>=0.95'"
        )
    return match.group(1), match.group(2), value


def metric_filter_matches(metrics: dict, text: str) -> bool:
    """True if `metrics` satisfies the filter `text`; a missing metric never matches."""
    name, op, value = parse_metric_filter(text)
    return name in metrics and _OPERATORS[op](metrics[name], value)


def measure_latency(model, sample, repeats: int = 30) -> float:
    """Median wall time in seconds of `model.predict(sample)`, after one warm-up call."""
    sample = np.asarray(sample)
    model.predict(sample)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(sample)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
