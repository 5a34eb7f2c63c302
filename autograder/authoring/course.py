"""Thin wrappers around nbgrader for one course directory (the repository, or a scratch copy)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.authoring.notebooks import ASSIGNMENT, ROOT, SOURCE, is_test_cell, nbgrader_meta


class CourseError(RuntimeError):
    pass


def course_config(root: Path = ROOT) -> Config:
    """The traitlets config that ``nbgrader_config.py`` in ``root`` sets (loading it as nbgrader does)."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def nbgrader_env() -> dict:
    """The environment for nbgrader: it runs ``alembic`` by name, so this interpreter's scripts
    directory (the virtual environment's ``bin``) must be on PATH even when it is not activated."""
    scripts = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))


def nbgrader(*args: str, root: Path = ROOT, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with the course's config on the course directory ``root``."""
    command = [sys.executable, "-m", "autograder.grading.nbgrader_app", *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=nbgrader_env())
    log = (proc.stdout + proc.stderr).strip()
    if not quiet and log:
        print(log)
    if proc.returncode != 0:
        raise CourseError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{log[-3000:]}")
    return proc


def scratch_course(where: Path, only: list[str] | None = None) -> Path:
    """A course directory holding a copy of this course's source notebooks (or only some)."""
    target = where / "source" / ASSIGNMENT
    target.mkdir(parents=True)
    for path in sorted(SOURCE.glob("*.ipynb")):
        if only is None or path.stem in only:
            shutil.copy2(path, target / path.name)
    return where


def release(root: Path = ROOT, quiet: bool = False) -> Path:
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root, quiet=quiet)
    return root / "assignments" / ASSIGNMENT


def notebooks(directory: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.stem: nbformat.read(p, as_version=4) for p in sorted(directory.glob("*.ipynb"))}


def test_cells(nb) -> dict[str, float]:
    """grade_id -> points of every graded test cell."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in nb.cells if is_test_cell(c)}


def task_ids(nb) -> list[str]:
    """The grade_id of every code answer cell (the tasks the judge grades)."""
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")]


def gradebook_url(root: Path) -> str:
    """The SQLite URL of the nbgrader gradebook of the course directory ``root``."""
    return f"sqlite:///{root / 'gradebook.db'}"


def to_grade_by_hand(root: Path, student: str) -> dict[str, dict[str, float]]:
    """notebook -> grade_id -> points of each of the student's answers that nbgrader left for
    manual grading (answered, and not graded in formgrader yet)."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(root)) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {notebook.name: {grade.name: grade.max_score for grade in notebook.grades if grade.needs_manual_grade}
                for notebook in submission.notebooks}


def cell_scores(root: Path, student: str) -> dict[str, dict[str, float]]:
    """notebook -> test cell grade_id -> score, read from the gradebook of ``root``."""
    from nbgrader.api import Gradebook

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(gradebook_url(root)) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        for notebook in submission.notebooks:
            scores[notebook.name] = {
                grade.name: grade.score for grade in notebook.grades
            }
    return scores
