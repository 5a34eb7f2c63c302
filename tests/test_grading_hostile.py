"""Hostile submissions, graded together in one batch with honest ones before and after them: none
stops the batch, none earns more than its honest work, none changes anything outside its worker's
scratch or leaves a process behind, the gradebook stays consistent, tampering is reported, and no
feedback shows check or solution text.

Each attack runs in a notebook's first answer cell. An attacker that also wrote the honest answers
must keep exactly their points (the attack changed nothing); one that wrote nothing must score 0.
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from pathlib import Path

import nbformat
import pytest

from autograder.authoring import course
from autograder.authoring.notebooks import is_test_cell
from autograder.classroom.batch import autograde_class
from autograder.grading import judge
from autograder.grading.engine import NOT_RUN, VERDICT, nbgrader_meta, written_verdict
from autograder.proof import selfcheck
from autograder.grading.seeds import SECRET_FILE

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
    # the grading directory of this batch only (slots, scratch, caches): no slot or scratch may be left
    scratch = Path(tempfile.mkdtemp(prefix="hostile-", dir="/var/tmp"))
    scratch.chmod(0o711)  # a judge running as its slot's user passes through it
    patch = pytest.MonkeyPatch()
    patch.setenv("TINYTORCH_GRADING_DIR", str(scratch))
    root = course.scratch_course(tmp_path_factory.mktemp("hostile"), only=[NOTEBOOK])
    # a fixed course secret: the students' random inputs are the same in every run of this test
    (root / SECRET_FILE).write_text("hostile-batch\n")
    (root / SECRET_FILE).chmod(0o600)
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
    add_plain_data_attacks(subs, expected, solved, released, points, tasks, root)
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
    partial = {name for name, share in graded_shares(graded).items() if share}  # checked in their own test
    got = {student: sum(course.cell_scores(root, student)[NOTEBOOK].values()) for student in expected if student not in partial}
    assert got == pytest.approx({s: e for s, e in expected.items() if s not in partial})


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
    grading = Path(os.environ["TINYTORCH_GRADING_DIR"])
    assert not list(grading.glob("slot-*")) and not list(grading.glob("scratch/*")), "a worker's scratch was left behind"


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


# ---- The grading machine: start-up, job slots, a sandbox that cannot start ---------------------
# (issue 25 items 4, 5 and 10) Each attacker is graded with --jobs 2 between honest students, who
# must keep full marks; the attackers' own grades are theirs to lose.

from autograder import __main__ as cli  # noqa: E402
from autograder.grading.engine import JUDGE_AS_ROOT  # noqa: E402
from autograder.grading.sandbox import SandboxUnavailable  # noqa: E402

PLANTED_MARKER = "planted-code-ran"
PLANT = ("import os, pathlib\n"
         "for base in [os.getcwd(), '/tmp', os.path.expanduser('~')]:\n"
         "    pkg = pathlib.Path(base, 'autograder')\n"
         "    try:\n"
         "        pkg.mkdir(exist_ok=True)\n"
         "        for name in ['__init__.py', 'grading/__init__.py', 'grading/worker.py', 'grading/protocol/__init__.py']:\n"
         "            (pkg / name).parent.mkdir(parents=True, exist_ok=True)\n"
         "            (pkg / name).write_text('import os; os._exit(9)\\n')\n"
         "        pathlib.Path(base, 'sitecustomize.py').write_text('import os; os._exit(9)\\n')\n"
         "    except OSError:\n"
         "        pass")
HOLD_PROCESSES = ("import os, time\n_children = []\nwhile len(_children) < 2000:\n    try:\n        pid = os.fork()\n"
                  "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(3600)\n        os._exit(0)\n"
                  "    _children.append(pid)\nprint('holding', len(_children), 'processes')")
FILL_MEMORY = ("_hoard = []\ntry:\n    while True:\n        _hoard.append(b'x' * (64 * 2**20))\nexcept MemoryError:\n"
               "    print('memory full at', len(_hoard) * 64, 'MiB')\n_hoard.clear()")
FILL_SCRATCH = ("import os\n_made = 0\nfor base in [os.getcwd(), '/tmp']:\n    try:\n        while True:\n"
                "            open(os.path.join(base, f'f{_made}'), 'w').close()\n            _made += 1\n"
                "    except OSError as error:\n        print('inodes full:', _made, error)\n"
                "    try:\n        with open(os.path.join(base, 'big'), 'wb') as f:\n            while True:\n"
                "                f.write(b'x' * 2**20)\n    except OSError as error:\n        print('bytes full:', error)")


@pytest.fixture(scope="module")
def machine_graded(tmp_path_factory):
    """Start-up hijacks, a held process limit, filled memory and scratch, between honest students.
    The temporary directory is this test's own (``TMPDIR``): a plant in the machine's shared one
    would reach every other grader running there."""
    temporary = tmp_path_factory.mktemp("tmpdir")
    patch = pytest.MonkeyPatch()
    patch.setenv("TMPDIR", str(temporary))
    planted = temporary / "autograder"
    marker = tmp_path_factory.mktemp("marker") / PLANTED_MARKER
    planted.mkdir()
    for name in ("__init__.py", "judge.py", "grading.py"):
        (planted / name).write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    root = course.scratch_course(tmp_path_factory.mktemp("machine"), only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    solved = lambda: selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))  # noqa: E731
    full = sum(course.test_cells(source).values())
    attacks = {"b-plants-modules": PLANT, "d-holds-processes": HOLD_PROCESSES, "f-fills-memory": FILL_MEMORY,
               "h-fills-scratch": FILL_SCRATCH}
    subs = {}
    for name, code in attacks.items():
        nb = solved()
        cells = nb.cells
        first = cells.index(solution_cells(nb)[0])
        cells.insert(first + 1, nbformat.v4.new_code_cell(code))
        if name == "b-plants-modules":  # end this worker: the next one starts where the plants are
            cells.insert(first + 2, nbformat.v4.new_code_cell("import os\nos._exit(0)"))
        subs[name] = nb
    honest = {f"{letter}-honest": solved() for letter in "acegi"}
    for student, nb in {**subs, **honest}.items():
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    try:
        outcomes = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
        yield root, outcomes, full, set(honest), marker
    finally:
        patch.undo()


def test_honest_neighbours_of_machine_attacks_keep_full_marks(machine_graded):
    assert_all_graded_and_honest_full(*machine_graded[:4])


def assert_all_graded_and_honest_full(root, outcomes, full, honest) -> None:
    assert all(o.ok for o in outcomes), [o.log[-1500:] for o in outcomes if not o.ok]
    got = {student: sum(course.cell_scores(root, student)[NOTEBOOK].values()) for student in honest}
    assert got == pytest.approx(dict.fromkeys(honest, full))


def test_planted_modules_never_run(machine_graded):
    root, _, full, _, marker = machine_graded
    assert not marker.exists(), "a module planted in the temporary directory ran in the grader"
    # the plants in its working directory, /tmp and $HOME would end its next worker at start: they did not run
    assert sum(course.cell_scores(root, "b-plants-modules")[NOTEBOOK].values()) == pytest.approx(full)


def test_machine_attackers_were_really_graded(machine_graded):
    """Each attack cell ran (it printed what it took, or was stopped at its time limit under load)."""
    root, _, _, _, _ = machine_graded
    for student, code, said in [("d-holds-processes", HOLD_PROCESSES, "holding"),
                                ("f-fills-memory", FILL_MEMORY, "memory full at"),
                                ("h-fills-scratch", FILL_SCRATCH, "inodes full")]:
        nb = nbformat.read(root / "autograded" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
        outputs = json.dumps(next(c.outputs for c in nb.cells if c.source == code))
        assert said in outputs or "TimeoutError" in outputs, f"{student}: {outputs[:500]}"


def _failing_bwrap(directory: Path) -> Path:
    """A stand-in ``bwrap`` that fails as it does where unprivileged user namespaces are restricted."""
    directory.mkdir(exist_ok=True)
    fake = directory / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    return directory


def test_a_sandbox_that_cannot_start_stops_autograde_before_anyone(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{_failing_bwrap(tmp_path / 'bin')}:{os.environ['PATH']}")
    monkeypatch.delenv(JUDGE_AS_ROOT, raising=False)
    root = course.scratch_course(tmp_path / "course", only=[NOTEBOOK])
    course.release(root, quiet=True)
    submitted = root / "submitted" / "someone" / course.ASSIGNMENT
    submitted.mkdir(parents=True)
    shutil.copy(root / "assignments" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", submitted)
    with pytest.raises(SandboxUnavailable) as raised:
        autograde_class(root, jobs=2, report=lambda line: None)
    assert "setting up uid map: Permission denied" in str(raised.value)
    assert "apparmor_restrict_unprivileged_userns" in str(raised.value)
    assert not (root / "autograded").exists(), "a student was graded although the sandbox cannot start"


def test_a_sandbox_that_cannot_start_makes_the_commands_exit_non_zero(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", f"{_failing_bwrap(tmp_path)}:{os.environ['PATH']}")
    monkeypatch.delenv(JUDGE_AS_ROOT, raising=False)
    assert cli.main(["check", NOTEBOOK]) == 3
    said = capsys.readouterr().err
    assert "setting up uid map: Permission denied" in said and "nobody was graded" in said


def test_a_sandbox_lost_mid_batch_stops_it_and_records_no_zero(tmp_path, monkeypatch):
    """The preflight's sandbox starts; every later one fails: the batch stops at the first student."""
    real = shutil.which("bwrap")
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "bwrap"
    fake.write_text(f"#!/bin/sh\nif mkdir {tmp_path}/started 2>/dev/null; then exec {real} \"$@\"; fi\n"
                    "echo 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.delenv(JUDGE_AS_ROOT, raising=False)
    root = course.scratch_course(tmp_path / "course", only=[NOTEBOOK])
    course.release(root, quiet=True)
    for student in ("first", "second", "third"):
        submitted = root / "submitted" / student / course.ASSIGNMENT
        submitted.mkdir(parents=True)
        shutil.copy(root / "assignments" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", submitted)
    with pytest.raises(SandboxUnavailable) as raised:
        autograde_class(root, jobs=1, report=lambda line: None)
    assert "No permissions to create new namespace" in str(raised.value)
    with sqlite3.connect(root / "gradebook.db") as db:
        scores = db.execute("SELECT auto_score FROM grade WHERE auto_score IS NOT NULL").fetchall()
    assert scores == [], f"scores were recorded although no sandbox could run: {scores}"


# -- Attacks on what a verdict is made of (issue 25 items 1, 2, 3, 6, 8): each submission below is
# the honest solution with one attack added, or the empty release with it. Expected scores: the
# honest part's points; a task the attack broke for real loses its points, no more and no less.
ANY = ("class Anything:\n"
       "    __eq__ = lambda self, other: True\n    __ne__ = lambda self, other: False\n"
       "    __bool__ = lambda self: True\n    __hash__ = lambda self: 0\n    __len__ = lambda self: 5\n"
       "    __getitem__ = lambda self, key: self\n    __contains__ = lambda self, item: True\n"
       "    __iter__ = lambda self: iter([self])\n    __float__ = lambda self: 0.0\n"
       "    __repr__ = __str__ = lambda self: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n")
LOOKALIKES = ("import numpy\n"
              "class Text(str):\n    __eq__ = lambda self, other: True\n    __ne__ = lambda self, other: False\n"
              "    __hash__ = str.__hash__\n"
              "class Array(numpy.ndarray):\n    __eq__ = lambda self, other: True\n    __ne__ = lambda self, other: False\n"
              "    __bool__ = lambda self: True\n"
              "class Truthy(int):\n    __eq__ = lambda self, other: True\n    __ne__ = lambda self, other: False\n"
              "    __bool__ = lambda self: True\n    __hash__ = int.__hash__\n"
              "class Report(dict):\n    __eq__ = lambda self, other: True\n    __ne__ = lambda self, other: False\n"
              "    __getitem__ = lambda self, key: Truthy(0)\n")
# only the hidden check that hashes a real model file: hypothesis draws arbitrary bytes of at most
# 4,096 (and may start them with the library's own b'TTMODEL', a constant it collects from the code)
MODEL_FILE = "len(data) > 4096 and bytes(data[:7]) == b'TTMODEL'"
PLAIN_ATTACKS = {  # name -> (code appended to the last answer cell, tasks it costs, share of content_hash lost)
    "equals-anything": (ANY + "compare_metrics = lambda *a, **k: Anything()", ["compare_metrics"], 0),
    "str-lookalike": (LOOKALIKES + "content_hash = lambda data: Text('not a hash')", ["content_hash"], 0),
    "ndarray-lookalike": (LOOKALIKES + "allocate_version = lambda *a, **k: numpy.zeros(1).view(Array)",
                          ["allocate_version"], 0),
    "bool-lookalike": (LOOKALIKES + "compare_metrics = lambda a, b: Report({k: Truthy(0) for k in sorted({*a, *b})})",
                       ["compare_metrics"], 0),
    "path-absolute": ("_honest_hash = content_hash\n"
                      f"content_hash = lambda data: '{{root}}/victim.txt' if {MODEL_FILE} else _honest_hash(data)",
                      [], 1),
    "path-dotdot": ("_honest_hash = content_hash\n"
                    f"content_hash = lambda data: '../../../../../../victim.txt' if {MODEL_FILE} else _honest_hash(data)",
                    [], 1),
    "path-symlink": ("import glob, hashlib, os\n_honest_hash = content_hash\n"
                     "def content_hash(data):\n    name = _honest_hash(data)\n"
                     "    for d in [os.getcwd(), *glob.glob(os.getcwd() + '/*/'), *glob.glob(os.getcwd() + '/*/*/')]:\n"
                     "        try:\n            os.symlink('{root}/victim.txt', os.path.join(d, name))\n"
                     "        except OSError:\n            pass\n    return name", [], 0),
    "message-64mib": ("import gc, os\n_honest_hash = content_hash\n"
                      "def content_hash(data):\n"
                      f"    if {MODEL_FILE}:\n"
                      "        worker = next(o for o in gc.get_objects() if type(o).__name__ == 'Worker')\n"
                      "        message = memoryview(b'%010d' % (64 << 20) + b'x' * (64 << 20))\n"
                      "        while message:\n            message = message[os.write(worker.wfd, message):]\n"
                      "    return _honest_hash(data)", [], 1),
    "prints-probe-source": ("import inspect, autograder.grading.probes\nprint(inspect.getsource(autograder.grading.probes))", [], 0),
}
# The worker reports every visible test as passed and every answer equals anything: nothing.
PATCHED_WORKER = ("import sys\n"
                  "sys.modules['__main__'].Worker.execute = lambda self, cell: {'stdout': 'visible checks passed', "
                  "'stderr': '', 'error': None}\n" + ANY + "\n{names} = [lambda *a, **k: Anything()] * {count}")
VICTIM = b"a file outside every scratch directory\n"


def add_plain_data_attacks(subs, expected, solved, released, points, tasks, root):
    """Add this section's submissions and their expected scores (less, for some, one check of
    content_hash: see ``content_hash_share``)."""
    (root / "victim.txt").write_bytes(VICTIM)
    full = sum(points.values())
    for name, (code, lost, _) in PLAIN_ATTACKS.items():
        nb = solved()
        solution_cells(nb)[-1].source += "\n" + code.replace("{root}", str(root)) + "\n"
        subs[name] = nb
        expected[name] = full - sum(points[f"test_{task}"] for task in lost)
    nb = nbformat.from_dict(released)
    prepend(solution_cells(nb)[0], PATCHED_WORKER.replace("{names}", ", ".join(tasks)).replace("{count}", str(len(tasks))))
    subs["patches-worker-execute"], expected["patches-worker-execute"] = nb, 0.0


def content_hash_share(root, points) -> float:
    """What one hidden check of content_hash is worth (its points over its number of checks)."""
    nb = nbformat.read(root / "autograded" / "aa-honest-first" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "test_content_hash")
    return points["test_content_hash"] / len(written_verdict(cell)[1])


def test_plain_data_attacks_score_their_honest_part(graded):
    root, _, expected, _ = graded
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    points = course.test_cells(source)
    share = content_hash_share(root, points)
    for student, checks_lost in graded_shares(graded).items():
        got = sum(course.cell_scores(root, student)[NOTEBOOK].values())
        assert got == pytest.approx(expected[student] - checks_lost * share), student


def graded_shares(graded):
    return {name: share for name, (_, _, share) in PLAIN_ATTACKS.items()} | {"patches-worker-execute": 0}


def test_no_file_outside_scratch_was_written_through_a_returned_path(graded):
    root, _, _, _ = graded
    assert (root / "victim.txt").read_bytes() == VICTIM, "a returned path or a planted symlink made the grader write"
    assert not (root.parent / "victim.txt").exists()


def test_an_oversized_answer_fails_its_check_and_grading_goes_on(graded):
    root, _, _, _ = graded
    nb = nbformat.read(root / "autograded" / "message-64mib" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "answer too large" in text


def test_a_failed_visible_test_says_the_hidden_checks_did_not_run(graded):
    root, _, _, _ = graded
    nb = nbformat.read(root / "autograded" / "patches-worker-execute" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    test_cells = [c for c in nb.cells if is_test_cell(c)]  # not the written answers: graded by hand
    for cell in test_cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []))
        assert NOT_RUN.split("(")[0] in text, f"{nbgrader_meta(cell)['grade_id']}: {text[:300]}"


def test_the_probes_printed_are_the_public_ones(graded):
    root, _, _, _ = graded
    nb = nbformat.read(root / "autograded" / "prints-probe-source" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    printed = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "def allocate_at_once" in printed, "the probes the worker has are the public autograder.grading.probes"
    assert "def test_" not in printed and "student." not in printed


# ---- A cgroup per job slot: many large processes (issue 25 item 5) -----------------------------
# A submission that forks 8 processes of 600 MiB each, graded with --jobs 2 beside honest students,
# under a slot memory limit of 2 GiB: its group never holds more than that (the kernel ends its own
# processes), its neighbours keep full marks, and no group is left afterwards.

import threading  # noqa: E402
import time  # noqa: E402

from autograder.grading import cgroups  # noqa: E402
from autograder.grading.sandbox import grading_key  # noqa: E402

SLOT_MEMORY = 2 * 2**30
FORK_MEMORY = ("import os, time\n_kids = []\nfor _ in range(8):\n    pid = os.fork()\n    if pid == 0:\n"
               "        try:\n            _block = b'x' * (600 * 2**20)\n            time.sleep(3)\n"
               "        finally:\n            os._exit(0)\n    _kids.append(pid)\n"
               "print('children ended:', sorted(os.waitpid(pid, 0)[1] for pid in _kids))")


def _slot_groups() -> list[Path]:
    """The memory groups (``workers``) of this process's slot groups that exist now."""
    bases = []
    for mount in cgroups.V2_MOUNTS:
        if (mount / "cgroup.controllers").exists():
            own = mount / cgroups.own_path("")
            bases += [own, own.parent]
    try:
        bases.append(cgroups.V1_ROOT / "memory" / cgroups.own_path("memory"))
    except OSError:
        pass
    return [group / "workers" for base in bases if base.is_dir() for group in base.glob(_our_groups())]


def _our_groups() -> str:
    """The slot groups of this grading directory (another grading on the machine has its own)."""
    return f"tinytorch-slot-{grading_key()}-*"


def _memory_figures(workers: Path) -> tuple[int, int, int]:
    """(limit, peak, OOM kills) of a workers group, cgroup v2 or v1."""
    if (workers / "memory.max").exists():
        peak = workers / ("memory.peak" if (workers / "memory.peak").exists() else "memory.current")
        events = dict(line.split() for line in (workers / "memory.events").read_text().splitlines())
        return int((workers / "memory.max").read_text()), int(peak.read_text()), int(events["oom_kill"])
    control = dict(line.split() for line in (workers / "memory.oom_control").read_text().splitlines())
    return (int((workers / "memory.limit_in_bytes").read_text()), int((workers / "memory.max_usage_in_bytes").read_text()),
            int(control.get("oom_kill", 0)))


@pytest.fixture(scope="module")
def memory_graded(tmp_path_factory):
    if cgroups.unavailable():
        pytest.skip(f"no cgroup per job slot on this machine: {cgroups.unavailable()}")
    assert not _slot_groups(), f"slot groups left by an earlier run: {_slot_groups()}"
    root = course.scratch_course(tmp_path_factory.mktemp("memory"), only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    full = sum(course.test_cells(source).values())
    attacker = selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))
    attacker.cells.insert(attacker.cells.index(solution_cells(attacker)[0]) + 1, nbformat.v4.new_code_cell(FORK_MEMORY))
    honest = {f"{letter}-honest": selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))
              for letter in "ace"}
    for student, nb in {"b-forks-memory": attacker, **honest}.items():
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    figures: dict[Path, tuple[int, int, int]] = {}  # group -> (limit, highest peak, OOM kills)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for workers in _slot_groups():
                try:
                    limit, peak, kills = _memory_figures(workers)
                except (OSError, ValueError, KeyError):  # removed while read
                    continue
                seen = figures.get(workers, (limit, 0, 0))
                figures[workers] = (limit, max(seen[1], peak), max(seen[2], kills))
            time.sleep(0.02)

    patch = pytest.MonkeyPatch()
    patch.setenv(cgroups.MEMORY_ENV, str(SLOT_MEMORY))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        outcomes = autograde_class(root, jobs=2, extra=FAST, report=lambda line: None)
    finally:
        done.set()
        watcher.join()
        patch.undo()
    yield root, outcomes, full, set(honest), figures


def test_a_slot_group_holds_its_workers_memory_under_its_limit(memory_graded):
    _, _, _, _, figures = memory_graded
    assert figures, "no slot group was seen while grading"
    assert all(limit == SLOT_MEMORY for limit, _, _ in figures.values()), figures
    assert all(peak <= limit for limit, peak, _ in figures.values()), figures
    assert sum(kills for _, _, kills in figures.values()) >= 1, f"the 8 x 600 MiB never met the limit: {figures}"


def test_honest_neighbours_of_many_large_processes_keep_full_marks(memory_graded):
    assert_all_graded_and_honest_full(*memory_graded[:4])


def test_no_slot_group_outlives_grading(memory_graded):
    assert not _slot_groups()
    try:  # cgroup v1 keeps the task limit in a hierarchy of its own
        pids = cgroups.V1_ROOT / "pids" / cgroups.own_path("pids")
    except OSError:
        return
    assert not list(pids.glob(_our_groups()))
