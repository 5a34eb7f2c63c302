"""Grades and feedback back to the LMS, in the files Canvas and Moodle themselves write and read.

    Canvas  the roster is the gradebook the instructor exported (Grades > Export > Export Entire
            Gradebook). ``canvas-grades.csv`` is that file cut to what an import needs: the identity
            columns (Student, ID, SIS User ID, SIS Login ID, Section), the "Points Possible" row and the
            course's assignment column, already in the gradebook as "Name (id)", filled with each
            student's total after the late penalty (Grades > Import). A roster with several
            assignment columns needs ``assignment`` (its name or id). Feedback: each page named with
            the download's prefix (lastfirst_userid_submissionid_), for the assignment's
            "Re-Upload Submissions" (Canvas attaches each file to that student's submission as a comment).
    Moodle  the roster is the assignment's grading worksheet (View all submissions > Download grading
            worksheet). ``moodle-grading-worksheet.csv`` is the same file with Grade filled (the total
            after the penalty) and, where the worksheet has it, "Feedback comments" with the points of each
            notebook; every other cell is as downloaded ("Upload grading worksheet" matches rows by
            Identifier and checks "Last modified (grade)"). Feedback files: the assignment's "Upload
            multiple feedback files in a zip" takes files named Full Name_participantid_assignsubmission_file_...

Per-task points stay in the feedback pages and in the instructor's ``grades.csv``; the LMS gets one
number per student, in the assignment it already has. File-name prefixes come from the collect
reports. Every CSV goes through ``autograder.classroom.csv_safe``.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.authoring.course import ASSIGNMENT
from autograder.classroom import csv_safe
from autograder.classroom.collect import collected
from autograder.classroom.grades import StudentGrades, class_grades
from autograder.classroom.roster import CANVAS_COLUMNS, MOODLE_PARTICIPANT, RosterError, read_roster, read_table

CANVAS_ASSIGNMENT = re.compile(r"^(?P<name>.+) \((?P<id>\d+)\)$")  # how Canvas names an assignment's column
POINTS_POSSIBLE = "Points Possible"


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    not_in_roster: list[str] = field(default_factory=list)     # graded, but the roster does not know them
    not_graded: list[str] = field(default_factory=list)        # on the roster, no graded submission
    warnings: list[str] = field(default_factory=list)


def points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def canvas_assignment_column(header: list[str], wanted: str | None) -> str:
    """The roster's column of the course's assignment: the only one, or the one named (name or id)."""
    candidates = [c for c in header if c not in CANVAS_COLUMNS and CANVAS_ASSIGNMENT.match(c)]
    if wanted:
        chosen = [c for c in candidates if wanted in (c, CANVAS_ASSIGNMENT.match(c)["name"], CANVAS_ASSIGNMENT.match(c)["id"])]
        if len(chosen) == 1:
            return chosen[0]
        raise RosterError(f"the roster has no single assignment column {wanted!r}; its assignment columns are: "
                          + "; ".join(candidates))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RosterError("the roster has no assignment column (\"Name (id)\"): create the assignment in Canvas, "
                          "then export the gradebook again (Grades > Export > Export Entire Gradebook)")
    raise RosterError("the roster has several assignment columns; choose the one to fill with --assignment "
                      "NAME_OR_ID: " + "; ".join(candidates))


def canvas_csv(roster_path: Path, path: Path, graded: dict[str, StudentGrades], wanted: str | None,
               max_score: float, written: Written) -> None:
    header, rows = read_table(roster_path)
    column = canvas_assignment_column(header, wanted)
    keep = CANVAS_COLUMNS + [column]
    out = []
    for row in rows:
        student = (row["ID"] or "").strip()
        if row["Student"].strip() == POINTS_POSSIBLE:
            possible = (row[column] or "").strip()
            if possible and abs(float(possible) - max_score) > 1e-9:
                written.warnings.append(f"Canvas's '{column}' is worth {possible} points, the grades are out of "
                                        f"{points(max_score)}: set the assignment's points to {points(max_score)} in Canvas")
            out.append([row[c] for c in keep])
        elif student in graded:
            out.append([row[c] for c in CANVAS_COLUMNS] + [points(graded[student].score)])
    with open(path, "w", newline="") as f:
        writer = csv_safe.writer(f)
        writer.writerow(keep)
        writer.writerows(out)


def notebook_points(grades: StudentGrades) -> str:
    """Feedback comment: the points of each notebook, the penalty and the total."""
    by_notebook = {}
    for task, value in grades.tasks.items():
        notebook = task.split("/", 1)[0]
        by_notebook[notebook] = by_notebook.get(notebook, 0.0) + value
    parts = [f"{nb}: {points(v)}" for nb, v in by_notebook.items()]
    if grades.penalty:
        parts.append(f"late penalty: -{points(grades.penalty)}")
    return "; ".join(parts) + f"; total {points(grades.score)} of {points(grades.max_score)}. Details: the feedback pages."


def moodle_worksheet(roster_path: Path, path: Path, graded: dict[str, StudentGrades], max_score: float,
                     written: Written) -> None:
    header, rows = read_table(roster_path)
    if "Grade" not in header or "Last modified (grade)" not in header:
        raise RosterError(f"{roster_path}: not a Moodle grading worksheet (no Grade or 'Last modified (grade)' column); "
                          "download it from the assignment: View all submissions > Download grading worksheet")
    maximum = next((c for c in header if c.lower() == "maximum grade"), None)
    for row in rows:
        match = MOODLE_PARTICIPANT.match((row["Identifier"] or "").strip())
        grades = graded.get(match["id"]) if match else None
        if grades is None:
            continue
        row["Grade"] = points(grades.score)
        if "Feedback comments" in header:
            row["Feedback comments"] = notebook_points(grades)
        if maximum and row[maximum] and abs(float(row[maximum]) - max_score) > 1e-9:
            message = (f"Moodle's maximum grade is {row[maximum]}, the grades are out of {points(max_score)}: "
                       f"set the assignment's Maximum grade to {points(max_score)} in Moodle")
            if message not in written.warnings:
                written.warnings.append(message)
    with open(path, "w", newline="") as f:
        writer = csv_safe.dict_writer(f, header)
        writer.writeheader()
        writer.writerows(rows)


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


def export_lms(root: Path, roster_path: Path, out_dir: Path, assignment: str | None = None) -> Written:
    """Write the grade file and ``<lms>-feedback.zip`` for the LMS the roster came from."""
    roster = read_roster(roster_path)
    columns, grades = class_grades(root)
    max_score = sum(columns.values())
    graded = {row.student: row for row in grades if row.student in roster}
    lms = next(iter(roster.values())).lms
    out_dir.mkdir(parents=True, exist_ok=True)
    written = Written(not_in_roster=sorted({row.student for row in grades} - set(roster)),
                      not_graded=sorted(set(roster) - {row.student for row in grades}))
    if lms == "canvas":
        table = out_dir / "canvas-grades.csv"
        canvas_csv(roster_path, table, graded, assignment, max_score, written)
    else:
        table = out_dir / "moodle-grading-worksheet.csv"
        moodle_worksheet(roster_path, table, graded, max_score, written)
    written.files.append(table)
    feedback = out_dir / f"{lms}-feedback.zip"
    if feedback_zip(root, feedback, lms, set(graded)):
        written.files.append(feedback)
    else:
        feedback.unlink()
    return written
