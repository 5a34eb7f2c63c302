"""Model registry under faults: concurrent writer processes, SIGKILL mid-write, torn logs.

Every writer here is a real separate Python process working on the same registry directory.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import ModelRegistry, VersionNotFoundError

WORKERS, PER_WORKER = 8, 50

CONCURRENT_WRITER = """
import json, os, sys, time
from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import ModelRegistry
root, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
registry = ModelRegistry(root)
model = mlp((64, 4, 10), seed=worker)
print("ready", flush=True)
while not os.path.exists(os.path.join(root, "go")):
    time.sleep(0.001)
mine = []
for i in range(count):
    record = registry.register_model(model, metrics={"worker": worker, "i": i},
                                     tags={"worker": str(worker)})
    mine.append(record.version)
    if i % 10 == 0:
        registry.set_alias("champion", record.version)
print(json.dumps(mine))
"""

ENDLESS_WRITER = """
import sys
from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import ModelRegistry
registry = ModelRegistry(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    record = registry.register_model(mlp((64, 16, 10), seed=i), metrics={"i": i})
    registry.set_alias("champion", record.version)
    if i % 3 == 2:
        registry.rollback("champion")
    i += 1
"""

# Kills itself with SIGKILL at an exact point of a registration: the n-th os.replace call
# (1: the artifact's rename, 2: the metadata's rename) or halfway through an alias-log write.
KILL_AT = """
import os, signal, sys
from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import ModelRegistry
root, point = sys.argv[1], sys.argv[2]
registry = ModelRegistry(root)
model = mlp((64, 16, 10), seed=int(sys.argv[3]))
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if point.startswith("replace"):
    calls, real_replace = [], os.replace
    def replace(src, dst):
        calls.append(dst)
        if len(calls) == int(point[-1]):
            die()
        real_replace(src, dst)
    os.replace = replace
    registry.register_model(model)
else:
    version = registry.register_model(model).version
    real_write = os.write
    def write(fd, data):
        real_write(fd, data[: len(data) // 2])
        die()
    os.write = write
    registry.set_alias("champion", version)
"""


def run_python(code, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def assert_registry_healthy(root):
    """Everything listed loads and verifies, aliases resolve, and a new version can be added.
    Returns the figures a crash left behind (counted before the probe version is added)."""
    registry = ModelRegistry(root)
    versions = registry.list_versions()
    for record in versions:
        registry.load_model(record.version)
    for alias, version in registry.aliases().items():
        assert registry.get_alias(alias).version == version
    versions_dir = root / "models" / "model" / "versions"
    reserved = [p.stem for p in versions_dir.glob("*.json") if p.stat().st_size == 0]
    temp_files = [p for p in root.rglob("*.tmp")]
    referenced = {r.sha256 for r in versions}
    orphans = [p for p in (root / "blobs").iterdir() if p.name not in referenced and p.suffix != ".tmp"]
    numbers = [int(r.version) for r in versions] + [int(v) for v in reserved]
    new = registry.register_model(mlp((64, 4, 10), seed=12345))
    assert int(new.version) == max(numbers, default=0) + 1  # numbers are never reused
    return {"versions": len(versions), "reserved": len(reserved), "temp_files": len(temp_files),
            "orphan_blobs": len(orphans)}


def test_eight_processes_registering_concurrently_get_distinct_versions(tmp_path):
    root = tmp_path / "production"
    ModelRegistry(root)
    writers = [run_python(CONCURRENT_WRITER, root, w, PER_WORKER) for w in range(WORKERS)]
    assert [w.stdout.readline().strip() for w in writers] == ["ready"] * WORKERS
    (root / "go").touch()  # all start registering at once
    results = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        results.append(json.loads(out))
    everyone = [v for mine in results for v in mine]
    assert sorted(everyone, key=int) == [str(n) for n in range(1, WORKERS * PER_WORKER + 1)]
    registry = ModelRegistry(root)
    records = {r.version: r for r in registry.list_versions()}
    assert len(records) == WORKERS * PER_WORKER
    for worker, mine in enumerate(results):
        assert [records[v].metrics for v in mine] == [{"worker": worker, "i": i}
                                                       for i in range(PER_WORKER)]
        assert {records[v].tags["worker"] for v in mine} == {str(worker)}
    assert len(list((root / "blobs").iterdir())) == WORKERS  # one blob per distinct model
    assert not list(root.rglob("*.tmp"))
    assert len(registry.alias_history("champion")) == WORKERS * PER_WORKER // 10
    assert registry.get_alias("champion").version in everyone
    for worker, mine in enumerate(results):
        registry.load_model(mine[-1])


def test_writer_killed_at_random_moments_leaves_a_loadable_registry(tmp_path):
    root = tmp_path / "production"
    rng = random.Random(0)
    for kill in range(5):  # five kills, one after another, on the same registry
        writer = run_python(ENDLESS_WRITER, root)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.5))
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        assert writer.returncode == -signal.SIGKILL
        figures = assert_registry_healthy(root)
        print(f"after kill {kill + 1}: {figures}")
    assert figures["versions"] > 0
    removed = ModelRegistry(root).collect_garbage()
    assert removed == {"temp_files": figures["temp_files"], "blobs": figures["orphan_blobs"]}
    after = assert_registry_healthy(root)
    assert after == {**figures, "versions": figures["versions"] + 1, "temp_files": 0, "orphan_blobs": 0}


@pytest.mark.parametrize("point", ["replace1", "replace2", "alias_write"])
def test_writer_killed_at_each_write_step_leaves_a_loadable_registry(tmp_path, point):
    root = tmp_path / "production"
    registry = ModelRegistry(root)
    first = registry.register_model(mlp((64, 16, 10), seed=0), metrics={"accuracy": 0.9})
    registry.set_alias("champion", first.version)
    writer = run_python(KILL_AT, root, point, 1)
    writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    figures = assert_registry_healthy(root)
    assert registry.get_version(first.version) == first
    if point == "replace2":  # version 2 was reserved, its metadata never landed
        assert figures == {"versions": 1, "reserved": 1, "temp_files": 1, "orphan_blobs": 1}
        with pytest.raises(VersionNotFoundError, match="did not finish"):
            registry.get_version("2")
        assert registry.collect_garbage() == {"temp_files": 1, "blobs": 1}
        assert assert_registry_healthy(root) == {"versions": 2, "reserved": 1, "temp_files": 0,
                                                 "orphan_blobs": 0}
    if point == "alias_write":  # the alias log ends in half a line, which is skipped
        assert registry.aliases() == {"champion": first.version}
        registry.set_alias("champion", "2")
        assert registry.rollback("champion").version == first.version
