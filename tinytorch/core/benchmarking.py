"""Benchmarking: how fast and how big a model is, measured the way serving cares about.

``benchmark_model`` warms the model up (first calls pay for allocation and caches), then times
single-row calls one by one to report latency percentiles (p50 is the typical request, p99 the
tail users notice), then times full batches to report throughput in rows per second. Timing uses
``time.perf_counter_ns`` around each call; nothing is estimated.
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 95, 99)


def latency_percentiles(durations_ms, percentiles=PERCENTILES):
    """``{"p50": ..., "p95": ..., "p99": ...}`` of a list of durations in milliseconds."""
    values = np.percentile(np.asarray(durations_ms, dtype=np.float64), percentiles)
    return {f"p{p}": float(v) for p, v in zip(percentiles, values)}


def time_calls(function, argument, repeats):
    """Call ``function(argument)`` ``repeats`` times; return each call's duration in ms."""
    durations = np.empty(repeats)
    for i in range(repeats):
        started = time.perf_counter_ns()
        function(argument)
        durations[i] = (time.perf_counter_ns() - started) / 1e6
    return durations


@dataclass
class BenchmarkResult:
    """What ``benchmark_model`` measured. ``print(result)`` shows a table; ``to_dict()`` gives
    plain values for logging or a registry."""

    model: str
    latency_ms: dict          # {"p50", "p95", "p99", "mean"} at batch size 1
    throughput: dict          # {batch_size: rows per second}
    nbytes: int
    num_parameters: int
    repeats: int
    warmup: int

    def to_dict(self):
        result = asdict(self)
        result["throughput"] = {str(size): rate for size, rate in self.throughput.items()}
        return result

    def __str__(self):
        rows = [("model", self.model),
                ("size", f"{self.nbytes:,} bytes ({self.num_parameters:,} parameters)")]
        rows += [(f"latency {name} (batch 1)", f"{value * 1000:,.1f} us")
                 for name, value in self.latency_ms.items()]
        rows += [(f"throughput (batch {size})", f"{rate:,.0f} rows/s")
                 for size, rate in self.throughput.items()]
        rows.append(("timed calls", f"{self.repeats} after {self.warmup} warm-up"))
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def benchmark_model(model, sample=None, batch_sizes=(1, 32, 256), repeats=200, warmup=20,
                    seed=0, name=None):
    """Measure latency at batch 1 and throughput at each of ``batch_sizes``.

    ``sample`` is either real input rows (an array of shape ``(n, *input_shape)``, tiled to fill
    larger batches) or an input shape such as ``(64,)``, in which case uniform [0, 1) inputs
    are drawn with ``seed``; by default ``model.input_shape`` is used. Returns a
    ``BenchmarkResult`` labelled ``name`` (default: the model's class).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    rows = _benchmark_rows(model, sample, max(max(batch_sizes), 1), seed)
    predict = model.predict
    time_calls(predict, rows[:1], warmup)
    single = time_calls(predict, rows[:1], repeats)
    throughput = {}
    for size in batch_sizes:
        batch = rows[:size]
        time_calls(predict, batch, max(1, warmup // 4))
        durations = time_calls(predict, batch, max(5, repeats // 4))
        throughput[int(size)] = float(size / (np.median(durations) / 1000))
    latency = latency_percentiles(single)
    latency["mean"] = float(single.mean())
    return BenchmarkResult(model=name or type(model).__name__,
                           latency_ms=latency, throughput=throughput,
                           nbytes=int(model.nbytes), num_parameters=int(model.num_parameters),
                           repeats=repeats, warmup=warmup)


def _benchmark_rows(model, sample, count, seed):
    """``count`` contiguous float32 input rows from a sample, a shape, or the model itself."""
    if sample is None:
        sample = model.input_shape
    if isinstance(sample, tuple) and all(isinstance(n, int) for n in sample):
        rng = np.random.default_rng(seed)
        return rng.random((count, *sample), dtype=np.float32)
    rows = model.check_input(sample).astype(np.float32)
    if len(rows) == 0:
        raise ValueError("sample has no rows; pass at least one input row or an input shape")
    repeat = -(-count // len(rows))
    return np.ascontiguousarray(np.concatenate([rows] * repeat)[:count])
