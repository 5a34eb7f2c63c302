# %% [markdown]
# # Module 01: a model registry you can trust
#
# A team ships a model on Friday. On Monday a customer complains, and three questions decide how
# bad the week gets: *which model was serving on Saturday? Are its bytes still the ones we tested?
# How fast can we put the previous one back?* A **model registry** answers them. MLflow's is the
# one most teams know: a registered model has numbered, immutable **versions**, and **aliases**
# such as `champion` and `challenger` point at versions (`models:/digits@champion`).
#
# Its users' long-standing complaints show where the hard parts are: nobody can tell which version
# held an alias last week (MLflow issue #2169, open since 2019), and the file back end races when
# two jobs register at once (#5222). This notebook builds a registry on plain files that has
# neither problem, and is safe when a process is killed halfway through a write.
#
# **Objectives.** After this notebook you can
# - name an artifact by the sha256 of its bytes, and explain why that gives deduplication and
#   tamper detection for free;
# - write a file so that readers and crashes only ever see the old or the new version;
# - allocate version numbers under a lock so that concurrent processes never collide;
# - keep aliases as an append-only event log, so that rollback and "what was live on date X?"
#   are a replay of that log;
# - compare two versions before promoting one, without hiding what is missing.
#
# **You will build** five pieces, each the same code the `tinytorch.core.mlops.registry` library
# runs: `content_hash`, `atomic_write_bytes`, `allocate_version`, `AliasHistory` (its core
# methods) and `compare_metrics`.
#
# **How this is graded** (the same in every notebook). Each task has a visible test (run it) and
# hidden checks that run when your notebook is graded, on real files. A task whose visible test
# fails scores 0 and its hidden checks do not run; otherwise the hidden checks its statement
# lists decide its points. Tasks do not depend on each other.
#
# **Build, use, export.** After a task's test passes, run the `export(...)` cell below it: from
# then on your `tinytorch` runs your code, here, after a restart and in later notebooks. The
# library's `ModelRegistry` is complete except for your five pieces, so the cells that use it run
# on exactly what you built; until a piece is exported they stop with a message naming the task.

# %% provided id=setup
# Set-up. Binder and a laptop: the student repository's requirements.txt has installed its
# tinytorch, whose graded functions run the answers you export. Colab: this installs that
# tinytorch from the student repository (about a minute).
# Keep the course's notebooks together in one folder: in Colab your Drive's "Colab Notebooks"
# (where "Save a copy in Drive" puts them; allow Drive access when asked), in Binder the folder
# of this notebook (download each finished notebook and upload it again in a new session).
# Your exports are saved beside them in tinytorch-answers/, and `start` rebuilds a piece you did
# not export from your earlier notebook there.
import importlib.util, subprocess, sys
if importlib.util.find_spec("tinytorch") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "tinytorch-mlops @ git+{{REPOSITORY_URL}}"])
from tinytorch.export import export, start

start("01_registry")

import hashlib, os, tempfile
from pathlib import Path

# %% [markdown]
# ## 0. What the registry stores
#
# The models are real: a digits classifier (8x8 images of handwritten digits, ten classes)
# trained in a second, and an int8-quantized copy of it.

# %% code
import time

from tinytorch.core.compression import quantize_model
from tinytorch.core.data import load_digits
from tinytorch.core.mlops.registry import ModelRegistry
from tinytorch.core.training import train_digits_classifier

workdir = Path(tempfile.mkdtemp(prefix="registry-"))
digits = load_digits()
X_test, y_test = digits.test


def accuracy(model):
    return float((model.predict(X_test) == y_test).mean())


model, history = train_digits_classifier(hidden=(32,), epochs=6, seed=0)
small = quantize_model(model)
print(f"float32 model: accuracy {accuracy(model):.3f}; int8 copy: accuracy {accuracy(small):.3f}")

# %% [markdown]
# Each registration stores the model's bytes once, under their hash, and writes an immutable
# version record with metrics, lineage and the model's signature (input shape and dtype, checked
# on load). On disk it is nothing but files:
#
# ```
# production/blobs/<sha256>                    the model's bytes, named by their hash, stored once
# production/models/model/versions/<v>.json    one immutable record per version
# production/models/model/aliases.jsonl        every alias change ever made, one JSON line each
# production/models/model/ledger.jsonl         a hash-chained seal of each record: edits are caught
# ```
#
# ## 1. Content addressing
#
# The registry names each artifact by the **sha256 of its bytes**. Two things follow for free:
# - **deduplication**: registering identical weights twice (a retry, a re-run of the same
#   pipeline) stores one file; W&B Artifacts creates a new version only when the checksum changes;
# - **integrity**: on load, hash the bytes again; if the result differs from the recorded name, the
#   file was corrupted or tampered with, and the registry refuses to serve it.
#
# sha256 maps any input to 256 bits; finding two inputs with the same hash is computationally
# infeasible (about $2^{128}$ work by the birthday bound). Python's built-in `hash()` is no
# substitute: it is salted per process, so the "same" bytes get a different number after a
# restart.
#
# **Task 1 (2 points).** Implement `content_hash(data)`: the sha256 of `data` as 64 lowercase hex
# characters, refusing anything that is not bytes with a `TypeError` that says to encode text
# first (`bytearray` and `memoryview` are bytes too).

# %% solution id=content_hash
#| solution tinytorch.core.mlops.registry.storage:content_hash

# %% test id=content_hash points=2
assert content_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", \
    f"sha256 of no bytes, as 64 lowercase hex characters; got {content_hash(b'')!r}"
assert content_hash(b"tinytorch") == hashlib.sha256(b"tinytorch").hexdigest(), "the hex digest of sha256, nothing added"
assert content_hash(bytearray(b"tinytorch")) == content_hash(b"tinytorch"), "bytearray is bytes too"
assert content_hash(b"weights") != content_hash(b"weightz"), "one changed byte changes the name"
try:
    content_hash("some text")
    raise AssertionError("text must be refused with TypeError: encode it first")
except TypeError:
    pass
print("content_hash: visible checks passed")

# %% code
export("01_registry", content_hash)

# %% [markdown]
# Your `content_hash` on the two models' weights: the same weights always get the same name, and
# the quantized copy another one.

# %% code
from tinytorch.core.serialization import model_to_bytes

for label, m in [("float32", model), ("float32 again", model), ("int8", small)]:
    print(f"{label:>14}: {content_hash(model_to_bytes(m))[:16]}...")


# %% [markdown]
# ## 2. Atomic writes
#
# `open(path, "wb").write(data)` is three steps: truncate the file, write the bytes, and (some
# time later) the kernel puts them on disk. A process killed between the steps leaves an empty or
# half-written file; a reader running at the same moment sees the same. For a version record or
# an alias file that is a registry that no longer loads.
#
# The fix every database and package manager uses: write the new bytes to a **temporary file in
# the same directory**, `fsync` it, then `os.replace` it onto the real name. On POSIX the rename
# is atomic: any reader sees the old file or the new one, never a mix. It must be the same
# directory because a rename is only atomic within one file system. Finally `fsync` the
# *directory*, because the rename itself is a change to the directory that a power cut could lose.
#
# First the problem, measured: a reader process reads a 64 KB file in a loop while this kernel
# rewrites it, alternating all-`A` and all-`B` contents. Every read that is neither is a torn read.

# %% code
READER = """
import os, sys
path, size, done = sys.argv[1], int(sys.argv[2]), sys.argv[3]
reads = torn = 0
while not os.path.exists(done):
    with open(path, "rb") as f:
        data = f.read()
    reads += 1
    torn += not (len(data) == size and data.count(data[:1]) == size)
print(reads, torn)
"""


def torn_reads(write, size=65536, writes=40):
    path, done = workdir / f"torn-{write.__name__}.bin", workdir / f"done-{write.__name__}"
    path.write_bytes(b"A" * size)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(size), str(done)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.1)  # let the reader start
    try:
        for i in range(writes):
            write(path, (b"B" if i % 2 == 0 else b"A") * size)
    finally:
        done.touch()
    reads, torn = map(int, reader.communicate()[0].split())
    return reads, torn


def plain_write(path, data):
    with open(path, "wb") as f:
        f.write(data)


reads, torn = torn_reads(plain_write)
print(f"plain_write: {torn:4d} torn reads out of {reads} reads during 40 rewrites")

# %% [markdown]
# **Task 2 (3 points).** Implement `atomic_write_bytes(path, data)` following the four steps in
# its docstring. On any error, remove the temporary file and re-raise, leaving `path` untouched.
# The hidden checks run on real files: a write that hits the file-size limit halfway, a process
# killed while it fsyncs, a reader polling the file while it is rewritten.

# %% solution id=atomic_write_bytes
#| solution tinytorch.core.mlops.registry.storage:atomic_write_bytes

# %% test id=atomic_write_bytes points=3
with tempfile.TemporaryDirectory() as d:
    target = Path(d) / "record.json"
    atomic_write_bytes(target, b'{"version": "1"}')
    atomic_write_bytes(str(target), b'{"version": "2"}')
    assert target.read_bytes() == b'{"version": "2"}', "the second write replaces the first"
    assert os.listdir(d) == ["record.json"], f"temporary files left behind: {os.listdir(d)}"
    folder = Path(d) / "a_folder"
    folder.mkdir()
    try:  # os.replace cannot put a file onto a folder: the write fails after the temporary file exists
        atomic_write_bytes(folder, b"x")
        raise AssertionError("writing onto a folder must fail (os.replace raises IsADirectoryError)")
    except OSError:
        pass
    left = sorted(os.listdir(d))
    assert left == ["a_folder", "record.json"], f"a failed write must remove its temporary file; the folder holds {left}"
print("atomic_write_bytes: visible checks passed")

# %% code
export("01_registry", atomic_write_bytes)

# %% [markdown]
# The same measurement with your `atomic_write_bytes`:

# %% code
reads, torn = torn_reads(atomic_write_bytes)
print(f"atomic_write_bytes: {torn:4d} torn reads out of {reads} reads during 40 rewrites")

# %% [markdown]
# ## 3. Allocating version numbers
#
# Like MLflow, the registry numbers versions `1, 2, 3, ...` per model: one more than the largest
# so far. Two training jobs that finish at the same moment both list the directory, both see `7`,
# both write `8.json`, and one model silently replaces the other; the job that "registered
# version 8" later deploys someone else's model. Here is that race, measured: three processes each
# register 40 versions into one directory at the same moment, by "list, take the maximum, write".
# (After the task, the same race runs with your `allocate_version`.)

# %% code
ALLOCATOR = """
import os, sys, time
from pathlib import Path
directory, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "locked":
    from tinytorch.core.mlops.registry import allocate_version
directory.mkdir(parents=True, exist_ok=True)
print("ready", flush=True)
while not (directory.parent / "go").exists():  # everyone starts at the same moment
    time.sleep(0.001)
mine = []
for _ in range(40):
    if mode == "locked":
        version = allocate_version(directory)
    else:
        numbers = [int(p.stem) for p in directory.glob("*.json") if p.stem.isdigit()]
        version = str(max(numbers, default=0) + 1)
    (directory / f"{version}.json").write_text(str(os.getpid()))
    mine.append(version)
print(os.getpid(), *mine)
"""

def race(mode, processes=3):
    """Start ``processes`` allocators at the same moment; report how many registrations survived."""
    directory = workdir / f"race-{mode}"
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATOR, str(directory), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    ready = [p.stdout.readline() == "ready\n" for p in procs]
    (workdir / "go").touch()
    outputs = [p.communicate() for p in procs]
    (workdir / "go").unlink()
    failed = [err for (out, err), p in zip(outputs, procs) if p.returncode or not all(ready)]
    if failed:
        raise RuntimeError(failed[0].strip().splitlines()[-1])
    claims = [out.split() for out, _ in outputs]
    kept = sum((directory / f"{v}.json").read_text() == pid for pid, *mine in claims for v in mine)
    print(f"{mode:>9}: {sum(len(c) - 1 for c in claims)} registrations reported success, "
          f"{kept} of them still hold their own model")


race("unlocked")

# %% [markdown]
# **Task 3 (4 points).** Implement `allocate_version(versions_dir, version=None)`. Hold an
# exclusive `fcntl.flock` on `<versions_dir>/.lock` while you list, pick and reserve; reserve with
# an exclusive create (`os.O_CREAT | os.O_EXCL`) of an empty `<version>.json`. Only names that are
# all digits are numbers ("1.0.0" is not; "10" comes after "9"). An empty file is a reserved
# version and counts, so a number is never handed out twice, even if its registration died.

# %% solution id=allocate_version
import fcntl

#| solution tinytorch.core.mlops.registry.versions:allocate_version

# %% test id=allocate_version points=4
with tempfile.TemporaryDirectory() as d:
    versions = Path(d) / "versions"
    assert [allocate_version(versions) for _ in range(3)] == ["1", "2", "3"]
    assert (versions / "3.json").exists(), "the version is reserved by creating <version>.json"
    assert allocate_version(versions, "1.0.0") == "1.0.0", "a version asked for by name is reserved and returned as given"
    (versions / "9.json").touch()
    assert allocate_version(versions) == "10", "after 9 comes 10, and '1.0.0' is not a number"
    try:
        allocate_version(versions, "1.0.0")
        raise AssertionError("an existing version must raise FileExistsError")
    except FileExistsError:
        pass
print("allocate_version: visible checks passed")

# %% code
export("01_registry", allocate_version)

# %% [markdown]
# The race again, now with your exported `allocate_version` (each process imports it from your
# `tinytorch`):

# %% code
race("locked")

# %% [markdown]
# Hashing, atomic writes and version numbers are everything `register_model` needs, so the
# library's registry now runs on your code. Registering the same weights again stores no new
# file, and a single flipped byte in the stored artifact is caught on load.

# %% code
from tinytorch.core.mlops.registry import ArtifactIntegrityError

registry = ModelRegistry(workdir / "production")
v1 = registry.register_model(model, version="1.0.0", metrics={"accuracy": accuracy(model)},
                             config={"hidden": 32, "epochs": 6}, training_data=digits.train)
v2 = registry.register_model(small, version="2.0.0", parent_version="1.0.0",
                             metrics={"accuracy": accuracy(small)}, training_data=digits.train,
                             config={"hidden": 32, "epochs": 6, "quantized": "int8"})
v3 = registry.register_model(model, version="3.0.0", metrics={"accuracy": accuracy(model)})
print("lineage of 2.0.0:", v2.lineage)
print("artifact of 2.0.0:", v2.sha256[:16], "...", v2.size_bytes, "bytes")
blobs = sorted(p.name[:12] for p in (workdir / "production" / "blobs").iterdir())
print(f"3 versions, {len(blobs)} artifact files: {blobs}  (3.0.0 shares 1.0.0's bytes)")

tampered = workdir / "tampered"
copy = ModelRegistry(tampered)
record = copy.register_model(model, version="1")
blob = tampered / "blobs" / record.sha256
data = bytearray(blob.read_bytes())
data[len(data) // 2] ^= 0x01  # one bit, in the middle of the weights
blob.write_bytes(bytes(data))
try:
    copy.load_model("1")
except ArtifactIntegrityError as error:
    print("load refused:", error)

# %% [markdown]
# ## 4. Aliases with history
#
# Deployment code should not hard-code "version 7": it asks for `models:/digits@champion`, and
# promoting a model means moving the alias. MLflow stores an alias as a plain pointer, so once it
# moves nobody can say what it pointed at before. Here an alias is an **append-only event log**,
# one JSON line per change, never rewritten:
#
# ```
# {"alias": "champion", "action": "set",      "version": "3", "at": 1700000000.0}
# {"alias": "champion", "action": "rollback", "version": "2", "at": 1700003600.0}
# ```
#
# The current state is a *replay* of the log: `targets` (given below) turns one alias's events into
# the stack of versions it has pointed at, the top being the current one. A `set` pushes, a
# `rollback` pops, so rolling back twice walks back two promotions. And because every event
# carries its time, "what was live at time $t$?" is the same replay over the events with
# $\text{at} \le t$. (Event sourcing, as in a database's write-ahead log or Git's reflog.)
#
# The storage helpers are given: `locked` (an exclusive `flock` held for a `with` block),
# `append_json_line` (one whole line per `write`, fsynced) and `read_json_lines` (skips a line a
# crash left torn).

# %% provided id=alias_storage
import fcntl, json, time
from contextlib import contextmanager

#| provided tinytorch.core.mlops.registry.storage:locked


#| provided tinytorch.core.mlops.registry.storage:append_json_line


#| provided tinytorch.core.mlops.registry.storage:read_json_lines

# %% [markdown]
# **Task 4 (4 points).** Complete `set`, `current`, `at` and `rollback` of `AliasHistory`; the other
# methods are given, read them first (`history`, `_record` and `targets` are all you need). Change
# the log only while holding `locked(self.path)`, and only through `_record`; `rollback` reads
# the targets inside that lock too, and its event records the version it returns to. `rollback`
# raises `LookupError` (and records nothing) when there is no earlier target. `at(alias, t)`
# counts the events stamped at or before `t`. The hidden checks hold the lock from another
# process and run several processes at once.

# %% solution id=AliasHistory
#| solution tinytorch.core.mlops.registry.aliases:AliasHistory methods=set,current,at,rollback

# %% test id=AliasHistory points=4
with tempfile.TemporaryDirectory() as d:
    log = Path(d) / "aliases.jsonl"
    aliases = AliasHistory(log)
    assert aliases.current("champion") is None, "an alias never set points at nothing"
    aliases.set("champion", "1", when=100)
    aliases.set("champion", "2", when=200)
    aliases.set("challenger", "3", when=250)
    aliases.set("champion", "3", when=300)
    assert AliasHistory(log).current("champion") == "3", "a new instance (a restart) reads the log"
    assert aliases.rollback("champion", when=400) == "2", "rollback returns the previous target"
    assert aliases.current("champion") == "2" and aliases.current("challenger") == "3", \
        "after the rollback champion points at 2; challenger is untouched"
    assert [aliases.at("champion", t) for t in (99, 100, 250, 300, 400)] == [None, "1", "2", "3", "2"]
    assert aliases.rollback("champion", when=500) == "1"
    try:
        aliases.rollback("champion")
        raise AssertionError("no earlier target: rollback must raise LookupError")
    except LookupError:
        pass
    assert len(log.read_text().splitlines()) == 6, "6 changes, 6 lines: the failed rollback records nothing"
print("AliasHistory: visible checks passed")

# %% code
export("01_registry", AliasHistory)

# %% [markdown]
# ## 5. Comparing versions before promoting one
#
# A promotion decision reads a comparison: metric by metric, how does the candidate differ from
# the champion? The easy bug is to compare only the metrics both versions report. If the
# candidate's pipeline stopped logging `latency_p99`, a report that silently drops the row shows
# nothing but improvements. A missing metric must appear, as missing.
#
# **Task 5 (2 points).** Implement `compare_metrics(a, b)`. Every metric of either side appears,
# sorted by name, as `{"a": value_a, "b": value_b, "delta": b - a}`; a side without the metric
# gets `None`, and so does the delta. A metric whose value is `0.0` is present, not missing.
# Leave the two dicts passed in unchanged.

# %% solution id=compare_metrics
#| solution tinytorch.core.mlops.registry.compare:compare_metrics

# %% test id=compare_metrics points=2
report = compare_metrics({"accuracy": 0.90, "loss": 0.3}, {"accuracy": 0.95, "latency_ms": 1.2})
assert list(report) == ["accuracy", "latency_ms", "loss"], "every metric of either side, sorted"
assert report["accuracy"]["a"] == 0.90 and report["accuracy"]["b"] == 0.95, f"a and b are the two values: {report['accuracy']}"
assert abs(report["accuracy"]["delta"] - 0.05) < 1e-12, "delta is b - a"
assert report["latency_ms"] == {"a": None, "b": 1.2, "delta": None}, "missing on side a"
assert report["loss"] == {"a": 0.3, "b": None, "delta": None}, "missing on side b"
assert compare_metrics({"errors": 0.0}, {"errors": 2.0})["errors"]["delta"] == 2.0, "0.0 is a value"
print("compare_metrics: visible checks passed")

# %% code
export("01_registry", compare_metrics)

# %% [markdown]
# With your `AliasHistory` and `compare_metrics` exported, the library's registry is all yours. It
# keeps exactly the alias log of section 4 per model. Below, five real models: a small
# network, a bigger one, its quantized copy, a regression (a run stopped after one epoch), and a
# retrained one. The champion is promoted each time a better model arrives; the regression is
# promoted by mistake and rolled back. The left panel shows accuracy by version (ringed: ever
# champion; starred: champion now); the right panel replays the champion's log.
#
# Then `compare_models`, which combines your metric deltas with the parameters that differ, the
# artifact sizes and measured latency; `search_versions` filters by tag and metric, as MLflow's
# `search_model_versions` does. Deleting a version removes the aliases that pointed at it, and the
# alias log records that too.

# %% code
%matplotlib inline
from IPython.display import display

from tinytorch.core.mlops.registry import plot_version_metrics

digits_registry = ModelRegistry(workdir / "digits-registry", default_name="digits")
runs = [("small", dict(hidden=(16,), epochs=3, seed=0)), ("bigger", dict(hidden=(64,), epochs=6, seed=0))]
for label, config in runs:
    m, _ = train_digits_classifier(**config)
    digits_registry.register_model(m, metrics={"accuracy": accuracy(m)}, config=config, tags={"run": label})
    digits_registry.set_alias("champion", digits_registry.latest_version().version)
q = quantize_model(m)
digits_registry.register_model(q, parent_version="2", metrics={"accuracy": accuracy(q)},
                               config={**config, "quantized": "int8"}, tags={"run": "int8"})
digits_registry.set_alias("challenger", "3")

bad, _ = train_digits_classifier(hidden=(64,), epochs=1, seed=1)
digits_registry.register_model(bad, metrics={"accuracy": accuracy(bad)}, tags={"run": "one epoch"})
digits_registry.set_alias("champion", "4")          # promoted without looking
before_rollback = time.time()
time.sleep(0.01)
digits_registry.rollback("champion")               # the on-call engineer undoes it
good, _ = train_digits_classifier(hidden=(64,), epochs=8, seed=2)
digits_registry.register_model(good, metrics={"accuracy": accuracy(good)}, tags={"run": "retrained"})
digits_registry.set_alias("champion", "5")

print("aliases now:", digits_registry.aliases())
print("champion just before the rollback:", digits_registry.alias_at("champion", before_rollback))
display(plot_version_metrics(digits_registry, "digits", "accuracy"))

print(registry.compare_models("1.0.0", "2.0.0", sample=X_test[:64]))
print()
print(digits_registry.compare_models("2", "3", sample=X_test[:64]))
print()
print("accuracy >= 0.9:", [r.version for r in digits_registry.search_versions(metrics="accuracy>=0.9")])
print("deleting 3 removes its aliases:", digits_registry.delete_version("3"), "->", digits_registry.aliases())

# %% [markdown]
# Names become paths, so the registry refuses names that could leave its directory, with an error
# that says what to do instead:

# %% code
from tinytorch.core.mlops.registry import InvalidNameError

for hostile in ["../../etc/passwd", "/tmp/x", "", "a/b"]:
    try:
        ModelRegistry(workdir / "names").register_model(model, name=hostile)
    except InvalidNameError as error:
        print(f"{hostile!r:>20}: {error}")

# %% [markdown]
# ## Systems thinking (written answer, 2 points)
#
# Answer **two** of these questions in the answer cell below, a short paragraph each. Your
# instructor grades it by hand: a point for each answer that names the mechanism at work and
# what it costs.
#
# 1. `allocate_version` uses an advisory `flock`. What happens if one writer on the same directory
#    does not take the lock? Would it still be safe on NFS, or on an object store such as S3,
#    where there is no rename and no `flock`? What do MLflow's database back ends use instead?
# 2. The alias log grows forever. After a million promotions, `current` replays a million lines.
#    How would you bound that cost without losing the history (think of database checkpoints)?
# 3. A killed registration leaves a reserved, empty `<v>.json` and maybe an artifact no version
#    references. Why is it better never to reuse that number than to clean it up and hand it out
#    again? What must a garbage collector be careful about while other writers are running?
# 4. Content addressing deduplicates identical bytes. Two trainings with the same seed and data on
#    different machines may still produce different bytes. Why, and does it matter?
# 5. `rollback` returns to the *previous target* of the alias. When is that not the version you
#    want to serve (think of a deleted version, or a champion whose data has since drifted)?

# %% answer id=systems_thinking points=2
# Grading guide (instructors only; the release shows YOUR ANSWER HERE). 1 point per answer, at most 2:
# the answer names the mechanism and what it costs or risks. For example: 1. a writer without the
# lock can allocate the same version (lost update); NFS locks are unreliable and object stores
# need a conditional put or a database transaction. 2. periodic snapshots of the current state plus
# the log since the snapshot. 3. a reused number can point two readers at different bytes; a
# collector must never delete what a writer has reserved but not yet published. 4. nondeterministic
# floating-point order, library versions, threads; bytes differ, so reproducibility needs metadata.
# 5. the previous target may be deleted, or stale for today's data: roll back to a named version.

# %% code
# Submit: save this notebook (File > Save, or Ctrl-S), then run this cell. It runs the notebook
# from the top in a fresh kernel, as the grader will, lists what the grader would find wrong,
# and writes the file to upload, whatever your copy is called (in Colab it is downloaded too):
# submission/01_registry.ipynb
# From a terminal: python -m tinytorch.submission "Copy of 01_registry.ipynb"
from tinytorch.submission import check_and_package

check_and_package("01_registry")
