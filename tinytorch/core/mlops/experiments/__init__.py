"""A/B testing and safe rollout (module 04).

hashing       FNV-1a, the 32-bit string hash assignment is built on
assignment    sticky GrowthBook-compatible hashing of units to variants
arguments     argument checks with messages that name the argument, the value and the rule
distributions the chi-square tail the notebooks hand to students (SciPy)
stats         z-test, Welch's t-test, lift intervals, SRM check, power, McNemar
sequential    mSPRT: a test you may check after every unit
tracker       ExperimentTracker: exposures, metrics, guardrails, analysis and decision
routing       ABTestManager, ShadowDeployment, CanaryRollout (no HTTP: a server calls them)
comparator    ModelComparator: paired comparison of two models on one test set
simulation    A/A Monte Carlo of peeking, and its plot
"""

from .assignment import assign_variant, bucket, bucket_ranges, fnv1a_32, validate_split
from .comparator import ComparisonResult, ModelComparator, paired_bootstrap_interval
from .routing import ABTestManager, CanaryRollout, ShadowDeployment
from .sequential import (
    SequentialTest,
    confidence_sequence_radius,
    mixture_variance_ratio,
    msprt_log_likelihood_ratio,
)
from .simulation import PeekingSimulation, plot_peeking, simulate_peeking
from .stats import (
    mcnemar_test,
    power_two_proportions,
    proportion_diff_interval,
    relative_lift_interval,
    sample_size_two_proportions,
    srm_check,
    two_proportion_ztest,
    welch_ttest,
)
from .tracker import ExperimentAnalysis, ExperimentTracker

__all__ = [
    "ABTestManager", "CanaryRollout", "ComparisonResult", "ExperimentAnalysis", "ExperimentTracker",
    "ModelComparator", "PeekingSimulation", "SequentialTest", "ShadowDeployment", "assign_variant",
    "bucket", "bucket_ranges", "confidence_sequence_radius", "fnv1a_32", "mcnemar_test",
    "mixture_variance_ratio", "msprt_log_likelihood_ratio", "paired_bootstrap_interval", "plot_peeking",
    "power_two_proportions", "proportion_diff_interval", "relative_lift_interval",
    "sample_size_two_proportions", "simulate_peeking", "srm_check", "two_proportion_ztest",
    "validate_split", "welch_ttest",
]
