"""The due date and the late policy, set in ``nbgrader_config.py``; nbgrader itself computes lateness.

nbgrader's own mechanism: a submission is late by its timestamp (``submitted/<student>/mlops/
timestamp.txt``, which ``collect`` writes from the LMS's submission time) minus the assignment's
due date in the gradebook; its ``AssignLatePenalties`` preprocessor then asks a late-submission
plugin for each notebook's penalty. The course config sets both::

    c.Deadline.duedate = "2027-03-05 23:59:00 Europe/London"   # nbgrader's own date format
    c.AssignLatePenalties.plugin_class = LatePenalty
    c.LatePenalty.percent_per_day = 10                         # of the notebook's score, per started day
    c.LatePenalty.max_days = 5                                 # later than this scores zero

``python -m autograder autograde`` writes the due date into the gradebook before grading (plain
nbgrader users: ``nbgrader db assignment add mlops --duedate="..."``). nbgrader has one due date per
assignment, so all six notebooks share it.

Extensions (accommodations) use nbgrader's own mechanism: a submission's ``extension`` in the
gradebook moves that student's due date in nbgrader's lateness, and so in the late penalty. The
course keeps them in a CSV, ``lms/extensions.csv`` by default (``c.Deadline.extensions``)::

    student,due,note
    1002,2027-03-08 23:59:00 Europe/London,DSP accommodation

``autograde`` writes every extension into the gradebook before grading (and removes one whose row
is gone); the feedback's first cell shows the student's own due date (``ShowDeadline``).
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import parse_utc
from sqlalchemy.exc import SAWarning
from traitlets import Float, Unicode
from traitlets.config import Configurable

from autograder.authoring.course import ASSIGNMENT, ROOT, course_config, gradebook_url
from autograder.classroom.roster import RosterError, read_table

DAY = 24 * 3600


class Deadline(Configurable):
    """The assignment's due date (the course config's ``c.Deadline``)."""

    duedate = Unicode("", help='due date, e.g. "2027-03-05 23:59:00 Europe/London"; empty: no due date, nothing is late'
                      ).tag(config=True)
    extensions = Unicode("lms/extensions.csv", help="per-student due dates: a CSV with student,due columns, "
                         "relative to the course directory; read when it exists").tag(config=True)


class LatePenalty(LateSubmissionPlugin):
    """``percent_per_day`` of a late notebook's score per started day, zero after ``max_days``."""

    percent_per_day = Float(10.0, help="penalty per started day late, in percent of the notebook's score").tag(config=True)
    max_days = Float(5.0, help="a notebook later than this many days scores zero").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / DAY)
        if days > self.max_days:
            return score
        return score * min(1.0, days * self.percent_per_day / 100)


def configured_duedate(root: Path = ROOT) -> datetime | None:
    text = Deadline(config=course_config(root)).duedate
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"c.Deadline.duedate = {text!r} in nbgrader_config.py is not a date; write it as "
                         '"2027-03-05 23:59:00 Europe/London"') from error


def apply_duedate(root: Path, duedate: datetime | None) -> None:
    """Write ``duedate`` (UTC) into the gradebook of course directory ``root``, as nbgrader stores it."""
    with Gradebook(gradebook_url(root)) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=duedate)


def extensions_file(root: Path = ROOT) -> Path:
    return root / Deadline(config=course_config(ROOT)).extensions


def read_extensions(path: Path) -> dict[str, datetime]:
    """student id -> that student's own due date (UTC), from a CSV with ``student`` and ``due`` columns."""
    header, rows = read_table(path)
    if "student" not in header or "due" not in header:
        raise RosterError(f"{path}: an extensions file needs the columns student,due (and any others, e.g. note); "
                          f"found {header}")
    due = {}
    for number, row in enumerate(rows, start=2):
        student, text = (row["student"] or "").strip(), (row["due"] or "").strip()
        if not student:
            continue
        try:
            due[student] = parse_utc(text)
        except (ValueError, OverflowError) as error:
            raise RosterError(f"{path}, line {number}: {student}'s due date {text!r} is not a date; write it as "
                              '"2027-03-08 23:59:00 Europe/London"') from error
    return due


def apply_extensions(root: Path, students: list[str]) -> dict[str, timedelta]:
    """Write each of ``students``' extension (from the extensions file) into the gradebook as nbgrader's
    ``SubmittedAssignment.extension``, removing any whose row is gone; return the ones granted."""
    path = extensions_file(root)
    own = read_extensions(path) if path.exists() else {}
    granted = {}
    with Gradebook(gradebook_url(root)) as gradebook:
        duedate = gradebook.find_assignment(ASSIGNMENT).duedate
        if own and duedate is None:
            raise RosterError(f"{path} gives extensions, but the assignment has no due date: set c.Deadline.duedate "
                              "in nbgrader_config.py")
        for student in students:
            extension = own[student] - duedate if student in own else None
            if extension is not None and extension <= timedelta(0):
                raise RosterError(f"{path}: {student}'s due date {own[student]} is not after the course's ({duedate})")
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student)
            except MissingEntry:
                if extension is None:
                    continue
                gradebook.update_or_create_student(student)
                with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warning, harmlessly
                    warnings.simplefilter("ignore", SAWarning)
                    submission = gradebook.update_or_create_submission(ASSIGNMENT, student)
            if submission.extension != extension:
                gradebook.grant_extension(ASSIGNMENT, student, minutes=extension.total_seconds() / 60 if extension else 0)
            if extension is not None:
                granted[student] = extension
    return granted


class ShowDeadline(NbGraderPreprocessor):
    """Feedback: a first cell with the student's due date (their extension included), submission
    time, lateness and late penalty, read from the gradebook (after nbgrader's ``GetGrades``)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            submission = gradebook.find_submission(info["assignment"], info["student"])
            if submission.duedate is None:
                return nb, resources
            lines = [f"**Due:** {submission.duedate:%Y-%m-%d %H:%M} UTC"
                     + (f" (your extension of {span(submission.extension)} included)" if submission.extension else "")]
            if submission.timestamp is not None:
                late = submission.total_seconds_late
                lines.append(f"**Submitted:** {submission.timestamp:%Y-%m-%d %H:%M} UTC"
                             + (f", {span(timedelta(seconds=late))} late" if late > 0 else ", on time"))
            penalty = info.get("late_penalty") or 0
            if penalty:
                lines.append(f"**Late penalty on this notebook:** {penalty:.2f} points")
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("  \n".join(lines)))
        return nb, resources


def span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
