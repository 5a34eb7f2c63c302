"""Autograde a synthetic class sequentially and in parallel: wall times, and every score equal.

The same synthetic submissions (half full solutions, half with some tasks left as released) are
written into a scratch course, which is copied whole into a second one before either is graded.
One is graded one student at a time (jobs=1), the other with ``autograder.batch.autograde_class``
running ``--jobs`` students at once. The baseline is the
sequential run of this same process: the ideal parallel time is sequential / cores, and the
target is parallel / ideal <= 1.6. Scores must match cell by cell. The CPU seconds of the grading
processes are printed too: on a machine others are loading, wall times move with their load (see
the load averages printed), CPU time much less.

    .venv/bin/python benchmarks/autograde_class.py                      # 20 students, every notebook
    .venv/bin/python benchmarks/autograde_class.py --students 4 --notebooks 01_registry,02_serving
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# nbgrader runs `alembic` from PATH: make the virtual environment's tools visible without activating it.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

import nbformat  # noqa: E402

from autograder import course, selfcheck  # noqa: E402
from autograder.batch import autograde_class  # noqa: E402

TARGET = 1.6


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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


def grade(root: Path, jobs: int) -> tuple[float, float, dict, list]:
    """(wall and CPU seconds of the autograde, scores per student, outcomes)."""
    started, cpu = time.perf_counter(), children_cpu()
    outcomes = autograde_class(root, jobs=jobs, report=lambda line: None)
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    return seconds, cpu, {o.student: course.cell_scores(root, o.student) for o in outcomes}, outcomes


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--notebooks", help="comma-separated, e.g. 01_registry,02_serving (default: all in source/mlops)")
    parser.add_argument("--jobs", type=int, default=2, help="students graded at once in the parallel run")
    args = parser.parse_args(argv)
    available = sorted(p.stem for p in (course.ROOT / "source" / course.ASSIGNMENT).glob("*.ipynb"))
    only = args.notebooks.split(",") if args.notebooks else available
    unknown = sorted(set(only) - set(available))
    if unknown:
        parser.error(f"no such notebook(s) {', '.join(unknown)}: choose from {', '.join(available)}")
    cores = min(args.jobs, os.cpu_count() or 1)
    print(f"{args.students} students x {len(only)} notebooks ({', '.join(only)}); {os.cpu_count()} CPUs; "
          f"load average {load()} (1/5/15 min)")

    with tempfile.TemporaryDirectory(prefix="bench-seq-") as seq_dir, tempfile.TemporaryDirectory(prefix="bench-par-") as par_dir:
        # One snapshot for both runs: the course's files may change while the benchmark runs.
        seq_root = prepare(Path(seq_dir), only, args.students)
        par_root = Path(shutil.copytree(seq_root, Path(par_dir) / "course"))
        sequential, seq_cpu, seq_scores, seq_out = grade(seq_root, jobs=1)
        print(f"sequential (jobs=1): {sequential:7.1f} s wall  {sequential / args.students:6.2f} s per student  "
              f"{seq_cpu:7.1f} s CPU   load {load()}")
        parallel, par_cpu, par_scores, par_out = grade(par_root, jobs=args.jobs)
        print(f"parallel (jobs={args.jobs}):   {parallel:7.1f} s wall  {parallel / args.students:6.2f} s per student  "
              f"{par_cpu:7.1f} s CPU   load {load()}")

    ideal = sequential / cores
    ratio = parallel / ideal
    print(f"ideal (sequential / {cores} cores): {ideal:.1f} s; parallel / ideal = {ratio:.2f} "
          f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}); speed-up {sequential / parallel:.2f}x")
    failed = [f"{o.student}: nbgrader autograde failed:\n{o.log[-1500:]}" for o in seq_out + par_out if not o.ok]
    different = mismatches(seq_scores, par_scores)
    for line in failed + different:
        print("MISMATCH" if line in different else "FAILED", line)
    total = sum(sum(cells.values()) for books in seq_scores.values() for cells in books.values())
    print(f"scores: {len(different)} mismatches over {args.students} students ({total:.1f} points in all); "
          f"{len(failed)} failed gradings")
    return 0 if not (failed or different) and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
