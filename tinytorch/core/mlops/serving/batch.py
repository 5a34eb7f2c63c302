"""BatchInference: score a large array or file in chunks, with progress and a throughput report.

Offline ("batch") scoring is how most predictions are made in production: nightly scores for
every customer, backfills after a new version ships. Chunks bound the memory used (a ``.npy``
file is memory-mapped, never loaded whole), and because a model scores rows independently the
result is identical to one call on the whole array.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def iter_chunks(n_rows, chunk_size):
    """Yield ``slice(start, stop)`` objects covering ``range(n_rows)`` in order, each
    ``chunk_size`` rows long except the last, which may be shorter and stops at ``n_rows``
    (no slices for ``n_rows == 0``, never an empty one). ValueError for a ``chunk_size`` below 1.
    Yield them one at a time (a generator), never building the whole list first.

    Slices rather than copies: ``x[s]`` of a numpy array or memory-mapped file is a view, so
    scoring a file larger than memory reads one chunk at a time.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(0, n_rows, chunk_size):
        yield slice(start, min(start + chunk_size, n_rows))


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did: rows scored, chunks, wall time and throughput."""

    rows: int
    chunks: int
    seconds: float

    @property
    def rows_per_second(self):
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self):
        return (f"scored {self.rows:,} rows in {self.chunks} chunks in {self.seconds:.3f} s "
                f"({self.rows_per_second:,.0f} rows/s)")


def load_rows(source):
    """An array-like of rows from an array, a ``.npy`` file (memory-mapped) or a ``.csv`` file."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no input file {path}")
        if path.suffix == ".npy":
            return np.load(path, mmap_mode="r")
        if path.suffix == ".csv":
            return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        raise ValueError(f"cannot read {path}: use a .npy or .csv file")
    return np.asarray(source)


class BatchInference:
    """Scores rows in chunks with any predictor offering ``predict(x)``: a model, or an
    ``InferenceEndpoint`` to score through a server.

        job = BatchInference(model, chunk_size=1024)
        labels = job.run("scores_input.npy", output="labels.npy")
        print(job.report)   # scored 100,000 rows in 98 chunks in 0.41 s (243,000 rows/s)
    """

    def __init__(self, predictor, chunk_size=1024, progress=True, stream=None):
        if not hasattr(predictor, "predict"):
            raise TypeError(f"predictor needs a predict(x) method, got {type(predictor).__name__}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.predictor = predictor
        self.chunk_size = int(chunk_size)
        self.progress = progress
        self.stream = stream
        self.report = None

    def run(self, source, output=None):
        """Predict every row of ``source`` (array, .npy or .csv path); return the predictions
        and, if ``output`` is a path, also save them there as ``.npy``."""
        rows = load_rows(source)
        if rows.ndim < 2 or len(rows) == 0:
            raise ValueError(f"input must be a non-empty 2-D array of rows, got shape {rows.shape}")
        started = time.perf_counter()
        results, chunks = [], list(iter_chunks(len(rows), self.chunk_size))
        for done, chunk in enumerate(chunks, start=1):
            results.append(np.asarray(self.predictor.predict(np.asarray(rows[chunk], dtype=np.float32))))
            self._show_progress(done, len(chunks), chunk.stop, started)
        predictions = np.concatenate(results)
        self.report = BatchReport(rows=len(rows), chunks=len(chunks), seconds=time.perf_counter() - started)
        if self.progress:
            print(f"\n{self.report}", file=self.stream or sys.stdout, flush=True)
        if output is not None:
            np.save(output, predictions)
        return predictions

    def _show_progress(self, done, total, rows_done, started):
        if not self.progress:
            return
        width = 30
        filled = width * done // total
        elapsed = time.perf_counter() - started
        rate = rows_done / elapsed if elapsed > 0 else 0.0
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks, {rate:,.0f} rows/s",
              end="", file=self.stream or sys.stdout, flush=True)
