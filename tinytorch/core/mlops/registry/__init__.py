"""Model registry (module 01): versioned, content-addressed, crash-safe model storage.

Student-sized pieces live in small modules with one job each: `storage` (hashing, atomic writes,
safe names), `versions` (version allocation, the version record), `aliases` (alias history and
rollback), `compare` (metric deltas and filters). Around them, what keeps files read back from
disk honest: `records` (every field of a version record checked), `ledger` (hash-chained seals
of the records) and `recover` (the command that quarantines damage). `ModelRegistry` composes
them.
"""

from .aliases import AliasHistory
from .compare import compare_metrics, diff_params, measure_latency, parse_metric_filter
from .errors import (
    DamagedRecordError, RegistryError, TamperedRecordError, VersionExistsError,
    VersionNotFoundError,
)
from .model_registry import (DamagedRecordWarning, ModelComparison, ModelRegistry, Problem,
                             VersionList)
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
    "AliasHistory", "ArtifactIntegrityError", "BlobStore", "DamagedRecordError",
    "DamagedRecordWarning", "InvalidNameError", "Lineage", "ModelComparison", "ModelRegistry",
    "ModelSignature", "ModelVersion", "Problem", "RegistryError", "TamperedRecordError",
    "SignatureMismatchError", "VersionExistsError", "VersionList", "VersionNotFoundError",
    "allocate_version",
    "atomic_write_bytes", "compare_metrics", "config_hash", "content_hash", "diff_params",
    "fingerprint", "measure_latency", "parse_metric_filter", "plot_version_metrics",
    "validate_name",
]
