"""Automatic rollback: undo a promotion that does worse live than the model it replaced.

A gate judges a challenger on held-out data; live traffic is the real test. After a promotion
the previous champion keeps scoring the same labelled live rows in the shadow (it serves no one),
so the two models are compared on exactly the same rows: no difference in traffic can explain a
gap. The new champion is on probation until ``probation_samples`` rows have been scored.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RollbackPolicy:
    """When to judge a promoted model against its predecessor on live rows."""

    min_samples: int = 100          # judge only after this many live rows
    probation_samples: int = 400    # after this many rows without a rollback, keep it
    tolerance: float = 0.0          # roll back when new accuracy < old accuracy - tolerance


def should_rollback(new_correct, old_correct, policy):
    """Judge the promoted model on live rows: return ``"rollback"``, ``"keep"`` or ``"wait"``.

    ``new_correct`` and ``old_correct`` are equally long sequences of booleans (1/0): whether
    the promoted model and the previous champion got each live row since the promotion right.
    With fewer than ``policy.min_samples`` rows: ``"wait"`` (too little evidence). Otherwise
    ``"rollback"`` when the promoted model's accuracy is strictly below the previous champion's
    minus ``policy.tolerance``; else ``"keep"`` once ``policy.probation_samples`` rows have been
    seen, and ``"wait"`` before that. Raises ValueError when the lengths differ: the comparison
    is only fair on the same rows.
    """
    new_correct = np.asarray(new_correct, dtype=float)
    old_correct = np.asarray(old_correct, dtype=float)
    if new_correct.shape != old_correct.shape:
        raise ValueError(f"new_correct and old_correct must score the same rows; got "
                         f"{new_correct.size} and {old_correct.size} outcomes")
    if new_correct.size < policy.min_samples:
        return "wait"
    if new_correct.mean() < old_correct.mean() - policy.tolerance:
        return "rollback"
    return "keep" if new_correct.size >= policy.probation_samples else "wait"
