"""Model files: one self-describing file per model, no pickle.

Layout (all integers little-endian)::

    8 bytes   magic  b"TTMODEL\\x00"
    4 bytes   format version (uint32), currently 1
    8 bytes   header length H (uint64)
    H bytes   header: UTF-8 JSON {"architecture": ..., "tensors": [{name, dtype, shape,
              offset, nbytes}, ...], "payload_nbytes": ...}
    P bytes   payload: the tensors' raw little-endian bytes, back to back in table order
    32 bytes  SHA-256 of everything before it (magic, version, header and payload)

Why this shape: pickle runs code on load, so a model file from an untrusted source would be an
exploit; here loading only parses JSON and copies numbers, and the architecture is rebuilt from
a fixed list of known layer types. The digest catches truncation and tampering before anything
is built; the header keeps the file readable without tinytorch (``head -c`` shows the JSON).
The bytes are deterministic (sorted JSON keys, no timestamps): the same model always serializes
to the same bytes, so a file's hash can serve as its content address.
"""

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from .compression import QuantizedModel, quantized_from_config
from .kernels import InferenceModel, inference_from_config
from .layers import Sequential, sequential_from_config

MAGIC = b"TTMODEL\x00"
FORMAT_VERSION = 1
PREFIX = struct.Struct("<8sIQ")  # magic, version, header length
DIGEST_SIZE = 32
DTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "int8": np.dtype("i1")}
BUILDERS = {
    "Sequential": sequential_from_config,
    "QuantizedModel": quantized_from_config,
    "InferenceModel": inference_from_config,
}
SAVABLE = (Sequential, QuantizedModel, InferenceModel)
TAMPERED = "checksum mismatch: the contents were modified or corrupted after saving"


class ModelFileError(ValueError):
    """A model file (or byte string) that cannot be loaded; the message names the source and
    says what is wrong with it."""

    def __init__(self, source, problem):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


def model_to_bytes(model):
    """Serialize a ``Sequential``, ``QuantizedModel`` or ``InferenceModel`` to bytes."""
    if not isinstance(model, SAVABLE):
        raise TypeError(f"can only save {', '.join(cls.__name__ for cls in SAVABLE)}, "
                        f"got {type(model).__name__}")
    table, chunks, offset = [], [], 0
    for name, array in model.tensors().items():
        dtype_name = np.dtype(array.dtype).name
        if dtype_name not in DTYPES:
            raise TypeError(f"tensor {name!r} has dtype {dtype_name}, which model files do not "
                            f"store; use one of {sorted(DTYPES)}")
        chunk = np.ascontiguousarray(array, dtype=DTYPES[dtype_name]).tobytes()
        table.append({"name": name, "dtype": dtype_name, "shape": list(array.shape),
                      "offset": offset, "nbytes": len(chunk)})
        chunks.append(chunk)
        offset += len(chunk)
    header = json.dumps({"architecture": model.config(), "tensors": table,
                         "payload_nbytes": offset}, sort_keys=True, separators=(",", ":"))
    header = header.encode("utf-8")
    body = PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + b"".join(chunks)
    return body + hashlib.sha256(body).digest()


def model_from_bytes(data, source="<bytes>"):
    """Rebuild a model from ``model_to_bytes`` output. Never executes anything from ``data``;
    raises ``ModelFileError`` naming ``source`` for truncated, tampered or foreign input."""
    data = bytes(data)
    _check_prefix(data, source)
    _, _, header_len = PREFIX.unpack_from(data)
    header_end = PREFIX.size + header_len
    if len(data) < header_end:
        raise ModelFileError(source, f"truncated: {len(data)} bytes, but the header alone "
                                     f"needs {header_end}")
    body = data[:-DIGEST_SIZE]
    intact = hashlib.sha256(body).digest() == data[-DIGEST_SIZE:]
    try:
        header = json.loads(data[PREFIX.size:header_end].decode("utf-8"))
        expected = header_end + int(header["payload_nbytes"]) + DIGEST_SIZE
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(source, TAMPERED if not intact else f"corrupt header ({exc})") from None
    if len(data) < expected:
        raise ModelFileError(source, f"truncated: {len(data)} bytes, the header announces "
                                     f"{expected}; re-copy or re-save the model")
    if len(data) > expected:
        raise ModelFileError(source, f"{len(data) - expected} unexpected bytes after the end of "
                                     f"the model")
    if not intact:
        raise ModelFileError(source, TAMPERED)
    try:
        tensors = _read_tensors(header.get("tensors"), body[header_end:])
        architecture = header.get("architecture")
        builder = BUILDERS.get(architecture.get("type") if isinstance(architecture, dict) else None)
        if builder is None:
            raise ValueError(f"unknown architecture; this tinytorch loads {sorted(BUILDERS)}")
        return builder(architecture, tensors)
    except ValueError as exc:
        raise ModelFileError(source, f"invalid model: {exc}") from None


def save_model(model, path):
    """Write ``model`` to ``path`` atomically (a temporary file in the same directory, then a
    rename), so a crash mid-write never leaves a half-written model under that name."""
    path = Path(path)
    data = model_to_bytes(model)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: directory {path.parent} does not exist; create it first")
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def load_model(path):
    """Load a model saved by ``save_model``; raises ``ModelFileError`` naming the file and the
    problem when it is truncated, tampered with, or not a tinytorch model file (a missing file
    raises the usual ``FileNotFoundError``)."""
    path = Path(path)
    with open(path, "rb") as handle:
        _check_prefix(handle.read(PREFIX.size), path)
        handle.seek(0)
        data = handle.read()
    return model_from_bytes(data, source=path)


def _check_prefix(data, source):
    """Reject foreign files from their first bytes, before reading the rest."""
    if not data.startswith(MAGIC[:len(data)]):
        raise ModelFileError(source, f"not a tinytorch model file (starts with {data[:8]!r}, "
                                     f"expected {MAGIC!r})")
    if len(data) < PREFIX.size:
        raise ModelFileError(source, f"truncated: {len(data)} bytes, shorter than the "
                                     f"{PREFIX.size}-byte preamble")
    _, version, _ = PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ModelFileError(source, f"format version {version} is not supported (this tinytorch "
                                     f"reads version {FORMAT_VERSION}); upgrade tinytorch")


def _read_tensors(table, payload):
    """Parse the tensor table against the payload; every entry must be well-formed and the
    tensors must tile the payload exactly, in order."""
    if not isinstance(table, list):
        raise ValueError("the tensor table is missing")
    tensors, offset = {}, 0
    for entry in table:
        if not isinstance(entry, dict):
            raise ValueError("a tensor table entry is not an object")
        name, dtype, shape = entry.get("name"), DTYPES.get(entry.get("dtype")), entry.get("shape")
        if not isinstance(name, str) or name in tensors:
            raise ValueError(f"tensor name {name!r} is missing or repeated")
        if dtype is None:
            raise ValueError(f"tensor {name!r} has unsupported dtype {entry.get('dtype')!r}")
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise ValueError(f"tensor {name!r} has invalid shape {shape!r}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if entry.get("offset") != offset or entry.get("nbytes") != nbytes:
            raise ValueError(f"tensor {name!r} does not sit at offset {offset} with {nbytes} bytes")
        array = np.frombuffer(payload, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
        offset += nbytes
    if offset != len(payload):
        raise ValueError(f"tensors cover {offset} of {len(payload)} payload bytes")
    return tensors
