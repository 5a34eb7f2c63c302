"""A class's round trip as an instructor runs it: a Canvas zip and a Moodle zip (late, renamed and
misnamed files), a later download with one resubmitted notebook, an extension, and the rosters
those systems export -> collect -> autograde -> feedback -> the files each LMS imports, with
nbgrader's lateness and penalties, and no student data left for git.

Grading is kept small (two notebooks, one of them submitted by one student only; three students)."""

import csv
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from autograder.authoring import course
from autograder.proof import selfcheck
from nbgrader.api import Gradebook

from autograder.authoring.course import course_config
from autograder.classroom.batch import LOG_NAME, PREVIOUS_LOG_NAME, autograde_class
from autograder.classroom.collect import collect, missing_notebooks
from autograder.classroom.deadlines import LatePenalty, apply_duedate
from autograder.classroom.grades import export_csv
from autograder.classroom.lms_export import export_lms
from autograder.classroom.roster import RosterError, names_into_gradebook, read_roster

NOTEBOOK = "01_registry"
SECOND = "02_serving"  # only student 101 submits it
FAST = ()  # the course config's own limits: a busy machine must not cost a student points
DUE = "2026-11-20 23:59:00 UTC"

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (301),MLOps capstone (4242),Current Score,Final Score
    Points Possible,,,,,10,32,(read only),(read only)
"Doe, Jane",101,S101,jdoe,Section A,9,,90,90
"Smith, Bob",102,S102,bsmith,Section A,7,,70,70
"Lee, Ann",103,S103,alee,Section B,8,,80,80
"Absent, Al",104,S104,aabsent,Section B,,,0,0
"""  # the capstone's 32 points: 01_registry (15 + 2 written) + 02_serving (13 + 2 written)
CANVAS_TIMES = "student,submitted\n101,2026-11-20 10:00:00\n102,2026-11-22 08:00:00\n"  # 102: 1 day 8 h late
RESUBMIT_TIMES = "student,submitted\n101,2026-11-20 21:00:00\n"  # 101 fixed 01_registry, still on time
EXTENSIONS = "student,due,note\n102,2026-11-21 23:59:00 UTC,accommodation: one day\n"  # 102: now 8 h late
MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 501,Cy Young,cy@example.edu,Submitted for grading,,100.00,Yes,"Thursday, 26 November 2026, 9:00 AM",-,
Participant 502,Di Park,di@example.edu,No submission,,100.00,Yes,-,-,
"""  # 501: 5 days 9 h late, past the configured maximum


def git(root, *args):
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    """A scratch course under git with the repository's .gitignore, released, with rosters and downloads."""
    root = course.scratch_course(tmp_path_factory.mktemp("class"), only=[NOTEBOOK, SECOND])
    shutil.copy(course.ROOT / ".gitignore", root / ".gitignore")
    released = course.notebooks(course.release(root, quiet=True))
    source = course.notebooks(root / "source" / course.ASSIGNMENT)
    solved, serving = (nbformat.writes(selfcheck.submission(released[nb], source[nb], lambda t, s, r: selfcheck.answered(s)))
                       for nb in [NOTEBOOK, SECOND])
    canvas = {
        f"doejane_101_9001_Copy of {NOTEBOOK}.ipynb": nbformat.writes(released[NOTEBOOK]),  # a first try: nothing answered
        f"doejane_101_9001_{SECOND}.ipynb": serving,
        f"smithbob_LATE_102_9002_{NOTEBOOK} (1).ipynb": solved,               # a second browser download, late
        "smithbob_102_9002_notes.txt": "my notes",
        "Registry Homework.ipynb": solved,                                     # no LMS prefix: misnamed
        "leeann_103_9003_registry_final.ipynb": solved,                       # not a course notebook's name
    }
    moodle = {f"Cy Young_501_assignsubmission_file_{NOTEBOOK}.ipynb": solved}
    lms = root / "lms"  # where the instructor guide keeps what comes from the LMS
    lms.mkdir()
    resubmitted = {f"doejane_101_9001_Copy of {NOTEBOOK}.ipynb": solved}  # the later download: 101's latest upload only
    for name, members in [("canvas.zip", canvas), ("moodle.zip", moodle), ("canvas-resubmitted.zip", resubmitted)]:
        with zipfile.ZipFile(lms / name, "w") as archive:
            for member, text in members.items():
                archive.writestr(member, text)
    (lms / "canvas-roster.csv").write_text(CANVAS_ROSTER)
    (lms / "canvas-times.csv").write_text(CANVAS_TIMES)
    (lms / "canvas-resubmitted-times.csv").write_text(RESUBMIT_TIMES)
    (lms / "extensions.csv").write_text(EXTENSIONS)  # where c.Deadline.extensions looks by default
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
    resubmitted = collect(root / "lms" / "canvas-resubmitted.zip", root, timestamps=root / "lms" / "canvas-resubmitted-times.csv")
    apply_duedate(root, parse_utc(DUE))
    printed = []
    outcomes = autograde_class(root, jobs=2, extra=FAST, report=printed.append)
    course.nbgrader("generate_feedback", course.ASSIGNMENT, root=root, quiet=True)
    return root, fates, outcomes, resubmitted, printed


def scores(root, student):
    with Gradebook(course.gradebook_url(root)) as gradebook:
        return {nb.name: nb.score for nb in gradebook.find_submission(course.ASSIGNMENT, student).notebooks}


def test_every_placeable_file_is_placed_and_the_rest_reported(graded):
    root, fates, *_ = graded
    status = {f.file.split("/", 1)[1]: (f.status, f.student) for f in fates}
    assert status == {
        f"doejane_101_9001_Copy of {NOTEBOOK}.ipynb": ("collected", "101"),
        f"doejane_101_9001_{SECOND}.ipynb": ("collected", "101"),
        f"smithbob_LATE_102_9002_{NOTEBOOK} (1).ipynb": ("collected", "102"),
        "smithbob_102_9002_notes.txt": ("not-a-notebook", ""),
        "Registry Homework.ipynb": ("misnamed", ""),
        "leeann_103_9003_registry_final.ipynb": ("unknown-notebook", "103"),
        f"Cy Young_501_assignsubmission_file_{NOTEBOOK}.ipynb": ("collected", "501"),
    }
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["101", "102", "501"]
    stamp = (root / "submitted" / "102" / course.ASSIGNMENT / "timestamp.txt").read_text()
    assert parse_utc(stamp) == parse_utc("2026-11-22 08:00:00 UTC")  # nbgrader's own file, in its form


def test_a_resubmission_of_one_notebook_keeps_the_other(graded):
    root, _, outcomes, resubmitted, _ = graded
    assert [(f.status, f.notebook) for f in resubmitted if f.notebook] == [("collected", NOTEBOOK), ("kept", SECOND)]
    full = {nb: sum(course.test_cells(course.notebooks(root / "source" / course.ASSIGNMENT)[nb]).values())
            for nb in [NOTEBOOK, SECOND]}
    assert scores(root, "101") == full  # the fixed notebook and the one submitted before, both graded
    assert missing_notebooks(root) == {"102": [SECOND], "501": [SECOND]}


def test_the_batch_summary_names_what_needs_a_look(graded):
    *_, printed = graded
    summary = printed[-1]
    assert summary.startswith("summary: 3 students") and "3 graded, 0 failed" in summary
    assert "late: 102 (8.0 h), 501 (129.0 h)" in summary
    assert f"missing notebooks (scored 0): 102: {SECOND}; 501: {SECOND}" in summary
    assert any(line == "extensions: 102 (+24.0 hours)" for line in printed)


def test_an_extension_moves_one_students_lateness_and_the_feedback_shows_it(graded):
    root, *_ = graded
    with Gradebook(course.gradebook_url(root)) as gradebook:
        bob = gradebook.find_submission(course.ASSIGNMENT, "102")
        assert bob.extension is not None and bob.total_seconds_late == pytest.approx(8 * 3600 + 60)
    page = (root / "feedback" / "102" / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "2026-11-21 23:59" in page and "your extension of 24.0 hours included" in page and "8.0 hours late" in page
    assert "your extension" not in (root / "feedback" / "101" / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


def test_lateness_and_penalties_as_configured(graded):
    root, _, outcomes, *_ = graded
    assert all(o.ok for o in outcomes), [o.log[-1500:] for o in outcomes if not o.ok]
    sources = course.notebooks(root / "source" / course.ASSIGNMENT)
    full = sum(course.test_cells(sources[NOTEBOOK]).values())
    both = full + sum(course.test_cells(sources[SECOND]).values())
    per_day = LatePenalty(config=course_config()).percent_per_day / 100
    export_csv(root, root / "grades.csv")
    with open(root / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {s: (float(r["raw score"]), float(r["late penalty"]), float(r["total"])) for s, r in rows.items()} == {
        "101": (both, 0.0, both),                                    # on time, both notebooks
        "102": (full, pytest.approx(per_day * full), pytest.approx((1 - per_day) * full)),  # 1 started day after the extension
        "501": (full, full, 0.0),                                    # later than max_days: zero
    }
    assert float(rows["102"]["hours late"]) == pytest.approx(8.02, abs=0.01)
    assert {s: r["LMS late"] for s, r in rows.items()} == {"101": "", "102": "LATE", "501": ""}  # Canvas's own flag


def test_canvas_gets_its_own_gradebook_with_the_assignment_column_filled(graded):
    root, *_ = graded
    roster = root / "lms" / "canvas-roster.csv"
    with pytest.raises(RosterError, match="several assignment columns.*--assignment.*Homework 1 \\(301\\); MLOps capstone \\(4242\\)"):
        export_lms(root, roster, root / "grades")
    export_csv(root, root / "grades.csv")
    with open(root / "grades.csv", newline="") as f:
        totals = {row["student"]: float(row["total"]) for row in csv.DictReader(f)}
    for chosen in ["4242", "MLOps capstone"]:
        written = export_lms(root, roster, root / "grades", assignment=chosen)
        assert written.not_graded == ["103", "104"] and written.warnings == []
        with open(root / "grades" / "canvas-grades.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "MLOps capstone (4242)"]
        assert rows[1] == ["    Points Possible", "", "", "", "", "32"]
        assert [(r[:5], float(r[5])) for r in rows[2:]] == [
            (["Doe, Jane", "101", "S101", "jdoe", "Section A"], totals["101"]),
            (["Smith, Bob", "102", "S102", "bsmith", "Section A"], totals["102"])]  # after the late penalty
    assert totals["102"] < 15
    with zipfile.ZipFile(root / "grades" / "canvas-feedback.zip") as archive:
        assert archive.namelist() == [f"doejane_101_9001_{NOTEBOOK}-feedback.html", f"doejane_101_9001_{SECOND}-feedback.html",
                                      f"smithbob_102_9002_{NOTEBOOK}-feedback.html"]


def test_the_moodle_grading_worksheet_comes_back_filled(graded):
    root, *_ = graded
    worksheet = root / "lms" / "moodle-worksheet.csv"
    written = export_lms(root, worksheet, root / "grades")
    assert written.not_graded == ["502"]
    assert written.warnings == ["Moodle's maximum grade is 100.00, the grades are out of 32: "
                                "set the assignment's Maximum grade to 32 in Moodle"]
    with open(worksheet, newline="") as f:
        downloaded = list(csv.DictReader(f))
    with open(root / "grades" / "moodle-grading-worksheet.csv", newline="") as f:
        reader = csv.DictReader(f)
        filled = list(reader)
    assert reader.fieldnames == list(downloaded[0])  # Moodle's own columns, in its order
    cy, di = filled
    assert cy["Grade"] == "0" and cy["Feedback comments"].startswith(f"{NOTEBOOK}: 15; {SECOND}: 0; late penalty: -15; total 0 of 32")
    assert {k: v for k, v in cy.items() if k not in ("Grade", "Feedback comments")} == {
        k: v for k, v in downloaded[0].items() if k not in ("Grade", "Feedback comments")}
    assert di == downloaded[1]  # no submission: left as downloaded
    with zipfile.ZipFile(root / "grades" / "moodle-feedback.zip") as archive:
        assert archive.namelist() == [f"Cy Young_501_assignsubmission_file_{NOTEBOOK}-feedback.html"]


def test_roster_names_reach_the_gradebook(graded):
    root, *_ = graded
    names_into_gradebook(root, read_roster(root / "lms" / "canvas-roster.csv"))
    names_into_gradebook(root, read_roster(root / "lms" / "moodle-worksheet.csv"))
    with Gradebook(course.gradebook_url(root)) as gradebook:
        jane, cy = gradebook.find_student("101"), gradebook.find_student("501")
        assert (jane.first_name, jane.last_name) == ("Jane", "Doe")
        assert (cy.first_name, cy.last_name, cy.email) == ("Cy", "Young", "cy@example.edu")


def test_one_student_is_regraded_and_both_logs_kept(graded):
    root, *_ = graded
    results = root / "autograded" / "501" / course.ASSIGNMENT
    before = (results / LOG_NAME).read_text()
    printed = []
    (again,) = autograde_class(root, jobs=1, extra=FAST, report=printed.append, only=["501"])
    assert again.ok and not again.skipped and (results / PREVIOUS_LOG_NAME).read_text() == before
    assert "Autograding" in (results / LOG_NAME).read_text()
    assert printed[-1].startswith("summary: 1 student in") and "late: 501" in printed[-1]
    assert scores(root, "501") == {NOTEBOOK: 15.0, SECOND: 0.0}  # graded 15, never submitted 02


def test_logs_kept_out_of_feedback_and_regrading_skips(graded):
    root, *_ = graded
    for student in ["101", "102", "501"]:
        assert "Autograding" in (root / "autograded" / student / course.ASSIGNMENT / LOG_NAME).read_text()
        assert not (root / "feedback" / student / course.ASSIGNMENT / LOG_NAME).exists()
    again = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    assert [o.skipped for o in again] == [True, True, True]
    resubmitted = root / "submitted" / "501" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    later = time.time() + 5
    os.utime(resubmitted, (later, later))  # collected from a later download, same timestamp.txt
    again = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    assert [(o.student, o.skipped) for o in again] == [("101", True), ("102", True), ("501", False)]


def test_nothing_for_git_after_the_round_trip(graded):
    root, *_ = graded
    export_csv(root, root / "grades.csv")
    export_lms(root, root / "lms" / "canvas-roster.csv", root / "grades", assignment="4242")
    assert Path(root / "gradebook.db").exists() and (root / "reports" / "collect.csv").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
