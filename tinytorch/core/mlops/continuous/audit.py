"""An append-only audit log of every decision the continuous learner makes.

One JSON object per line, never rewritten (written with the registry's fsync'd O_APPEND writer,
so a crash loses at most the line being written and concurrent writers do not interleave)::

    {"at": 1700000000.0, "time": "2023-11-14T22:13:20+00:00", "event": "gate", "passed": false, ...}

Events: ``retrain_check``, ``retrain``, ``gate``, ``promotion``, ``rollback``,
``probation_passed``, ``quarantine``.
"""

import time
from datetime import datetime, timezone
from pathlib import Path

from tinytorch.core.mlops.registry.storage import append_json_line, read_json_lines


class AuditLog:
    """``log.record("gate", passed=False, reasons=[...])`` appends; ``log.events("gate")`` reads."""

    def __init__(self, path, clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock

    def record(self, event, **fields):
        """Append one event with its timestamp (epoch seconds and ISO 8601 UTC); returns it."""
        at = float(self.clock())
        entry = {"at": at, "time": datetime.fromtimestamp(at, timezone.utc).isoformat(),
                 "event": str(event), **fields}
        append_json_line(self.path, entry)
        return entry

    def events(self, event=None):
        """Every recorded event (or those of one kind), oldest first."""
        return [e for e in read_json_lines(self.path) if event in (None, e.get("event"))]

    def __len__(self):
        return len(self.events())

    def __repr__(self):
        return f"AuditLog({str(self.path)!r})"
