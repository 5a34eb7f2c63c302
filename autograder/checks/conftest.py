"""Shared fixtures of the hidden checks.

``student`` is the code of one submission, executed outside the student's kernel by
``autograder.runner``. Run directly (``pytest autograder/checks/test_01_registry.py``), the checks
grade the solution notebook in ``source/mlops/`` (each file its own, also in one run of the folder). Each check carries ``@pytest.mark.task("id")``,
the id of the notebook cell it grades; ``python -m autograder check 01_registry --task id`` runs
one task's checks.
"""

import sys
from pathlib import Path

import pytest

from autograder.student import StudentCode, load_solution


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the notebook task (solution cell id) a check grades")


SOLUTIONS = {}  # notebook -> its solution module, loaded here when the checks run directly


@pytest.fixture(scope="module")
def student(request):
    notebook = Path(request.module.__file__).stem.removeprefix("test_")
    module = sys.modules.get("student")  # the submission, put there by autograder.runner
    if module is None or any(module is solution for solution in SOLUTIONS.values()):
        if notebook not in SOLUTIONS:  # loading a solution replaces sys.modules["student"]
            SOLUTIONS[notebook] = load_solution(notebook)
        module = SOLUTIONS[notebook]
    return StudentCode(module)


@pytest.fixture(scope="module")
def trained():
    """A small digits classifier (one hidden layer of 16, two epochs, seed 0)."""
    from tinytorch.core.training import train_digits_classifier

    model, _ = train_digits_classifier(hidden=(16,), epochs=2, seed=0)
    return model
