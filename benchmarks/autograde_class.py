"""Autograde a synthetic class sequentially and in parallel, round after round: CPU per student,
wall times, and every score equal.

The same synthetic submissions (half full solutions, half with some tasks left as released) are
written into a scratch course once; each phase grades a fresh copy of it. Rounds interleave the
phases (sequential, then parallel, then sequential again...), so a neighbour's load falls on both.
The parallel phase runs ``autograder.batch.autograde_class`` with ``--jobs`` students at once; its
ideal time is the same round's sequential time / cores, and the target is parallel / ideal <= 1.6.
Scores must match cell by cell, in every round.

CPU is counted over EVERY process a grading starts, sandboxed workers included. Those are reaped
inside their sandbox's PID namespace, outside this process's tree, so ``RUSAGE_CHILDREN`` misses
them: each phase runs inside a cgroup of its own and reads its total CPU (cgroup v2 ``cpu.stat``,
or v1 ``cpuacct.usage``); where no cgroup can be made (not root, no delegation), every process of
the tree, sandboxes included, is sampled in ``/proc`` and the figure is printed as a lower bound.

    .venv/bin/python benchmarks/autograde_class.py                      # 6 students, every notebook, 3 rounds
    .venv/bin/python benchmarks/autograde_class.py --students 4 --rounds 2 --notebooks 01_registry,02_serving
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# nbgrader runs `alembic` from PATH: make the virtual environment's tools visible without activating it.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

import nbformat  # noqa: E402

from autograder import course, selfcheck  # noqa: E402
from autograder.batch import autograde_class  # noqa: E402
from autograder.cgroups import V2_MOUNTS, own_path  # noqa: E402

TARGET = 1.6
CGROUP_V1 = Path("/sys/fs/cgroup/cpuacct")


def class_of(students: int, source: dict, released: dict) -> dict[str, dict]:
    """student -> notebook -> submitted notebook; odd students leave every third task unanswered."""
    out = {}
    for i in range(students):
        books = {}
        for name, nb in source.items():
            skipped = {t for j, t in enumerate(course.task_ids(nb)) if i % 2 and (i + j) % 3 == 0}
            books[name] = selfcheck.submission(
                released[name], nb, lambda t, s, r, skipped=skipped: r if t in skipped else selfcheck.answered(s))
        out[f"student{i:02d}"] = books
    return out


class CgroupCPU:
    """The CPU seconds of every process that ever ran in a cgroup made for one phase."""

    def __init__(self, path: Path, read):
        self.path, self.read = path, read
        self.home = Path("/proc/self/cgroup").read_text()  # to move back to

    @classmethod
    def make(cls, name: str) -> "CgroupCPU | None":
        for base in V2_MOUNTS:
            if (base / "cgroup.controllers").exists():  # a cgroup v2 hierarchy
                try:
                    own = base / own_path("")
                    path = own / name
                    path.mkdir()
                    (path / "cgroup.procs").write_text(str(os.getpid()))
                    return cls(path, lambda p=path: _usage_usec(p / "cpu.stat") / 1e6)
                except OSError:
                    continue
        try:
            own = CGROUP_V1 / own_path("cpuacct")
            path = own / name
            path.mkdir()
            (path / "cgroup.procs").write_text(str(os.getpid()))
            return cls(path, lambda p=path: int((p / "cpuacct.usage").read_text()) / 1e9)
        except OSError:
            return None

    def close(self) -> None:
        (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
        for _ in range(50):  # the phase's last processes may still be exiting
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def _usage_usec(stat: Path) -> int:
    return int(next(line.split()[1] for line in stat.read_text().splitlines() if line.startswith("usage_usec")))


class TreeCPU:
    """Fallback: samples utime+stime of every descendant of this process in /proc (a lower bound:
    what a process used after its last sample, or a process shorter than the period, is missed)."""

    def __init__(self, period: float = 0.1):
        self.seen: dict[tuple[int, str], float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self.thread.start()

    def _run(self, period: float) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stop.wait(period):
            stats = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        text = Path(f"/proc/{entry}/stat").read_text()
                    except OSError:
                        continue
                    fields = text.rpartition(")")[2].split()
                    stats[int(entry)] = (int(fields[1]), fields[19], (int(fields[11]) + int(fields[12])) / tick)
            tree, grew = {os.getpid()}, True
            while grew:
                grew = False
                for pid, (ppid, _, _) in stats.items():
                    if ppid in tree and pid not in tree:
                        tree.add(pid)
                        grew = True
            for pid in tree - {os.getpid()}:
                _, start, cpu = stats[pid]
                self.seen[(pid, start)] = max(cpu, self.seen.get((pid, start), 0.0))

    def read(self) -> float:
        return sum(self.seen.values())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def prepare(where: Path, only: list[str], students: int) -> Path:
    """A scratch course: the release of ``only`` and a synthetic class's submissions, not yet graded."""
    root = course.scratch_course(where, only)
    released = course.notebooks(course.release(root, quiet=True))
    source = course.notebooks(root / "source" / course.ASSIGNMENT)
    for student, books in class_of(students, source, released).items():
        for name, nb in books.items():
            path = root / "submitted" / student / course.ASSIGNMENT / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
    return root


def grade(root: Path, jobs: int, label: str) -> tuple[float, float, bool, dict, list]:
    """(wall and CPU seconds of the autograde, whether the CPU is exact, scores per student, outcomes)."""
    meter = CgroupCPU.make(f"bench-{os.getpid()}-{label}")
    exact = meter is not None
    meter = meter or TreeCPU()
    started, cpu = time.perf_counter(), meter.read()
    try:
        outcomes = autograde_class(root, jobs=jobs, report=lambda line: None)
    finally:
        seconds, cpu = time.perf_counter() - started, meter.read() - cpu
        meter.close()
    return seconds, cpu, exact, {o.student: course.cell_scores(root, o.student) for o in outcomes}, outcomes


def mismatches(first: dict, second: dict) -> list[str]:
    out = []
    for student in sorted(set(first) | set(second)):
        a, b = first.get(student, {}), second.get(student, {})
        for name in sorted(set(a) | set(b)):
            for cell in sorted(set(a.get(name, {})) | set(b.get(name, {}))):
                x, y = a.get(name, {}).get(cell), b.get(name, {}).get(cell)
                if x is None or y is None or abs(x - y) > 1e-9:
                    out.append(f"{student} {name}/{cell}: sequential {x}, parallel {y}")
    return out


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="sequential and parallel phases, interleaved")
    parser.add_argument("--notebooks", help="comma-separated, e.g. 01_registry,02_serving (default: all in source/mlops)")
    parser.add_argument("--jobs", type=int, default=2, help="students graded at once in the parallel run")
    args = parser.parse_args(argv)
    available = sorted(p.stem for p in (course.ROOT / "source" / course.ASSIGNMENT).glob("*.ipynb"))
    only = args.notebooks.split(",") if args.notebooks else available
    unknown = sorted(set(only) - set(available))
    if unknown:
        parser.error(f"no such notebook(s) {', '.join(unknown)}: choose from {', '.join(available)}")
    if args.students < 1 or args.rounds < 1:
        parser.error("--students and --rounds must be at least 1")
    cores = min(args.jobs, os.cpu_count() or 1)
    print(f"{args.students} students x {len(only)} notebooks ({', '.join(only)}), {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs; load average {load()} (1/5/15 min)")

    figures = {"sequential": {"wall": [], "cpu": []}, "parallel": {"wall": [], "cpu": []}}
    ratios, failed, different, exact_all, total = [], [], [], True, 0.0
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        # One snapshot for every phase: the course's files may change while the benchmark runs.
        snapshot = prepare(Path(tmp) / "snapshot", only, args.students)
        for round_ in range(1, args.rounds + 1):
            order = [("sequential", 1), ("parallel", args.jobs)]
            if round_ % 2 == 0:
                order.reverse()
            walls, scores = {}, {}
            for phase, jobs in order:
                root = Path(shutil.copytree(snapshot, Path(tmp) / f"{phase}-{round_}"))
                wall, cpu, exact, scores[phase], outcomes = grade(root, jobs, f"{phase}-{round_}")
                shutil.rmtree(root, ignore_errors=True)
                exact_all &= exact
                walls[phase] = wall
                figures[phase]["wall"].append(wall)
                figures[phase]["cpu"].append(cpu / args.students)
                failed += [f"round {round_} {phase} {o.student}: nbgrader autograde failed:\n{o.log[-1500:]}"
                           for o in outcomes if not o.ok]
                print(f"round {round_} {phase:<10} (jobs={jobs}): {wall:7.1f} s wall  {cpu / args.students:6.2f} s CPU "
                      f"per student{'' if exact else ' (at least)'}   load {load()}", flush=True)
            ratios.append(walls["parallel"] / (walls["sequential"] / cores))
            different += [f"round {round_} {line}" for line in mismatches(scores["sequential"], scores["parallel"])]
            total = sum(sum(cells.values()) for books in scores["sequential"].values() for cells in books.values())

    how = "every process, cgroup CPU accounting" if exact_all else "sampled in /proc: a lower bound"
    for phase, values in figures.items():
        print(f"{phase:<10} CPU per student ({how}): {spread(values['cpu'])} s;  wall {spread(values['wall'])} s")
    ratio = statistics.median(ratios)
    print(f"parallel / ideal (sequential / {cores} cores), per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"median {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    for line in failed + different:
        print("MISMATCH" if line in different else "FAILED", line)
    print(f"scores: {len(different)} mismatches over {args.students} students x {args.rounds} rounds "
          f"({total:.1f} points in all per phase); {len(failed)} failed gradings")
    return 0 if not (failed or different) and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
