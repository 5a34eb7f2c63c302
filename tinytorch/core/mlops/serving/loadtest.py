"""A closed-loop load generator and the plots a notebook draws from a real load run.

``concurrency`` clients each send a request, wait for the answer, and send the next, over one
keep-alive connection each, as wrk does. The clients run in a separate process (asyncio, raw
HTTP/1.1 on a socket) so they do not compete with a server running in the notebook's process
for its interpreter lock; thread-based clients in the same process measured 5-20x lower.

    python -m tinytorch.core.mlops.serving.loadtest URL PATH BODY_FILE CONCURRENCY SECONDS OUT.npy
"""

import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .protocol import encode_infer_request


@dataclass
class LoadResult:
    """Latencies (seconds) of the successful requests, the count of failed ones, wall time."""

    latencies: np.ndarray
    errors: int
    seconds: float

    @property
    def requests_per_second(self):
        return len(self.latencies) / self.seconds

    def percentile_ms(self, q):
        return float(np.percentile(self.latencies, q) * 1000) if len(self.latencies) else float("nan")

    def __str__(self):
        return (f"{self.requests_per_second:,.0f} req/s, p50 {self.percentile_ms(50):.2f} ms, "
                f"p99 {self.percentile_ms(99):.2f} ms, {self.errors} errors")


async def _client(host, port, request, stop_at, latencies):
    """One keep-alive connection sending ``request`` until ``stop_at``; returns failures."""
    reader, writer = await asyncio.open_connection(host, port)
    failed = 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                latencies.append(time.perf_counter() - started)
            else:
                failed += 1
    finally:
        writer.close()
    return failed


async def _drive(url, path, body, concurrency, seconds):
    host, port = url.split("//")[1].split(":")
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    failures = await asyncio.gather(*(_client(host, int(port), request, stop_at, latencies) for _ in range(concurrency)))
    return LoadResult(np.array(latencies), sum(failures), time.perf_counter() - started)


def run_load(url, path, body, concurrency=16, seconds=2.0):
    """POST ``body`` to ``url + path`` from ``concurrency`` clients for ``seconds``, from a
    separate process; returns a ``LoadResult``."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file, out = Path(tmp) / "body.json", Path(tmp) / "latencies.npy"
        body_file.write_bytes(body)
        done = subprocess.run(
            [sys.executable, "-m", __name__, url, path, str(body_file), str(concurrency), str(seconds), str(out)],
            capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr.strip()}")
        errors, elapsed = done.stdout.split()
        return LoadResult(np.load(out), int(errors), float(elapsed))


def plot_serving_load(model, batch_sizes=(1, 4, 16, 64), concurrency=16, seconds=1.5, x=None):
    """Serve ``model`` once per ``max_batch_size``, drive single-row requests at it, and plot
    the latency histogram of each run and requests/s against ``max_batch_size``.

    Returns ``(figure, {max_batch_size: LoadResult})``.
    """
    import matplotlib.pyplot as plt

    from .server import ModelServer

    row = np.zeros((1, *model.input_shape), dtype=np.float32) if x is None else np.asarray(x, np.float32)[:1]
    body = encode_infer_request(row, outputs=["predict"])
    results = {}
    for size in batch_sizes:
        with ModelServer(model, name="model", port=0, max_batch_size=size) as server:
            results[size] = run_load(server.url, "/v2/models/model/infer", body, concurrency, seconds)

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for size, result in results.items():
        left.hist(result.latencies * 1000, bins=60, histtype="step", linewidth=1.5, label=f"max_batch_size={size}")
    left.set(xlabel="latency (ms)", ylabel="requests", title=f"Latency, {concurrency} concurrent clients")
    left.legend()
    sizes = list(results)
    right.plot(sizes, [results[s].requests_per_second for s in sizes], marker="o")
    right.set(xscale="log", xlabel="max_batch_size", ylabel="requests / s", title="Throughput vs batch size")
    right.set_xticks(sizes, [str(s) for s in sizes])
    figure.tight_layout()
    return figure, results


def main(argv):
    url, path, body_file, concurrency, seconds, out = argv
    result = asyncio.run(_drive(url, path, Path(body_file).read_bytes(), int(concurrency), float(seconds)))
    np.save(out, result.latencies)
    print(result.errors, result.seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
