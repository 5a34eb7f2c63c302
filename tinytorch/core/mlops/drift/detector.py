"""``DriftDetector``: per-feature drift tests chosen as Evidently chooses them, and the report.

Test choice (``method="auto"``), by the number of reference rows, as Evidently's defaults:

====================  =====================================  =================================
reference rows        numeric column, > 5 distinct values    categorical, or <= 5 distinct
====================  =====================================  =================================
<= 1,000              two-sample KS, p < alpha               chi-square (contingency), p < alpha
> 1,000               Wasserstein / reference std >= 0.1     Jensen-Shannon distance >= 0.1
====================  =====================================  =================================

Why distances on large data: a p-value measures how sure we are that the distributions differ,
not how much, and it shrinks with n; on a million rows a negligible shift is "significant".

Documented edge cases (never a crash, never a NaN verdict):

* NaN in a numeric column is dropped before the test; the count is in the note. If the current
  share of missing values exceeds the reference share by more than ``max_missing_increase``, the
  feature is reported as drifted for that reason alone (the note says so).
* A column that is all-missing on one side cannot be tested: drifted if only the current side is
  missing, not drifted if both are, and the note says which.
* A column that is constant in the reference has <= 5 distinct values, so it is compared as
  categories (chi-square / Jensen-Shannon), which gives a finite statistic for any current data.
* Categories unseen in the reference are counted: the table is built over the union of
  categories. In categorical columns a missing value (None / NaN) is its own category.
* p-value tests may be corrected for multiple testing (``correction="bonferroni"`` or
  ``"benjamini-hochberg"``); distance tests have no p-value and use their threshold as is.
"""

from dataclasses import asdict, dataclass

import numpy as np

from ..experiments import arguments
from .kolmogorov import ks_2samp
from .stats import (
    benjamini_hochberg,
    bonferroni,
    chi_square_test,
    jensen_shannon_distance,
    psi,
    psi_from_counts,
    wasserstein_distance,
)

SMALL_REFERENCE_ROWS = 1_000
CATEGORICAL_MAX_DISTINCT = 5
DISTANCE_THRESHOLD = 0.1
WASSERSTEIN_MIN_STD = 1e-3
MISSING = "<missing>"

TESTS = ("ks", "chi_square", "wasserstein", "jensen_shannon", "psi")
CORRECTIONS = {None: None, "none": None, "bonferroni": bonferroni, "benjamini-hochberg": benjamini_hochberg,
               "bh": benjamini_hochberg, "fdr": benjamini_hochberg}


@dataclass(frozen=True)
class FeatureDrift:
    """The verdict for one feature: which test, its statistic, p-value (None for distances)."""

    name: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    note: str = ""


@dataclass(frozen=True)
class DriftReport:
    """Per-feature results and the dataset-level verdict. ``bool(report)`` = dataset drifted."""

    features: tuple
    drift_share: float
    n_reference: int
    n_current: int
    correction: str | None = None

    @property
    def drifted_features(self):
        return [f.name for f in self.features if f.drifted]

    @property
    def share_drifted(self):
        return len(self.drifted_features) / len(self.features)

    @property
    def dataset_drift(self):
        return self.share_drifted >= self.drift_share

    def __bool__(self):
        return self.dataset_drift

    def __getitem__(self, name):
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature named {name!r}; features are {[f.name for f in self.features]}")

    def to_dict(self):
        return {
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "number_drifted": len(self.drifted_features),
            "number_of_features": len(self.features),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "correction": self.correction,
            "features": [asdict(f) for f in self.features],
        }

    def __str__(self):
        lines = [
            f"Dataset drift: {self.dataset_drift} ({len(self.drifted_features)}/{len(self.features)}"
            f" features drifted, rule: share >= {self.drift_share})"
        ]
        for f in self.features:
            p = "" if f.p_value is None else f" p={f.p_value:.3g}"
            flag = "DRIFT" if f.drifted else "ok"
            note = f"  [{f.note}]" if f.note else ""
            lines.append(f"  {f.name}: {flag:5s} {f.test} stat={f.statistic:.4g}{p}"
                         f" threshold={f.threshold:.3g}{note}")
        return "\n".join(lines)


def as_columns(data, feature_names=None):
    """Turn a 2-D array, a dict of columns or a DataFrame into ``{name: 1-D array}``."""
    if hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, dict):
        columns = {str(c): np.asarray(data[c]) for c in data.columns}
    elif isinstance(data, dict):
        columns = {str(k): np.asarray(v) for k, v in data.items()}
    else:
        array = np.asarray(data)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"drift data must be 2-D (rows, features); got shape {array.shape}")
        names = feature_names or [f"feature_{i}" for i in range(array.shape[1])]
        if len(names) != array.shape[1]:
            raise ValueError(f"{len(names)} feature_names for {array.shape[1]} columns; pass one name per column")
        columns = {str(n): array[:, i] for i, n in enumerate(names)}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"drift data needs non-empty columns of equal length; got lengths {sorted(lengths)}")
    return columns


def _is_numeric(values):
    return values.dtype.kind in "biuf"


def _categories(values):
    """Values as hashable category labels; None and NaN become ``MISSING``."""
    if values.dtype.kind in "biu":
        return values.astype(str).astype(object)
    if _is_numeric(values):
        floats = values.astype(np.float64)
        return np.where(np.isnan(floats), MISSING, floats.astype(str)).astype(object)
    return np.array([MISSING if v is None or (isinstance(v, float) and v != v) else str(v)
                     for v in values], dtype=object)


def _category_counts(reference, current):
    """Counts of both samples over the union of categories (sorted for a stable order)."""
    labels = sorted(set(reference) | set(current))
    index = {label: i for i, label in enumerate(labels)}
    ref = np.bincount([index[v] for v in reference], minlength=len(labels))
    cur = np.bincount([index[v] for v in current], minlength=len(labels))
    return ref, cur, labels


class DriftDetector:
    """Compares new data with a reference sample, feature by feature.

    >>> detector = DriftDetector(X_train, feature_names=names)      # doctest: +SKIP
    >>> if detector.detect_drift(X_live): retrain()                  # doctest: +SKIP

    ``method``: "auto" (Evidently's choice, see the module docstring), one of
    ``TESTS`` for every feature, or a dict ``{feature: test}`` overriding "auto" per feature.
    ``categorical``: names of columns to treat as categories (non-numeric columns always are).
    ``correction``: None (Evidently), "bonferroni" (alibi-detect's default) or
    "benjamini-hochberg"; applied to the p-value tests only.
    ``drift_share``: the dataset drifts when at least this share of features drift.
    """

    def __init__(self, reference_data, feature_names=None, categorical=None, method="auto",
                 alpha=0.05, correction=None, drift_share=0.5, psi_bins=10,
                 distance_threshold=DISTANCE_THRESHOLD, max_missing_increase=0.1):
        self.reference = as_columns(reference_data, feature_names)
        self.feature_names = list(self.reference)
        self.categorical = set(categorical or ())
        unknown = self.categorical - set(self.feature_names)
        if unknown:
            raise ValueError(f"categorical names {sorted(unknown)} are not features; features are {self.feature_names}")
        alpha = arguments.probability("alpha", alpha)
        if not 0 < arguments.real("drift_share", drift_share) <= 1:
            raise ValueError(f"drift_share must be in (0, 1], got {drift_share}")
        if correction not in CORRECTIONS:
            raise ValueError(f"unknown correction {correction!r}; use one of {[c for c in CORRECTIONS if c]} or None")
        self.methods = self._resolve_methods(method)
        self.alpha, self.correction, self.drift_share = alpha, correction, drift_share
        self.psi_bins = arguments.count("psi_bins", psi_bins, minimum=1)
        self.distance_threshold = arguments.positive("distance_threshold", distance_threshold)
        self.max_missing_increase = arguments.probability("max_missing_increase", max_missing_increase, closed=True)
        self.n_reference = len(next(iter(self.reference.values())))

    def _resolve_methods(self, method):
        per_feature = method if isinstance(method, dict) else {name: method for name in self.feature_names}
        for name, test in per_feature.items():
            if name not in self.reference:
                raise ValueError(f"method given for unknown feature {name!r}; features are {self.feature_names}")
            if test != "auto" and test not in TESTS:
                raise ValueError(f"unknown drift test {test!r} for {name!r}; use 'auto' or one of {TESTS}")
        return {name: per_feature.get(name, "auto") for name in self.feature_names}

    def detect_drift(self, current_data):
        """Run every feature's test on ``current_data`` (same columns) and return a DriftReport."""
        current = as_columns(current_data, self.feature_names)
        missing = [n for n in self.feature_names if n not in current]
        if missing:
            raise ValueError(f"current data lacks features {missing}; it must have the reference's columns")
        tested = [self._test_feature(name, self.reference[name], current[name]) for name in self.feature_names]
        forced = {i for i, (_, missing_rose) in enumerate(tested) if missing_rose}
        results = self._apply_correction([result for result, _ in tested], forced)
        return DriftReport(tuple(results), self.drift_share, self.n_reference,
                           len(next(iter(current.values()))), self.correction)

    def _test_feature(self, name, reference, current):
        """``(FeatureDrift, forced)``: ``forced`` is True when the missing-share rule marked the feature
        drifted whatever its test says, so a multiple-testing correction must not clear it."""
        categorical = name in self.categorical or not (_is_numeric(reference) and _is_numeric(current))
        if categorical:
            return self._categorical_test(name, _categories(reference), _categories(current),
                                          self.methods[name], ""), False
        ref = reference.astype(np.float64)
        cur = current.astype(np.float64)
        ref_missing, cur_missing = np.isnan(ref).mean(), np.isnan(cur).mean()
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        notes = []
        if ref_missing or cur_missing:
            notes.append(f"dropped NaN: {ref_missing:.1%} of reference, {cur_missing:.1%} of current")
        if ref.size == 0 or cur.size == 0:
            drifted = cur.size == 0 and ref.size > 0
            side = "both samples" if ref.size == cur.size == 0 else ("current" if cur.size == 0 else "reference")
            return FeatureDrift(name, "missing_share", float(cur_missing), None, self.max_missing_increase,
                                drifted, f"{side} all missing: not testable"), False
        if np.unique(ref).size <= CATEGORICAL_MAX_DISTINCT:
            if np.unique(ref).size == 1:
                notes.append("constant in reference: compared as categories")
            result = self._categorical_test(name, _categories(ref), _categories(cur), self.methods[name],
                                            "; ".join(notes))
        else:
            result = self._numeric_test(name, ref, cur, self.methods[name], "; ".join(notes))
        if cur_missing - ref_missing <= self.max_missing_increase:
            return result, False
        note = (result.note + "; " if result.note else "") + (
            f"missing share rose from {ref_missing:.1%} to {cur_missing:.1%}")
        return FeatureDrift(result.name, result.test, result.statistic, result.p_value, result.threshold,
                            True, note), True

    def _numeric_test(self, name, ref, cur, test, note):
        if test == "auto":
            test = "ks" if self.n_reference <= SMALL_REFERENCE_ROWS else "wasserstein"
        if test == "ks":
            statistic, p_value, mode = ks_2samp(ref, cur)
            note = "; ".join(filter(None, [note, f"{mode} p-value"]))
            return FeatureDrift(name, "ks", statistic, p_value, self.alpha, p_value < self.alpha, note)
        if test == "wasserstein":
            score = wasserstein_distance(ref, cur) / max(float(np.std(ref)), WASSERSTEIN_MIN_STD)
            return self._distance(name, "wasserstein", score, note)
        if test == "psi":
            return self._distance(name, "psi", psi(ref, cur, self.psi_bins), note)
        return self._categorical_test(name, _categories(ref), _categories(cur), test, note)

    def _categorical_test(self, name, ref, cur, test, note):
        ref_counts, cur_counts, labels = _category_counts(ref, cur)
        unseen = [label for label, count in zip(labels, ref_counts) if count == 0]
        if unseen:
            shown = ", ".join(unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            note = "; ".join(filter(None, [note, f"{len(unseen)} categories unseen in reference: {shown}"]))
        if test in ("auto", "ks", "wasserstein"):
            test = "chi_square" if self.n_reference <= SMALL_REFERENCE_ROWS else "jensen_shannon"
        if test == "chi_square":
            statistic, p_value = chi_square_test(ref_counts, cur_counts)
            return FeatureDrift(name, "chi_square", statistic, p_value, self.alpha, p_value < self.alpha, note)
        if test == "psi":
            return self._distance(name, "psi", psi_from_counts(ref_counts, cur_counts), note)
        return self._distance(name, "jensen_shannon", jensen_shannon_distance(ref_counts, cur_counts), note)

    def _distance(self, name, test, score, note):
        return FeatureDrift(name, test, float(score), None, self.distance_threshold,
                            bool(score >= self.distance_threshold), note)

    def _apply_correction(self, results, forced=frozenset()):
        """Re-judge the p-value tests under the correction; features in ``forced`` (indices) stay drifted."""
        rule = CORRECTIONS[self.correction]
        tested = [i for i, r in enumerate(results) if r.p_value is not None]
        if rule is None or not tested:
            return results
        p_values = np.array([results[i].p_value for i in tested])
        reject = rule(p_values, self.alpha)
        m = len(tested)
        if rule is bonferroni:
            threshold = self.alpha / m
        else:
            threshold = self.alpha * max(int(reject.sum()), 1) / m
        corrected = list(results)
        for i, drifted in zip(tested, reject):
            r = results[i]
            note = "; ".join(filter(None, [r.note, f"{self.correction} over {m} tests"]))
            corrected[i] = FeatureDrift(r.name, r.test, r.statistic, r.p_value, threshold,
                                        bool(drifted) or i in forced, note)
        return corrected
