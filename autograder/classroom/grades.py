"""Grades from the gradebook: one row per student, one column per task, lateness and totals.

The totals follow nbgrader's own export: ``score`` is the raw score minus nbgrader's late penalty
(``autograder.classroom.deadlines``), never below zero. ``grades.csv`` is the instructor's copy;
``autograder.classroom.lms_export`` turns the same rows into files Canvas and Moodle import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.authoring.course import ASSIGNMENT, gradebook_url
from autograder.classroom import csv_safe
from autograder.classroom.collect import collected


@dataclass
class StudentGrades:
    student: str
    tasks: dict[str, float]      # "01_registry/content_hash" -> points
    raw_score: float
    penalty: float               # nbgrader's late penalty, points
    score: float                 # raw_score - penalty, at least 0
    max_score: float
    submitted: str               # the submission time nbgrader holds (UTC), "" if none
    hours_late: float


def task_column(notebook: str, cell: str) -> str:
    return f"{notebook}/{cell.removeprefix('test_')}"


def class_grades(root: Path) -> tuple[dict[str, float], list[StudentGrades]]:
    """(task column -> max points, every graded student's grades sorted by student id)."""
    with Gradebook(gradebook_url(root)) as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT)
        columns = {task_column(nb.name, cell.name): cell.max_score for nb in assignment.notebooks for cell in nb.grade_cells}
        rows = []
        for student in sorted(gradebook.students, key=lambda s: s.id):
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            grades = {task_column(nb.name, g.name): g.score for nb in submission.notebooks for g in nb.grades}
            penalty = submission.late_submission_penalty or 0.0
            rows.append(StudentGrades(
                student.id, {column: grades.get(column, 0.0) for column in columns}, round(submission.score, 4),
                round(penalty, 4), round(max(0.0, submission.score - penalty), 4), submission.max_score,
                submission.timestamp.isoformat(" ") if submission.timestamp else "",
                round(submission.total_seconds_late / 3600, 2)))
    return columns, rows


def export_csv(root: Path, out: Path, names: dict[str, str] | None = None) -> int:
    """Write the instructor's grades.csv; ``names``: student id -> name, from the LMS roster.
    "LMS late" is the LMS's own flag (Canvas's LATE_), shown even when no submission time was given."""
    columns, rows = class_grades(root)
    names = names or {}
    flagged = {student for (student, _), fate in collected(root).items() if fate.late_flag}
    header = ["student", "name", "submitted", "hours late", "LMS late", "late penalty", "raw score", "total", "max"]
    header += list(columns)
    with open(out, "w", newline="") as f:
        writer = csv_safe.writer(f)
        writer.writerow(header)
        for row in sorted(rows, key=lambda r: (names.get(r.student, ""), r.student)):
            writer.writerow([row.student, names.get(row.student, ""), row.submitted, row.hours_late,
                             "LATE" if row.student in flagged else "", row.penalty, row.raw_score, row.score,
                             row.max_score] + list(row.tasks.values()))
    return len(rows)
