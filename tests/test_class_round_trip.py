"""A class's round trip as an instructor runs it: a Canvas zip and a Moodle zip (late, renamed and
misnamed files) and the rosters those systems export -> collect -> autograde -> feedback -> the
files each LMS imports, with nbgrader's lateness and penalties, and no student data left for git.

Grading is kept small (one notebook, three students) so the test runs in about a minute."""

import csv
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from autograder import course, selfcheck
from autograder.batch import LOG_NAME, autograde_class
from autograder.collect import collect
from autograder.deadlines import LatePenalty, apply_duedate, course_config
from autograder.grades import export_csv
from autograder.lms_export import export_lms
from autograder.roster import read_roster

NOTEBOOK = "01_registry"
FAST = ()  # the course config's own limits: a busy machine must not cost a student points
DUE = "2026-11-20 23:59:00 UTC"

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (301)
    Points Possible,,,,,10
"Doe, Jane",101,S101,jdoe,Section A,9
"Smith, Bob",102,S102,bsmith,Section A,7
"Lee, Ann",103,S103,alee,Section B,8
"Absent, Al",104,S104,aabsent,Section B,
"""
CANVAS_TIMES = "student,submitted\n101,2026-11-20 10:00:00\n102,2026-11-22 08:00:00\n"  # 102: 1 day 8 h late
MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 501,Cy Young,cy@example.edu,Submitted for grading,,100.00,Yes,"Thursday, 26 November 2026, 9:00 AM",-,
Participant 502,Di Park,di@example.edu,No submission,,100.00,Yes,-,-,
"""  # 501: 5 days 9 h late, past the configured maximum


def git(root, *args):
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    """A scratch course under git with the repository's .gitignore, released, with rosters and downloads."""
    root = course.scratch_course(tmp_path_factory.mktemp("class"), only=[NOTEBOOK])
    shutil.copy(course.ROOT / ".gitignore", root / ".gitignore")
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    solved = nbformat.writes(selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s)))
    canvas = {
        f"doejane_101_9001_Copy of {NOTEBOOK}.ipynb": solved,                 # Colab's "Save a copy in Drive"
        f"smithbob_LATE_102_9002_{NOTEBOOK} (1).ipynb": solved,               # a second browser download, late
        "smithbob_102_9002_notes.txt": "my notes",
        "Registry Homework.ipynb": solved,                                     # no LMS prefix: misnamed
        "leeann_103_9003_registry_final.ipynb": solved,                       # not a course notebook's name
    }
    moodle = {f"Cy Young_501_assignsubmission_file_{NOTEBOOK}.ipynb": solved}
    lms = root / "lms"  # where the instructor guide keeps what comes from the LMS
    lms.mkdir()
    for name, members in [("canvas.zip", canvas), ("moodle.zip", moodle)]:
        with zipfile.ZipFile(lms / name, "w") as archive:
            for member, text in members.items():
                archive.writestr(member, text)
    (lms / "canvas-roster.csv").write_text(CANVAS_ROSTER)
    (lms / "canvas-times.csv").write_text(CANVAS_TIMES)
    (lms / "moodle-worksheet.csv").write_text(MOODLE_WORKSHEET)
    git(root, "init", "-q")
    git(root, "add", ".gitignore", "source", "assignments")
    git(root, "-c", "user.name=course", "-c", "user.email=course@example.edu", "commit", "-qm", "course")
    return root


@pytest.fixture(scope="module")
def graded(course_dir):
    root = course_dir
    fates = collect(root / "lms" / "canvas.zip", root, timestamps=root / "lms" / "canvas-times.csv")
    fates += collect(root / "lms" / "moodle.zip", root, timestamps=root / "lms" / "moodle-worksheet.csv")
    apply_duedate(root, parse_utc(DUE))
    outcomes = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    course.nbgrader("generate_feedback", course.ASSIGNMENT, root=root, quiet=True)
    return root, fates, outcomes


def test_every_placeable_file_is_placed_and_the_rest_reported(graded):
    root, fates, _ = graded
    status = {f.file.split("/", 1)[1]: (f.status, f.student) for f in fates}
    assert status == {
        f"doejane_101_9001_Copy of {NOTEBOOK}.ipynb": ("collected", "101"),
        f"smithbob_LATE_102_9002_{NOTEBOOK} (1).ipynb": ("collected", "102"),
        "smithbob_102_9002_notes.txt": ("not-a-notebook", ""),
        "Registry Homework.ipynb": ("misnamed", ""),
        "leeann_103_9003_registry_final.ipynb": ("unknown-notebook", "103"),
        f"Cy Young_501_assignsubmission_file_{NOTEBOOK}.ipynb": ("collected", "501"),
    }
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["101", "102", "501"]
    stamp = (root / "submitted" / "102" / course.ASSIGNMENT / "timestamp.txt").read_text()
    assert parse_utc(stamp) == parse_utc("2026-11-22 08:00:00 UTC")  # nbgrader's own file, in its form


def test_lateness_and_penalties_as_configured(graded):
    root, _, outcomes = graded
    assert all(o.ok for o in outcomes), [o.log[-1500:] for o in outcomes if not o.ok]
    full = sum(course.test_cells(course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]).values())
    per_day = LatePenalty(config=course_config()).percent_per_day / 100
    export_csv(root, root / "grades.csv")
    with open(root / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {s: (float(r["raw score"]), float(r["late penalty"]), float(r["total"])) for s, r in rows.items()} == {
        "101": (full, 0.0, full),                                    # on time
        "102": (full, pytest.approx(2 * per_day * full), pytest.approx((1 - 2 * per_day) * full)),  # 2 started days
        "501": (full, full, 0.0),                                    # later than max_days: zero
    }
    assert float(rows["102"]["hours late"]) == pytest.approx(32.02, abs=0.01)
    assert {s: r["LMS late"] for s, r in rows.items()} == {"101": "", "102": "LATE", "501": ""}  # Canvas's own flag


def test_grades_go_back_in_the_lms_formats(graded):
    root, _, _ = graded
    out = root / "grades"
    canvas = export_lms(root, read_roster(root / "lms" / "canvas-roster.csv"), out)
    moodle = export_lms(root, read_roster(root / "lms" / "moodle-worksheet.csv"), out)
    assert canvas.not_graded == ["103", "104"] and moodle.not_graded == ["502"]
    with open(out / "canvas-grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5] == f"{course.ASSIGNMENT} {NOTEBOOK}/content_hash" and rows[0][-1] == f"{course.ASSIGNMENT} total"
    assert rows[1][0].strip() == "Points Possible"
    assert [r[:5] for r in rows[2:]] == [["Doe, Jane", "101", "S101", "jdoe", "Section A"],
                                         ["Smith, Bob", "102", "S102", "bsmith", "Section A"]]  # sorted by name
    with open(out / "moodle-grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["Full name"], r["Email address"], float(r[f"{course.ASSIGNMENT} total"])) for r in rows] == [
        ("Cy Young", "cy@example.edu", 0.0)]
    with zipfile.ZipFile(out / "canvas-feedback.zip") as archive:
        assert archive.namelist() == [f"doejane_101_9001_{NOTEBOOK}-feedback.html", f"smithbob_102_9002_{NOTEBOOK}-feedback.html"]
    with zipfile.ZipFile(out / "moodle-feedback.zip") as archive:
        assert archive.namelist() == [f"Cy Young_501_assignsubmission_file_{NOTEBOOK}-feedback.html"]


def test_logs_kept_out_of_feedback_and_regrading_skips(graded):
    root, _, _ = graded
    for student in ["101", "102", "501"]:
        assert "Autograding" in (root / "autograded" / student / course.ASSIGNMENT / LOG_NAME).read_text()
        assert not (root / "feedback" / student / course.ASSIGNMENT / LOG_NAME).exists()
    again = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    assert [o.skipped for o in again] == [True, True, True]


def test_nothing_for_git_after_the_round_trip(graded):
    root, _, _ = graded
    export_csv(root, root / "grades.csv")
    export_lms(root, read_roster(root / "lms" / "canvas-roster.csv"), root / "grades")
    assert Path(root / "gradebook.db").exists() and (root / "reports" / "collect.csv").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
