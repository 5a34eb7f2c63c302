"""``DataPipeline``: validate incoming labelled batches before anything learns from them.

Every row either reaches the training buffer or is quarantined with a reason; nothing is
silently dropped (TFX's ExampleValidator reports anomalies, Great Expectations fails a batch;
here bad rows are set aside one by one so the good rows of a batch are not lost with them).
Reasons have a kind (the part before the colon) that ``counts`` tallies:

``shape``         the row does not have ``n_features`` values
``not_numeric``   a value is not a number (a string, None, ...)
``non_finite``    NaN or infinity
``out_of_range``  a value outside ``value_range`` (e.g. raw 0..16 pixels not scaled to [0, 1])
``bad_label``     the label is not one of the known classes
``duplicate``     the same features were already accepted (in this or an earlier batch)

Duplicates are found by SHA-256 of the row's float32 bytes (stable across processes, unlike
Python's ``hash``), because a replayed batch would otherwise be learnt twice.
"""

import hashlib
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tinytorch.core.mlops.registry.storage import append_json_line


@dataclass(frozen=True)
class QuarantinedRow:
    """One refused row: where it came from, why, and its content (kept for inspection)."""

    batch: int
    row: int
    reason: str
    features: list
    label: object

    @property
    def kind(self):
        return self.reason.split(":", 1)[0]

    def to_dict(self):
        return {"batch": self.batch, "row": self.row, "reason": self.reason,
                "features": [_jsonable(v) for v in self.features], "label": _jsonable(self.label)}


@dataclass(frozen=True)
class ValidatedBatch:
    """The rows of one batch that passed (``X`` float32, ``y`` int64) and those that did not."""

    X: np.ndarray
    y: np.ndarray
    quarantined: list

    @property
    def counts(self):
        """``{"accepted": n, <reason kind>: n, ...}`` for this batch."""
        return {"accepted": len(self.y), **Counter(q.kind for q in self.quarantined)}


def row_problem(row, label, n_features, value_range, labels):
    """Why this row cannot be used for training, or None if it can. Also returns the row as
    float32 when it is numeric (else None): ``(reason or None, values or None)``."""
    try:
        values = np.asarray(row, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return "not_numeric: a value is not a number", None
    if values.size != n_features:
        return f"shape: expected {n_features} values, got {values.size}", None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        return f"non_finite: {values[bad[0]]} in feature {bad[0]}", None
    low, high = value_range
    outside = np.flatnonzero((values < low) | (values > high))
    if outside.size:
        return (f"out_of_range: {values[outside[0]]:g} in feature {outside[0]} is outside "
                f"[{low:g}, {high:g}]"), None
    try:
        as_float = float(label)
    except (TypeError, ValueError):
        return f"bad_label: {label!r} is not a class id", None
    if not as_float.is_integer() or int(as_float) not in labels:
        return f"bad_label: {label!r} is not one of the classes {sorted(labels)}", None
    return None, values.astype(np.float32)


class DataPipeline:
    """Validates labelled batches and quarantines bad rows.

    >>> pipeline = DataPipeline(n_features=64, value_range=(0.0, 1.0), labels=range(10))
    >>> batch = pipeline.process(X, y)            # doctest: +SKIP
    >>> batch.X, batch.y, batch.quarantined       # doctest: +SKIP

    ``counts`` totals every batch seen; ``quarantine`` keeps every refused row, and with
    ``quarantine_path`` each is also appended to a JSON-lines file as it is refused.
    """

    def __init__(self, n_features=64, value_range=(0.0, 1.0), labels=range(10),
                 reject_duplicates=True, quarantine_path=None):
        self.n_features = int(n_features)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.labels = frozenset(int(label) for label in labels)
        self.reject_duplicates = reject_duplicates
        self.quarantine_path = quarantine_path
        self.quarantine = []
        self.counts = Counter()
        self.batches = 0
        self._seen = set()

    def process(self, X, y):
        """Validate one batch; return a ``ValidatedBatch``. Raises ValueError (accepting nothing)
        when X and y do not have the same number of rows, since rows cannot be paired with labels."""
        rows, labels = list(X), list(np.asarray(y, dtype=object).ravel())
        if len(rows) != len(labels):
            raise ValueError(f"a batch needs one label per row; got {len(rows)} rows and "
                             f"{len(labels)} labels. Nothing from this batch was accepted.")
        batch, accepted, accepted_labels, quarantined = self.batches, [], [], []
        self.batches += 1
        for index, (row, label) in enumerate(zip(rows, labels)):
            reason, values = row_problem(row, label, self.n_features, self.value_range, self.labels)
            if reason is None and self.reject_duplicates:
                digest = hashlib.sha256(values.tobytes()).hexdigest()
                if digest in self._seen:
                    reason = "duplicate: the same features were already accepted"
                self._seen.add(digest)
            if reason is None:
                accepted.append(values)
                accepted_labels.append(int(float(label)))
            else:
                quarantined.append(QuarantinedRow(batch, index, reason, _as_list(row), label))
        result = ValidatedBatch(
            np.array(accepted, dtype=np.float32).reshape(len(accepted), self.n_features),
            np.array(accepted_labels, dtype=np.int64), quarantined)
        self._keep(quarantined)
        self.counts.update(result.counts)
        return result

    def _keep(self, quarantined):
        self.quarantine.extend(quarantined)
        if self.quarantine_path is not None:
            for item in quarantined:
                append_json_line(self.quarantine_path, item.to_dict())


def _as_list(row):
    try:
        return list(np.asarray(row, dtype=object).ravel())
    except (TypeError, ValueError):
        return [row]


def _jsonable(value):
    """A JSON-safe version of a cell: finite numbers stay numbers, anything else its repr."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return float(value)
    return value if isinstance(value, str) else repr(value)
