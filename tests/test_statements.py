"""Each task's statement names every requirement its hidden checks enforce.

The build appends the first docstring line of each of a task's hidden checks to its statement;
these tests hold the released notebooks to that, and the checks to having a docstring that can
serve as the requirement.
"""

import ast

import nbformat
import pytest

from autograder.authoring.notebooks import CHECKS, CHECKS_HEADING, ROOT, check_requirements, templates
from autograder.grading.engine import nbgrader_meta

NOTEBOOKS = [path.stem for path in templates()]


def statement_before(nb, task: str) -> str:
    """The Markdown of the task's statement: the Markdown cells right before its solution cell."""
    text = []
    for cell in nb.cells:
        if nbgrader_meta(cell).get("solution") and nbgrader_meta(cell)["grade_id"] == task:
            return "\n".join(text)
        text = text + [cell.source] if cell.cell_type == "markdown" else []
    raise AssertionError(f"no solution cell {task!r}")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_check_requirement_is_in_its_task_statement(notebook):
    released = nbformat.read(ROOT / "assignments" / "mlops" / f"{notebook}.ipynb", as_version=4)
    for task, requirements in check_requirements(notebook).items():
        statement = statement_before(released, task)
        assert CHECKS_HEADING in statement, f"{notebook}: task {task}'s statement has no list of its hidden checks"
        for requirement in requirements:
            assert f"- {requirement}" in statement, f"{notebook}: {task}'s statement does not state {requirement!r}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_check_has_a_task_and_a_requirement_sentence(notebook):
    tree = ast.parse((CHECKS / f"test_{notebook}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marked = any(isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.task" for d in node.decorator_list)
            assert marked, f"{notebook}: {node.name} grades no task (@pytest.mark.task)"
            doc = ast.get_docstring(node)
            assert doc and len(doc.split()) >= 4, f"{notebook}: {node.name} needs a docstring stating its requirement"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_task_counts_the_checks_its_statement_lists(notebook):
    """The statement lists one line per check function, and credit counts one per pytest item: a
    parametrized check would count once per parameter while listed once."""
    tree = ast.parse((CHECKS / f"test_{notebook}.py").read_text())
    parametrized = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                    and any("parametrize" in ast.unparse(d) for d in node.decorator_list)]
    assert not parametrized, f"{notebook}: loop over the cases inside these checks instead: {parametrized}"
