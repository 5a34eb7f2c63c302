"""Prove the grading is right by grading synthetic submissions built from ``source/``.

Cases, each with the score it must get, per test cell:
- ``solution``: the solutions, plus a warning printed to stderr inside every solution: full marks;
- ``release``: the untouched student release: zero, and grading must not crash;
- ``imports``: every answer imported from the library instead of written: zero;
- ``without-<task>``: the solutions with one task left as released: loses exactly that task's points.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import course
from autograder.batch import autograde_class
from autograder.grading import nbgrader_meta, solution_targets

SOLUTION_REGION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*### END SOLUTION\n?",
                             re.MULTILINE | re.DOTALL)
NOISE = '{indent}print("DeprecationWarning: a harmless warning", file=__import__("sys").stderr)\n'


def answered(source: str, noisy: bool = False) -> str:
    """A solution cell as a student would hand it in: the markers gone, the code kept."""
    return SOLUTION_REGION.sub(lambda m: (NOISE.format(indent=m["indent"]) if noisy else "") + m["body"], source)


def submission(release_nb, source_nb, fill) -> nbformat.NotebookNode:
    """The release with each answer cell's source replaced by ``fill(task, source_cell_text)``."""
    solutions = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        task = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = fill(task, solutions[task], cell.source)
    return nb


def importing(notebook: str):
    modules = {t.split(":")[1]: t.split(":")[0] for t in solution_targets(notebook)}

    def fill(task, solution, released):
        names = [n for n in modules if re.search(rf"^(def|class) {re.escape(n)}\b", answered(solution), re.MULTILINE)]
        return "\n".join(f"from {modules[n]} import {n}" for n in names) or released

    return fill


def cases(source: dict, released: dict) -> dict[str, dict]:
    """student id -> {notebook: (submitted notebook, expected score per test cell)}."""
    full = {name: course.test_cells(nb) for name, nb in source.items()}
    zero = {name: dict.fromkeys(cells, 0.0) for name, cells in full.items()}
    out = {
        "solution": {n: (submission(released[n], nb, lambda t, s, r: answered(s, noisy=True)), full[n]) for n, nb in source.items()},
        "release": {n: (released[n], zero[n]) for n in source},
        "imports": {n: (submission(released[n], nb, importing(n)), zero[n]) for n, nb in source.items()},
    }
    for name, nb in source.items():
        for task in course.task_ids(nb):
            expected = {cell: (0.0 if cell.removeprefix("test_") == task else pts) for cell, pts in full[name].items()}
            keep_released = lambda t, s, r, task=task: r if t == task else answered(s)  # noqa: E731
            out[f"without-{task}"] = {name: (submission(released[name], nb, keep_released), expected)}
    return out


def run(only: list[str] | None = None) -> bool:
    """Grade the synthetic submissions (of the notebooks in ``only``, or all) and compare."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as tmp:
        root = course.scratch_course(Path(tmp), only)
        released = course.notebooks(course.release(root, quiet=True))
        source = course.notebooks(root / "source" / course.ASSIGNMENT)
        plan = cases(source, released)
        for student, books in plan.items():
            for name, (nb, _) in books.items():
                path = root / "submitted" / student / course.ASSIGNMENT / f"{name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, path)
        outcomes = autograde_class(root, report=lambda line: None)
        failures = [f"{o.student}: nbgrader autograde failed:\n{o.log[-2000:]}" for o in outcomes if not o.ok]
        for student, books in plan.items():
            got = course.cell_scores(root, student)
            for name, (_, expected) in books.items():
                for cell, want in expected.items():
                    have = got.get(name, {}).get(cell)
                    if have is None or abs(have - want) > 1e-6:
                        failures.append(f"{student:>28} {name}/{cell}: expected {want:g}, got {have}")
            total = sum(sum(s.values()) for s in got.values())
            print(f"  {student:<32} {total:6.2f} points")
    for line in failures:
        print("MISMATCH", line)
    print(f"self-check: {len(plan)} submissions, {'OK' if not failures else f'{len(failures)} mismatches'}"
          f" in {time.perf_counter() - started:.0f} s")
    return not failures
