"""ModelRegistry: named models with immutable versions, aliases with history, on plain files.

Layout of a registry directory (every file written atomically or appended whole):

    <root>/registry.lock                      shared by writers, exclusive for deletes
    <root>/blobs/<sha256>                     model artifacts, content-addressed, stored once
    <root>/models/<name>/versions/<v>.json    one immutable ModelVersion record per version
    <root>/models/<name>/aliases.jsonl        the append-only alias log (AliasHistory)
    <root>/models/<name>/ledger.jsonl         hash-chained seals of the version records (Ledger)

An empty `<v>.json` is a version reserved by a registration that has not finished (or was
killed); it is never listed and its number is never reused.

Nothing read from these files is trusted: records are checked field by field (`records`) and
against their seal in the ledger, artifacts against their sha256, alias events one by one. A
damaged file costs only the version or alias line it holds; the error names the file, the
version and the problem; `verify()` reports every problem in the registry at once and
`python -m tinytorch.core.mlops.registry.recover ROOT` says what it would quarantine.
"""

import hashlib
import re
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from tinytorch.core.serialization import (SAVABLE, UnreadableFileError, model_from_bytes,
                                          model_to_bytes, read_regular_file)

from .aliases import CheckedAliasHistory, alias_log_problems
from .compare import compare_metrics, diff_params, measure_latency, metric_filter_matches
from .errors import (DamagedRecordError, RegistryError, TamperedRecordError, VersionExistsError,
                     VersionNotFoundError)
from .ledger import Ledger, field_digests
from .records import (MAX_RECORD_BYTES, check_description, check_metrics, check_params,
                      check_tags, parse_record)
from .storage import (ArtifactIntegrityError, BlobStore, InvalidNameError, atomic_write_bytes,
                      locked, validate_name)
from .versions import Lineage, ModelSignature, ModelVersion, allocate_version, config_hash, fingerprint

DEFAULT_MODEL_NAME = "model"
_URI = re.compile(r"models:/([^/@]+)(?:/([^/@]+)|@([^/@]+))")
__all__ = ["DamagedRecordError", "DamagedRecordWarning", "ModelComparison", "ModelRegistry",
           "Problem", "RegistryError", "TamperedRecordError", "VersionExistsError",
           "VersionList", "VersionNotFoundError"]


class DamagedRecordWarning(UserWarning):
    """A listing met a damaged version record (the message is the DamagedRecordError's: the
    file, the version, the problem and the `recover` command)."""


class VersionList(list):
    """What `list_versions` returns: the readable versions (ModelVersion records, oldest first),
    and in `damaged` the versions whose record is damaged, {version: DamagedRecordError}, so a
    damaged version is listed as damaged, never as absent. Its repr names them."""

    def __init__(self, records=(), damaged=None):
        super().__init__(records)
        self.damaged = dict(damaged or {})

    def __repr__(self):
        shown = super().__repr__()
        return f"{shown} (damaged: {', '.join(self.damaged)})" if self.damaged else shown


def warn_damaged(message, stacklevel=2):
    """Emit a DamagedRecordWarning at the caller's caller every time. `warnings.warn` shows a
    message once per call site, so a second listing from the same line (a loop, a notebook
    cell run again) would hide the damage it still has."""
    frame = sys._getframe(stacklevel)
    warnings.warn_explicit(DamagedRecordWarning(message), DamagedRecordWarning,
                           frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry=None,
                           module_globals=frame.f_globals)


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

    Errors, all ValueErrors with a message naming the file and what to do: RegistryError for a
    request that cannot be carried out (VersionNotFoundError, VersionExistsError) and for a
    damaged or edited record (DamagedRecordError, TamperedRecordError); ArtifactIntegrityError
    for an artifact that is missing or changed; UnreadableFileError for a log that is not a
    regular file; SignatureMismatchError for a model that no longer fits its signature.
    `verify()` lists every problem at once; `python -m tinytorch.core.mlops.registry.recover
    ROOT` says what it would quarantine.
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

    def _model_dir(self, name) -> Path:
        """`<root>/models/<name>`, refused if it (or `models/`) is a symlink leading elsewhere."""
        path = self.root / "models" / self._name(name)
        for part in (path.parent, path, path / "versions"):
            if part.is_symlink():
                raise RegistryError(f"{part} is a symbolic link; the registry never follows "
                                    "links out of its directory. Replace it with a directory")
        return path

    def _versions_dir(self, name):
        return self._model_dir(name) / "versions"

    def _record_path(self, name, version) -> Path:
        return self._versions_dir(name) / f"{validate_name(version, 'version')}.json"

    def _aliases(self, name) -> CheckedAliasHistory:
        return CheckedAliasHistory(self._model_dir(name) / "aliases.jsonl")

    def ledger(self, name=None) -> Ledger:
        """The ledger that seals model `name`'s version records (see `ledger.Ledger`)."""
        return Ledger(self._model_dir(name) / "ledger.jsonl")

    # -- registering ---------------------------------------------------------------------------

    def register_model(self, model, version=None, *, name=None, metrics=None, params=None,
                       tags=None, description="", parent_version=None, training_data=None,
                       config=None, input_example=None) -> ModelVersion:
        """Store `model` as a new immutable version and return its ModelVersion.

        `version` defaults to the next number ("1", "2", ...); an explicit one (e.g. "1.0.0")
        must not exist yet. Lineage: `parent_version` (must exist), `training_data` (arrays,
        hashed) and `config` (a JSON-able dict, hashed; its items are also recorded as params
        unless `params` is given). The signature is read off the model (or `input_example`).
        Metrics must be finite numbers; params and config strict JSON nested at most 32 levels
        (`records.MAX_PARAM_DEPTH`; tuples are kept as lists); tags strings (numbers are kept
        as text); the description a string. Anything a record cannot hold faithfully is a
        RegistryError naming the field. Every input is checked before a version number is
        reserved, so a refused registration leaves nothing behind and uses up no number.
        """
        name = self._name(name)
        if version is not None:
            validate_name(str(version), "version")
            version = str(version)
        if not isinstance(model, SAVABLE):
            raise TypeError(
                f"register_model needs a tinytorch model "
                f"({', '.join(cls.__name__ for cls in SAVABLE)}), got {type(model).__name__}; "
                "a saved model file must be loaded first with tinytorch.core.serialization.load_model"
            )
        if parent_version is not None:
            self.get_version(parent_version, name=name)
        try:
            metrics = check_metrics({} if metrics is None else metrics)
            if config is not None:
                config = check_params(config, "config")
            params = check_params(params if params is not None else config or {})
            tags, description = check_tags(tags), check_description(description)
        except ValueError as error:
            raise RegistryError(f"cannot register: {error}") from None
        lineage = Lineage(
            parent_version=None if parent_version is None else str(parent_version),
            data_hash=None if training_data is None else fingerprint(*_as_tuple(training_data)),
            code_hash=None if config is None else config_hash(config),
        )
        signature = ModelSignature.infer(model, input_example)
        data = model_to_bytes(model)
        record = ModelVersion(
            name=name, version=version or "0", sha256="", size_bytes=len(data),
            num_parameters=int(model.num_parameters), created_at=0.0,
            signature=signature, lineage=lineage, metrics=metrics, params=params,
            tags=tags, description=description,
        )
        _check_writable(record)
        with locked(self._lock_path, shared=True):
            digest = self.blobs.put(data)
            try:
                version = allocate_version(self._versions_dir(name), version)
            except FileExistsError:
                raise VersionExistsError(
                    f"model {name!r} already has version {version!r}; versions are immutable: "
                    "register under a new version, or omit version= to get the next number"
                ) from None
            record = replace(record, version=version, sha256=digest, created_at=time.time())
            text = record.to_json()
            ledger = self.ledger(name)
            ledger.seal(record, text)  # sealed first: every finished record has a seal
            atomic_write_bytes(self._record_path(name, version), text)
            ledger.mark("written", version)
        return record

    # -- reading -------------------------------------------------------------------------------

    def list_models(self) -> list:
        """Names of the models that have at least one version (readable or damaged)."""
        return [name for name in self._model_folders()
                if (versions := self.list_versions(name)) or versions.damaged]

    def _model_folders(self):
        """Model folders whose names are valid model names (anything else is not a model)."""
        models = self.root / "models"
        if not models.is_dir() or models.is_symlink():
            return []
        return sorted(p.name for p in models.iterdir()
                      if _is_valid_name(p.name) and p.is_dir() and not p.is_symlink())

    def _version_files(self, name) -> list:
        """The versions that have a record file (finished, reserved or damaged)."""
        versions_dir = self._versions_dir(name)
        if not versions_dir.is_dir():
            return []
        return sorted(p.stem for p in versions_dir.glob("*.json") if _is_valid_name(p.stem))

    def list_versions(self, name=None) -> VersionList:
        """Every finished version of model `name`, oldest first, as a VersionList. A version
        whose record is damaged (truncated, a symlink, edited, or missing while the ledger says
        it was written) is in its `damaged` dict and named by a DamagedRecordWarning on every
        call, with the file and the `recover` command: the other versions stay usable."""
        states = self.ledger(name).states()
        records, damaged = [], {}
        versions = set(self._version_files(name))
        versions |= {v for v, state in states.items() if state.written and not state.removed}
        for version in sorted(versions):
            try:
                record = self._read_record(name, version, states)
            except VersionNotFoundError:  # deleted, or quarantined by `recover`
                continue
            except DamagedRecordError as error:
                warn_damaged(str(error), stacklevel=2)
                damaged[version] = error
                continue
            if record is not None:
                records.append(record)
        return VersionList(sorted(records, key=lambda r: (r.created_at, r.version)), damaged)

    def _read_record(self, name, version, states):
        """The checked ModelVersion of `version`, or None if it is reserved by a registration
        that never finished. Raises VersionNotFoundError if there is no record file and
        DamagedRecordError if the record is unreadable, malformed, or not the one sealed."""
        name = self._name(name)
        path = self._record_path(name, version)
        state = states.get(version)
        try:
            data = read_regular_file(path, MAX_RECORD_BYTES, follow_symlinks=False)
        except FileNotFoundError:
            if state and state.written and not state.removed:
                raise DamagedRecordError(path, name, version, "the record file is missing, "
                                         "but the ledger has no delete for it") from None
            raise VersionNotFoundError(f"model {name!r} has no version {version!r}") from None
        except UnreadableFileError as error:
            raise DamagedRecordError(path, name, version, f"the record file {error.problem}") from None
        if not data:
            if state and state.removed:
                raise VersionNotFoundError(f"version {version!r} of model {name!r} was "
                                           f"{state.removed}d; its number is not reused")
            if state and state.written:
                raise DamagedRecordError(path, name, version, "the record is empty although its "
                                         "registration finished: the file was truncated")
            return None
        try:
            record = parse_record(data, name, version)
        except ValueError as error:
            raise DamagedRecordError(path, name, version, str(error)) from None
        _check_seal(path, record, data, state)
        return record

    def get_version(self, version, name=None) -> ModelVersion:
        """The ModelVersion record of `version` (a version string or a `models:/` URI)."""
        if isinstance(version, ModelVersion):
            return version
        if isinstance(version, str) and version.startswith("models:/"):
            return self._resolve_uri(version)
        version = validate_name(str(version), "version")
        try:
            record = self._read_record(name, version, self.ledger(name).states(version))
        except VersionNotFoundError:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DamagedRecordWarning)
                known = [r.version for r in self.list_versions(name)]
            raise VersionNotFoundError(
                f"model {self._name(name)!r} has no version {version!r}; versions: {known or 'none'}"
            ) from None
        if record is None:
            raise VersionNotFoundError(
                f"version {version!r} of model {self._name(name)!r} was reserved by a registration "
                "that did not finish (the process died); it holds no model and is never reused"
            )
        return record

    def latest_version(self, name=None) -> ModelVersion:
        """The newest finished version. If a newer registration's record is damaged, that is
        an error naming it, never a silent fall-back to an older version."""
        states = self.ledger(name).states()
        versions = self.list_versions(name)
        listed = {r.version for r in versions}
        newest = max((states[v].order for v in listed if v in states), default=-1)
        for version, state in states.items():
            if state.written and not state.removed and version not in listed \
                    and state.order > newest:
                self._read_record(name, version, states)  # raises DamagedRecordError
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

        The record is checked against its seal in the ledger and the artifact against its
        sha256 and size (ArtifactIntegrityError names the version and file on any change);
        the loaded model is checked against the registered signature.
        """
        if alias is not None:
            record = self.get_alias(alias, name=name)
        elif version is None:
            record = self.latest_version(name)
        else:
            record = self.get_version(version, name=name)
        what = f"version {record.version} of model {record.name!r}"
        data = self.blobs.get(record.sha256, what=what, size=record.size_bytes)
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
                f"{self._aliases(name).aliases() or 'none'}"
            )
        return self.get_version(version, name=name)

    def aliases(self, name=None) -> dict:
        """{alias: version} of model `name` now. An alias pointing at a version whose record
        is damaged is kept, and named by a DamagedRecordWarning on every call."""
        current = self._aliases(name).aliases()
        states = self.ledger(name).states()
        for alias, version in current.items():
            try:
                self._read_record(name, version, states)
            except DamagedRecordError as error:
                warn_damaged(f"alias {alias!r} points at a damaged version: {error}", stacklevel=2)
            except VersionNotFoundError:
                continue
        return current

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
            self._record_path(name, record.version).unlink()
            self.ledger(name).mark("delete", record.version)
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
        """Delete the blobs that no version needs. A version whose registration finished but
        whose record is now damaged still needs its blob (its seal names it): garbage
        collection must not destroy what recovery could restore."""
        if self.blobs.root.is_symlink():
            raise RegistryError(f"{self.blobs.root} is a symbolic link; the registry deletes "
                                "nothing through it. Replace it with the directory it points at")
        referenced = {r.sha256 for r in self._all_versions()}
        for name in self._model_folders():
            referenced |= {state.seal["sha256"] for state in self.ledger(name).states().values()
                           if state.written and not state.removed}
        unreferenced = [p for p in self.blobs.root.iterdir()  # directories: left to `recover`
                        if p.name not in referenced and not p.name.startswith(".")
                        and (p.is_symlink() or not p.is_dir())]
        for path in unreferenced:
            path.unlink()
        return len(unreferenced)

    def _all_versions(self):
        """Every readable version of every model (each model's versions read once)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DamagedRecordWarning)
            return [r for name in self._model_folders() for r in self.list_versions(name)]

    # -- checking ------------------------------------------------------------------------------

    def verify(self) -> list:
        """Check the whole registry and return every problem found (empty: all is well).

        For each model: every record is read and checked (fields, seal, artifact sha256 and
        size), every seal of a finished registration has its record, the ledger's hash chain
        is unbroken, every alias-log line is a well-formed event and every alias points at a
        readable version; stray and special files in `blobs/` are reported too."""
        problems = []
        for name in self._model_folders():
            problems += self._verify_model(name)
        for path in sorted(self.blobs.root.iterdir()):
            if path.name.startswith("."):
                continue
            if not _is_digest(path.name) or path.is_symlink() or not path.is_file():
                problems.append(Problem(path, None, "is not an artifact (artifacts are regular "
                                                    "files named by their sha256)"))
        return problems

    def _verify_model(self, name) -> list:
        ledger, model_dir = self.ledger(name), self._model_dir(name)
        try:
            problems = [Problem(ledger.path, None, f"line {n} {p}") for n, p in ledger.problems()]
            states = ledger.states()
        except RegistryError as error:  # the ledger is not a regular file
            problems, states = [Problem(ledger.path, None, str(error))], {}
        versions = set(self._version_files(name))
        for version in sorted(versions | {v for v, s in states.items() if s.written and not s.removed}):
            try:
                record = self._read_record(name, version, states)
            except VersionNotFoundError:  # deleted or quarantined on purpose
                continue
            except DamagedRecordError as error:  # its message names the path: Problem does too
                message = f"version {version!r}: {error.problem}"
                problems.append(Problem(error.path, version, message))
                continue
            except RegistryError as error:
                problems.append(Problem(self._record_path(name, version), version, str(error)))
                continue
            try:
                if record is not None:
                    self.blobs.get(record.sha256, what=f"version {version} of model {name!r}",
                                   size=record.size_bytes)
            except ArtifactIntegrityError as error:
                problems.append(Problem(self.blobs.path(record.sha256), version, str(error)))
        log = model_dir / "aliases.jsonl"
        try:
            problems += [Problem(log, None, f"line {n} {p}") for n, p in alias_log_problems(log)]
            aliases = self._aliases(name).aliases()
        except UnreadableFileError as error:
            return problems + [Problem(log, None, f"the alias log {error.problem}")]
        for alias, version in aliases.items():
            if version not in versions:
                problems.append(Problem(model_dir / "aliases.jsonl", version,
                                        f"alias {alias!r} points at version {version!r}, which "
                                        "has no record"))
        return problems

    def ledger_head(self, name=None) -> str | None:
        """The sha256 of the last line of model `name`'s ledger. Keep it elsewhere (like a git
        commit id): a registry whose ledger was rewritten wholesale shows a different head."""
        return self.ledger(name).head()

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


@dataclass(frozen=True)
class Problem:
    """One problem `verify()` found: the file, the version it concerns (if any), and what."""

    path: Path
    version: str | None
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"


def _check_seal(path, record, data, state):
    """Raise TamperedRecordError unless `data` (the bytes of `record`) is what was sealed."""
    name, version = record.name, record.version
    if state is None or state.removed:
        why = "has no seal in the ledger" if state is None else f"was {state.removed}d"
        raise TamperedRecordError(path, name, version, f"the record {why}: it was not written "
                                  "by this registry's register_model (or the ledger was edited)")
    seal = state.seal
    if hashlib.sha256(data).hexdigest() == seal["record"]:
        return
    changed = [k for k, v in field_digests(record).items() if seal["fields"].get(k) != v]
    what = (f"fields changed since registration: {', '.join(changed)}" if changed else
            "its bytes changed since registration, though every field reads the same")
    if "sha256" in changed:
        what += f" (the artifact was re-pointed from {seal['sha256'][:16]}... to " \
                f"{record.sha256[:16]}...)"
    raise TamperedRecordError(path, name, version, f"the record was edited: {what}; "
                              "re-register the model from a trusted copy")


def _check_writable(record):
    """Raise RegistryError unless `record` can be written and read back (checked before a
    version number is reserved, so a refused registration uses none). Its fields are already
    strict JSON; what remains is size: a record over MAX_RECORD_BYTES would be refused when read."""
    size = len(record.to_json()) + 256  # the version, sha256 and time filled in at registration
    if size > MAX_RECORD_BYTES:
        raise RegistryError(f"cannot register: the record would be about {size} bytes, over the "
                            f"{MAX_RECORD_BYTES}-byte limit of a record; keep large data in the "
                            "artifact or elsewhere, and small params, tags and description here")


def _is_valid_name(text) -> bool:
    try:
        validate_name(text)
    except InvalidNameError:
        return False
    return True


def _is_digest(text) -> bool:
    return re.fullmatch(r"[0-9a-f]{64}", text) is not None


def _as_tuple(data):
    return data if isinstance(data, tuple) else (data,)

