"""Grades and feedback back to the LMS, in the files Canvas and Moodle import.

    Canvas  Grades > Import: a CSV whose first columns are Student, ID, SIS User ID, SIS Login ID,
            Section (Canvas matches students on ID or the SIS ids), then one column per grade; a
            column Canvas does not know becomes a new assignment, with the points of the second row,
            "Points Possible". Feedback: Assignment > Upload Submission Comments takes a zip of
            files named as in the submissions download (lastfirst_userid_submissionid_...).
    Moodle  Grades > Import > CSV file: any columns; map "Email address" to the user's email and each
            grade column to a grade item (or a new one). Feedback: the assignment's "Upload multiple
            feedback files in a zip" takes files named Full Name_participantid_assignsubmission_file_...

Names and SIS/login ids come from the roster the instructor downloads (``autograder.roster``); the
file-name prefixes come from the collect reports. Rows are sorted by name; the total is nbgrader's,
after its late penalty.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.collect import collected
from autograder.course import ASSIGNMENT
from autograder.grades import StudentGrades, class_grades
from autograder.roster import Person

TOTAL = f"{ASSIGNMENT} total"


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    not_in_roster: list[str] = field(default_factory=list)     # graded, but the roster does not know them
    not_graded: list[str] = field(default_factory=list)        # on the roster, no graded submission


def grade_columns(columns: dict[str, float]) -> list[str]:
    return [f"{ASSIGNMENT} {column}" for column in columns] + [TOTAL]


def grade_cells(row: StudentGrades) -> list[float]:
    return list(row.tasks.values()) + [row.score]


def canvas_csv(path: Path, columns: dict[str, float], rows: list[tuple[Person, StudentGrades]]) -> None:
    max_total = sum(columns.values())
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + grade_columns(columns))
        writer.writerow(["    Points Possible", "", "", "", ""] + list(columns.values()) + [max_total])
        for person, grades in rows:
            writer.writerow([person.name, person.student, person.sis_user_id, person.sis_login_id, person.section]
                            + grade_cells(grades))


def moodle_csv(path: Path, columns: dict[str, float], rows: list[tuple[Person, StudentGrades]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Full name", "Email address", "ID number"] + grade_columns(columns))
        for person, grades in rows:
            writer.writerow([person.name, person.email, person.sis_user_id] + grade_cells(grades))


def feedback_zip(root: Path, path: Path, lms: str, students: set[str]) -> int:
    """Every feedback page of ``students`` collected from ``lms``, named for the LMS's bulk upload."""
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for (student, notebook), fate in sorted(collected(root).items()):
            page = root / "feedback" / student / ASSIGNMENT / f"{notebook}.html"
            if fate.lms == lms and student in students and page.exists():
                archive.write(page, f"{fate.prefix}{notebook}-feedback.html")
                count += 1
    return count


def export_lms(root: Path, roster: dict[str, Person], out_dir: Path) -> Written:
    """Write ``<lms>-grades.csv`` and ``<lms>-feedback.zip`` for the LMS the roster came from."""
    columns, grades = class_grades(root)
    graded = {row.student: row for row in grades}
    lms = next(iter(roster.values())).lms
    rows = sorted(((roster[s], row) for s, row in graded.items() if s in roster), key=lambda pair: (pair[0].name, pair[0].student))
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / f"{lms}-grades.csv"
    (canvas_csv if lms == "canvas" else moodle_csv)(table, columns, rows)
    written = Written([table], sorted(set(graded) - set(roster)), sorted(set(roster) - set(graded)))
    feedback = out_dir / f"{lms}-feedback.zip"
    if feedback_zip(root, feedback, lms, set(graded) & set(roster)):
        written.files.append(feedback)
    else:
        feedback.unlink()
    return written
