"""Grades as CSV: one row per student, one column per task, plus notebook and assignment totals."""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import ASSIGNMENT, gradebook_url


def export_csv(root: Path, out: Path) -> int:
    with Gradebook(gradebook_url(root)) as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT)
        columns = [(nb.name, cell.name) for nb in assignment.notebooks for cell in nb.grade_cells]
        header = ["student", "total", "max"] + [f"{nb}/{cell.removeprefix('test_')}" for nb, cell in columns]
        rows = []
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            grades = {(g.notebook.name, g.name): g.score for nb in submission.notebooks for g in nb.grades}
            rows.append([student.id, round(submission.score, 4), submission.max_score]
                        + [grades.get(column, 0.0) for column in columns])
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)
