"""Hostile submissions, graded together in one batch with honest ones before and after them: none
stops the batch, none earns more than its honest work, none changes anything outside its worker's
scratch or leaves a process behind, the gradebook stays consistent, tampering is reported, and no
feedback shows check or solution text.

Each attack runs in a notebook's first answer cell. An attacker that also wrote the honest answers
must keep exactly their points (the attack changed nothing); one that wrote nothing must score 0.
"""

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from pathlib import Path

import nbformat
import pytest

from autograder import course, judge, selfcheck
from autograder.sandbox import Scratch
from autograder.batch import autograde_class
from autograder.grading import VERDICT, nbgrader_meta

NOTEBOOK = "01_registry"
FAST = ("--JudgedExecute.cell_timeout=20", "--JudgedExecute.test_timeout=10", "--JudgedExecute.timeout=300")
MARKER = "sleep 7919"  # a detached process the attacker starts; it must not outlive grading
CHECKS = judge.CHECKS
SITE = next(p for p in sys.path if p.endswith("site-packages"))

# Attacks on the grading process, the course and later students. {checks} and {root} are the real
# paths of the hidden checks and the course directory being graded.
ATTACKS = {
    "patches-pytest": "import _pytest.python as p\np.Function.runtest = lambda self: None",
    "atexit-results": ("import atexit, json, os\n"
                       "atexit.register(lambda: open('results.json', 'w').write(json.dumps({{'tasks': {{}}}})))\n"
                       "os._exit(0) if False else None"),
    "reloads-library": ("import importlib, tinytorch.core.mlops.registry.storage as m\n"
                        "m = importlib.reload(m)\ncontent_hash = m.content_hash"),
    "patches-oracle": "import numpy\nnumpy.array_equal = lambda *a, **k: True",
    "writes-conftest": ("for path in ['{checks}/conftest.py', '{checks}/test_01_registry.py']:\n"
                        "    try:\n        open(path, 'a').write('\\nraise SystemExit(0)\\n')\n"
                        "    except OSError:\n        pass"),
    "edits-gradebook": ("import sqlite3\ntry:\n    sqlite3.connect('{root}/gradebook.db').execute("
                        "\"UPDATE grade SET manual_score = 99\").connection.commit()\nexcept Exception:\n    pass"),
    "plants-startup-files": ("import os\nfor path in ['{root}/sitecustomize.py', '{site}/zz-forge.pth', "
                             "os.path.expanduser('~/.local/lib/python3.11/site-packages/sitecustomize.py')]:\n"
                             "    try:\n        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
                             "        open(path, 'w').write('import os; os._exit(0)\\n')\n    except OSError:\n        pass"),
    "detaches-a-process": ("import subprocess\nsubprocess.Popen(['sh', '-c', 'exec {marker}'], start_new_session=True)\n"
                           "import os\nif os.fork() == 0:\n    os.setsid()\n    os.execvp('sh', ['sh', '-c', 'exec {marker}'])"),
    "prints-secrets": ("import glob\nfor pattern in ['{checks}/*.py', '{root}/source/mlops/*.ipynb', '/opt/student/**/*.py']:\n"
                       "    for path in glob.glob(pattern, recursive=True):\n"
                       "        try:\n            print(open(path).read())\n        except OSError:\n            pass"),
    "raises-with-frames": ("import inspect\n_real = content_hash if 'content_hash' in dir() else None\n"
                           "def compare_metrics(*a, **k):\n"
                           "    raise AssertionError(repr([inspect.getsource(f.frame) for f in inspect.stack()[1:]]))"),
    "uses-the-network": ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
                         "    print('CONNECTED')\nexcept OSError as error:\n    print('no network:', error)"),
}


def solution_cells(nb):
    """The code answer cells (not the written answer, which is graded by hand)."""
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")]


def prepend(cell, code):
    cell.source = code + "\n" + cell.source


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    # the workers of this batch only (not under /tmp, which a worker sees as its own): none may be left
    scratch = Path(tempfile.mkdtemp(prefix="hostile-", dir="/var/tmp"))
    patch = pytest.MonkeyPatch()
    patch.setenv("TINYTORCH_GRADING_SCRATCH", str(scratch))
    patch.setattr(Scratch, "ROOT", scratch)
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
    nb.cells.remove(tests[-1])  # the written answer
    nb.cells.remove(tests[-2])  # the last test cell
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

    paths = {"checks": CHECKS, "root": root, "site": SITE, "marker": MARKER}
    for name, attack in ATTACKS.items():
        code = attack.format(**paths)
        nb = solved()
        prepend(solution_cells(nb)[0], code)
        subs[f"{name}-honest"], expected[f"{name}-honest"] = nb, full
        nb = nbformat.from_dict(released)
        prepend(solution_cells(nb)[0], code)
        subs[f"{name}-empty"], expected[f"{name}-empty"] = nb, 0.0
    # a task whose function loops when called: that task loses its points, with its own message
    nb = solved()
    solution_cells(nb)[-1].source += (  # honest when the notebook's own cells call it, endless otherwise
        f"\n\n_honest = {last}\ndef {last}(*args, **kwargs):\n    import sys\n"
        "    while not sys._getframe(1).f_code.co_filename.startswith('<cell'):\n        pass\n"
        "    return _honest(*args, **kwargs)\n")
    subs["loops-in-a-call"], expected["loops-in-a-call"] = nb, full - points[f"test_{last}"]
    nb = solved()
    subs["aa-honest-first"], expected["aa-honest-first"] = nb, full
    subs["zz-honest-last"], expected["zz-honest-last"] = solved(), full

    guarded = [*CHECKS.glob("*.py"), root / "nbgrader_config.py" if (root / "nbgrader_config.py").exists() else CHECKS / "conftest.py"]
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in guarded}
    for student, nb in subs.items():
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    outcomes = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    after = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in guarded}
    yield root, outcomes, expected, before == after
    patch.undo()
    shutil.rmtree(scratch, ignore_errors=True)


def test_one_bad_submission_never_stops_the_batch(graded):
    root, outcomes, expected, _ = graded
    assert sorted(o.student for o in outcomes) == sorted(expected)
    assert all(o.ok for o in outcomes), [o.log[-1500:] for o in outcomes if not o.ok]


def test_each_scores_exactly_its_honest_work(graded):
    root, _, expected, _ = graded
    got = {student: sum(course.cell_scores(root, student)[NOTEBOOK].values()) for student in expected}
    assert got == pytest.approx(expected)


def test_gradebook_is_consistent(graded):
    root, _, expected, _ = graded
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        students = {row[0] for row in db.execute("SELECT student_id FROM submitted_assignment")}
    assert students == set(expected)


def test_tampering_is_reported_and_output_is_capped(graded):
    root, _, _, _ = graded
    findings = [json.loads(line) for line in (root / "reports" / "tampering.jsonl").read_text().splitlines()]
    mine = {(f["change"]) for f in findings if f["student"] == "edits-tests"}
    assert mine == {"edited", "deleted"}
    noisy = nbformat.read(root / "autograded" / "prints-megabytes" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    assert max(len(json.dumps(c.get("outputs", []))) for c in noisy.cells) < 100_000


def test_feedback_names_checks_but_never_shows_their_source(graded):
    root, _, expected, _ = graded
    course.nbgrader("generate_feedback", course.ASSIGNMENT, root=root, quiet=True)
    pages = {s: (root / "feedback" / s / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text() for s in expected}
    assert VERDICT in pages["prints-megabytes"], "feedback should list the hidden checks' verdicts"
    for student, page in pages.items():
        for leak in ("BEGIN HIDDEN TESTS", "def test_", "pytest.mark.task", "tempfile.mkstemp(dir=path.parent"):
            assert leak not in page, f"{student}'s feedback shows hidden-check source ({leak!r})"
        assert not re.search(r"student\.[a-z_]+\(", page), f"{student}'s feedback quotes a hidden check's call"


def test_nothing_outside_the_workers_changed(graded):
    root, _, _, unchanged = graded
    assert unchanged, "a submission changed the hidden checks or the course configuration"
    assert not (root / "sitecustomize.py").exists() and not list(Path(SITE).glob("zz-forge*")), "a startup file was planted"
    assert not list(Path(Scratch.ROOT).glob("worker-*")), "a worker's scratch directory was left behind"


def test_no_process_outlives_grading(graded):
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    assert not found, f"processes a submission started are still running: {found}"


def test_a_loop_in_a_call_costs_its_task_only_and_says_so(graded):
    root, _, _, _ = graded
    nb = nbformat.read(root / "autograded" / "loops-in-a-call" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "timed out" in text, "the task with the endless loop should say it timed out"


def test_the_worker_has_no_network(graded):
    root, _, _, _ = graded
    nb = nbformat.read(root / "autograded" / "uses-the-network-empty" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "no network" in text and "CONNECTED" not in text
