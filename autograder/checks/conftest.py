"""Shared fixtures of the hidden checks.

``student`` is one submission's code, running in a sandboxed worker: its functions, classes and
objects are handles, and calling them asks the worker (``autograder.protocol``). Under the judge
(``autograder.judge``) it is the submission being graded. Run directly
(``pytest autograder/checks/test_01_registry.py``, or ``python -m autograder check 01_registry``),
the checks grade the solution notebook in ``source/mlops/``, each file its own. Each check carries
``@pytest.mark.task("id")``, the id of the notebook cell it grades.
"""

from pathlib import Path

import pytest
from hypothesis import settings

from autograder import judge

# The same submission gets the same grade every time, whoever was graded before it: hypothesis
# draws the same examples in every run (derandomize) and keeps no database of earlier failures
# (which would carry one student's failing example into the next student's checks).
settings.register_profile("grading", derandomize=True, database=None, deadline=None)
settings.load_profile("grading")


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the notebook task (solution cell id) a check grades")


@pytest.fixture(scope="module")
def student(request):
    if judge.SESSION is not None:  # the submission the judge is grading
        yield judge.StudentCode(judge.SESSION)
        return
    notebook = Path(request.module.__file__).stem.removeprefix("test_")
    judge.SESSION = judge.solution_session(notebook)
    try:
        yield judge.StudentCode(judge.SESSION)
    finally:
        judge.SESSION.close()
        judge.SESSION = None


@pytest.fixture(scope="module")
def trained():
    """A small digits classifier (one hidden layer of 16, two epochs, seed 0)."""
    from tinytorch.core.training import train_digits_classifier

    model, _ = train_digits_classifier(hidden=(16,), epochs=2, seed=0)
    return model


@pytest.fixture
def tmp_path(student):
    """A fresh directory the submission's worker can use too (the checks' files live there)."""
    return judge.SESSION.scratch.directory("check-")


@pytest.fixture
def scratch(student):
    """``scratch()`` makes another fresh directory the worker can use (for a hypothesis example)."""
    return lambda: judge.SESSION.scratch.directory("example-")


@pytest.fixture
def probe(student):
    """``probe(source)`` defines helpers inside the submission's worker and returns them as a handle:
    for what can only be observed where the code runs (fault injection, recorders, child
    processes). What they return is the submission's to forge, like any of its answers."""
    return judge.SESSION.probe
