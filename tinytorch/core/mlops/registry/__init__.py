"""Model registry (module 01): versioned, content-addressed, crash-safe model storage.

Student-sized pieces live in small modules with one job each: `storage` (hashing, atomic writes,
safe names), `versions` (version allocation, the version record), `aliases` (alias history and
rollback), `compare` (metric deltas and filters). `ModelRegistry` composes them.
"""

from .aliases import AliasHistory
from .compare import compare_metrics, diff_params, measure_latency, parse_metric_filter
from .model_registry import (
    ModelComparison, ModelRegistry, RegistryError, VersionExistsError, VersionNotFoundError,
)
from .plots import plot_version_metrics
from .storage import (
    ArtifactIntegrityError, BlobStore, InvalidNameError, atomic_write_bytes, content_hash,
    validate_name,
)
from .versions import (
    Lineage, ModelSignature, ModelVersion, SignatureMismatchError, allocate_version, config_hash,
    fingerprint,
)

__all__ = [
    "AliasHistory", "ArtifactIntegrityError", "BlobStore", "InvalidNameError", "Lineage",
    "ModelComparison", "ModelRegistry", "ModelSignature", "ModelVersion", "RegistryError",
    "SignatureMismatchError", "VersionExistsError", "VersionNotFoundError", "allocate_version",
    "atomic_write_bytes", "compare_metrics", "config_hash", "content_hash", "diff_params",
    "fingerprint", "measure_latency", "parse_metric_filter", "plot_version_metrics",
    "validate_name",
]
