"""Model versions: allocating version numbers safely and the immutable record of each version."""

import datetime
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


def allocate_version(versions_dir, version=None) -> str:
    """Reserve a version of one model and return it, safely across concurrent processes.

    `versions_dir` holds one file `<version>.json` per version. Without `version`, the next
    number is allocated like MLflow does ("1", "2", ...: one more than the largest numeric version
    so far; versions such as "1.0.0" are not numbers and do not count). With `version`, exactly
    that version is reserved, and FileExistsError is raised if it already exists.

    Why the lock: two processes that both list the directory, both see "7" as the largest and
    both write "8.json" silently overwrite each other's model (MLflow's file store has had this
    race). Here the whole "list, pick, reserve" step runs while holding an exclusive
    `fcntl.flock` on `<versions_dir>/.lock`, and the reservation itself is an exclusive create
    (`os.O_CREAT | os.O_EXCL`) of an empty `<version>.json`, which the caller then replaces with
    the version's metadata. Close every descriptor you open: a registry that leaks one per version
    ends with "Too many open files".
    """
    versions_dir = Path(versions_dir)
    versions_dir.mkdir(parents=True, exist_ok=True)
    with open(versions_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if version is None:
                numbers = [int(p.stem) for p in versions_dir.glob("*.json") if p.stem.isdigit()]
                version = str(max(numbers, default=0) + 1)
            try:
                fd = os.open(versions_dir / f"{version}.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                raise FileExistsError(
                    f"version {version!r} already exists in {versions_dir}; versions are "
                    "immutable: register the model under a new version"
                ) from None
            os.close(fd)
            return version
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fingerprint(*arrays) -> str:
    """A stable sha256 of NumPy arrays (dtype, shape and bytes): the lineage's training-data hash."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def config_hash(config: dict) -> str:
    """A stable sha256 of a JSON-able configuration (keys sorted): the lineage's code/config hash."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SignatureMismatchError(ValueError):
    """Input, or a loaded model, that does not match the signature recorded at registration."""


@dataclass(frozen=True)
class ModelSignature:
    """What a version accepts and returns: per-row input shape and dtype, per-row output shape."""

    input_shape: tuple
    dtype: str
    output_shape: tuple

    @classmethod
    def infer(cls, model, input_example=None):
        """Read the signature off the model by running it on `input_example` (or on zeros)."""
        if input_example is None:
            input_example = np.zeros((1, *model.input_shape), dtype=np.float32)
        input_example = np.asarray(input_example)
        output = np.asarray(model.forward(input_example[:1]))
        return cls(tuple(input_example.shape[1:]), input_example.dtype.name, tuple(output.shape[1:]))

    def check_input(self, x):
        """Raise SignatureMismatchError unless `x` is a batch this version accepts."""
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.input_shape or x.dtype.name != self.dtype:
            raise SignatureMismatchError(
                f"input of shape {x.shape} and dtype {x.dtype} does not match the signature: "
                f"expected (n, {', '.join(map(str, self.input_shape))}) of {self.dtype}"
            )

    def check_model(self, model, what="model"):
        """Raise SignatureMismatchError unless `model` still has this signature."""
        takes = tuple(model.input_shape)
        returns = None
        if takes == self.input_shape:  # only then can a row of zeros be run through it
            row = np.zeros((1, *takes), dtype=self.dtype)
            returns = ModelSignature.infer(model, row).output_shape
        if returns is None or returns != self.output_shape:
            raise SignatureMismatchError(
                f"{what} takes input {takes} and returns {'?' if returns is None else returns} per row, but "
                f"was registered with {self.input_shape} -> {self.output_shape}"
            )


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: the version it was derived from, its data and its code/config."""

    parent_version: str | None = None
    data_hash: str | None = None
    code_hash: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    """The immutable record of one registered version (MLflow's ModelVersion)."""

    name: str
    version: str
    sha256: str
    size_bytes: int
    num_parameters: int
    created_at: float
    signature: ModelSignature
    lineage: Lineage = Lineage()
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    description: str = ""

    @property
    def created(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.created_at, tz=datetime.timezone.utc)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_json(self) -> bytes:
        """The record as strict JSON (NaN or infinity anywhere raises ValueError); it is read
        back, field by field checked, by `records.parse_record`."""
        return json.dumps(asdict(self), sort_keys=True, indent=1, allow_nan=False).encode()
