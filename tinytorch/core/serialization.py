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
a fixed list of known layer types. The digest is checked before the header is parsed, so
truncation and tampering are caught before any of the file's contents are interpreted; a file
forged with a valid digest still meets bounds on header size, JSON nesting, tensor shapes and
sizes, and every malformed file ends in ``ModelFileError``. The header keeps the file readable
without tinytorch (``head -c`` shows the JSON).
The bytes are deterministic (sorted JSON keys, no timestamps): the same model always serializes
to the same bytes, so a file's hash can serve as its content address.
"""

import hashlib
import json
import math
import os
import re
import stat
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
TAMPERED = ("checksum mismatch: the file was truncated, extended, modified or corrupted after "
            "saving; re-copy or re-save the model")
MAX_HEADER_BYTES = 1 << 20  # 4x the header of an mlp with 1,000 Linear layers (228 KB)
MAX_NESTING = 16  # the deepest header tinytorch writes nests 4 levels
MAX_TENSOR_DIMS = 8
MAX_MODEL_BYTES = 1 << 32  # 4 GiB: far beyond a NumPy course model, small enough to refuse /dev/zero
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class UnreadableFileError(ValueError):
    """A path that is not a regular file of bounded size (a FIFO, a device, a directory, a
    symlink where none may be, or a file larger than the caller allows)."""

    def __init__(self, path, problem):
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


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
    raises ``ModelFileError`` naming ``source`` for truncated, tampered, foreign or forged input.

    Order matters: the fixed-size preamble and the digest are checked before a single byte of
    the header is parsed, so a damaged file is refused by a hash, not by a JSON parser fed
    hostile input; a file forged with a valid digest then meets the bounds in ``_parse_header``.
    """
    data = bytes(data)
    _check_prefix(data, source)
    _, _, header_len = PREFIX.unpack_from(data)
    if header_len > MAX_HEADER_BYTES:
        raise ModelFileError(source, f"header of {header_len} bytes is over the "
                                     f"{MAX_HEADER_BYTES}-byte limit; not a file tinytorch wrote")
    header_end = PREFIX.size + header_len
    if len(data) < header_end + DIGEST_SIZE:
        raise ModelFileError(source, f"truncated: {len(data)} bytes, but the header and "
                                     f"checksum alone need {header_end + DIGEST_SIZE}")
    body = data[:-DIGEST_SIZE]
    if hashlib.sha256(body).digest() != data[-DIGEST_SIZE:]:
        raise ModelFileError(source, TAMPERED)
    try:
        header = _parse_header(data[PREFIX.size:header_end], len(body) - header_end)
        tensors = _read_tensors(header["tensors"], body[header_end:])
        return _build(header["architecture"], tensors)
    except ValueError as exc:
        raise ModelFileError(source, f"invalid model: {exc}") from None


def _parse_header(raw, payload_nbytes):
    """The header's JSON object, after bounding its nesting (a deeply nested header would
    otherwise exhaust the parser's recursion) and checking ``payload_nbytes``; ValueError."""
    without_strings = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = (np.isin(without_strings, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(without_strings, (ord("]"), ord("}"))))
    depth = int(np.cumsum(steps).max(initial=0))
    if depth > MAX_NESTING:
        raise ValueError(f"the header nests {depth} levels deep; the limit is {MAX_NESTING}")
    header = strict_json(raw, "the header")
    if not isinstance(header, dict) or not {"architecture", "tensors", "payload_nbytes"} <= set(header):
        raise ValueError("the header needs the keys architecture, tensors and payload_nbytes")
    announced = header["payload_nbytes"]
    if type(announced) is not int or announced != payload_nbytes:
        raise ValueError(f"the header announces a payload of {announced!r} bytes; the file "
                         f"holds {payload_nbytes}")
    return header


def strict_json(raw: bytes, what: str):
    """Parse UTF-8 JSON strictly: NaN and Infinity (which Python's json accepts and writes, but
    JSON does not define) are refused, and every failure is a ValueError naming `what`."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None


def _refuse_constant(name):
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _build(architecture, tensors):
    """Rebuild the model from a known architecture type only; ValueError for anything else."""
    kind = architecture.get("type") if isinstance(architecture, dict) else None
    builder = BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ValueError(f"unknown architecture {kind!r}; this tinytorch loads {sorted(BUILDERS)}")
    return builder(architecture, tensors)


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
    try:
        data = read_regular_file(path, MAX_MODEL_BYTES, check=lambda head: _check_prefix(head, path))
    except UnreadableFileError as exc:
        raise ModelFileError(path, exc.problem) from None
    return model_from_bytes(data, source=path)


def read_regular_file(path, max_bytes, *, follow_symlinks=True, check=None, append_only=False):
    """Read a regular file of at most ``max_bytes`` bytes; ``UnreadableFileError`` otherwise.

    A plain ``read_bytes()`` trusts the path: a symlink to ``/dev/zero`` reads until memory runs
    out and a FIFO blocks forever. Here the file is opened without blocking (and, unless
    ``follow_symlinks``, without following a symlink), checked to be a regular file of bounded
    size with ``fstat`` on the open descriptor (so it cannot be swapped in between), and read
    to exactly that size. ``check``, if given, is called on the first ``PREFIX.size`` bytes
    before the rest is read. A missing file raises the usual ``FileNotFoundError``. A file that
    grows while it is read is an error, unless it is an ``append_only`` log: then what it held
    when it was opened is returned (a writer appending meanwhile is normal).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if not follow_symlinks and os.path.islink(path):
            raise UnreadableFileError(path, "is a symbolic link, which is never followed here") from None
        raise UnreadableFileError(path, f"cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    problem = (None if stat.S_ISREG(info.st_mode) else "is not a regular file (a FIFO, device, "
               "socket or directory); only regular files are read")
    if problem is None and info.st_size > max_bytes:
        problem = f"is {info.st_size} bytes, over the {max_bytes}-byte limit"
    if problem:
        os.close(fd)
        raise UnreadableFileError(path, problem)
    with os.fdopen(fd, "rb") as handle:
        if check is not None:
            check(handle.read(PREFIX.size))
            handle.seek(0)
        data = handle.read(info.st_size + (0 if append_only else 1))
    if len(data) > info.st_size:
        raise UnreadableFileError(path, "grew while it was being read")
    return data


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
        name, dtype_name, shape = entry.get("name"), entry.get("dtype"), entry.get("shape")
        dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
        if not isinstance(name, str) or name in tensors:
            raise ValueError(f"tensor name {name!r} is missing or repeated")
        if dtype is None:
            raise ValueError(f"tensor {name!r} has unsupported dtype {entry.get('dtype')!r}")
        if not (isinstance(shape, list) and len(shape) <= MAX_TENSOR_DIMS
                and all(type(n) is int and n >= 0 for n in shape)):
            raise ValueError(f"tensor {name!r} has invalid shape {shape!r}")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot overflow
        if nbytes > len(payload) - offset:
            raise ValueError(f"tensor {name!r} of shape {shape} needs {nbytes} bytes; only "
                             f"{len(payload) - offset} remain in the payload")
        if entry.get("offset") != offset or entry.get("nbytes") != nbytes:
            raise ValueError(f"tensor {name!r} does not sit at offset {offset} with {nbytes} bytes")
        array = np.frombuffer(payload, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
        offset += nbytes
    if offset != len(payload):
        raise ValueError(f"tensors cover {offset} of {len(payload)} payload bytes")
    return tensors
