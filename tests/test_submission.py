"""The students' check-and-package step (tinytorch.submission), without nbgrader: it finds what
nbgrader would find, runs the visible tests, and writes the file under the name collect expects."""

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from autograder.authoring import course
from autograder.grading.engine import is_written_answer
from autograder.proof import selfcheck
from tinytorch import submission
from tinytorch.submission import checksum, course_name, validate

NOTEBOOK = "01_registry"


@pytest.fixture(scope="module")
def notebooks():
    released = nbformat.read(course.ROOT / "assignments" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    source = nbformat.read(course.ROOT / "source" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    solved = selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))
    return released, solved


def graded_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader")]


def test_checksum_is_nbgraders(notebooks):
    released, _ = notebooks
    cells = graded_cells(released)
    assert [checksum(c) for c in cells] == [compute_checksum(c) for c in cells]


def test_a_finished_notebook_has_no_problems_and_the_release_lists_every_task(notebooks):
    released, solved = notebooks
    assert validate(solved) == []
    tasks = course.task_ids(released)
    written = [c.metadata.nbgrader["grade_id"] for c in released.cells if is_written_answer(c)]
    assert written, "every notebook has a written answer (graded by hand)"
    assert sorted(validate(released)) == sorted(
        [f"task {t} is not finished: its cell still has raise NotImplementedError()" for t in tasks]
        + [f"written answer {a} is not answered yet (your instructor grades it by hand)" for a in written])


def test_what_nbgrader_would_find(notebooks):
    _, solved = notebooks
    nb = nbformat.from_dict(solved)
    cells = graded_cells(nb)
    test = next(c for c in cells if c.metadata.nbgrader.get("grade"))
    test.source += "\nassert True  # loosened"
    answer = next(c for c in cells if c.metadata.nbgrader.get("solution"))
    nb.cells.append(nbformat.from_dict(answer))                      # a copied cell copies its id
    last_answer = [c for c in cells if c.metadata.nbgrader.get("solution") and c.cell_type == "code"][-1]
    nb.cells.remove(last_answer)
    problems = validate(nb)
    assert any(f"read-only cell {test.metadata.nbgrader.grade_id} was edited" in p for p in problems)
    assert any(f"two cells have the id {answer.metadata.nbgrader.grade_id!r}" in p for p in problems)
    assert any(f"answer cell of task {last_answer.metadata.nbgrader.grade_id} is missing" in p for p in problems)
    assert len(problems) == 3


@pytest.mark.parametrize("stem, name", [("Copy of 01_registry", "01_registry"), ("01_registry (1)", "01_registry"),
                                        ("jdoe_04_ab_testing-2", "04_ab_testing"), ("registry", None)])
def test_downloaded_names_map_to_the_course_name(stem, name):
    assert course_name(stem) == name


def test_a_failing_visible_test_is_reported_and_the_file_still_written(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def double(x):\n    return x + 1"),
        nbformat.v4.new_code_cell("assert double(3) == 6, 'double(3) should be 6'"),
    ])
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "test_double", "locked": True, "points": 1,
                                        "schema_version": 3, "solution": False}
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "Copy of 01_registry (2).ipynb"
    nbformat.write(nb, path)
    assert submission.main([str(path), "--out", str(tmp_path / "out")]) == 1
    written = nbformat.read(tmp_path / "out" / "01_registry.ipynb", as_version=4)
    assert written.cells[0].source == nb.cells[0].source
    report = submission.check(nb, "01_registry", tmp_path / "out")
    assert any("visible test test_double raised AssertionError: double(3) should be 6" in p for p in report.problems)


def test_the_last_cell_runs_a_finished_notebook_and_packages_it(notebooks, tmp_path, monkeypatch, capsys):
    _, solved = notebooks
    monkeypatch.chdir(tmp_path)
    nbformat.write(solved, tmp_path / "Copy of 01_registry.ipynb")
    shown = submission.check_and_package(NOTEBOOK)  # what the notebook's last cell calls
    assert shown is None, "the cell would display the returned report a second time"
    out = capsys.readouterr().out
    assert "checking Copy of 01_registry.ipynb" in out
    assert out.count(f"{NOTEBOOK}: {len(course.task_ids(solved))} visible tests passed") == 1, out
    assert "no graded problems found" in out and "demos that stopped" not in out, out
    assert (tmp_path / "submission" / f"{NOTEBOOK}.ipynb").exists()


def test_a_failing_demo_is_listed_apart_from_the_graded_problems(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def double(x):\n    return 2 * x"),
        nbformat.v4.new_code_cell("assert double(3) == 6"),
        nbformat.v4.new_code_cell("raise RuntimeError('no server')"),
    ])
    nb.cells[0].metadata["nbgrader"] = {"grade": False, "grade_id": "double", "locked": False,
                                        "schema_version": 3, "solution": True}
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "test_double", "locked": True, "points": 1,
                                        "schema_version": 3, "solution": False}
    nb.cells[2].metadata["nbgrader"] = {"grade": False, "grade_id": "demo_load", "locked": True,
                                        "schema_version": 3, "solution": False}
    path = tmp_path / "01_registry.ipynb"
    nbformat.write(nb, path)
    monkeypatch.chdir(tmp_path)
    report = submission.check(nb, "01_registry", tmp_path / "out")
    assert report.problems == [] and report.demo_failures == ["cell demo_load raised RuntimeError: no server"]
    text = str(report)
    assert text.index("no graded problems found") < text.index("demos that stopped (not graded") < text.index("demo_load")
    assert submission.main([str(path), "--out", str(tmp_path / "out")]) == 0, "a failing demo costs no points"
