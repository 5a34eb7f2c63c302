"""What the library benchmarks share: one BLAS thread, CPU time, interleaved rounds, median and spread.

Import this module before NumPy. It sets the variables OpenBLAS, MKL and OpenMP read when they
load, so BLAS runs one thread (a second thread waiting for a core that another process holds
adds time that is not the code's), and ``one_blas_thread`` holds pools loaded anyway to one.
Every figure is CPU time of this process (``time.process_time``), which other processes' load
changes far less than wall time. The candidates of a comparison alternate within each round, in
an order that rotates from round to round, so a change in the machine's state during the run
reaches all of them alike. A figure is the median round with the min-max of the rounds beside
it; a ratio is taken per round, and verdicts are taken on the median ratio.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402


def one_blas_thread():
    """A context holding every BLAS/OpenMP pool of this process to one thread."""
    return threadpool_limits(limits=1)


def cpu_seconds(function, calls=1):
    """CPU seconds per call of ``function()`` over ``calls`` calls, and the last result."""
    started = time.process_time()
    for _ in range(calls):
        result = function()
    return (time.process_time() - started) / calls, result


def interleaved(candidates, rounds, calls=1):
    """{name: [CPU seconds per call, one per round]} of ``{name: function}``, run alternately."""
    names = list(candidates)
    times = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(cpu_seconds(candidates[name], calls)[0])
    return times


@dataclass(frozen=True)
class Spread:
    """The median of some rounds' values and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values):
        return cls(statistics.median(values), min(values), max(values))

    def show(self, scale=1.0, unit="", digits=2):
        return (f"{self.median * scale:.{digits}f}{unit} "
                f"({self.low * scale:.{digits}f}-{self.high * scale:.{digits}f})")


def ratio(numerators, denominators) -> Spread:
    """Per-round ratios of two candidates' times, as a Spread."""
    return Spread.of([a / b for a, b in zip(numerators, denominators)])


def verdict(passed, text) -> bool:
    """Print ``PASS: text`` or ``FAIL: text``; return ``passed``."""
    print(f"  {'PASS' if passed else 'FAIL'}: {text}")
    return bool(passed)
