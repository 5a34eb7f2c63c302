"""ModelRegistry: named models with immutable versions, aliases with history, on plain files.

Layout of a registry directory (every file written atomically or appended whole):

    <root>/registry.lock                      shared by writers, exclusive for deletes
    <root>/blobs/<sha256>                     model artifacts, content-addressed, stored once
    <root>/models/<name>/versions/<v>.json    one immutable ModelVersion record per version
    <root>/models/<name>/aliases.jsonl        the append-only alias log (AliasHistory)

An empty `<v>.json` is a version reserved by a registration that has not finished (or was
killed); it is never listed and its number is never reused.
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path

from .aliases import AliasHistory
from .compare import compare_metrics, diff_params, measure_latency, metric_filter_matches
from .storage import BlobStore, atomic_write_bytes, locked, validate_name
from .versions import Lineage, ModelSignature, ModelVersion, allocate_version, config_hash, fingerprint

DEFAULT_MODEL_NAME = "model"
_URI = re.compile(r"models:/([^/@]+)(?:/([^/@]+)|@([^/@]+))")


class RegistryError(ValueError):
    """A request the registry cannot carry out; the message says why and what to do."""


class VersionExistsError(RegistryError):
    """Registering a version that already exists: versions are immutable."""


class VersionNotFoundError(RegistryError, LookupError):
    """A version, alias or model that the registry does not hold."""


@dataclass(frozen=True)
class ModelComparison:
    """What `compare_models` reports about version `a` against version `b` (deltas are b - a)."""

    a: ModelVersion
    b: ModelVersion
    metrics: dict
    params: dict
    size_bytes: dict
    num_parameters: dict
    latency_seconds: dict | None = None

    def __str__(self):
        rows = [f"{self.a.uri} -> {self.b.uri}"]
        rows += [f"  {k}: {v['a']} -> {v['b']} (delta {v['delta']})" for k, v in self.metrics.items()]
        rows += [f"  param {k}: {va!r} -> {vb!r}" for k, (va, vb) in self.params.items()]
        rows.append(f"  size: {self.size_bytes['a']} -> {self.size_bytes['b']} bytes")
        if self.latency_seconds:
            lat = self.latency_seconds
            rows.append(f"  latency: {lat['a'] * 1e3:.3f} -> {lat['b'] * 1e3:.3f} ms")
        return "\n".join(rows)


def _pair(a, b):
    return {"a": a, "b": b, "ratio": b / a if a else None}


class ModelRegistry:
    """A model registry in a directory, safe for several processes at once (MLflow vocabulary).

    >>> registry = ModelRegistry("production")                       # doctest: +SKIP
    >>> registry.register_model(model, version="1.0.0", metrics={"accuracy": 0.97})  # doctest: +SKIP
    >>> registry.set_alias("champion", "1.0.0")                      # doctest: +SKIP
    >>> registry.load_model("models:/model@champion")                # doctest: +SKIP
    """

    def __init__(self, root, default_name: str = DEFAULT_MODEL_NAME):
        self.root = Path(root)
        self.default_name = validate_name(default_name, "model name")
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root / "blobs")
        self._lock_path = self.root / "registry.lock"

    def __repr__(self):
        return f"ModelRegistry({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------------------------

    def _name(self, name):
        return validate_name(self.default_name if name is None else name, "model name")

    def _versions_dir(self, name):
        return self.root / "models" / self._name(name) / "versions"

    def _aliases(self, name) -> AliasHistory:
        return AliasHistory(self.root / "models" / self._name(name) / "aliases.jsonl")

    # -- registering ---------------------------------------------------------------------------

    def register_model(self, model, version=None, *, name=None, metrics=None, params=None,
                       tags=None, description="", parent_version=None, training_data=None,
                       config=None, input_example=None) -> ModelVersion:
        """Store `model` as a new immutable version and return its ModelVersion.

        `version` defaults to the next number ("1", "2", ...); an explicit one (e.g. "1.0.0")
        must not exist yet. Lineage: `parent_version` (must exist), `training_data` (arrays,
        hashed) and `config` (a JSON-able dict, hashed; its items are also recorded as params
        unless `params` is given). The signature is read off the model (or `input_example`).
        """
        from tinytorch.core.serialization import model_to_bytes

        name = self._name(name)
        if version is not None:
            validate_name(str(version), "version")
            version = str(version)
        if parent_version is not None:
            self.get_version(parent_version, name=name)
        metrics = {k: float(v) for k, v in (metrics or {}).items()}
        params = dict(params if params is not None else config or {})
        lineage = Lineage(
            parent_version=None if parent_version is None else str(parent_version),
            data_hash=None if training_data is None else fingerprint(*_as_tuple(training_data)),
            code_hash=None if config is None else config_hash(config),
        )
        signature = ModelSignature.infer(model, input_example)
        data = model_to_bytes(model)
        with locked(self._lock_path, shared=True):
            digest = self.blobs.put(data)
            try:
                version = allocate_version(self._versions_dir(name), version)
            except FileExistsError:
                raise VersionExistsError(
                    f"model {name!r} already has version {version!r}; versions are immutable: "
                    "register under a new version, or omit version= to get the next number"
                ) from None
            record = ModelVersion(
                name=name, version=version, sha256=digest, size_bytes=len(data),
                num_parameters=int(model.num_parameters), created_at=time.time(),
                signature=signature, lineage=lineage, metrics=metrics, params=params,
                tags={str(k): str(v) for k, v in (tags or {}).items()}, description=description,
            )
            atomic_write_bytes(self._versions_dir(name) / f"{version}.json", record.to_json())
        return record

    # -- reading -------------------------------------------------------------------------------

    def list_models(self) -> list:
        """Names of the models that have at least one version."""
        return [name for name in self._model_folders() if self.list_versions(name)]

    def _model_folders(self):
        models = self.root / "models"
        return sorted(p.name for p in models.iterdir()) if models.exists() else []

    def list_versions(self, name=None) -> list:
        """Every finished version of model `name`, oldest first."""
        records = []
        for path in self._versions_dir(name).glob("*.json"):
            data = path.read_bytes()
            if data:  # empty: reserved by a registration that has not finished
                records.append(ModelVersion.from_json(data))
        return sorted(records, key=lambda r: (r.created_at, r.version))

    def get_version(self, version, name=None) -> ModelVersion:
        """The ModelVersion record of `version` (a version string or a `models:/` URI)."""
        if isinstance(version, ModelVersion):
            return version
        if isinstance(version, str) and version.startswith("models:/"):
            return self._resolve_uri(version)
        version = validate_name(str(version), "version")
        path = self._versions_dir(name) / f"{version}.json"
        data = path.read_bytes() if path.exists() else None
        if data == b"":
            raise VersionNotFoundError(
                f"version {version!r} of model {self._name(name)!r} was reserved by a registration "
                "that did not finish (the process died); it holds no model and is never reused"
            )
        if data is None:
            known = [r.version for r in self.list_versions(name)]
            raise VersionNotFoundError(
                f"model {self._name(name)!r} has no version {version!r}; versions: {known or 'none'}"
            )
        return ModelVersion.from_json(data)

    def latest_version(self, name=None) -> ModelVersion:
        versions = self.list_versions(name)
        if not versions:
            raise VersionNotFoundError(f"model {self._name(name)!r} has no versions yet")
        return versions[-1]

    def _resolve_uri(self, uri):
        match = _URI.fullmatch(uri)
        if not match:
            raise RegistryError(
                f"model URI {uri!r} is not understood; use models:/<name>/<version> or "
                "models:/<name>@<alias>"
            )
        name, version, alias = match.groups()
        return self.get_version(version, name=name) if version else self.get_alias(alias, name=name)

    def load_model(self, version=None, name=None, *, alias=None):
        """Load a version (string, `models:/` URI, or `alias=`; default: the latest).

        The artifact's sha256 is verified (ArtifactIntegrityError names the version and file on
        any change) and the loaded model is checked against the registered signature.
        """
        from tinytorch.core.serialization import model_from_bytes

        if alias is not None:
            record = self.get_alias(alias, name=name)
        elif version is None:
            record = self.latest_version(name)
        else:
            record = self.get_version(version, name=name)
        what = f"version {record.version} of model {record.name!r}"
        data = self.blobs.get(record.sha256, what=what)
        model = model_from_bytes(data, source=f"{what} ({self.blobs.path(record.sha256)})")
        record.signature.check_model(model, what=record.uri)
        return model

    # -- aliases -------------------------------------------------------------------------------

    def set_alias(self, alias, version, name=None) -> None:
        """Point `alias` (e.g. "champion") of model `name` at `version` (which must exist)."""
        alias = validate_name(alias, "alias")
        with locked(self._lock_path, shared=True):
            record = self.get_version(version, name=name)
            self._aliases(name).set(alias, record.version)

    def get_alias(self, alias, name=None) -> ModelVersion:
        """The ModelVersion that `alias` points at (MLflow's get_model_version_by_alias)."""
        version = self._aliases(name).current(validate_name(alias, "alias"))
        if version is None:
            raise VersionNotFoundError(
                f"model {self._name(name)!r} has no alias {alias!r}; aliases: "
                f"{self.aliases(name) or 'none'}"
            )
        return self.get_version(version, name=name)

    def aliases(self, name=None) -> dict:
        """{alias: version} of model `name` now."""
        return self._aliases(name).aliases()

    def rollback(self, alias, name=None) -> ModelVersion | None:
        """Point `alias` back at the version it pointed at before; return it (None: unset)."""
        with locked(self._lock_path, shared=True):
            try:
                version = self._aliases(name).rollback(validate_name(alias, "alias"))
            except LookupError as error:
                raise VersionNotFoundError(f"model {self._name(name)!r}: {error}") from None
        return None if version is None else self.get_version(version, name=name)

    def alias_at(self, alias, when, name=None):
        """The version `alias` pointed at at `when` (epoch seconds or a datetime), or None."""
        when = when.timestamp() if hasattr(when, "timestamp") else float(when)
        return self._aliases(name).at(validate_name(alias, "alias"), when)

    def alias_history(self, alias=None, name=None) -> list:
        """The alias log of model `name` (optionally one alias), oldest first."""
        return self._aliases(name).history(alias)

    # -- deleting ------------------------------------------------------------------------------

    def delete_version(self, version, name=None) -> list:
        """Delete `version`, remove the aliases pointing at it (recorded in their history) and
        its artifact if no other version shares it. Returns the aliases removed."""
        with locked(self._lock_path):
            record = self.get_version(version, name=name)
            removed = self._aliases(name).remove_version(record.version)
            (self._versions_dir(name) / f"{record.version}.json").unlink()
            self._remove_unreferenced_blobs()
        return removed

    def collect_garbage(self) -> dict:
        """Remove what killed writers left behind: temporary files and artifacts no version
        references. Safe while other processes use the registry (writers hold the shared lock,
        this takes it exclusively). Reserved-but-empty versions stay, so numbers are never reused.
        Returns {"temp_files": n, "blobs": n} removed."""
        with locked(self._lock_path):
            temp_files = list(self.root.rglob(".*.tmp"))
            for path in temp_files:
                path.unlink()
            return {"temp_files": len(temp_files), "blobs": self._remove_unreferenced_blobs()}

    def _remove_unreferenced_blobs(self) -> int:
        referenced = {r.sha256 for r in self._all_versions()}
        unreferenced = [p for p in self.blobs.root.iterdir()
                        if p.name not in referenced and not p.name.startswith(".")]
        for path in unreferenced:
            path.unlink()
        return len(unreferenced)

    def _all_versions(self):
        """Every version of every model, by model name (each model's versions read once)."""
        return [r for name in self._model_folders() for r in self.list_versions(name)]

    # -- comparing and searching ---------------------------------------------------------------

    def compare_models(self, a, b, name=None, sample=None, repeats: int = 30) -> ModelComparison:
        """Compare version `a` with version `b`: metric deltas, differing params, artifact size,
        parameter count and, if `sample` (a batch of inputs) is given, measured latency."""
        ra, rb = self.get_version(a, name=name), self.get_version(b, name=name)
        latency = None
        if sample is not None:
            latency = _pair(*(measure_latency(self.load_model(r, name=r.name), sample, repeats)
                              for r in (ra, rb)))
        return ModelComparison(
            a=ra, b=rb,
            metrics=compare_metrics(ra.metrics, rb.metrics),
            params=diff_params(ra.params, rb.params),
            size_bytes=_pair(ra.size_bytes, rb.size_bytes),
            num_parameters=_pair(ra.num_parameters, rb.num_parameters),
            latency_seconds=latency,
        )

    def search_versions(self, name=None, tags=None, metrics=()) -> list:
        """Versions with all the given `tags` ({key: value}) that pass every metric filter
        (e.g. "accuracy>=0.95"); `name=None` searches the default model, "*" all models."""
        if isinstance(metrics, str):
            metrics = [metrics]
        records = self._all_versions() if name == "*" else self.list_versions(name)
        return [
            r for r in records
            if all(r.tags.get(k) == str(v) for k, v in (tags or {}).items())
            and all(metric_filter_matches(r.metrics, f) for f in metrics)
        ]


def _as_tuple(data):
    return data if isinstance(data, tuple) else (data,)

