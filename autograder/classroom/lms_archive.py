"""Unpack an LMS download as data: what a student uploaded never decides where a file goes.

Only regular files are extracted, each under the download's own folder. Skipped, each with its
reason (``collect`` gives every one a row in ``reports/collect.csv``):

    an absolute path or a ``..`` component   it would land outside the folder
    a symbolic link, a device or a FIFO      not a file a student uploads
    a nested archive (.zip, .tar, .gz, ...)   not unpacked: a 1 MB zip can hold a 1 GiB file; open it
                                             by hand if it holds a student's notebooks
    a file larger than MAX_FILE_BYTES        no notebook is that large
    past MAX_ENTRIES or MAX_TOTAL_BYTES      the download is cut there (the rest is listed)

Sizes are counted while reading, not taken from the archive's own (forgeable) header.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_ENTRIES = 20_000
MAX_FILE_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 4 * 2**30
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".whl", ".jar")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"\x28\xb5\x2f\xfd")
SKIPPED_SUFFIX = ".skipped.json"  # beside the extracted folder: [{"file", "reason"}, ...]


def _why_not(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):  # a Unix root or a Windows drive
        return "absolute path in the archive: not extracted"
    if ".." in parts:
        return "'..' in the path would leave the download's folder: not extracted"
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was not written on Unix
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "a symbolic link or special file, not a file: not extracted"
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return "an archive inside the download: not unpacked (open it by hand if it holds notebooks)"
    return ""


def safe_extract(archive: Path, into: Path) -> list[dict]:
    """Extract ``archive``'s regular files under ``into``; return every skipped entry with its reason."""
    skipped, total, count = [], 0, 0
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            reason = _why_not(info)
            if not reason and count >= MAX_ENTRIES:
                reason = f"the download has more than {MAX_ENTRIES} files: the rest is not extracted"
            if not reason and total >= MAX_TOTAL_BYTES:
                reason = f"the download unpacks to more than {MAX_TOTAL_BYTES // 2**30} GiB: the rest is not extracted"
            if not reason:
                reason, written = _copy_bounded(zf, info, into / info.filename)
                total += written
                count += 1
            if reason:
                skipped.append({"file": info.filename, "reason": reason})
    return skipped


def _copy_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zf.open(info) as source, open(target, "wb") as out:
        while chunk := source.read(2**20):
            if written == 0 and chunk.startswith(ARCHIVE_MAGIC):
                reason = "an archive inside the download (by its content): not unpacked"
                break
            written += len(chunk)
            if written > MAX_FILE_BYTES:
                reason = f"larger than {MAX_FILE_BYTES // 2**20} MiB: not extracted"
                break
            out.write(chunk)
        else:
            return "", written
    target.unlink()
    return reason, 0


def skipped_path(extracted: Path) -> Path:
    return extracted.with_name(extracted.name + SKIPPED_SUFFIX)


def write_skipped(extracted: Path, skipped: list[dict]) -> None:
    skipped_path(extracted).write_text(json.dumps(skipped, indent=1))


def read_skipped(extracted: Path) -> list[dict]:
    path = skipped_path(extracted)
    return json.loads(path.read_text()) if path.exists() else []
