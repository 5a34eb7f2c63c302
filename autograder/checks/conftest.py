"""Shared fixtures of the hidden checks.

``student`` is the code of one submission, executed outside the student's kernel by
``autograder.runner``. Run directly (``pytest autograder/checks/test_01_registry.py``), the checks
grade the solution notebook in ``source/mlops/``. Each check carries ``@pytest.mark.task("id")``,
the id of the notebook cell it grades; ``python -m autograder check 01_registry --task id`` runs
one task's checks.
"""

import sys
from pathlib import Path

import pytest

from autograder.student import StudentCode, load_solution


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the notebook task (solution cell id) a check grades")


@pytest.fixture(scope="module")
def student(request):
    notebook = Path(request.module.__file__).stem.removeprefix("test_")
    module = sys.modules.get("student") or load_solution(notebook)
    return StudentCode(module)
