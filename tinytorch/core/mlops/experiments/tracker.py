"""ExperimentTracker: exposures and outcomes per variant, and the analysis of an experiment.

Vocabulary as in GrowthBook/Statsig: an *exposure* is a unit (user, request) being served a
variant; a *metric* is an outcome logged for an exposed unit, either a conversion (0/1, e.g. the
prediction was correct) or continuous (latency in ms); a *guardrail* is a metric that must not
get worse by more than a set share (e.g. p99 latency may not regress by more than 10 %), whatever
the primary metric says.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from . import arguments
from .assignment import validate_split
from .stats import (
    Interval,
    SRMResult,
    proportion_diff_interval,
    relative_lift_interval,
    srm_check,
    two_proportion_ztest,
    welch_ttest,
)

BINARY, CONTINUOUS = "binary", "continuous"
GUARDRAIL_STATISTICS = ("mean", "p50", "p90", "p95", "p99")
MIN_UNITS_PER_VARIANT = 8


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    variant: str
    kind: str
    control_mean: float
    variant_mean: float
    absolute_lift: Interval
    relative_lift: Interval | None
    p_value: float
    significant: bool


@dataclass(frozen=True)
class GuardrailResult:
    metric: str
    variant: str
    statistic: str
    control_value: float
    variant_value: float
    change: float
    max_regression: float
    passed: bool


@dataclass(frozen=True)
class ExperimentAnalysis:
    """What an experiment found, and what to do about it.

    ``decision`` is one of "ship" (the best significant improvement on the primary metric, with
    guardrails holding: ``winner`` names it), "keep_control" (a variant is significantly worse),
    "inconclusive" (keep running or accept no difference), "guardrail_failed" (roll back) and
    "invalid_srm" (the split is broken: fix assignment/logging, results are not trustworthy).
    """

    control: str
    primary_metric: str | None
    exposures: dict
    means: dict
    srm: SRMResult | None
    comparisons: list
    guardrails: list
    warnings: list
    decision: str
    winner: str | None = None
    reasons: list = field(default_factory=list)

    def comparison(self, metric, variant):
        for c in self.comparisons:
            if c.metric == metric and c.variant == variant:
                return c
        raise KeyError(f"no comparison of metric {metric!r} for variant {variant!r}")

    def __str__(self):
        lines = [f"decision: {self.decision}" + (f" ({self.winner})" if self.winner else "")]
        lines += [f"  {reason}" for reason in self.reasons]
        for name, count in self.exposures.items():
            means = ", ".join(f"{m}={v:.4g}" for m, v in self.means.get(name, {}).items())
            lines.append(f"{name:>12}: {count} units; {means}")
        if self.srm is not None:
            lines.append(f"SRM: chi2={self.srm.chi2:.3f} p={self.srm.p_value:.4g}"
                         + (" MISMATCH" if self.srm.mismatch else " ok"))
        for c in self.comparisons:
            lift = c.absolute_lift
            lines.append(f"{c.metric} {c.variant} vs {self.control}: lift {lift.estimate:+.4g} "
                         f"[{lift.low:+.4g}, {lift.high:+.4g}], p={c.p_value:.4g}")
        for g in self.guardrails:
            lines.append(f"guardrail {g.metric} {g.statistic} {g.variant}: {g.change:+.1%} "
                         f"(limit +{g.max_regression:.0%}) {'ok' if g.passed else 'FAILED'}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class ExperimentTracker:
    """Record exposures and metric values per variant; ``analyze()`` turns them into a decision.

    ``split`` ({variant: weight}) is the configured traffic split; with it the analysis checks
    for sample ratio mismatch. The control is the first variant of the split (or ``control``).
    ``alpha`` and ``srm_threshold`` are significance levels in (0, 1).
    """

    def __init__(self, split=None, control=None, alpha=0.05, srm_threshold=0.001):
        self.split = dict(validate_split(split)) if split is not None else None
        self.control = control or (next(iter(self.split)) if self.split else None)
        self.alpha = arguments.probability("alpha", alpha)
        self.srm_threshold = arguments.probability("srm_threshold", srm_threshold)
        self._units = defaultdict(set)          # variant -> unit ids exposed
        self._variant_of = {}                   # unit id -> first variant it was exposed to
        self._multiple_exposures = set()        # units seen in more than one variant
        self._values = defaultdict(list)        # (variant, metric) -> values
        self._kinds = {}                        # metric -> BINARY | CONTINUOUS
        self._guardrails = {}                   # metric -> (max_regression, statistic, higher_is_better)

    # ---- recording -------------------------------------------------------------------------
    def log_exposure(self, variant, unit_id):
        """Record that ``unit_id`` was served ``variant`` (repeat exposures count once)."""
        self._check_variant(variant)
        first = self._variant_of.setdefault(unit_id, variant)
        if first != variant:
            self._multiple_exposures.add(unit_id)
        self._units[variant].add(unit_id)

    def log_conversion(self, variant, metric, converted):
        """Record a 0/1 outcome (converted, clicked, prediction correct) for ``variant``."""
        values = np.atleast_1d(np.asarray(converted))
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"conversions of metric {metric!r} must be 0/1 or booleans, got {values[:5]}")
        self._log(variant, metric, BINARY, values)

    def log_metric(self, variant, metric, value):
        """Record a continuous outcome (latency in ms, revenue, loss) for ``variant``."""
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if not np.isfinite(values).all():
            raise ValueError(f"metric {metric!r} got a non-finite value; log only measured numbers")
        self._log(variant, metric, CONTINUOUS, values)

    def add_guardrail(self, metric, max_regression, statistic="p99", higher_is_better=False):
        """Fail the experiment if ``statistic`` of ``metric`` gets worse than control by more than
        ``max_regression`` (0.1 = 10 %). Latency: lower is better; accuracy: pass higher_is_better."""
        if statistic not in GUARDRAIL_STATISTICS:
            raise ValueError(f"statistic must be one of {GUARDRAIL_STATISTICS}, got {statistic!r}")
        if not max_regression >= 0:
            raise ValueError(f"max_regression is a share >= 0 (0.1 = 10 %), got {max_regression}")
        self._guardrails[metric] = (float(max_regression), statistic, higher_is_better)

    def _check_variant(self, variant):
        if self.split is not None and variant not in self.split:
            raise ValueError(f"unknown variant {variant!r}; the split has {list(self.split)}")
        if self.control is None:
            self.control = variant

    def _log(self, variant, metric, kind, values):
        self._check_variant(variant)
        known = self._kinds.setdefault(metric, kind)
        if known != kind:
            raise ValueError(f"metric {metric!r} was logged as {known}; log it the same way every time")
        self._values[(variant, metric)].extend(values.tolist())

    # ---- reading ---------------------------------------------------------------------------
    @property
    def variants(self):
        names = list(self.split) if self.split else []
        seen = list(self._units) + [v for v, _ in self._values]
        return names + [v for v in dict.fromkeys(seen) if v not in names]

    @property
    def metrics(self):
        return list(self._kinds)

    def exposures(self):
        return {v: len(self._units[v]) for v in self.variants}

    def values(self, variant, metric):
        return np.asarray(self._values.get((variant, metric), []), dtype=np.float64)

    def check_guardrails(self):
        """Compare every guardrail metric of every variant with the control."""
        results = []
        for metric, (limit, statistic, higher_is_better) in self._guardrails.items():
            control_values = self.values(self.control, metric)
            for variant in self.variants:
                values = self.values(variant, metric)
                if variant == self.control or control_values.size == 0 or values.size == 0:
                    continue
                base, now = _statistic(control_values, statistic), _statistic(values, statistic)
                change = (now - base) / abs(base) if base else (0.0 if now == base else math.inf)
                worse = -change if higher_is_better else change
                results.append(GuardrailResult(metric, variant, statistic, base, now, change, limit, worse <= limit))
        return results

    def analyze(self, primary_metric=None):
        """Compare every variant with the control on every metric and decide.

        The primary metric (default: the first metric logged) is read as higher-is-better, like
        accuracy or conversion; keep lower-is-better metrics such as latency as guardrails.
        """
        variants, control = self.variants, self.control
        if control is None or len(variants) < 2:
            raise ValueError("analysis needs a control and at least one other variant with data")
        primary_metric = primary_metric or (self.metrics[0] if self.metrics else None)
        exposures = self.exposures()
        warnings = [f"{v} has only {n} units (< {MIN_UNITS_PER_VARIANT}): too few to analyse"
                    for v, n in exposures.items() if 0 < n < MIN_UNITS_PER_VARIANT]
        if self._multiple_exposures:
            warnings.append(f"{len(self._multiple_exposures)} units were exposed to more than one variant")
        srm = None
        if self.split and sum(exposures.values()) > 0 and all(w > 0 for w in self.split.values()):
            srm = srm_check([exposures[v] for v in self.split], list(self.split.values()), self.srm_threshold)
        comparisons = [c for metric in self.metrics for v in variants if v != control
                       for c in [self._compare(metric, v)] if c is not None]
        guardrails = self.check_guardrails()
        means = {v: {m: float(self.values(v, m).mean()) for m in self.metrics if self.values(v, m).size}
                 for v in variants}
        decision, winner, reasons = _decide(srm, guardrails, comparisons, primary_metric)
        return ExperimentAnalysis(control, primary_metric, exposures, means, srm, comparisons,
                                  guardrails, warnings, decision, winner, reasons)

    def _compare(self, metric, variant):
        a, b = self.values(self.control, metric), self.values(variant, metric)
        if a.size < 2 or b.size < 2:
            return None
        if self._kinds[metric] == BINARY:
            conv_a, conv_b = int(a.sum()), int(b.sum())
            p_value = two_proportion_ztest(conv_a, a.size, conv_b, b.size).p_value
            absolute = proportion_diff_interval(conv_a, a.size, conv_b, b.size, self.alpha)
            var_a, var_b = a.mean() * (1 - a.mean()) / a.size, b.mean() * (1 - b.mean()) / b.size
        else:
            if a.var() == 0 and b.var() == 0:
                return None
            welch = welch_ttest(a, b, self.alpha)
            p_value, absolute = welch.p_value, Interval(welch.diff, welch.low, welch.high)
            var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        relative = relative_lift_interval(a.mean(), var_a, b.mean(), var_b, self.alpha) if a.mean() else None
        return MetricComparison(metric, variant, self._kinds[metric], float(a.mean()), float(b.mean()),
                                absolute, relative, p_value, p_value < self.alpha)


def _statistic(values, statistic):
    return float(values.mean() if statistic == "mean" else np.percentile(values, int(statistic[1:])))


def _decide(srm, guardrails, comparisons, primary_metric):
    """The decision rule of ExperimentAnalysis (see its docstring)."""
    if srm is not None and srm.mismatch:
        return "invalid_srm", None, [f"sample ratio mismatch (p = {srm.p_value:.2g}): fix assignment or logging"]
    failed = [g for g in guardrails if not g.passed]
    if failed:
        return "guardrail_failed", None, [f"{g.variant}: {g.metric} {g.statistic} changed {g.change:+.1%}, "
                                          f"limit {g.max_regression:.0%}" for g in failed]
    primary = [c for c in comparisons if c.metric == primary_metric]
    better = [c for c in primary if c.significant and c.absolute_lift.estimate > 0]
    if better:
        best = max(better, key=lambda c: c.absolute_lift.estimate)
        return "ship", best.variant, [f"{best.variant} improves {primary_metric} by "
                                      f"{best.absolute_lift.estimate:+.4g} (p = {best.p_value:.2g})"]
    worse = [c for c in primary if c.significant]
    if worse:
        return "keep_control", None, [f"{c.variant} is worse on {primary_metric} (p = {c.p_value:.2g})" for c in worse]
    return "inconclusive", None, [f"no significant difference on {primary_metric} yet"]
