"""A/B testing figures: split accuracy, SRM, and false positives under peeking (issue 6).

Runs 2,000 A/A experiments (10,000 units each, 10 % conversion in both arms, a look after every
100 units) and prints the false-positive rate of a single fixed-horizon test, of a naive analyst
who stops at the first p < 0.05, and of the mSPRT sequential test. The vectorised simulation is
timed against a plain-Python loop over the same data using the scalar library functions
(two_proportion_ztest, msprt_log_likelihood_ratio), which must reach the same decisions.

    .venv/bin/python benchmarks/ab_simulation.py [--experiments 2000] [--plot peeking.png]

Targets: 80/20 split of 100,000 ids within +-1 point; SRM flags a broken 50/50 split of 10,000
units; fixed-horizon FPR in [0.035, 0.065]; naive FPR > 0.15; sequential FPR <= 0.05.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinytorch.core.mlops.experiments import (  # noqa: E402
    assign_variant,
    mixture_variance_ratio,
    msprt_log_likelihood_ratio,
    plot_peeking,
    sample_size_two_proportions,
    simulate_peeking,
    srm_check,
    two_proportion_ztest,
)
from tinytorch.core.mlops.experiments.simulation import _arm_totals  # noqa: E402


def loop_decisions(seed, n_experiments, n_units, look_every, rate, alpha):
    """Baseline: the same experiments decided one look at a time with the scalar functions."""
    n_a, conv_a, n_b, conv_b = _arm_totals(np.random.default_rng(seed), n_experiments, n_units, look_every, rate)
    ratio, threshold = mixture_variance_ratio(alpha), math.log(1 / alpha)
    naive = np.zeros(n_a.shape, dtype=bool)
    sequential = np.zeros(n_a.shape, dtype=bool)
    for e in range(n_experiments):
        for k in range(n_a.shape[1]):
            na, ca, nb, cb = int(n_a[e, k]), int(conv_a[e, k]), int(n_b[e, k]), int(conv_b[e, k])
            if min(na, nb) == 0 or ca + cb in (0, na + nb):
                continue
            naive[e, k] = two_proportion_ztest(ca, na, cb, nb).p_value < alpha
            pooled = (ca + cb) / (na + nb)
            variance = pooled * (1 - pooled) * (1 / na + 1 / nb)
            log_lr = msprt_log_likelihood_ratio(cb / nb - ca / na, variance, ratio * variance * (na + nb) / n_units)
            sequential[e, k] = log_lr >= threshold
    return np.maximum.accumulate(naive, axis=1), np.maximum.accumulate(sequential, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--look-every", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--baseline-experiments", type=int, default=100)
    parser.add_argument("--plot", type=Path, help="save the peeking plot to this file")
    args = parser.parse_args()
    alpha = 0.05

    start = time.perf_counter()
    arms = [assign_variant("exp-1", f"user-{i}", {"control": 0.8, "treatment": 0.2}) for i in range(100_000)]
    assign_seconds = time.perf_counter() - start
    share = arms.count("treatment") / len(arms)
    print(f"assignment: 100,000 ids 80/20 -> treatment {share:.4%} (target 20 % +- 1 point), "
          f"{len(arms) / assign_seconds:,.0f} assignments/s")

    halves = [assign_variant("srm", f"user-{i}", {"control": 0.5, "treatment": 0.5}) for i in range(10_000)]
    healthy = [halves.count("control"), halves.count("treatment")]
    broken = [healthy[0], int(healthy[1] * 0.92)]  # 8 % of treatment exposures lost
    for label, counts in (("healthy", healthy), ("broken", broken)):
        chi2, p, mismatch = srm_check(counts, [0.5, 0.5])
        print(f"SRM {label:>7} 50/50 split {counts}: chi2 {chi2:.2f}, p {p:.3g}, flagged {mismatch}")

    n = sample_size_two_proportions(0.10, 0.11)
    print(f"power: 10 % -> 11 % at alpha 0.05, power 0.8 needs {math.ceil(n):,} units per arm")

    start = time.perf_counter()
    sim = simulate_peeking(args.experiments, args.units, args.look_every, args.rate, alpha, seed=args.seed)
    vector_seconds = time.perf_counter() - start
    looks = sim.units_at_look.size
    print(f"\nA/A simulation: {args.experiments} experiments x {args.units} units, a look every "
          f"{args.look_every} units ({looks} looks), {vector_seconds:.2f} s")
    print(f"  fixed horizon (one test at the end): FPR {sim.fixed_horizon_fpr:.4f}  (target [0.035, 0.065])")
    print(f"  naive, stop at first p < 0.05:       FPR {sim.naive_fpr[-1]:.4f}  (target > 0.15)")
    print(f"  sequential mSPRT:                    FPR {sim.sequential_fpr[-1]:.4f}  (target <= 0.05)")
    print("  looks:      " + " ".join(f"{k:>6}" for k in (1, 5, 10, 20, 50, looks)))
    for name, curve in (("naive", sim.naive_fpr), ("sequential", sim.sequential_fpr)):
        print(f"  {name:<11} " + " ".join(f"{curve[k - 1]:6.3f}" for k in (1, 5, 10, 20, 50, looks)))

    m = args.baseline_experiments
    start = time.perf_counter()
    naive_loop, sequential_loop = loop_decisions(args.seed, m, args.units, args.look_every, args.rate, alpha)
    loop_seconds = time.perf_counter() - start
    start = time.perf_counter()
    small = simulate_peeking(m, args.units, args.look_every, args.rate, alpha, seed=args.seed, chunk=m)
    small_seconds = time.perf_counter() - start
    same = (np.allclose(small.naive_fpr, naive_loop.mean(axis=0))
            and np.allclose(small.sequential_fpr, sequential_loop.mean(axis=0)))
    print(f"\nbaseline: plain-Python loop over {m} experiments {loop_seconds:.2f} s, vectorised "
          f"{small_seconds:.3f} s on the same data: {loop_seconds / small_seconds:.0f}x faster; "
          f"same decisions: {same}")

    checks = {
        "80/20 within 1 point": abs(share - 0.2) <= 0.01,
        "SRM flags broken split": srm_check(broken, [0.5, 0.5]).mismatch and not srm_check(healthy, [0.5, 0.5]).mismatch,
        "fixed-horizon FPR in [0.035, 0.065]": 0.035 <= sim.fixed_horizon_fpr <= 0.065,
        "naive FPR > 0.15": sim.naive_fpr[-1] > 0.15,
        "sequential FPR <= 0.05": sim.sequential_fpr[-1] <= 0.05,
        "loop and vectorised agree": same,
    }
    print("\n" + "\n".join(f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in checks.items()))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        plot_peeking(sim).savefig(args.plot, dpi=120)
        print(f"plot saved to {args.plot}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
