"""The canary decision: compare the canary's live figures with the stable version's and say
whether to roll back, wait for more evidence, or advance to the next traffic step.

Argo Rollouts and Flagger run the same loop: at every step of a canary (5 % -> 25 % -> 100 %)
an analysis compares the canary's error rate and latency with thresholds and aborts the rollout
(sending all traffic back to stable) on the first failed check. Comparing against the stable arm
measured over the same minutes, rather than against fixed numbers, cancels out whatever the
whole system is going through (a traffic spike slows both arms alike).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmStats:
    """Live figures of one arm (stable or canary) since the rollout started.

    ``requests`` answered or failed by this arm, ``errors`` among them, ``p99_ms`` the p99
    latency of its answered requests (None before any), ``labelled`` requests whose true label
    came back and ``correct`` among those.
    """

    requests: int
    errors: int
    p99_ms: float | None
    labelled: int
    correct: int


@dataclass(frozen=True)
class CanaryPolicy:
    """When a canary is rolled back: error rate up by more than ``max_error_rate_increase``
    (absolute, 0.01 = one point), p99 latency above ``(1 + max_latency_regression)`` times the
    stable p99 plus ``latency_slack_ms``, or accuracy down by more than ``max_accuracy_drop``
    (absolute). ``min_requests``: evidence needed per arm before any verdict but "wait".

    Why a 50 ms slack by default: the p99 of a hundred requests is set by its one or two slowest,
    and on a shared or slow machine a single scheduler stall adds tens of milliseconds to
    whichever arm it hits (13 ms against 0.9 ms was seen on a busy 2-core machine). Half the
    100 ms p99 budget is a regression users notice; a stall is not."""

    min_requests: int = 100
    max_error_rate_increase: float = 0.01
    max_latency_regression: float = 0.5
    latency_slack_ms: float = 50.0
    max_accuracy_drop: float = 0.03


@dataclass(frozen=True)
class CanaryDecision:
    """``action`` is "rollback", "wait" or "advance"; ``reasons`` say why, with the figures."""

    action: str
    reasons: tuple


def canary_decision(stable, canary, policy=CanaryPolicy()):
    """Decide the next move of a canary rollout from both arms' ``ArmStats``; return a
    ``CanaryDecision(action, reasons)``.

    1. If either arm has fewer than ``policy.min_requests`` requests: "wait".
    2. Collect a reason for every regression of the canary against stable beyond the policy:
       - error rate (errors / requests): canary - stable > ``max_error_rate_increase``;
       - latency: canary p99 > stable p99 * (1 + ``max_latency_regression``) + ``latency_slack_ms``
         (skipped when either p99 is None, i.e. no answered request);
       - accuracy (correct / labelled), only when both arms have at least ``min_requests``
         labelled requests: stable - canary > ``max_accuracy_drop``.
       Any reason means "rollback", with all the reasons (not only the first).
    3. No regression, but either arm has fewer than ``min_requests`` labelled requests: "wait"
       (accuracy is not known yet). Otherwise "advance".
    Each rollback reason is a sentence that names its figure ("error rate", "latency" or "p99",
    "accuracy") and shows the canary's and stable's values, in any format that keeps 3
    significant digits, e.g. "error rate 0.120 vs stable 0.000".
    Why: a rollout that advances on too little data ships bad models; a canary that fails every
    request never gets a label back, so errors and latency must not wait for labels; and a
    rollback that does not say which figure failed cannot be debugged.
    """
    if min(stable.requests, canary.requests) < policy.min_requests:
        return CanaryDecision("wait", (f"fewer than {policy.min_requests} requests on an arm "
                                       f"(stable {stable.requests}, canary {canary.requests})",))
    error_rates = [arm.errors / arm.requests for arm in (stable, canary)]
    reasons = []
    if error_rates[1] - error_rates[0] > policy.max_error_rate_increase:
        reasons.append(f"error rate {error_rates[1]:.3f} vs stable {error_rates[0]:.3f}")
    if (canary.p99_ms is not None and stable.p99_ms is not None and canary.p99_ms
            > stable.p99_ms * (1 + policy.max_latency_regression) + policy.latency_slack_ms):
        reasons.append(f"p99 latency {canary.p99_ms:.2f} ms vs stable {stable.p99_ms:.2f} ms")
    labelled = min(stable.labelled, canary.labelled) >= policy.min_requests
    if labelled:
        accuracies = [arm.correct / arm.labelled for arm in (stable, canary)]
        if accuracies[0] - accuracies[1] > policy.max_accuracy_drop:
            reasons.append(f"accuracy {accuracies[1]:.3f} vs stable {accuracies[0]:.3f}")
    if reasons:
        return CanaryDecision("rollback", tuple(reasons))
    if not labelled:
        return CanaryDecision("wait", (f"fewer than {policy.min_requests} labelled requests on an arm "
                                       f"(stable {stable.labelled}, canary {canary.labelled})",))
    return CanaryDecision("advance", (f"error rate {error_rates[1]:.3f} and accuracy {accuracies[1]:.3f} "
                                      f"within the policy of stable ({error_rates[0]:.3f}, {accuracies[0]:.3f})",))
