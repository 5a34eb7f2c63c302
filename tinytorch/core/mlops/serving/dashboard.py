"""The live monitoring page a ModelServer serves at ``/dashboard``.

The page (``dashboard.html``, plain HTML and JavaScript, nothing fetched from elsewhere, so it
works offline) polls ``/dashboard/data`` every second. That JSON holds *cumulative* counters, as a
Prometheus scrape does: the page turns two consecutive samples into rates (requests/s, error rate)
and the latency histogram's bucket deltas into p50/p95/p99 over the last interval, the way
``rate()`` and ``histogram_quantile`` do. So the server keeps no extra state for the page and the
infer path does no extra work: building the JSON only reads counters the server keeps anyway.

Accuracy and drift need ground truth and reference data that a server does not have; they come
from an attached ``ModelMonitor`` (``server.attach_monitor(monitor)``), whose ``snapshot()`` is
included as it is.
"""

import time
from importlib import resources


def dashboard_page():
    """The dashboard's HTML (read from the package, so an installed wheel serves it too)."""
    return resources.files(__package__).joinpath("dashboard.html").read_bytes()


def histogram_state(histogram):
    """A histogram's bounds and cumulative counts (``+Inf`` last, written as null in JSON)."""
    cumulative, running = [], 0
    for count in histogram.counts:
        running += count
        cumulative.append(running)
    return {"bounds": list(histogram.bounds) + [None], "cumulative": cumulative,
            "sum": histogram.sum, "count": histogram.count}


def dashboard_data(server, monitor=None):
    """One JSON-ready sample of everything the page shows (counters only, no computation that
    grows with traffic)."""
    metrics = server.metrics
    requests = {dict(labels)["status"]: count for labels, count in metrics.requests.values.items()}
    return {
        "time": time.time(),
        "uptime_seconds": server.uptime_seconds,
        "model": {"name": server.model_name, "version": server.model_version, "ready": server.ready},
        "requests": requests,
        "latency_seconds": histogram_state(metrics.latency),
        "batch_size": histogram_state(metrics.batch_size),
        "queue_depth": len(server.batcher.queue),
        "in_flight": server.in_flight,
        "max_batch_size": server.batcher.max_batch_size,
        "monitor": None if monitor is None else monitor.snapshot(),
    }
