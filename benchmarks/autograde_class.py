"""Autograde a synthetic class sequentially and in parallel, and run the same notebooks with
nbgrader's stock ``Execute``, round after round: CPU per student, wall times, every score equal.

The same synthetic submissions (half full solutions, half with some tasks left as released) are
written into a scratch course once; each phase works on a fresh copy of it. Every round runs three
phases in an order that rotates from round to round, so a neighbour's load falls on all of them:
- sequential: ``autograder.classroom.batch.autograde_class`` one student at a time (judge, sandbox, hidden checks);
- parallel: the same with ``--jobs`` students at once; target: its wall time <= 0.6x the same
  round's sequential wall time, and every score equal to the sequential run's, cell by cell;
- stock: each student's notebooks run by nbgrader's stock ``Execute`` preprocessor, one after the
  other, without the demo cells (grade_id starting with ``demo_``, which grading skips) and without
  any hidden check: what running the notebooks costs. Target: the sequential grading's CPU per
  student <= 1.0x the stock run's, ratio taken per round.

CPU is counted over EVERY process a grading starts, sandboxed workers included. Those are reaped
inside their sandbox's PID namespace, outside this process's tree, so ``RUSAGE_CHILDREN`` misses
them: each phase runs inside a cgroup of its own and reads its total CPU (cgroup v2 ``cpu.stat``,
or v1 ``cpuacct.usage``); where no cgroup can be made (not root, no delegation), every process of
the tree, sandboxes included, is sampled in ``/proc`` and the figure is printed as a lower bound.

    .venv/bin/python benchmarks/autograde_class.py --students 8         # every notebook, 3 rounds
    .venv/bin/python benchmarks/autograde_class.py --students 2 --rounds 2 --notebooks 01_registry   # quick
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

from autograder.authoring import course  # noqa: E402
from autograder.authoring.notebooks import DEMO_PREFIX  # noqa: E402
from autograder.classroom.batch import autograde_class  # noqa: E402
from autograder.grading.cgroups import V2_MOUNTS, own_path  # noqa: E402
from autograder.grading.seeds import SECRET_FILE  # noqa: E402
from autograder.proof import selfcheck

PARALLEL_TARGET = 0.6  # --jobs wall / sequential wall
STOCK_TARGET = 1.0  # grading CPU per student / stock Execute CPU per student
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
    # one course secret for every phase and round: the hidden checks draw the same inputs each time
    (root / SECRET_FILE).write_text("autograde-class-benchmark\n")
    (root / SECRET_FILE).chmod(0o600)
    released = course.notebooks(course.release(root, quiet=True))
    source = course.notebooks(root / "source" / course.ASSIGNMENT)
    for student, books in class_of(students, source, released).items():
        for name, nb in books.items():
            path = root / "submitted" / student / course.ASSIGNMENT / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
    return root


def measured(label: str, work) -> tuple[float, float, bool, object]:
    """(wall and CPU seconds of ``work()``, whether the CPU is exact, its result)."""
    meter = CgroupCPU.make(f"bench-{os.getpid()}-{label}")
    exact = meter is not None
    meter = meter or TreeCPU()
    started, cpu = time.perf_counter(), meter.read()
    try:
        result = work()
    finally:
        seconds, cpu = time.perf_counter() - started, meter.read() - cpu
        meter.close()
    return seconds, cpu, exact, result


def grade(root: Path, jobs: int) -> tuple[dict, list]:
    """Scores per student and the outcomes of autograding every submission of ``root``."""
    outcomes = autograde_class(root, jobs=jobs, report=lambda line: None)
    return {o.student: course.cell_scores(root, o.student) for o in outcomes}, outcomes


def without_demos(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without the demo cells grading skips."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells
                if not c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith(DEMO_PREFIX)]
    return nb


def execute_stock(root: Path) -> list[str]:
    """Run every submitted notebook of ``root`` with nbgrader's stock ``Execute``, without demo
    cells, student after student, in the notebook's own folder; the notebooks that failed to run."""
    from nbgrader.preprocessors import Execute

    failed = []
    for path in sorted((root / "submitted").glob(f"*/{course.ASSIGNMENT}/*.ipynb")):
        nb = without_demos(nbformat.read(path, as_version=4))
        try:
            Execute().preprocess(nb, {"metadata": {"path": str(path.parent)}})
        except Exception as error:  # noqa: BLE001 - reported as a failed phase, with its reason
            failed.append(f"{path.relative_to(root)}: {type(error).__name__}: {str(error)[-500:]}")
    return failed


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


def ratio_line(ratios: list[float]) -> str:
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    return f"median {statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f}; per round {rounds})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three phases, interleaved")
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
    print(f"{args.students} students x {len(only)} notebooks ({', '.join(only)}), {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs; load average {load()} (1/5/15 min)")

    phases = [("sequential", 1), ("parallel", args.jobs), ("stock", 1)]
    figures = {phase: {"wall": [], "cpu": []} for phase, _ in phases}
    parallel_ratios, stock_ratios, failed, different, exact_all, total = [], [], [], [], True, 0.0
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        # One snapshot for every phase: the course's files may change while the benchmark runs.
        snapshot = prepare(Path(tmp) / "snapshot", only, args.students)
        for round_ in range(1, args.rounds + 1):
            shift = (round_ - 1) % len(phases)
            walls, cpus, scores = {}, {}, {}
            for phase, jobs in phases[shift:] + phases[:shift]:
                root = Path(shutil.copytree(snapshot, Path(tmp) / f"{phase}-{round_}"))
                if phase == "stock":
                    wall, cpu, exact, broken = measured(f"{phase}-{round_}", lambda root=root: execute_stock(root))
                    failed += [f"round {round_} stock {line}" for line in broken]
                else:
                    wall, cpu, exact, (scores[phase], outcomes) = measured(
                        f"{phase}-{round_}", lambda root=root, jobs=jobs: grade(root, jobs))
                    failed += [f"round {round_} {phase} {o.student}: nbgrader autograde failed:\n{o.log[-1500:]}"
                               for o in outcomes if not o.ok]
                shutil.rmtree(root, ignore_errors=True)
                exact_all &= exact
                walls[phase], cpus[phase] = wall / args.students, cpu / args.students
                figures[phase]["wall"].append(walls[phase])
                figures[phase]["cpu"].append(cpus[phase])
                print(f"round {round_} {phase:<10} (jobs={jobs}): {walls[phase]:6.1f} s wall  {cpus[phase]:6.2f} s CPU "
                      f"per student{'' if exact else ' (at least)'}   load {load()}", flush=True)
            parallel_ratios.append(walls["parallel"] / walls["sequential"])
            stock_ratios.append(cpus["sequential"] / cpus["stock"])
            different += [f"round {round_} {line}" for line in mismatches(scores["sequential"], scores["parallel"])]
            total = sum(sum(cells.values()) for books in scores["sequential"].values() for cells in books.values())

    how = "every process, cgroup CPU accounting" if exact_all else "sampled in /proc: a lower bound"
    print(f"per student, {args.rounds} interleaved rounds; CPU: {how}")
    for phase, values in figures.items():
        print(f"{phase:<10} CPU {spread(values['cpu'])} s;  wall {spread(values['wall'])} s")
    stock_met = statistics.median(stock_ratios) <= STOCK_TARGET
    parallel_met = statistics.median(parallel_ratios) <= PARALLEL_TARGET
    print(f"{'PASS' if stock_met else 'FAIL'}: grading CPU / stock Execute CPU (no demo cells, no hidden checks), "
          f"{ratio_line(stock_ratios)}, target <= {STOCK_TARGET}x")
    print(f"{'PASS' if parallel_met else 'FAIL'}: --jobs {args.jobs} wall / sequential wall, "
          f"{ratio_line(parallel_ratios)}, target <= {PARALLEL_TARGET}x")
    for line in failed + different:
        print("MISMATCH" if line in different else "FAILED", line)
    print(f"{'PASS' if not different else 'FAIL'}: scores, {len(different)} mismatches parallel vs sequential over "
          f"{args.students} students x {args.rounds} rounds ({total:.1f} points in all per phase); "
          f"{len(failed)} failed gradings or stock runs")
    return 0 if not (failed or different) and stock_met and parallel_met else 1


if __name__ == "__main__":
    sys.exit(main())
