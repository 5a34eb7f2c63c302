"""Data drift detection: per-feature two-sample tests chosen the way Evidently chooses them.

``stats`` holds the statistics (NumPy; the students' tasks), ``kolmogorov`` the KS test with
SciPy's p-values and a fast statistic for large samples,
``detector`` the ``DriftDetector`` and its report, ``plot`` the reference-vs-current figure.
"""

from .detector import DriftDetector, DriftReport, FeatureDrift
from .kolmogorov import ks_2samp
from .plot import plot_drift
from .stats import (
    benjamini_hochberg,
    bonferroni,
    chi2_sf,
    chi_square_test,
    jensen_shannon_distance,
    ks_pvalue,
    ks_statistic,
    psi,
    psi_from_counts,
    wasserstein_distance,
)

__all__ = [
    "DriftDetector",
    "DriftReport",
    "FeatureDrift",
    "benjamini_hochberg",
    "bonferroni",
    "chi2_sf",
    "chi_square_test",
    "jensen_shannon_distance",
    "ks_2samp",
    "ks_pvalue",
    "ks_statistic",
    "plot_drift",
    "psi",
    "psi_from_counts",
    "wasserstein_distance",
]
