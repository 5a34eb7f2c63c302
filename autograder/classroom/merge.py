"""Merge the results of a cluster run (one pod per student, ``deployments/grading/``) into the course.

Pod *i* graded line *i*+1 of ``students.txt`` against its own copy of the released gradebook and
wrote ``results/<i>/``: ``gradebook.db``, ``autograded/<student>/``, ``feedback/<student>/``,
``reports/tampering.jsonl`` and ``autograde-exit-status``. The merge copies, for each line of
``students.txt`` (the instructor's own file, so a pod cannot choose whose grades it writes), only
that student's submission from that folder's gradebook into the course's gradebook, and only that
student's folders. Afterwards the course directory is as if ``python -m autograder autograde`` had
graded the class on one machine: ``feedback``, ``export --roster`` and formgrader work on it.

    python -m autograder.classroom.merge RESULTS_DIR STUDENTS_TXT       (from the course directory)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.authoring.course import ASSIGNMENT, ROOT, gradebook_url
from autograder.classroom.deadlines import apply_duedate, configured_duedate

STUDENT_FIELDS = ("first_name", "last_name", "email", "lms_user_id")
SUBMISSION_FIELDS = ("timestamp", "extension")
NOTEBOOK_FIELDS = ("flagged", "late_submission_penalty")
GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")
STUDENT_FOLDERS = ("autograded", "feedback")


class MergeError(ValueError):
    """Results that cannot be merged as they are (a different release, a missing students file)."""


@dataclass
class Merged:
    students: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)        # "student (results/i): why"
    exit_status: dict[str, str] = field(default_factory=dict)  # student -> nbgrader's non-zero status


def read_students(path: Path) -> list[str]:
    if not path.is_file():
        raise MergeError(f"{path} does not exist: it is the students file the Job was run with (ls submitted > students.txt)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _structure(gradebook: Gradebook) -> dict[str, set[tuple[str, str]]]:
    """notebook -> {(cell kind, cell name)} of the released assignment."""
    assignment = gradebook.find_assignment(ASSIGNMENT)
    return {nb.name: {(kind, cell.name) for kind in ("grade_cells", "solution_cells", "task_cells")
                      for cell in getattr(nb, kind)} for nb in assignment.notebooks}


def _copy(source, target, names: tuple[str, ...]) -> None:
    for name in names:
        setattr(target, name, getattr(source, name))


def copy_submission(source: Gradebook, target: Gradebook, student: str) -> bool:
    """Copy ``student``'s submission (scores, comments, lateness, flags) from ``source`` into
    ``target``, replacing any it holds. False when ``source`` has no submission of ``student``."""
    try:
        graded = source.find_submission(ASSIGNMENT, student)
    except MissingEntry:
        return False
    try:
        target.find_student(student)
    except MissingEntry:
        target.add_student(student, **{name: getattr(graded.student, name) for name in STUDENT_FIELDS})
    try:
        target.remove_submission(ASSIGNMENT, student)
    except MissingEntry:
        pass
    merged = target.add_submission(ASSIGNMENT, student)
    _copy(graded, merged, SUBMISSION_FIELDS)
    for notebook in graded.notebooks:
        into = target.find_submission_notebook(notebook.name, ASSIGNMENT, student)
        _copy(notebook, into, NOTEBOOK_FIELDS)
        grades = {grade.name: grade for grade in into.grades}
        for grade in notebook.grades:
            _copy(grade, grades[grade.name], GRADE_FIELDS)
        comments = {comment.name: comment for comment in into.comments}
        for comment in notebook.comments:
            _copy(comment, comments[comment.name], COMMENT_FIELDS)
    target.db.commit()
    return True


def _copy_folder(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)


def _tampering(results: Path, student: str) -> list[str]:
    report = results / "reports" / "tampering.jsonl"
    lines = report.read_text().splitlines() if report.is_file() and not report.is_symlink() else []
    kept = []
    for line in lines:
        try:
            if json.loads(line).get("student") == student:
                kept.append(line)
        except (json.JSONDecodeError, AttributeError):
            continue
    return kept


def merge(results_dir: Path, students_file: Path, root: Path = ROOT) -> Merged:
    """Merge ``results_dir/<i>/`` of every line of ``students_file`` into the course ``root``."""
    students = read_students(students_file)
    if not (root / "gradebook.db").exists():
        raise MergeError(f"{root / 'gradebook.db'} does not exist: merge into the course directory the Job's "
                         "gradebook was staged from")
    outcome = Merged()
    tampering: list[str] = []
    with Gradebook(gradebook_url(root)) as target:
        released = _structure(target)
        for index, student in enumerate(students):
            results = results_dir / str(index)
            where = f"{student} ({results})"
            if not (results / "gradebook.db").is_file():
                outcome.missing.append(f"{where}: no gradebook.db (the pod failed or did not run)")
                continue
            with Gradebook(gradebook_url(results)) as source:
                if _structure(source) != released:
                    raise MergeError(f"{results / 'gradebook.db'} was graded against another release of {ASSIGNMENT} "
                                     "than the course's gradebook.db: stage and merge from the same release")
                if not copy_submission(source, target, student):
                    outcome.missing.append(f"{where}: its gradebook holds no submission of {student}")
                    continue
            for folder in STUDENT_FOLDERS:
                _copy_folder(results / folder / student, root / folder / student)
            tampering += _tampering(results, student)
            status = results / "autograde-exit-status"
            if status.is_file() and status.read_text().strip() != "0":
                outcome.exit_status[student] = status.read_text().strip()[:20]
            outcome.students.append(student)
    if tampering:
        (root / "reports").mkdir(exist_ok=True)
        with open(root / "reports" / "tampering.jsonl", "a") as f:
            f.writelines(line + "\n" for line in tampering)
    duedate = configured_duedate(root)
    if duedate is not None:
        apply_duedate(root, duedate)
    return outcome


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.classroom.merge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the results/ folder copied from the class volume")
    parser.add_argument("students", type=Path, help="the students.txt the Job was run with")
    args = parser.parse_args(argv)
    try:
        outcome = merge(args.results, args.students)
    except MergeError as error:
        print(f"error: {error}")
        return 2
    print(f"merged {len(outcome.students)} students into {ROOT / 'gradebook.db'}")
    for student, status in sorted(outcome.exit_status.items()):
        print(f"{student}: nbgrader exited {status} (a notebook errored; its grades are in): "
              f"autograded/{student}/{ASSIGNMENT}/autograde.log says why")
    for line in outcome.missing:
        print(f"not merged: {line}")
    return 1 if outcome.missing else 0


if __name__ == "__main__":
    sys.exit(main())
