"""Monte Carlo of A/A experiments: why peeking at a fixed-horizon test lies, and mSPRT does not.

Each simulated experiment sends ``n_units`` units at random to two identical arms (same
conversion rate, so every "significant" result is a false positive) and looks at the data after
every ``look_every`` units. The naive analyst stops at the first look where the two-proportion
z-test says p < alpha; the sequential analyst stops when the mSPRT's Lambda reaches 1/alpha.
Everything is vectorised over experiments and looks, so 2,000 experiments of 10,000 units take
seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scipy.special import ndtri

from . import arguments
from .sequential import mixture_variance_ratio, msprt_log_likelihood_ratio


@dataclass(frozen=True)
class PeekingSimulation:
    """False-positive rates by look: ``naive_fpr[k]`` is the share of A/A experiments that a
    p < alpha rule had declared significant at some look up to and including look k."""

    units_at_look: np.ndarray
    naive_fpr: np.ndarray
    sequential_fpr: np.ndarray
    fixed_horizon_fpr: float
    n_experiments: int
    alpha: float

    @property
    def looks(self):
        return np.arange(1, self.units_at_look.size + 1)


def _arm_totals(rng, n_experiments, n_units, look_every, rate):
    """Cumulative (n_a, conversions_a, n_b, conversions_b) at each look, shape (experiments, looks)."""
    shape = (n_experiments, n_units // look_every, look_every)
    in_b = rng.random(shape) < 0.5
    converted = rng.random(shape) < rate
    n_b = np.cumsum(in_b.sum(axis=2), axis=1)
    conv_b = np.cumsum((converted & in_b).sum(axis=2), axis=1)
    conv_all = np.cumsum(converted.sum(axis=2), axis=1)
    units = np.arange(1, shape[1] + 1) * look_every
    return units - n_b, conv_all - conv_b, n_b, conv_b


def simulate_peeking(n_experiments=2000, n_units=10_000, look_every=100, rate=0.1, alpha=0.05,
                     seed=0, chunk=250):
    """Run ``n_experiments`` A/A experiments and measure false-positive rates under peeking.

    Counts are whole numbers >= 1 (``n_units`` a multiple of ``look_every``); rate and alpha are
    in (0, 1).
    """
    n_experiments = arguments.count("n_experiments", n_experiments, minimum=1)
    n_units = arguments.count("n_units", n_units, minimum=1)
    look_every = arguments.count("look_every", look_every, minimum=1)
    chunk = arguments.count("chunk", chunk, minimum=1)
    rate, alpha = arguments.probability("rate", rate), arguments.probability("alpha", alpha)
    if n_units % look_every:
        raise ValueError(f"n_units ({n_units}) must be a multiple of look_every ({look_every})")
    rng = np.random.default_rng(seed)
    crit = float(ndtri(1 - alpha / 2))
    ratio = mixture_variance_ratio(alpha)
    naive_hits, sequential_hits, fixed_hits = [], [], []
    for start in range(0, n_experiments, chunk):
        n_a, conv_a, n_b, conv_b = _arm_totals(rng, min(chunk, n_experiments - start), n_units, look_every, rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (conv_a + conv_b) / (n_a + n_b)
            variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
            diff = conv_b / n_b - conv_a / n_a
            valid = (variance > 0) & np.isfinite(variance)
            safe_variance = np.where(valid, variance, 1.0)
            # Same statistic as two_proportion_ztest, for all experiments and looks at once.
            naive = valid & (np.abs(diff) / np.sqrt(safe_variance) > crit)
            information = (n_a + n_b) / n_units
            log_lr = msprt_log_likelihood_ratio(np.where(valid, diff, 0.0), safe_variance,
                                                ratio * safe_variance * information)
        sequential = valid & (log_lr >= math.log(1 / alpha))
        naive_hits.append(np.maximum.accumulate(naive, axis=1))
        sequential_hits.append(np.maximum.accumulate(sequential, axis=1))
        fixed_hits.append(naive[:, -1])
    return PeekingSimulation(
        units_at_look=np.arange(1, n_units // look_every + 1) * look_every,
        naive_fpr=np.concatenate(naive_hits).mean(axis=0),
        sequential_fpr=np.concatenate(sequential_hits).mean(axis=0),
        fixed_horizon_fpr=float(np.concatenate(fixed_hits).mean()),
        n_experiments=n_experiments,
        alpha=alpha,
    )


def plot_peeking(sim_result, ax=None):
    """Plot the false-positive rate against the number of looks, naive vs sequential.

    Returns the matplotlib Figure (pass ``ax`` to draw into an existing one).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    looks = sim_result.looks
    ax.plot(looks, sim_result.naive_fpr, label="naive: stop at first p < alpha", color="tab:red")
    ax.plot(looks, sim_result.sequential_fpr, label="sequential (mSPRT)", color="tab:blue")
    ax.axhline(sim_result.alpha, color="grey", linestyle="--", label=f"alpha = {sim_result.alpha:g}")
    ax.set_xlabel("number of looks at the data")
    ax.set_ylabel("false-positive rate (A/A experiments)")
    ax.set_title(f"Peeking at {sim_result.n_experiments} A/A experiments")
    ax.set_ylim(0, max(0.1, float(sim_result.naive_fpr.max()) * 1.1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
