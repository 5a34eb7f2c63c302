"""Read the class list an instructor downloads from the LMS: who each student id in ``submitted/`` is.

Two files are understood, as each LMS writes them:

    Canvas  Grades > Export (the gradebook CSV): Student, ID, SIS User ID, SIS Login ID, Section, ...
            a second row "Points Possible" (and sometimes "Muted") holds no student.
    Moodle  the assignment's View all submissions > Download grading worksheet: Identifier
            ("Participant 501"), Full name, Email address, Status, Grade, ..., Last modified (submission)

The student id is the one the LMS puts in its download's file names (Canvas's user ID, Moodle's
participant number), so it is also the folder name under ``submitted/``. The Moodle worksheet also
gives each submission's time ("Last modified (submission)"); ``submission_times`` reads it, or any
CSV with a ``student`` and a ``submitted`` column (for Canvas, whose download holds no times).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dateutil.parser
from nbgrader.api import Gradebook

from autograder.authoring.course import gradebook_url

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address"]
MOODLE_PARTICIPANT = re.compile(r"^Participant\s+(?P<id>\d+)$")
TIME_COLUMNS = ["submitted", "Last modified (submission)"]


class RosterError(ValueError):
    pass


@dataclass
class Person:
    student: str            # the id in the LMS's file names and under submitted/
    name: str               # Canvas "Last, First"; Moodle "First Last"
    lms: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""


def read_table(path: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # LMS exports often start with a BOM
            reader = csv.DictReader(f)
            return list(reader.fieldnames or []), list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{path}: cannot read it as a CSV file ({error})") from error


def read_roster(path: Path) -> dict[str, Person]:
    """student id -> Person, from a Canvas gradebook export or a Moodle grading worksheet."""
    path = Path(path)
    header, rows = read_table(path)
    if all(column in header for column in CANVAS_COLUMNS):
        people = [Person(row["ID"].strip(), row["Student"].strip(), "canvas", row["SIS User ID"].strip(),
                         row["SIS Login ID"].strip(), row["Section"].strip())
                  for row in rows if row["ID"].strip().isdigit()]  # skips "Points Possible" and "Muted"
    elif all(column in header for column in MOODLE_COLUMNS):
        people = []
        for row in rows:
            match = MOODLE_PARTICIPANT.match(row["Identifier"].strip())
            if match:
                people.append(Person(match["id"], row["Full name"].strip(), "moodle",
                                     sis_user_id=row.get("ID number", "").strip(), email=row["Email address"].strip()))
    else:
        raise RosterError(f"{path}: not a roster this course reads; its columns are {header}. Download "
                          f"Canvas's gradebook (Grades > Export: {', '.join(CANVAS_COLUMNS)}) or Moodle's "
                          f"grading worksheet ({', '.join(MOODLE_COLUMNS)}, ...)")
    if not people:
        raise RosterError(f"{path}: the roster lists no students")
    return {person.student: person for person in people}


def submission_times(path: Path, zone: str = "UTC") -> dict[str, datetime]:
    """student id -> submission time (UTC), from a Moodle grading worksheet or a CSV with
    ``student`` and ``submitted`` columns. Times without a zone are read in ``zone``, the zone
    the LMS shows its times in; rows without a time ("-" in Moodle: no submission) are left out."""
    path = Path(path)
    header, rows = read_table(path)
    student_column = "student" if "student" in header else "Identifier" if "Identifier" in header else None
    time_column = next((c for c in TIME_COLUMNS if c in header), None)
    if student_column is None or time_column is None:
        raise RosterError(f"{path}: no submission times in it; expected a 'student' (or Moodle's 'Identifier') "
                          f"column and a {' or '.join(repr(c) for c in TIME_COLUMNS)} column, found {header}")
    local = ZoneInfo(zone)
    times = {}
    for row in rows:
        student = row[student_column].strip()
        student = MOODLE_PARTICIPANT.sub(r"\g<id>", student)
        text = row[time_column].strip()
        if not student or text in ("", "-"):
            continue
        try:
            when = dateutil.parser.parse(text)
        except (ValueError, OverflowError) as error:
            raise RosterError(f"{path}: {student}'s time {text!r} is not a date ({error})") from error
        times[student] = (when if when.tzinfo else when.replace(tzinfo=local)).astimezone(timezone.utc)
    return times


def first_and_last(person: Person) -> tuple[str, str]:
    """(first name, last name): Canvas writes "Last, First", Moodle "First Last"."""
    if "," in person.name:
        last, first = (part.strip() for part in person.name.split(",", 1))
        return first, last
    first, _, last = person.name.rpartition(" ")
    return (first, last) if first else (person.name, "")


def names_into_gradebook(root: Path, people: dict[str, Person]) -> None:
    """Write each student's names and email into nbgrader's gradebook, so formgrader shows
    "Jane Doe" instead of "1001 (None, None)"; students not in the gradebook yet are added."""
    with Gradebook(gradebook_url(root)) as gradebook:
        for person in people.values():
            first, last = first_and_last(person)
            gradebook.update_or_create_student(person.student, first_name=first, last_name=last, email=person.email or None)
