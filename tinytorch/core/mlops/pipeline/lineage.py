"""The run log: every pipeline step's inputs, outputs and timing, kept in the registry.

``<registry>/runs/<run_id>.json`` holds the records of one pipeline run, rewritten atomically
after each step (a crash leaves the previous complete log). Every version the run registers is
tagged ``pipeline_run=<run_id>``, so "how was version 7 made?" is one lookup: the version's tag
names the run, the run log lists the steps that produced it.
"""

import json
from dataclasses import asdict
from pathlib import Path

from tinytorch.core.mlops.registry import atomic_write_bytes


class RunLog:
    """Append-only list of step records of one run, persisted under the registry root."""

    def __init__(self, registry_root, run_id):
        self.path = Path(registry_root) / "runs" / f"{run_id}.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.entries = []

    def append(self, group, records, **details):
        """Add the records of one pipeline call (``group``: train, compress, deploy, ...)."""
        self.entries.append({"group": group, **details,
                             "steps": [asdict(record) for record in records]})
        payload = {"run_id": self.run_id, "entries": self.entries}
        atomic_write_bytes(self.path, json.dumps(payload, indent=1, default=str).encode())

    @staticmethod
    def load(registry_root, run_id):
        path = Path(registry_root) / "runs" / f"{run_id}.json"
        if not path.exists():
            raise FileNotFoundError(f"no run log {path}: the run id comes from a version's "
                                    "'pipeline_run' tag")
        return json.loads(path.read_bytes())
