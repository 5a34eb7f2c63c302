"""The champion/challenger gate: may a freshly trained model replace the deployed one?

Modelled on TFX's Evaluator, which "blesses" a candidate only if it passes *value thresholds*
(an absolute floor, e.g. accuracy >= 0.9) and *change thresholds* against the current baseline
(e.g. at least +1 point); change thresholds are skipped on the first run, when there is no
baseline yet. Two data sets are used, both held out from training:

* recent data: labelled rows from the current stream, the population the model will serve;
  the challenger must beat the champion here by ``min_improvement`` (a margin, so two equally
  good models do not flip-flop on noise: the known flakiness of gates on close models);
* a golden set: a fixed, curated set that never changes; the challenger may not lose more than
  ``golden_tolerance`` on it, so a model that learned the new population by forgetting the old
  one is refused.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds of the gate (accuracies are fractions in [0, 1])."""

    min_accuracy: float = 0.8        # value threshold on recent data, always applied
    min_improvement: float = 0.01    # change threshold: recent gain over the champion
    golden_tolerance: float = 0.02   # change threshold: allowed loss on the golden set


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict and one line per check, in the order they were made."""

    passed: bool
    reasons: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.passed)  # a NumPy bool is a passed verdict too


def challenger_passes_gate(challenger, champion, policy):
    """Decide whether the challenger may be promoted; return a ``GateResult``.

    ``challenger`` and ``champion`` are dicts with ``"recent_accuracy"`` and
    ``"golden_accuracy"``, measured on the same held-out rows; ``champion`` is ``None`` on the
    first run. Three checks, each adding one line to ``reasons`` that names the check, the values
    and ``"ok"`` or ``"failed"``:

    1. value threshold: ``challenger["recent_accuracy"] >= policy.min_accuracy``;
    2. with a champion, improvement on recent data:
       ``challenger recent >= champion recent + policy.min_improvement``;
    3. with a champion, no regression on the golden set:
       ``challenger golden >= champion golden - policy.golden_tolerance``.

    Without a champion only check 1 is made, and a second reason says that the change checks were
    skipped (with the word "skipped").
    The challenger passes when every check made passes.
    """
    reasons = []
    recent = challenger["recent_accuracy"]
    floor_ok = recent >= policy.min_accuracy
    reasons.append(f"value threshold: recent accuracy {recent:.4f} >= {policy.min_accuracy:.4f}"
                   f" {'ok' if floor_ok else 'failed'}")
    if champion is None:
        reasons.append("no champion yet: change thresholds skipped (first run)")
        return GateResult(floor_ok, reasons)
    needed = champion["recent_accuracy"] + policy.min_improvement
    improves = recent >= needed
    reasons.append(f"improvement: recent accuracy {recent:.4f} >= champion "
                   f"{champion['recent_accuracy']:.4f} + {policy.min_improvement:.4f}"
                   f" {'ok' if improves else 'failed'}")
    golden, allowed = challenger["golden_accuracy"], champion["golden_accuracy"] - policy.golden_tolerance
    keeps_golden = golden >= allowed
    reasons.append(f"golden set: accuracy {golden:.4f} >= champion {champion['golden_accuracy']:.4f}"
                   f" - {policy.golden_tolerance:.4f} {'ok' if keeps_golden else 'failed'}")
    return GateResult(floor_ok and improves and keeps_golden, reasons)
