"""The ledger: an append-only, hash-chained log that seals every version record of one model.

A record file says which artifact a version loads and what its metrics and lineage are, and
anyone who can write the registry directory can edit it. So when a version is registered, the
sha256 of its record's bytes (and a short digest of each field, to say *what* changed) is
appended to `<root>/models/<name>/ledger.jsonl`. Each line also carries the sha256 of the line
before it, as git commits and transparency logs (Certificate Transparency, Sigstore's Rekor) do:

    {"action": "seal", "version": "3", "record": "<sha256>", "sha256": "<artifact>",
     "fields": {"metrics": "<16 hex>", ...}, "previous": "<sha256 of the line before>"}

Editing a record is then detected on load (its bytes no longer match its seal); editing its
seal as well breaks the next line's `previous`. What a hash chain cannot do on its own is notice
that an attacker rewrote the whole ledger from that line to the end: compare `head()` with a
copy kept elsewhere (as one keeps a git commit id) for that.

Actions, in the order a registration writes them:
- "seal": appended *before* the record is written, so every finished record has a seal;
- "written": appended after the record landed; an empty record with a seal but no "written"
  is a registration killed halfway (harmless), one with "written" was truncated (damage);
- "delete" and "quarantine": the version's record was removed on purpose.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

from tinytorch.core.serialization import UnreadableFileError, read_regular_file

from .errors import RegistryError
from .storage import append_json_line, locked

ACTIONS = ("seal", "written", "delete", "quarantine")
MAX_LEDGER_BYTES = 1 << 30  # about a million registrations


def field_digests(record) -> dict:
    """{field: first 16 hex digits of the sha256 of its canonical JSON} of a ModelVersion."""
    return {key: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
            for key, value in dataclasses.asdict(record).items()}


@dataclasses.dataclass
class VersionState:
    """What the ledger says about one version: its last seal, and what happened after it."""

    seal: dict
    order: int  # position of the seal in the ledger: later seals are newer registrations
    written: bool = False
    removed: str | None = None  # "delete" or "quarantine"


class Ledger:
    """The ledger of one model (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)

    def seal(self, record, data: bytes) -> None:
        """Seal `record`, whose exact bytes on disk will be `data`, before writing it."""
        self._append({"action": "seal", "version": record.version, "sha256": record.sha256,
                      "record": hashlib.sha256(data).hexdigest(), "fields": field_digests(record)})

    def mark(self, action: str, version: str) -> None:
        """Append "written", "delete" or "quarantine" for `version`."""
        self._append({"action": action, "version": version})

    def _append(self, entry: dict) -> None:
        with locked(self.path.with_suffix(".lock")):
            entry["previous"] = self.head()
            append_json_line(self.path, entry)

    def _raw_lines(self) -> list:
        """The ledger's complete lines as bytes. Only a regular file is read, never through a
        symlink; a line another process is appending right now (no newline yet) is left out."""
        try:
            data = read_regular_file(self.path, MAX_LEDGER_BYTES, follow_symlinks=False, append_only=True)
        except FileNotFoundError:
            return []
        except UnreadableFileError as exc:
            raise RegistryError(f"{self.path} (the model's ledger) {exc.problem}") from None
        return data.split(b"\n")[:-1] if data else []

    def _read(self) -> list:
        """[(line number, raw bytes, entry or None if malformed)] for every non-blank line."""
        return [(number, raw, _parse_entry(raw))
                for number, raw in enumerate(self._raw_lines(), start=1) if raw.strip()]

    def states(self, version=None) -> dict:
        """{version: VersionState} replayed from the ledger. With `version`, only the lines that
        mention it are parsed (found by their bytes first), so that looking up one version
        stays cheap as the ledger grows (a line counts only if it is byte for byte what the
        registry writes, so the filter never hides a line the full replay would use)."""
        needle = None if version is None else json.dumps({"version": version})[1:-1].encode()
        states = {}
        for number, raw in enumerate(self._raw_lines(), start=1):
            if needle is not None and needle not in raw:
                continue
            entry = _parse_entry(raw)
            if entry is None or version not in (None, entry["version"]):
                continue
            action = entry["action"]
            if action == "seal":
                states.pop(entry["version"], None)  # registered again after its delete
                states[entry["version"]] = VersionState(seal=entry, order=number)
            elif entry["version"] in states:
                state = states[entry["version"]]
                if action == "written":
                    state.written = True
                else:
                    state.removed = action
        return states

    def head(self) -> str | None:
        """sha256 of the last well-formed line: the whole ledger's fingerprint, like a git
        commit id. Lines are parsed from the end, so appending stays cheap as the ledger grows."""
        for raw in reversed(self._raw_lines()):
            if raw.strip() and _parse_entry(raw) is not None:
                return hashlib.sha256(raw).hexdigest()
        return None

    def problems(self) -> list:
        """[(line number, problem)] for malformed lines and breaks in the hash chain."""
        problems, previous = [], None
        for number, raw, entry in self._read():
            if entry is None:
                problems.append((number, "is not a well-formed ledger entry (torn by a crash, "
                                         "or edited)"))
                continue
            if entry["previous"] != previous:
                problems.append((number, "does not chain to the line before it: an earlier "
                                         "line was edited, removed or inserted"))
            previous = hashlib.sha256(raw).hexdigest()
        return problems


def _parse_entry(raw: bytes):
    """The entry on one ledger line, or None if the line is not a well-formed entry."""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(entry, dict) and entry.get("action") in ACTIONS
            and isinstance(entry.get("version"), str)
            and "previous" in entry
            and (entry["previous"] is None or isinstance(entry["previous"], str))):
        return None
    if json.dumps(entry, sort_keys=True).encode() != raw:
        return None  # not byte for byte what `append_json_line` writes: edited by hand
    if entry["action"] == "seal" and not (isinstance(entry.get("record"), str)
                                          and isinstance(entry.get("sha256"), str)
                                          and isinstance(entry.get("fields"), dict)):
        return None
    return entry
