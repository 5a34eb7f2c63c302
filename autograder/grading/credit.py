"""How a test cell's points follow from its task's hidden checks: the instructor's credit policy.

Set in ``nbgrader_config.py`` on the grading preprocessor::

    c.JudgedExecute.credit = "proportional"      # points x passed / total checks (the default)
    c.JudgedExecute.credit = "all_or_nothing"    # full points only when every check passes
    c.JudgedExecute.credit = "weights"           # points x passed weight / total weight, with
    c.JudgedExecute.check_weights = {"test_eight_processes_at_once_get_distinct_versions": 3}

A weight belongs to a check function (``test_...`` in ``autograder/checks/``); each case of a
parametrized check carries it, and a check not listed weighs 1. A test cell whose visible test
failed scores zero under every policy.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

POLICIES = ("proportional", "all_or_nothing", "weights")
CREDIT_LINE = "c.JudgedExecute.credit"
WEIGHTS_LINE = "c.JudgedExecute.check_weights"


class CreditError(ValueError):
    """The credit policy in ``nbgrader_config.py`` is not one grading can apply."""


def check_function(name: str) -> str:
    """The check function a check record belongs to: ``test_x[case]`` -> ``test_x``."""
    return name.partition("[")[0]


@dataclass(frozen=True)
class Credit:
    """A credit policy; ``score`` turns one task's check records into points and says how."""

    policy: str = "proportional"
    weights: dict[str, float] = field(default_factory=dict)

    def weight(self, check: dict) -> float:
        return float(self.weights.get(check_function(check["name"]), 1.0))

    def score(self, points: float, checks: list[dict]) -> tuple[float, str]:
        """The points earned by ``checks`` (records with ``name`` and ``passed``), clamped to
        ``[0, points]``, and the line that tells the student how they were computed."""
        passed = sum(bool(c["passed"]) for c in checks)
        counted = f"{passed}/{len(checks)} checks passed"
        if self.policy == "all_or_nothing":
            how, share = "all or nothing", float(passed == len(checks))
        elif self.policy == "weights":
            total = sum(self.weight(c) for c in checks)
            earned = sum(self.weight(c) for c in checks if c["passed"])
            how, share = "weighted", earned / total if total else 0.0
            counted += f" (weight {earned:g} of {total:g})"
        else:
            how, share = "proportional", passed / len(checks)
        score = round(points * min(max(share, 0.0), 1.0), 4)
        return score, f"{how}: {counted}, {score:g} of {points:g} points"


def credit_policy(policy: str, weights: dict, checks: dict[str, dict[str, str]]) -> Credit:
    """The policy the config asks for, or a ``CreditError`` naming the config line to fix.

    ``checks`` is every notebook's hidden checks (notebook -> check function -> task): a weight
    must name one of them, and no task may end up with every check weighing 0 (it could never
    earn its points).
    """
    if policy not in POLICIES:
        raise CreditError(f"{CREDIT_LINE} = {policy!r} in nbgrader_config.py is not a credit policy; "
                          f"use one of {', '.join(map(repr, POLICIES))}")
    if weights and policy != "weights":
        raise CreditError(f"{WEIGHTS_LINE} is set in nbgrader_config.py, but {CREDIT_LINE} is {policy!r}: "
                          f"weights only count with {CREDIT_LINE} = 'weights' (or remove {WEIGHTS_LINE})")
    known = {name for names in checks.values() for name in names}
    for name, weight in weights.items():
        _check_weight(name, weight, known)
    for notebook, names in checks.items():
        tasks = set(names.values())
        for task in sorted(tasks):
            if all(weights.get(name, 1) == 0 for name, of in names.items() if of == task):
                raise CreditError(f"{WEIGHTS_LINE} in nbgrader_config.py gives every check of task {task!r} "
                                  f"({notebook}) weight 0, so it could never earn its points; give one a weight above 0")
    return Credit(policy, {name: float(weight) for name, weight in weights.items()})


def _check_weight(name, weight, known: set[str]) -> None:
    entry = f"{WEIGHTS_LINE}[{name!r}] = {weight!r} in nbgrader_config.py"
    if name not in known:
        close = difflib.get_close_matches(str(name), sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CreditError(f"{entry}: there is no hidden check named {name!r}{hint}; a weight names a check "
                          "function in autograder/checks/test_NN_name.py (`python -m autograder check NN_name` "
                          "lists them)")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise CreditError(f"{entry}: a weight is a number, such as 1 or 2.5")
    if weight < 0:
        raise CreditError(f"{entry}: a weight cannot be negative; use 0 for a check that should not count")
