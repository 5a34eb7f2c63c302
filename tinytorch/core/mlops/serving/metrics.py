"""Prometheus text exposition (format 0.0.4), written by hand: three metric kinds are all a
model server needs, and seeing the text makes clear what a scraper actually reads.

    # HELP tinytorch_request_duration_seconds Latency of infer requests.
    # TYPE tinytorch_request_duration_seconds histogram
    tinytorch_request_duration_seconds_bucket{le="0.005"} 12
    ...
    tinytorch_request_duration_seconds_bucket{le="+Inf"} 40
    tinytorch_request_duration_seconds_sum 0.31
    tinytorch_request_duration_seconds_count 40
"""

import bisect

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def format_value(value):
    """A sample value as Prometheus writes it (``+Inf``, integers without a trailing ``.0``)."""
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def escape_label_value(value):
    """Escape a label value as the exposition format requires: backslash, quote, newline."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels):
    """``{"status": "200"}`` -> ``{status="200"}`` (empty string for no labels)."""
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels.items()) + "}"


class Histogram:
    """Counts observations into buckets by upper bound, and renders them as Prometheus does.

    Prometheus buckets are cumulative: the sample for ``le="0.01"`` counts every observation
    <= 0.01, and ``le="+Inf"`` equals ``_count``. Storing one count per bucket and summing at
    render time keeps ``observe`` (on the request path) to one bisect and two additions.
    A scraper computes quantiles (p50, p99) from these buckets with ``histogram_quantile``.
    """

    def __init__(self, name, help, buckets):
        self.name = name
        self.help = help
        self.bounds = sorted(float(b) for b in buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is the +Inf bucket
        self.sum = 0.0
        self.count = 0

    def observe(self, value):
        """Record one observation (a value equal to a bound falls in that bound's bucket)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self):
        """The histogram in text exposition format: HELP, TYPE, cumulative ``_bucket`` lines
        for each bound (``le`` written with ``repr``) and ``+Inf``, then ``_sum`` and ``_count``
        (numbers written with ``format_value``), each line ending in a newline."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip(self.bounds + [float("inf")], self.counts):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)  # "0.5", "1.0": as client libraries write it
            lines.append(f'{self.name}_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"{self.name}_sum {format_value(self.sum)}")
        lines.append(f"{self.name}_count {self.count}")
        return "\n".join(lines) + "\n"


class LabelledValues:
    """A counter or gauge family: one value per label set (``kind`` is "counter" or "gauge")."""

    def __init__(self, name, help, kind):
        self.name = name
        self.help = help
        self.kind = kind
        self.values = {}

    def inc(self, amount=1, **labels):
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0) + amount

    def set(self, value, **labels):
        self.values[tuple(sorted(labels.items()))] = value

    def clear(self):
        self.values.clear()

    def render(self):
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for key, value in self.values.items():
            lines.append(f"{self.name}{format_labels(dict(key))} {format_value(value)}")
        return "\n".join(lines) + "\n"


class ServerMetrics:
    """Every metric a ModelServer exposes at ``/metrics``.

    Names follow what TorchServe and KServe users already chart: requests by status, a latency
    histogram, the batch size the model actually ran, queue depth, in-flight requests, and an
    info gauge carrying the model version (1 for the serving version). ``histogram`` is the
    class that counts latencies and batch sizes.
    """

    def __init__(self, histogram=Histogram):
        self.requests = LabelledValues(
            "tinytorch_inference_requests_total", "Infer requests answered, by HTTP status.", "counter")
        self.latency = histogram(
            "tinytorch_request_duration_seconds", "Latency of infer requests, from body received to answer.",
            LATENCY_BUCKETS)
        self.batch_size = histogram(
            "tinytorch_batch_size", "Rows per model call made by the micro-batcher.", BATCH_SIZE_BUCKETS)
        self.queue_depth = LabelledValues(
            "tinytorch_queue_depth", "Requests waiting for the model.", "gauge")
        self.in_flight = LabelledValues(
            "tinytorch_inflight_requests", "Infer requests received and not yet answered.", "gauge")
        self.model_info = LabelledValues(
            "tinytorch_model_info", "The model being served (value 1), labelled by name and version.", "gauge")
        self.queue_depth.set(0)
        self.in_flight.set(0)

    def render(self, queue_depth, in_flight):
        self.queue_depth.set(queue_depth)
        self.in_flight.set(in_flight)
        families = (self.requests, self.latency, self.batch_size, self.queue_depth, self.in_flight, self.model_info)
        return "".join(family.render() for family in families)
