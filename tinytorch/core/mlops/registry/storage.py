"""Bytes on disk that survive crashes: content hashes, atomic writes, safe names, a blob store.

Everything the registry persists goes through `atomic_write_bytes`, so a reader sees either the
old file or the new one, never half of each, even when the writer is killed mid-write.
"""

import fcntl
import hashlib
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tinytorch.core.serialization import MAX_MODEL_BYTES, UnreadableFileError, read_regular_file


MAX_LOG_BYTES = 1 << 30  # an append-only log larger than this is refused, not read


class InvalidNameError(ValueError):
    """A model name, version or alias that could escape the registry directory or is unusable."""


class ArtifactIntegrityError(ValueError):
    """A stored artifact whose bytes no longer match the sha256 recorded when it was registered."""


def content_hash(data: bytes) -> str:
    """Return the sha256 of `data` as 64 lowercase hex characters.

    Why: a registry names each artifact by the hash of its bytes ("content addressing"). Two
    registrations of identical weights get the same name, so they are stored once; and when the
    bytes are read back, recomputing the hash proves they were not altered or corrupted on disk.
    Python's built-in `hash()` is no substitute: it is salted per process and not collision-safe.

    >>> content_hash(b"")[:12]
    'e3b0c44298fc'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"content_hash needs bytes, got {type(data).__name__}; encode text first")
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` so that readers and crashes only ever see the old or the new file.

    Why: a plain `open(path, "wb").write(data)` first truncates the file; a process killed
    halfway leaves a torn file, and a reader running at the same time sees half of it. Instead:
    1. write to a temporary file in the *same directory* (os.replace is only atomic within one
       file system),
    2. flush and fsync it, so its bytes are on disk before it gets the real name,
    3. os.replace it onto `path` (an atomic rename on POSIX),
    4. fsync the directory (a descriptor from os.open(directory, os.O_RDONLY)), so the rename
       itself survives a power cut.
    Close every descriptor you open. On any error the temporary file is removed, `path` is
    untouched and the error is re-raised.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def locked(path, shared=False):
    """Hold an `fcntl.flock` on `path` (created if missing) for the duration of a `with` block.

    The lock is advisory and per open file: every process that follows the protocol waits here;
    the kernel releases it if the holder dies, so a killed writer never leaves the registry locked.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW and O_NONBLOCK: a lock file replaced by a symlink or a FIFO fails here at once
    # instead of touching a file elsewhere or blocking forever.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append_json_line(path, record: dict) -> None:
    """Append `record` as one JSON line and fsync it; earlier lines are never rewritten.

    A single `write` with O_APPEND lands whole at the end of the file. If a crash once left a
    torn last line, a newline is written first so that this record stays a line of its own.
    """
    line = json.dumps(record, sort_keys=True).encode() + b"\n"
    # O_NOFOLLOW: a log replaced by a symlink is refused, never appended to wherever it points.
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_lines(path) -> list:
    """The JSON objects of a JSON-lines file, skipping lines a crash left torn; [] if missing."""
    try:
        lines = Path(path).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # torn by a crash, or nested too deeply to parse
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def numbered_json_lines(path) -> list:
    """[(line number, parsed value, or None if the line is not JSON)] for each non-blank line
    of `path`; [] if it is missing. Only a regular file is read, never through a symlink."""
    try:
        data = read_regular_file(path, MAX_LOG_BYTES, follow_symlinks=False)
    except FileNotFoundError:
        return []
    lines = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            try:
                lines.append((number, json.loads(line)))
            except (ValueError, RecursionError):  # torn by a crash, edited, or nested too deep
                lines.append((number, None))
    return lines


def validate_name(value, kind: str = "name", max_length: int = 128) -> str:
    """Return `value` if it is safe as a single path component of the registry, else raise.

    Model names, versions and aliases become file and directory names, so `../x`, `/etc`,
    `a/b`, empty strings, NUL bytes and names longer than the file system allows are refused.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{kind} must be a string, got {type(value).__name__} {value!r}")
    if not value:
        raise InvalidNameError(f"{kind} is empty; use letters, digits and . _ + -")
    if len(value) > max_length:
        raise InvalidNameError(f"{kind} is {len(value)} characters long; the limit is {max_length}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", value):
        raise InvalidNameError(
            f"{kind} {value!r} is not allowed: it must start with a letter or digit and contain "
            "only letters, digits and . _ + - (no '/', '..', spaces, NUL or other characters "
            "that could leave the registry directory)"
        )
    return value


class BlobStore:
    """Immutable, deduplicated artifact files named by their sha256: `<root>/<sha256>`.

    Blobs are read only as regular files inside `root` (never through a symlink, never a FIFO
    or device) and never beyond the size their record announces."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where blob `digest` lives; a digest that is not 64 lowercase hex digits (such as
        `../../file`, read from a damaged record) is refused before it becomes a path."""
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ArtifactIntegrityError(f"{digest!r} is not a sha256 (64 lowercase hex digits)")
        return self.root / digest

    def put(self, data: bytes) -> str:
        """Store `data` once and return its sha256; an existing intact copy is reused."""
        digest = content_hash(data)
        try:
            self.get(digest, size=len(data))
        except ArtifactIntegrityError:  # missing, damaged or not a regular file: (re)write it
            atomic_write_bytes(self.path(digest), data)
        return digest

    def get(self, digest: str, what: str = "artifact", size: int | None = None) -> bytes:
        """Read the blob `digest` (of `size` bytes, if known) and prove it is unchanged; `what`
        names it in errors."""
        target = self.path(digest)
        try:
            data = read_regular_file(target, MAX_MODEL_BYTES if size is None else size,
                                     follow_symlinks=False)
        except FileNotFoundError:
            raise ArtifactIntegrityError(
                f"{what}: artifact file {target} is missing; the registry directory was altered"
            ) from None
        except UnreadableFileError as exc:  # a special file, a symlink, or larger than registered
            raise ArtifactIntegrityError(f"{what}: artifact file {target} {exc.problem}") from None
        actual = content_hash(data)
        if actual != digest:
            raise ArtifactIntegrityError(
                f"{what}: artifact file {target} was modified or corrupted: its sha256 is "
                f"{actual[:16]}..., registered as {digest[:16]}...; re-register the model from "
                "a trusted copy"
            )
        return data
