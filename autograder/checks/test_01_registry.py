"""Hidden checks of notebook 01 (model registry), on real files in a directory the worker shares.

Faults are real, and happen where the student's code runs: a probe in the worker forks a child
that runs the student's function under a file-size limit, or that SIGKILLs itself at the moment
the data is fsynced; a reader child polls a file while it is rewritten; eight children allocate
versions at the same moment. The probe reports exit statuses and results as data; the files they
leave are read here. Expected values are computed here, never taken from the library. What a probe
reports comes from the submission's own process, so, like any answer, a submission could forge it;
the files it leaves are checked here.
"""

import fcntl
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from autograder.checks.shared_files import read_shared

from tinytorch.core.mlops.registry.records import HEX_DIGEST  # a SHA-256 hex digest, as the registry stores it

FEW = settings(max_examples=25, deadline=None)



@pytest.fixture
def processes(probe):
    return probe


def flock_waiters(path) -> int:
    """How many processes are blocked waiting for the flock this process holds on ``path``: in
    /proc/locks a blocked request is listed under the lock it waits for, with its number and "->"."""
    inode, me = str(os.stat(path).st_ino), str(os.getpid())
    entries = [(line.replace("->", " ").split(), "->" in line) for line in Path("/proc/locks").read_text().splitlines()]
    mine = {f[0] for f, waiting in entries if not waiting and f[4] == me and f[5].rsplit(":", 1)[-1] == inode}
    return sum(waiting and f[0] in mine for f, waiting in entries)


def run_while_locked(lock_path, call, waiters):
    """Hold an exclusive flock on ``lock_path`` while ``call()`` runs in a thread, until ``waiters``
    processes are blocked on that lock (or ``call`` returned); then release it and let ``call``
    finish. Returns whether they all waited (observed, not timed) and what ``call`` returned."""
    result = []
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
        worker.start()
        deadline = time.monotonic() + 20  # only a safety net: a waiting answer gets there at once
        while worker.is_alive() and flock_waiters(lock_path) < waiters and time.monotonic() < deadline:
            time.sleep(0.01)
        waited = worker.is_alive() and flock_waiters(lock_path) >= waiters
        fcntl.flock(lock, fcntl.LOCK_UN)
    worker.join(20)
    return waited, (result or [None])[0]


# -- content_hash --------------------------------------------------------------------------------

@pytest.mark.task("content_hash")
def test_content_hash_is_sha256_hex_of_any_bytes(student):
    """content_hash(data) equals hashlib.sha256(data).hexdigest() for arbitrary bytes."""
    @FEW
    @given(st.binary(max_size=4096))
    def check(data):
        got = student.content_hash(data)
        assert got == hashlib.sha256(data).hexdigest(), (
            f"content_hash({data[:16]!r}...) returned {got!r}; expected the sha256 hex digest "
            "(hashlib.sha256(data).hexdigest())")

    check()


@pytest.mark.task("content_hash")
def test_content_hash_is_64_lowercase_hex_characters(student):
    """content_hash returns a str of 64 lowercase hex characters, not the raw digest bytes."""
    got = student.content_hash(b"tinytorch")
    assert isinstance(got, str), f"content_hash returned {type(got).__name__}; return the hex digest as a str"
    assert len(got) == 64 and got == got.lower() and all(c in "0123456789abcdef" for c in got), (
        f"content_hash returned {got!r}; expected 64 lowercase hex characters")


@pytest.mark.task("content_hash")
def test_content_hash_accepts_bytearray_and_memoryview(student):
    """content_hash accepts a bytearray or a memoryview and hashes it like the bytes it holds."""
    data = bytes(range(256)) * 4
    expected = hashlib.sha256(data).hexdigest()
    for view in (bytearray(data), memoryview(data)):
        assert student.content_hash(view) == expected, (
            f"content_hash({type(view).__name__}) differs from the hash of the same bytes; accept "
            "bytes, bytearray and memoryview")


@pytest.mark.task("content_hash")
def test_content_hash_refuses_what_is_not_bytes(student):
    """content_hash refuses text, a number and None with TypeError."""
    content_hash = student.content_hash
    for value in ["text", 42, None]:  # one check, as the statement lists it (a parametrized one counts thrice)
        try:
            content_hash(value)
        except TypeError:
            continue
        except Exception as error:  # noqa: BLE001 - the message says what was raised instead
            raise AssertionError(f"content_hash({value!r}) raised {type(error).__name__}; raise TypeError") from None
        raise AssertionError(f"content_hash({value!r}) returned a hash; refuse non-bytes with TypeError")


@pytest.mark.task("content_hash")
def test_content_hash_names_real_model_files(student, trained, private_dir):
    """content_hash gives a real model's bytes, serialized twice, one name, and the bytes with one bit flipped another."""
    from tinytorch.core.serialization import model_to_bytes

    data = model_to_bytes(trained)
    names = set()
    for _ in range(2):
        name = student.content_hash(model_to_bytes(trained))
        # a file name only once it is a hex digest: never a path the code chose (/etc/..., ../, a symlink)
        assert type(name) is str and HEX_DIGEST.fullmatch(name), (
            f"content_hash returned {name!r}; return the 64-character lowercase hex digest")
        if name not in names:
            write_new(private_dir, name, data)
        names.add(name)
    assert len(names) == 1, "the same model serialized twice got two different hashes"
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 1
    assert student.content_hash(bytes(flipped)) != names.pop(), "one flipped bit kept the same hash"
    assert len(os.listdir(private_dir)) == 1


def write_new(directory, name, data):
    """Write a new file ``name`` in the check's private ``directory``: never through a symlink, never
    onto a file that is already there."""
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# -- atomic_write_bytes --------------------------------------------------------------------------

def renames_onto(events, target):
    """The renames onto ``target``, oldest first."""
    return [e for e in events if e[0] == "rename" and e[2] == Path(os.path.realpath(target))]


def rename_onto(events, target):
    """The index of the last rename onto ``target`` and the file renamed (the write succeeded)."""
    raised = [e[1] for e in events if e[0] == "raised"]
    assert not raised, f"atomic_write_bytes raised {raised[0]}"
    renames = renames_onto(events, target)
    assert renames, ("the file was not put in place with os.replace: write a temporary file, "
                     "then os.replace(temporary, path)")
    return events.index(renames[-1]), renames[-1][1]


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_renames_a_temporary_file_in_the_same_directory(student, tmp_path, processes):
    """atomic_write_bytes writes a temporary file in the target's own directory and os.replace's it onto the target."""
    target = tmp_path / "records" / "1.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    steps = processes.steps_of(student.atomic_write_bytes, target, b"new")
    renames = renames_onto(steps, target)
    if renames:
        temporary = renames[-1][1]
        assert Path(temporary).parent == target.parent.resolve(), (
            f"the temporary file was in {Path(temporary).parent}, not in the target's directory "
            f"{target.parent}: a rename is only atomic within one file system (and fails across two)")
    _, temporary = rename_onto(steps, target)
    assert temporary != target.resolve(), "the target was renamed onto itself"


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_leaves_exact_bytes_and_no_other_files(student, scratch):
    """After atomic_write_bytes the target holds exactly the new bytes (created or replaced), and no other file is left in its directory."""
    @FEW
    @given(old=st.binary(max_size=2048), new=st.binary(max_size=2048), exists=st.booleans())
    def check(old, new, exists):
        d = scratch()
        target = d / "meta.json"
        if exists:
            target.write_bytes(old)
        student.atomic_write_bytes(target, new)
        assert read_shared(target) == new, "the file does not hold exactly the bytes written"
        assert os.listdir(d) == ["meta.json"], f"files left behind next to the target: {sorted(os.listdir(d))}"

    check()


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_fsyncs_the_data_before_the_rename(student, tmp_path, processes):
    """atomic_write_bytes fsyncs the temporary file, already holding all the new bytes (flushed), before renaming it."""
    target, data = tmp_path / "model.bin", b"weights" * 100
    steps = processes.steps_of(student.atomic_write_bytes, target, data)
    index, temporary = rename_onto(steps, target)
    sizes = [e[3] for e in steps[:index] if e[0] == "fsync" and e[2] == temporary]
    assert sizes, ("the temporary file was renamed without os.fsync on it first: after a power "
                   "cut the new name could point at a file whose bytes never reached the disk "
                   "(flush, then os.fsync(f.fileno()) before os.replace)")
    assert len(data) in sizes, (
        f"when the temporary file was fsynced it held {max(sizes)} of the {len(data)} bytes written: "
        "the rest were still in Python's buffer, so fsync made nothing durable; call f.flush() "
        "before os.fsync(f.fileno())")


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_fsyncs_the_directory_after_the_rename(student, tmp_path, processes):
    """atomic_write_bytes fsyncs the target's directory after the rename, so the rename itself is durable."""
    target = tmp_path / "model.bin"
    steps = processes.steps_of(student.atomic_write_bytes, target, b"weights")
    index, _ = rename_onto(steps, target)
    synced = [e for e in steps[index + 1:] if e[:2] == ("fsync", "dir") and e[2] == Path(os.path.realpath(tmp_path))]
    assert synced, ("the directory was not fsynced after os.replace: open it with "
                    "os.open(directory, os.O_RDONLY), os.fsync that descriptor, and close it")


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_closes_every_descriptor_it_opens(student, tmp_path, processes):
    """atomic_write_bytes closes every file descriptor it opens (the temporary file's and the directory's)."""
    left = processes.descriptors_left_open(student.atomic_write_bytes, tmp_path / "model.bin", b"weights")
    assert not left, (
        f"after atomic_write_bytes returned, descriptors it opened were still open on {left}: close the "
        "directory's descriptor after os.fsync (os.close), and do not leave mkstemp's descriptor unused "
        "(open the temporary file through it with os.fdopen); a server that leaks one per write "
        "eventually fails with 'Too many open files'")


@pytest.mark.task("atomic_write_bytes")
def test_a_write_that_fails_halfway_leaves_the_old_file(student, tmp_path, processes):
    """A write that fails halfway (file-size limit) re-raises its OSError, keeps the old file and leaves no temporary file."""
    target = tmp_path / "meta.json"
    target.write_bytes(b"old contents")
    status = processes.write_under_size_limit(student.atomic_write_bytes, target, b"x" * 200_000, 16384)
    assert status != 1, "the write could not complete (file-size limit) but no error was raised: re-raise it"
    assert status == 0, ("the write failed with OSError (file too large), but your function raised a "
                         "different error: clean up, then re-raise the original error")
    assert read_shared(target) == b"old contents", (
        "after a write failed halfway, the target no longer holds its old bytes: write to a "
        "temporary file and only replace the target once everything succeeded")
    left = sorted(p.name for p in tmp_path.iterdir() if p != target)
    assert not left, f"a failed write left files behind: {left}; remove the temporary file on any error"


@pytest.mark.task("atomic_write_bytes")
def test_a_writer_killed_before_the_rename_leaves_the_old_file(student, tmp_path, processes):
    """A writer killed with SIGKILL while it fsyncs its data (so it must call os.fsync) leaves the old file unchanged."""
    target = tmp_path / "aliases.json"
    target.write_bytes(b'{"champion": "1"}')
    status = processes.write_killed_at_fsync(student.atomic_write_bytes, target, b'{"champion": "2"}')
    assert status == -9, (
        "the data was never fsynced (os.fsync was not called), so it could be lost or torn by a crash")
    assert read_shared(target) == b'{"champion": "1"}', (
        "the target changed before the new bytes were safely on disk; a crash at that moment "
        "leaves a wrong or torn file: only os.replace the temporary file onto it after fsync")


@pytest.mark.task("atomic_write_bytes")
def test_a_concurrent_reader_never_sees_a_torn_file(student, tmp_path, processes):
    """A reader process polling the file during 30 rewrites only ever sees a whole old or new file, never an empty or torn one."""
    size = 65536
    target = tmp_path / "model.bin"
    target.write_bytes(b"A" * size)
    status = processes.torn_reads_during_rewrites(student.atomic_write_bytes, target, size, 30)
    assert status == 0, (
        "a concurrent reader saw an empty or half-written file: never truncate or write the target "
        "in place; replace it with a finished temporary file")


# -- allocate_version ----------------------------------------------------------------------------

@pytest.mark.task("allocate_version")
def test_versions_count_from_one_in_an_empty_or_missing_directory(student, tmp_path):
    """allocate_version returns "1", "2", "3" (strings) and creates 1.json, 2.json, 3.json, even when the directory does not exist yet."""
    versions = tmp_path / "models" / "digits" / "versions"
    got = [student.allocate_version(versions) for _ in range(3)]
    assert got == ["1", "2", "3"], f"three allocations in a new directory returned {got!r}, expected ['1', '2', '3']"
    assert sorted(p.name for p in versions.glob("*.json")) == ["1.json", "2.json", "3.json"], (
        "each allocated version must be reserved by creating <version>.json in the directory")


@pytest.mark.task("allocate_version")
def test_the_next_number_follows_the_largest_numeric_version(student, scratch):
    """The next version is one more than the largest all-digit version (compared as numbers); names such as "1.0.0" or "v3" do not count."""
    @FEW
    @given(st.lists(st.integers(1, 120), max_size=8),
           st.lists(st.sampled_from(["1.0.0", "2.1", "v3", "10a", "champion", "007x"]), max_size=3))
    def check(numbers, others):
        d = scratch()
        for name in [str(n) for n in numbers] + others:
            (d / f"{name}.json").write_bytes(b"{}")
        got = student.allocate_version(str(d))
        expected = str(max(numbers, default=0) + 1)
        assert got == expected, (
            f"with versions {sorted(set(map(str, numbers))) + others} the next one is {expected!r} "
            f"(compare numbers, not strings: 10 > 9), got {got!r}")

    check()


@pytest.mark.task("allocate_version")
def test_a_reserved_empty_version_is_never_handed_out_again(student, tmp_path):
    """allocate_version reserves a version as an empty <version>.json, and that empty file still counts, so its number is never handed out again."""
    first = student.allocate_version(tmp_path)
    assert first == "1", f"the first version in an empty directory is '1', got {first!r}"  # before it names a file
    assert (tmp_path / "1.json").exists(), "the allocated version was not reserved as <version>.json"
    assert read_shared(tmp_path / "1.json") == b"", "the reservation should be an empty file"
    second = student.allocate_version(tmp_path)
    assert (first, second) == ("1", "2"), f"after reserving {first!r} the next number must be '2', got {second!r}"


@pytest.mark.task("allocate_version")
def test_an_explicit_version_is_reserved_once(student, tmp_path):
    """An explicit version is reserved once; reserving it again raises FileExistsError and leaves its file unchanged."""
    assert student.allocate_version(tmp_path, "1.0.0") == "1.0.0"
    record = tmp_path / "1.0.0.json"
    assert record.exists(), "an explicit version must be reserved as <version>.json"
    record.write_bytes(b'{"metrics": {"accuracy": 0.97}}')
    with pytest.raises(FileExistsError):
        student.allocate_version(tmp_path, "1.0.0")
    assert read_shared(record) == b'{"metrics": {"accuracy": 0.97}}', (
        "reserving an existing version changed its file; versions are immutable: create with "
        "os.O_CREAT | os.O_EXCL so an existing file is never touched")
    assert student.allocate_version(tmp_path) == "1", "'1.0.0' is not a number: the first numbered version is '1'"


@pytest.mark.task("allocate_version")
def test_allocation_waits_for_the_lock_on_dot_lock(student, tmp_path):
    """allocate_version waits while another process holds the exclusive flock on <versions_dir>/.lock, and then reserves "1"."""
    allocate_version = student.allocate_version
    waited, got = run_while_locked(tmp_path / ".lock", lambda: allocate_version(tmp_path), 1)
    assert waited, ("allocate_version did not wait for the lock another process holds on "
                    "<versions_dir>/.lock: take fcntl.flock(f, fcntl.LOCK_EX) on that file before "
                    "listing the directory")
    assert got == "1", f"after the lock was released, allocation returned {got!r}, expected '1'"


@pytest.mark.task("allocate_version")
def test_allocation_closes_every_descriptor_it_opens(student, tmp_path, processes):
    """allocate_version closes every file descriptor it opens (the reserved file's and the lock file's)."""
    left = processes.descriptors_left_open(student.allocate_version, tmp_path / "versions", None)
    assert not left, (
        f"after allocate_version returned, descriptors it opened were still open on {left}: os.close the "
        "descriptor os.open returned once the empty file exists, and open the lock file in a with block; "
        "a registry that leaks one per version eventually fails with 'Too many open files'")


@pytest.mark.task("allocate_version")
def test_eight_processes_at_once_get_distinct_versions(student, tmp_path, processes):
    """8 processes allocating 25 versions each at the same moment get 200 distinct numbers, exactly 1 to 200."""
    workers, each = 8, 25
    results = processes.allocate_at_once(student.allocate_version, tmp_path / "versions", workers, each)
    errors = [r for r in results if isinstance(r, str)]
    assert not errors, (f"concurrent allocation failed in {len(errors)} of {workers} processes: "
                        f"{errors[0]} (each must hold the lock from listing to reserving, and pick "
                        "the largest number, not the largest string)")
    everyone = sorted((int(v) for mine in results for v in mine))
    duplicates = len(everyone) - len(set(everyone))
    assert not duplicates, (f"{duplicates} version numbers were handed to two processes at once: hold "
                            "an exclusive flock on <versions_dir>/.lock from listing to reserving")
    assert everyone == list(range(1, workers * each + 1)), "the 200 versions should be exactly 1..200"


# -- AliasHistory --------------------------------------------------------------------------------

def replay(operations):
    """Reference: the stack of targets per alias after ("set", alias, v) / ("rollback", alias)."""
    stacks = {}
    for op in operations:
        stack = stacks.setdefault(op[1], [])
        if op[0] == "set" and (not stack or stack[-1] != op[2]):
            stack.append(op[2])
        elif op[0] == "rollback" and len(stack) >= 2:
            stack.pop()
    return stacks


def replayed_against(AliasHistory, operations, d):
    """Apply `operations` to an AliasHistory in the directory `d` and compare every step with the
    reference replay."""
    aliases = AliasHistory(Path(d) / "aliases.jsonl")
    for k, op in enumerate(operations):
        before = replay(operations[:k]).get(op[1], [])
        if op[0] == "set":
            aliases.set(op[1], op[2])
        elif len(before) >= 2:
            got = aliases.rollback(op[1])
            assert got == before[-2], f"after {operations[:k]} rollback({op[1]!r}) returned {got!r}, expected {before[-2]!r}"
        else:
            with pytest.raises(LookupError):
                aliases.rollback(op[1])
    expected = replay(operations)
    for alias in ["champion", "challenger"]:
        want = (expected.get(alias) or [None])[-1]
        got = AliasHistory(Path(d) / "aliases.jsonl").current(alias)
        assert got == want, f"after {operations} {alias} points at {got!r}, expected {want!r}"


@pytest.mark.task("AliasHistory")
def test_aliases_survive_a_restart(student, tmp_path):
    """A new AliasHistory on the same file (a restart) sees every alias where it was left, and None for an alias never set."""
    log = tmp_path / "aliases.jsonl"
    first = student.AliasHistory(log)
    first.set("champion", "1")
    first.set("challenger", "2")
    first.set("champion", "3")
    assert log.exists() and log.stat().st_size > 0, "set() wrote nothing to the log file: record each change in it"
    restarted = student.AliasHistory(log)
    got = (restarted.current("champion"), restarted.current("challenger"), restarted.current("shadow"))
    assert got == ("3", "2", None), (
        f"after a restart current() gave champion={got[0]!r}, challenger={got[1]!r}, shadow={got[2]!r}; "
        "expected '3', '2', None: the state must come from the log file, not from memory")


@pytest.mark.task("AliasHistory")
def test_rollback_steps_back_one_target_at_a_time(student, tmp_path):
    """rollback returns each earlier target in turn and records it as the event's version, then raises LookupError (as for an alias never set) and writes nothing to the log."""
    log = tmp_path / "aliases.jsonl"
    aliases = student.AliasHistory(log)
    for version in ["1", "2", "3", "4"]:
        aliases.set("champion", version)
    got = [aliases.rollback("champion") for _ in range(3)]
    assert got == ["3", "2", "1"], f"three rollbacks from 1 -> 2 -> 3 -> 4 returned {got!r}, expected ['3', '2', '1']"
    recorded = [(e["action"], e["version"]) for e in aliases.history("champion")[-3:]]
    assert recorded == [("rollback", "3"), ("rollback", "2"), ("rollback", "1")], (
        f"the log's last three events are {recorded}: each rollback event must record the version it "
        "returns to")
    assert student.AliasHistory(log).current("champion") == "1", "after the rollbacks champion must point at '1'"
    size = log.stat().st_size
    with pytest.raises(LookupError):
        aliases.rollback("champion")
    assert log.stat().st_size == size, "a rollback that raised LookupError still wrote to the log"
    with pytest.raises(LookupError):
        aliases.rollback("never-set")


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.sampled_from(["champion", "challenger"]), st.sampled_from("12345")),
    st.tuples(st.just("rollback"), st.sampled_from(["champion", "challenger"])),
), max_size=12)


@pytest.mark.task("AliasHistory")
def test_promotions_and_rollbacks_agree_with_a_replay(student, scratch):
    """Random promotions and rollbacks on two aliases give the same rollback results and current targets as a replay of the log."""
    @FEW
    @given(OPERATIONS)
    def check(operations):
        replayed_against(student.AliasHistory, operations, scratch())

    check()


@pytest.mark.task("AliasHistory")
def test_at_answers_what_was_live_at_any_moment(student, tmp_path):
    """at(alias, t) gives the target at time t, counting the events stamped at or before t (exactly t included)."""
    aliases = student.AliasHistory(tmp_path / "aliases.jsonl")
    aliases.set("champion", "1", when=1000)
    aliases.set("challenger", "9", when=1500)
    aliases.set("champion", "2", when=2000)
    aliases.set("champion", "3", when=3000)
    rolled_back_to = aliases.rollback("champion", when=4000)
    assert rolled_back_to == "2", f"rollback from 1 -> 2 -> 3 returned {rolled_back_to!r}, expected '2'"
    times = [999, 1000, 1999.5, 2000, 3000, 3999, 4000, 10**10]
    expected = [None, "1", "1", "2", "3", "3", "2", "2"]
    got = [aliases.at("champion", t) for t in times]
    assert got == expected, (f"at('champion', t) for t = {times} gave {got}, expected {expected} "
                             "(events with at <= t count, the rollback at 4000 included)")
    assert aliases.at("challenger", 1499) is None and aliases.at("challenger", 1500) == "9"
    assert aliases.at("shadow", 10**10) is None


@pytest.mark.task("AliasHistory")
def test_set_stamps_the_current_time(student, tmp_path):
    """set and rollback without `when` stamp their event with the current time.time() (a float, seconds since the epoch)."""
    log = tmp_path / "aliases.jsonl"
    aliases = student.AliasHistory(log)
    before = time.time()
    aliases.set("champion", "1")
    aliases.set("champion", "2")
    aliases.rollback("champion")
    after = time.time()
    events = [json.loads(line) for line in read_shared(log).decode().splitlines()]
    stamps = [e.get("at") for e in events]
    assert len(events) == 3 and all(isinstance(s, float) and before - 1 <= s <= after + 1 for s in stamps), (
        f"the three changes were stamped {stamps}; without `when` each event is stamped with time.time()")
    assert aliases.at("champion", after) == "1" and aliases.at("champion", before - 5) is None


@pytest.mark.task("AliasHistory")
def test_the_log_only_ever_grows(student, tmp_path):
    """Every change appends one JSON line (alias, action, version, at) through _record, a rollback recording the version it returns to; earlier lines are never rewritten."""
    log = tmp_path / "aliases.jsonl"
    aliases = student.AliasHistory(log)
    changes = [lambda: aliases.set("champion", "1", when=1), lambda: aliases.set("challenger", "2", when=2),
               lambda: aliases.set("champion", "2", when=3), lambda: aliases.rollback("champion", when=4)]
    previous = b""
    for change in changes:
        change()
        now = read_shared(log)
        assert now.startswith(previous) and len(now) > len(previous), (
            "a change rewrote earlier lines of the log instead of appending one: use self._record")
        previous = now
    events = [json.loads(line) for line in previous.splitlines()]
    assert [(e["alias"], e["action"], e["version"], e["at"]) for e in events] == [
        ("champion", "set", "1", 1.0), ("challenger", "set", "2", 2.0),
        ("champion", "set", "2", 3.0), ("champion", "rollback", "1", 4.0)], (
        f"the log holds {events}; each change must be one event recorded with self._record "
        "(a rollback records the version it returns to)")


def champion_log(path, versions):
    """An alias log in which champion was set to each of ``versions`` in turn."""
    path.write_text("".join(json.dumps({"alias": "champion", "action": "set", "version": v, "at": float(t)}) + "\n"
                            for t, v in enumerate(versions, start=1)))


@pytest.mark.task("AliasHistory")
def test_set_waits_for_the_lock_on_the_log(student, tmp_path, processes):
    """set waits while another process holds locked(self.path) (an exclusive flock on the log file), then records its event."""
    log = tmp_path / "aliases.jsonl"
    champion_log(log, ["1"])
    versions = ["6", "7", "8", "9"]
    waited, results = run_while_locked(
        log, lambda: processes.sets_at_once(student.AliasHistory, log, "champion", versions), len(versions))
    assert waited, ("set returned while another process held the flock on the log: change the log only "
                    "inside `with locked(self.path):`")
    errors = [r for r in results if isinstance(r, str)]
    assert not errors, f"set failed in {len(errors)} of {len(versions)} processes: {errors[0]}"
    recorded = sorted(e["version"] for e in map(json.loads, read_shared(log).decode().splitlines()) if e.get("action") == "set")
    assert recorded == ["1", *versions], f"after 4 processes each set one version, the log holds the sets {recorded}"


@pytest.mark.task("AliasHistory")
def test_concurrent_rollbacks_each_take_one_step_back(student, tmp_path, processes):
    """rollback waits for locked(self.path) and reads the targets inside it: 4 processes rolling back 1 -> 2 -> 3 -> 4 -> 5 at once return 4, 3, 2 and 1, once each."""
    log = tmp_path / "aliases.jsonl"
    champion_log(log, ["1", "2", "3", "4", "5"])
    workers = 4
    waited, results = run_while_locked(
        log, lambda: processes.rollbacks_at_once(student.AliasHistory, log, "champion", workers), workers)
    assert waited, ("rollback returned while another process held the flock on the log: read the targets "
                    "and record the rollback inside one `with locked(self.path):` block")
    errors = [r for r in results if not isinstance(r, str) or not r.isdigit()]
    assert not errors, f"concurrent rollbacks failed: {errors[0]}"
    assert sorted(results) == ["1", "2", "3", "4"], (
        f"4 processes rolling back champion (1 -> 2 -> 3 -> 4 -> 5) at once returned {sorted(results)}, expected "
        "'4', '3', '2' and '1' once each: read the targets after taking locked(self.path), in the same `with` "
        "block that records the rollback, or two processes both step back from the same target")


# -- compare_metrics -----------------------------------------------------------------------------

METRICS = st.dictionaries(st.sampled_from(["accuracy", "loss", "latency_ms", "f1", "size_mb"]),
                          st.floats(-1e6, 1e6, allow_nan=False), max_size=5)


@pytest.mark.task("compare_metrics")
def test_every_metric_of_either_side_with_its_delta(student):
    """compare_metrics reports every metric of either version, sorted by name, as {"a": value_a, "b": value_b, "delta": b - a}."""
    @FEW
    @given(METRICS, METRICS)
    def check(a, b):
        got = student.compare_metrics(dict(a), dict(b))
        assert list(got) == sorted(set(a) | set(b)), (
            f"for metrics {sorted(a)} and {sorted(b)} the report has keys {list(got)}; expected every "
            "metric of either side, sorted by name")
        for key in got:
            va, vb = a.get(key), b.get(key)
            delta = vb - va if va is not None and vb is not None else None
            assert got[key] == {"a": va, "b": vb, "delta": delta}, (
                f"{key}: got {got[key]}, expected {{'a': {va}, 'b': {vb}, 'delta': {delta}}}")

    check()


@pytest.mark.task("compare_metrics")
def test_a_metric_missing_on_either_side_is_shown_as_missing(student):
    """A metric one version lacks is reported with None on that side and a None delta; two empty dicts give {}."""
    got = student.compare_metrics({"accuracy": 0.9, "latency_ms": 2.0}, {"accuracy": 0.95, "f1": 0.9})
    assert got.get("latency_ms") == {"a": 2.0, "b": None, "delta": None}, (
        f"latency_ms only on side a: got {got.get('latency_ms')}; expected a=2.0, b=None, delta=None")
    assert got.get("f1") == {"a": None, "b": 0.9, "delta": None}, (
        f"f1 only on side b: got {got.get('f1')}; expected a=None, b=0.9, delta=None")
    assert student.compare_metrics({}, {}) == {}, "two versions without metrics compare to an empty report"


@pytest.mark.task("compare_metrics")
def test_a_zero_metric_is_a_value_not_a_missing_one(student):
    """A metric whose value is 0 or 0.0 is compared like any value, not treated as missing."""
    got = student.compare_metrics({"errors": 0.0, "drops": 3}, {"errors": 5.0, "drops": 0})
    assert got["errors"] == {"a": 0.0, "b": 5.0, "delta": 5.0}, (
        f"errors 0.0 -> 5.0 gave {got['errors']}; 0.0 is a value (test `is None`, not truthiness)")
    assert got["drops"] == {"a": 3, "b": 0, "delta": -3}, f"drops 3 -> 0 gave {got['drops']}"


@pytest.mark.task("compare_metrics")
def test_the_inputs_are_left_unchanged(student):
    """compare_metrics leaves the two metric dicts passed in unchanged."""
    a, b = {"accuracy": 0.9}, {"loss": 0.1}
    student.compare_metrics(a, b)
    assert (a, b) == ({"accuracy": 0.9}, {"loss": 0.1}), f"compare_metrics changed its inputs to {a}, {b}"


@pytest.mark.task("compare_metrics")
def test_a_real_model_against_its_quantized_copy(student, trained):
    """compare_metrics gives the deltas of a real model's measured accuracy and size against its int8 copy."""
    from tinytorch.core.compression import quantize_model
    from tinytorch.core.data import load_digits

    X, y = load_digits().test
    small = quantize_model(trained)
    a = {"accuracy": float((trained.predict(X) == y).mean()), "nbytes": trained.nbytes}
    b = {"accuracy": float((small.predict(X) == y).mean()), "nbytes": small.nbytes}
    got = student.compare_metrics(a, b)
    assert got["nbytes"]["delta"] == small.nbytes - trained.nbytes < 0, (
        f"the int8 copy is {trained.nbytes - small.nbytes} bytes smaller, got delta {got['nbytes']['delta']}")
    assert got["accuracy"]["delta"] == b["accuracy"] - a["accuracy"], f"accuracy delta {got['accuracy']}"
