"""Hostile submissions, graded together in one batch: none stops the batch, none earns more than
its honest work, the gradebook stays consistent, tampering is reported."""

import json
import re
import sqlite3

import nbformat
import pytest

from autograder import course, selfcheck
from autograder.batch import autograde_class
from autograder.grading import nbgrader_meta

NOTEBOOK = "01_registry"
FAST = ("--BoundedExecute.timeout=20", "--HiddenChecks.cell_timeout=20", "--BoundedExecute.notebook_timeout=120")


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("solution")]


def prepend(cell, code):
    cell.source = code + "\n" + cell.source


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = course.scratch_course(tmp_path_factory.mktemp("hostile"), only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    solved = lambda: selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))  # noqa: E731
    points = course.test_cells(source)
    tasks = course.task_ids(source)
    first, last = tasks[0], tasks[-1]
    full = sum(points.values())

    subs, expected = {}, {}

    nb = solved()
    prepend(solution_cells(nb)[0], "while True:\n    pass")
    subs["loops-forever"], expected["loops-forever"] = nb, full - points[f"test_{first}"]

    nb = solved()
    prepend(solution_cells(nb)[0], "import sys\nsys.exit(1)")
    subs["calls-exit"], expected["calls-exit"] = nb, full - points[f"test_{first}"]

    nb = solved()
    prepend(solution_cells(nb)[-1], "import os\nos._exit(1)")
    after_kill = {c: p for c, p in points.items() if list(points).index(c) >= list(points).index(f"test_{last}")}
    subs["kills-kernel"], expected["kills-kernel"] = nb, full - sum(after_kill.values())

    nb = solved()
    nb.cells.insert(2, nbformat.v4.new_code_cell("print('x' * 5_000_000)"))
    subs["prints-megabytes"], expected["prints-megabytes"] = nb, full

    nb = nbformat.from_dict(released)
    tests = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    tests[0].source = "pass"
    nb.cells.remove(tests[-1])
    subs["edits-tests"], expected["edits-tests"] = nb, 0.0

    nb = nbformat.from_dict(released)
    forgery = "\n".join([
        "import sys, types, builtins",
        "sys.modules['autograder'] = types.ModuleType('autograder')",
        "sys.modules['pytest'] = types.ModuleType('pytest')",
        "builtins.AssertionError = type('Quiet', (Exception,), {})",
    ] + [f"{t} = lambda *a, **k: None" for t in tasks])
    nb.cells.insert(2, nbformat.v4.new_code_cell(forgery))
    subs["forges"], expected["forges"] = nb, 0.0

    for student, nb in subs.items():
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    outcomes = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    return root, outcomes, expected


def test_one_bad_submission_never_stops_the_batch(graded):
    root, outcomes, expected = graded
    assert sorted(o.student for o in outcomes) == sorted(expected)
    assert all(o.ok for o in outcomes), [o.log[-1500:] for o in outcomes if not o.ok]


def test_each_scores_exactly_its_honest_work(graded):
    root, _, expected = graded
    got = {student: sum(course.cell_scores(root, student)[NOTEBOOK].values()) for student in expected}
    assert got == pytest.approx(expected)


def test_gradebook_is_consistent(graded):
    root, _, expected = graded
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        students = {row[0] for row in db.execute("SELECT student_id FROM submitted_assignment")}
    assert students == set(expected)


def test_tampering_is_reported_and_output_is_capped(graded):
    root, _, _ = graded
    findings = [json.loads(line) for line in (root / "reports" / "tampering.jsonl").read_text().splitlines()]
    mine = {(f["change"]) for f in findings if f["student"] == "edits-tests"}
    assert mine == {"edited", "deleted"}
    noisy = nbformat.read(root / "autograded" / "prints-megabytes" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    assert max(len(json.dumps(c.get("outputs", []))) for c in noisy.cells) < 100_000


def test_feedback_names_checks_but_never_shows_their_source(graded):
    root, _, expected = graded
    course.nbgrader("generate_feedback", course.ASSIGNMENT, root=root, quiet=True)
    pages = {s: (root / "feedback" / s / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text() for s in expected}
    assert "Hidden checks:" in pages["prints-megabytes"], "feedback should list the hidden checks' verdicts"
    for student, page in pages.items():
        for leak in ("BEGIN HIDDEN TESTS", "autograder/checks", "def test_", "pytest.mark.task"):
            assert leak not in page, f"{student}'s feedback shows hidden-check source ({leak!r})"
        assert not re.search(r"student\.[a-z_]+\(", page), f"{student}'s feedback quotes a hidden check's call"
