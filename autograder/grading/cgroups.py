"""A cgroup per job slot: the memory and processes of all the slot's workers together are capped.

Per-process limits (``autograder.grading.sandbox.Limits``) cannot stop a submission that forks many large
processes; a cgroup can. A root grader makes, for each job slot, a group with two children:

- ``judge``: the slot's judge (put there by the root grader before it runs any code), no limits;
- ``workers``: every worker the judge starts (each joins it before bwrap runs: see ``join``),
  with ``memory.max`` (no swap) and ``pids.max``. Out of memory, the kernel ends processes of this
  group only (cgroup v2: the whole group, ``memory.oom.group``); the judge then reports the lost
  worker as a failed check ("memory exhausted?"), as for any worker that ends.

The judge's user may write the two groups' ``cgroup.procs`` (and, cgroup v2, the slot group's, their
common ancestor), so a judge that runs as the slot's user can move its workers in, and nothing else.

cgroup v2 (memory and pids controllers available to this process's group) is used where present,
else cgroup v1's ``memory`` and ``pids`` hierarchies. Under cgroup v2's "no internal processes"
rule, a group that holds processes cannot give its children controllers: a grader whose group holds
only itself moves into a leaf (``GRADER_LEAF``) and makes the slot groups beside it; one that shares
its group with other processes gets no slot groups. Without root, or without the controllers, there
are no slot groups (``unavailable`` says why) and memory stays capped per process only.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

V2_MOUNTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))  # hybrid systems first
V1_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
GRADER_LEAF = "tinytorch-grader"
JOIN_ENV = "TINYTORCH_SANDBOX_CGROUP"  # the workers group's cgroup.procs files, os.pathsep-separated
MEMORY_ENV = "TINYTORCH_SLOT_MEMORY"  # bytes for all of one slot's workers together


def own_path(controller: str) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` ("" = cgroup v2), relative."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == controller or controller in controllers.split(","):
            return path.lstrip("/")
    raise OSError(f"no {controller or 'v2'} cgroup")


def slot_memory_bytes(default: int) -> int:
    value = os.environ.get(MEMORY_ENV)
    if not value:
        return default
    if not value.isdigit() or int(value) < 2**27:
        raise ValueError(f"{MEMORY_ENV}={value!r}: give the memory of one slot's workers in bytes, at least "
                         f"{2**27} (128 MiB), e.g. {MEMORY_ENV}={6 * 2**30}")
    return int(value)


def _v2_base() -> tuple[Path | None, str]:
    """The v2 group slot groups are made in (its subtree has memory and pids), or why there is none."""
    for mount in V2_MOUNTS:
        if not (mount / "cgroup.controllers").exists():
            continue
        own = mount / own_path("")
        if not set(CONTROLLERS) <= set((own / "cgroup.controllers").read_text().split()):
            continue  # a hybrid system's v2 hierarchy without them: try v1
        if own.name == GRADER_LEAF:  # an earlier grader process made the leaf: its parent is ready
            return own.parent, ""
        enabled = set((own / "cgroup.subtree_control").read_text().split())
        if set(CONTROLLERS) <= enabled:
            return own, ""
        others = [pid for pid in (own / "cgroup.procs").read_text().split() if int(pid) != os.getpid()]
        if others:
            return None, (f"cgroup {own} holds other processes ({len(others)}), so it cannot give slot groups "
                          "the memory controller; run the grader in a cgroup of its own (e.g. systemd-run "
                          "--scope -p Delegate=yes)")
        leaf = own / GRADER_LEAF
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (own / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS))
        return own, ""
    return None, "no cgroup v2 hierarchy offers the memory and pids controllers"


def _v1_bases() -> tuple[list[Path], str]:
    bases = []
    for controller in CONTROLLERS:
        try:
            base = V1_ROOT / controller / own_path(controller)
        except OSError:
            return [], f"no cgroup v1 {controller} hierarchy either"
        if not (base / "cgroup.procs").exists():
            return [], f"the cgroup v1 {controller} hierarchy is not mounted at {V1_ROOT / controller}"
        bases.append(base)
    return bases, ""


_WHY_NOT: str | None = None


def unavailable() -> str:
    """Why this grader makes no slot groups ("" when it does)."""
    global _WHY_NOT
    if _WHY_NOT is None:
        if os.geteuid() != 0:
            _WHY_NOT = "the grader is not root"
        else:
            try:
                base, why_v2 = _v2_base()
                if base is None:
                    bases, why_v1 = _v1_bases()
                    _WHY_NOT = "" if bases else f"{why_v2}; {why_v1}"
                else:
                    _WHY_NOT = ""
            except OSError as error:
                _WHY_NOT = f"cgroups could not be prepared: {error}"
    return _WHY_NOT


class SlotGroup:
    """The cgroups of one job slot (one directory per hierarchy: cgroup v2 one, v1 memory and pids)."""

    def __init__(self, directories: list[Path], v2: bool):
        self.directories, self.v2 = directories, v2

    @classmethod
    def make(cls, slot: str, uid: int, memory_bytes: int, processes: int) -> "SlotGroup | None":
        """The group of ``slot`` (a name unique to the grading directory and the slot's number: two
        gradings with different grading directories never share, or clean up, each other's group),
        its workers limited to ``memory_bytes`` and ``processes`` and its two children writable by
        ``uid``; None where cgroups are unavailable (``unavailable``)."""
        if unavailable():
            return None
        name = f"tinytorch-slot-{slot}"
        base, _ = _v2_base()
        group = cls([base / name], True) if base is not None else cls([b / name for b in _v1_bases()[0]], False)
        group.remove()  # a crashed grader's group of this slot
        for directory in group.directories:
            directory.mkdir()
            if group.v2:
                (directory / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS))
            for child in ("judge", "workers"):
                (directory / child).mkdir()
                os.chown(directory / child / "cgroup.procs", uid, uid)
            if group.v2:
                os.chown(directory / "cgroup.procs", uid, uid)  # the common ancestor of judge and workers
        workers = [d / "workers" for d in group.directories]
        if group.v2:
            (workers[0] / "memory.max").write_text(str(memory_bytes))
            if (workers[0] / "memory.swap.max").exists():  # absent without swap accounting
                (workers[0] / "memory.swap.max").write_text("0")
            (workers[0] / "memory.oom.group").write_text("1")
            (workers[0] / "pids.max").write_text(str(processes))
        else:
            memory, pids = workers
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no swap either
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            (pids / "pids.max").write_text(str(processes))
        return group

    def procs(self, child: str) -> list[str]:
        """The ``cgroup.procs`` files a process writes itself ("0") into to join ``child``."""
        return [str(d / child / "cgroup.procs") for d in self.directories]

    def memory(self) -> Path:
        return self.directories[0] / "workers"

    def remove(self) -> None:
        """Kill every process in the slot's groups and remove them."""
        for directory in self.directories:
            if not directory.is_dir():
                continue
            for child in ("workers", "judge"):
                _kill_all(directory / child)
                _rmdir(directory / child)
            _rmdir(directory)


def join(procs_files: list[str]) -> None:
    """Move the calling process into a group (``SlotGroup.procs``): in a new process, before it runs
    anything else."""
    for path in procs_files:
        with open(path, "w") as f:
            f.write("0")


def _kill_all(group: Path) -> None:
    if not group.is_dir():
        return
    if (group / "cgroup.kill").exists():
        (group / "cgroup.kill").write_text("1")
        return
    for _ in range(100):  # cgroup v1: no cgroup.kill; a forking process may add more until it is killed
        try:
            pids = (group / "cgroup.procs").read_text().split()
        except FileNotFoundError:  # removed meanwhile: nothing left in it
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _rmdir(directory: Path) -> None:
    for _ in range(100):  # the killed processes may still be exiting
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    raise OSError(f"cgroup {directory} could not be removed: processes still in it")
