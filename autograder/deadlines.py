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
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.utils import parse_utc
from traitlets import Float, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from autograder.course import ASSIGNMENT, ROOT, gradebook_url

DAY = 24 * 3600


class Deadline(Configurable):
    """The assignment's due date (the course config's ``c.Deadline``)."""

    duedate = Unicode("", help='due date, e.g. "2027-03-05 23:59:00 Europe/London"; empty: no due date, nothing is late'
                      ).tag(config=True)


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


def course_config(root: Path = ROOT) -> Config:
    """The traitlets config that ``nbgrader_config.py`` in ``root`` sets (loading it as nbgrader does)."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


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
