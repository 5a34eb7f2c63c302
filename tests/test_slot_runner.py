"""A class graded by one warm nbgrader process per job slot (``autograder.classroom.slot_runner``):
one process serves a slot's students one after another, and a process that dies costs only the
student it was grading."""

import os
import signal
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.apps.autogradeapp import AutogradeApp
from traitlets.config.loader import DeferredConfigString

from autograder.authoring import course
from autograder.classroom.batch import LOG_NAME, autograde_class, runner_settings
from autograder.classroom.slot_runner import SettingsError, nbgrader_config
from autograder.proof import selfcheck

NOTEBOOK = "01_registry"
RUNNER = b"autograder.classroom.slot_runner"


def scratch_class(where: Path, students: dict[str, bool]) -> Path:
    """A released scratch course of one notebook; each student hands in the solution (True) or the
    release as it is (False)."""
    root = course.scratch_course(where, only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    for student, solved in students.items():
        nb = selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s) if solved else r)
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return root


def score(root: Path, student: str) -> float:
    return sum(course.cell_scores(root, student)[NOTEBOOK].values())


def runners() -> dict[int, bytes]:
    """pid -> command line of this process's slot runners."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                command = (entry / "cmdline").read_bytes()
                if RUNNER in command:
                    found[int(entry.name)] = command
        except (OSError, IndexError, ValueError):  # ended while being read
            continue
    return found


def grading(pid: int) -> bool:
    """Whether the runner ``pid`` has started a judge (it is grading a student)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return children.exists() and bool(children.read_text().split())


def test_one_runner_grades_a_slot_s_students_in_turn(tmp_path):
    root = scratch_class(tmp_path, {"a-solved": True, "b-released": False})
    printed = []
    outcomes = autograde_class(root, jobs=1, report=printed.append)
    assert [o.student for o in outcomes] == ["a-solved", "b-released"]
    assert all(o.ok and not o.skipped for o in outcomes), [o.log[-1500:] for o in outcomes]
    assert len({o.runner for o in outcomes}) == 1 and outcomes[0].runner != os.getpid(), \
        f"each student was graded by its own process: {[o.runner for o in outcomes]}"
    for outcome in outcomes:
        log = (root / "autograded" / outcome.student / course.ASSIGNMENT / LOG_NAME).read_text()
        assert f"Graded {NOTEBOOK}" in log and log == outcome.log, log
        assert "a-solved" not in log if outcome.student == "b-released" else "b-released" not in log
    assert score(root, "a-solved") > 0 and score(root, "b-released") == 0
    assert not runners(), "a slot's process outlived its batch"
    again = autograde_class(root, jobs=2, report=printed.append)
    assert [o.skipped for o in again] == [True, True] and all(o.ok for o in again)


def test_a_failing_student_is_reported_failed_and_the_next_graded(tmp_path):
    root = scratch_class(tmp_path, {"a-broken": True, "b-solved": True})
    (root / "submitted" / "a-broken" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb").write_text("{not a notebook")
    broken, solved = autograde_class(root, jobs=1, report=lambda line: None)
    assert not broken.ok and "There was an error processing assignment" in broken.log, broken.log[-2000:]
    assert solved.ok and solved.runner == broken.runner and score(root, "b-solved") > 0


def test_a_runner_killed_mid_student_costs_only_that_student(tmp_path):
    root = scratch_class(tmp_path, {"a-first": True, "b-second": True, "c-third": True})
    killed = []

    def kill_the_first_runner_while_it_grades():
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline:
            for pid in runners():
                if grading(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_runner_while_it_grades)
    killer.start()
    printed = []
    try:
        outcomes = autograde_class(root, jobs=1, report=printed.append)
    finally:
        killed.append("stop")
        killer.join()
    first, *rest = outcomes
    assert killed[0] == first.runner, (killed, [o.runner for o in outcomes])
    assert not first.ok and "killed by signal 9 (SIGKILL) while grading a-first" in first.log, first.log[-2000:]
    assert (root / "autograded" / "a-first" / course.ASSIGNMENT / LOG_NAME).read_text() == first.log
    assert all(o.ok for o in rest) and {o.runner for o in rest} != {first.runner}, [o.log[-1500:] for o in rest]
    assert score(root, "b-second") > 0 and score(root, "c-third") > 0
    assert "failed: a-first" in printed[-1]


def test_a_setting_nbgrader_cannot_read_stops_the_batch_before_anyone(tmp_path):
    root = scratch_class(tmp_path, {"a": True})
    with pytest.raises(SettingsError, match="--Class.trait=value"):
        autograde_class(root, extra=("--force",), report=lambda line: None)
    assert not (root / "autograded").exists()


def test_a_runner_reads_the_config_the_per_student_command_read(tmp_path, monkeypatch):
    """Every nbgrader_config.py ``nbgrader autograde`` loads (the working directory's and the course
    root's), with the command line's settings on top; the student comes with each request."""
    root = course.scratch_course(tmp_path, only=[NOTEBOOK])
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.JudgedExecute.test_timeout = 7\n"
                                             "c.LimitOutput.max_lines = 9\n")
    settings = runner_settings(root, ("--JudgedExecute.cell_timeout=20", "--LimitOutput.max_lines=11"))
    monkeypatch.chdir(course.ROOT)  # where the batch starts its runners, as it started the command

    def plain(config) -> dict:
        return {section: {name: str(value) if isinstance(value, DeferredConfigString) else value
                          for name, value in values.items() if (section, name) != ("CourseDirectory", "student_id")}
                for section, values in config.items() if values}

    command = AutogradeApp()
    command.initialize([course.ASSIGNMENT, "--student", "someone", *settings])
    runner = plain(nbgrader_config(settings))
    assert runner == plain(command.config)
    assert runner["JudgedExecute"]["test_timeout"] == 7 and runner["JudgedExecute"]["cell_timeout"] == "20"
    assert runner["LimitOutput"]["max_lines"] == "11" and runner["Autograde"]["autograde_preprocessors"]
