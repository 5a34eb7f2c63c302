"""The LMS files the instructor downloads are read as each LMS writes them, and the late policy
charges what the course config says."""

from datetime import datetime, timezone

import pytest

from autograder.classroom.deadlines import DAY, LatePenalty, read_extensions
from autograder.classroom.roster import Person, RosterError, first_and_last, read_roster, submission_times

CANVAS = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (17)\n"
          "    Points Possible,,,,,10\n"
          '"Doe, Jane",101,S101,jdoe,Section A,9\n'
          "Student, Test,999,,,Section A,\n")
MOODLE = ("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
          "Last modified (submission),Last modified (grade),Feedback comments\n"
          'Participant 501,Cy Young,cy@example.edu,Submitted,,100.00,Yes,"Thursday, 26 November 2026, 9:00 AM",-,\n'
          "Participant 502,Di Park,di@example.edu,No submission,,100.00,Yes,-,-,\n")


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / name


def test_canvas_gradebook_export(tmp_path):
    people = read_roster(write(tmp_path, "canvas.csv", CANVAS))
    assert sorted(people) == ["101"]  # the Points Possible row is no student; a malformed row is skipped
    jane = people["101"]
    assert (jane.name, jane.lms, jane.sis_user_id, jane.sis_login_id, jane.section) == (
        "Doe, Jane", "canvas", "S101", "jdoe", "Section A")


def test_moodle_grading_worksheet_gives_names_and_times(tmp_path):
    path = write(tmp_path, "moodle.csv", MOODLE)
    people = read_roster(path)
    assert [(p.student, p.name, p.email, p.lms) for p in people.values()] == [
        ("501", "Cy Young", "cy@example.edu", "moodle"), ("502", "Di Park", "di@example.edu", "moodle")]
    assert submission_times(path, "Europe/Berlin") == {"501": datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)}


def test_files_that_are_not_rosters_say_what_was_expected(tmp_path):
    with pytest.raises(RosterError, match="Grades > Export"):
        read_roster(write(tmp_path, "other.csv", "name,grade\nann,3\n"))
    with pytest.raises(RosterError, match="'submitted'"):
        submission_times(write(tmp_path, "times.csv", "student,when\n1,2026-01-01\n"))
    with pytest.raises(RosterError, match="is not a date"):
        submission_times(write(tmp_path, "bad.csv", "student,submitted\n1,next tuesday-ish\n"))


@pytest.mark.parametrize("seconds_late, penalty", [
    (0, None), (1, 1.0), (DAY, 1.0), (DAY + 1, 2.0), (5 * DAY, 5.0), (5 * DAY + 1, 10.0)])
def test_late_penalty_per_started_day_then_zero(seconds_late, penalty):
    plugin = LatePenalty(percent_per_day=10, max_days=5)
    assert plugin.late_submission_penalty("s", 10.0, seconds_late) == (pytest.approx(penalty) if penalty else None)


def test_names_split_as_each_lms_writes_them():
    people = [Person("1", "Doe, Jane Ann", "canvas"), Person("2", "Cy de Young", "moodle"), Person("3", "Plato", "moodle")]
    assert [first_and_last(p) for p in people] == [("Jane Ann", "Doe"), ("Cy de", "Young"), ("Plato", "")]


def test_extensions_file_gives_each_student_a_due_date_and_says_what_is_wrong(tmp_path):
    path = write(tmp_path, "extensions.csv", "student,due,note\n1002,2027-03-08 23:59:00 Europe/London,DSP\n,,\n")
    assert read_extensions(path) == {"1002": datetime(2027, 3, 8, 23, 59)}  # nbgrader's form: UTC, no zone
    with pytest.raises(RosterError, match="line 2: 1003's due date 'soon' is not a date"):
        read_extensions(write(tmp_path, "bad.csv", "student,due\n1003,soon\n"))
    with pytest.raises(RosterError, match="needs the columns student,due"):
        read_extensions(write(tmp_path, "cols.csv", "id,days\n1003,2\n"))
