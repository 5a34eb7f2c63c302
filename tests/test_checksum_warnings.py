"""Only real edits warn: nbgrader's autograde compares each read-only cell of a submission with
the gradebook's copy and logs "Attribute 'checksum' for cell ... has changed!" when they differ.
A release test cell must therefore be the source's cell exactly (no hidden block that only the
source holds), so an untouched submission grades without a warning, and an edited test cell
still warns and is graded from the original.

Slow: two submissions of notebook 01 through nbgrader (about a minute).
"""

import re

import nbformat
import pytest

from autograder.authoring import course
from autograder.grading.engine import nbgrader_meta
from autograder.proof import selfcheck

pytestmark = pytest.mark.slow

NOTEBOOK = "01_registry"
WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed")


def test_every_read_only_cell_of_the_release_is_the_source_cell():
    """What nbgrader compares: a locked cell's source in the release and in the source notebook."""
    for name, released in course.notebooks(course.ROOT / "assignments" / course.ASSIGNMENT).items():
        source = {nbgrader_meta(c).get("grade_id"): c.source for c in course.notebooks(
            course.SOURCE)[name].cells}
        differ = [nbgrader_meta(c)["grade_id"] for c in released.cells
                  if nbgrader_meta(c).get("locked") and c.source != source[nbgrader_meta(c)["grade_id"]]]
        assert not differ, f"{name}: these read-only cells differ between source and release: {differ}"


def test_an_untouched_submission_grades_without_checksum_warnings_and_an_edit_still_warns(tmp_path):
    root = course.scratch_course(tmp_path, only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    solved = selfcheck.submission(released, source, lambda task, src, cell: selfcheck.answered(src))
    edited = nbformat.from_dict(solved)
    test_cell = next(c for c in edited.cells if nbgrader_meta(c).get("grade_id") == "test_content_hash")
    test_cell.source = "assert True  # the student's own test\n"
    logs = {}
    for student, nb in [("untouched", solved), ("edited", edited)]:
        folder = root / "submitted" / student / course.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
        done = course.nbgrader("autograde", course.ASSIGNMENT, "--student", student, root=root, quiet=True)
        logs[student] = done.stdout + done.stderr
    assert not WARNING.findall(logs["untouched"]), f"checksum warnings for cells nobody edited:\n{logs['untouched']}"
    assert WARNING.findall(logs["edited"]) == ["test_content_hash"], logs["edited"]
    scores = course.cell_scores(root, "edited")[NOTEBOOK]
    assert scores["test_content_hash"] == 2, f"the edited test cell is graded from the original: {scores}"
