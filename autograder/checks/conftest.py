"""Shared fixtures of the hidden checks.

``student`` is one submission's code, running in a sandboxed worker: its functions, classes and
objects are handles, and calling them asks the worker (``autograder.grading.protocol``). Under the judge
(``autograder.grading.judge``) it is the submission being graded. Run directly
(``pytest autograder/checks/test_01_registry.py``, or ``python -m autograder check 01_registry``),
the checks grade the solution notebook in ``source/mlops/``, each file its own. Each check carries
``@pytest.mark.task("id")``, the id of the notebook cell it grades.
"""

import hashlib
import shutil
import tempfile
import zlib
from pathlib import Path

import hypothesis.core
import numpy as np
import pytest
from hypothesis import settings

from autograder.checks import reference_models
from autograder.grading import judge

# The same submission gets the same grade every time, whoever was graded before it, and keeps no
# database of earlier failures (which would carry one student's failing example into the next
# student's checks). Autograding gives each student's checks their own examples: hypothesis draws
# them from the seed the judge was given (``judge.SEED``, from the student id and the course secret,
# see ``autograder.grading.preprocessors.JudgedExecute.secret``) and the check's name, so the inputs one
# feedback shows do not repeat for another student or another term. Without a seed (``check``,
# ``selfcheck``, ``mutation``) every run draws the same examples (derandomize). Settings are made
# when the checks are imported, once per judge process: a judge grades seeded or unseeded only.
settings.register_profile("grading", derandomize=judge.SEED is None, database=None, deadline=None)
settings.load_profile("grading")


@pytest.fixture(autouse=True)
def student_seed(request):
    """The seed of this check's examples for this student (nothing without a seed)."""
    if judge.SEED is None:
        yield
        return
    digest = hashlib.sha256(f"{judge.SEED}:{request.node.nodeid}".encode()).digest()
    hypothesis.core.global_force_seed = int.from_bytes(digest[:8], "big")
    try:
        yield
    finally:
        hypothesis.core.global_force_seed = None


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


@pytest.fixture
def seeded(request):
    """``seeded(n)``: a NumPy generator for a check's random inputs. Without a student's seed it is
    ``default_rng(n)`` (the same inputs every run); with one, it draws from the seed, ``n`` and
    the check's name, so each student's inputs are their own."""
    def make(n: int) -> np.random.Generator:
        if judge.SEED is None:
            return np.random.default_rng(n)
        return np.random.default_rng([judge.SEED, n, zlib.crc32(request.node.nodeid.encode())])

    return make


@pytest.fixture(scope="module")
def trained():
    """A small digits classifier (one hidden layer of 16, two epochs, seed 0)."""
    return reference_models.digits_classifier()


@pytest.fixture
def tmp_path(student):
    """A fresh directory the submission's worker can use too (the checks' files live there)."""
    return judge.SESSION.scratch.directory("check-")


@pytest.fixture
def private_dir():
    """A fresh directory of this check's own, judge-side (mode 0700, outside every worker's
    scratch): for files the submission must not see or touch. Removed after the check."""
    path = Path(tempfile.mkdtemp(prefix="check-private-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def scratch(student):
    """``scratch()`` makes another fresh directory the worker can use (for a hypothesis example)."""
    return lambda: judge.SESSION.scratch.directory("example-")


@pytest.fixture
def probe(student):
    """The public helpers of ``autograder.grading.probes``, living in the submission's worker, as a handle:
    for what can only be observed where the code runs (fault injection, recorders, child
    processes). What they return is the submission's to forge, like any of its answers."""
    return judge.SESSION.probes()
