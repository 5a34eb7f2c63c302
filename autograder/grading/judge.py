"""The trusted judge: decides a notebook's verdict without ever running a student's code itself.

    python -m autograder.grading.judge REQUEST.json RESULTS.json
    python -m autograder.grading.judge --serve [--cold]
        one "REQUEST.json<TAB>RESULTS.json" line per notebook on stdin; "done" on stdout when
        RESULTS.json is written; "end" after a submission's last notebook: "ended"
        (--cold: no imports ahead of the first request, for a preflight)

REQUEST.json holds the notebook's code cells in order (``id``, ``source``, ``kind``: ``code``,
``test`` with its ``task``, or ``demo``), the time limits, the instructor's ``imports`` for the
visible tests (name -> import statement; by default those of the source notebook), the ``seed``
of this student's random inputs and, optionally, the ``tasks`` to check. The judge forks a
sandboxed worker from the submission's template (``autograder.grading.sandbox``), has it run every
code cell (not the demos, not the tests), and keeps what each printed or raised. Then the visible test cells run here
(``autograder.grading.visible``): a task whose visible test failed scores zero, so its hidden checks are
skipped. The others' checks run here too, under pytest: both call the submission's functions,
classes and objects through the data-only protocol (``autograder.grading.protocol``), so what they assert,
and the values they compare with, never pass through code the student wrote.

Every check has its own time limit. A check that times out, or whose call ended the worker (an
``os._exit``, a crash, memory exhausted), fails with a message that says so; the next check gets a
fresh worker that has run the notebook's code again (without its test cells).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from autograder.grading.heap import loaded_once
from autograder.grading.protocol import MAX_MESSAGE as MAX_ANSWER
from autograder.grading.protocol import AnswerTooLarge, CallTimeout, NotPlainData, Peer, PeerGone, Policy, ProtocolError
from autograder.grading.sandbox import ForkedWorker, SandboxUnavailable, Scratch, Template, cache_dir, grader_tree, prepared_tree
from autograder.grading.visible import run_test_cell, trusted_imports

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ROOT / "autograder" / "checks"
MAX_MESSAGE = 600  # characters of a check's failure message
QUOTED = re.compile(r"""'[^']*'|"[^"]*"|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}""")
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
SESSION: "Session | None" = None  # the submission under judgement, read by the checks' fixture
SEED: int | None = None  # this student's random inputs (None: the same fixed inputs for everyone)
STARTUP_SECONDS = 60  # a fresh worker answers its first request in milliseconds
LOST = (CallTimeout, PeerGone, ProtocolError)  # the worker can no longer be trusted to answer in order


class NotYourCode(BaseException):
    """A check asked for a name the submission does not define.

    A BaseException, so that a check's ``pytest.raises(Exception)`` cannot mistake it for the
    error the task's code was supposed to raise."""


def student_library() -> Path:
    """The student edition of ``tinytorch`` (graded pieces stubbed), built once per library version."""
    from autograder.authoring.publish import build_student_library

    digest = hashlib.sha256()
    sources = [*(ROOT / "tinytorch").rglob("*.py"), *(ROOT / "autograder" / "templates").glob("*.py"),
               ROOT / "autograder" / "authoring" / "publish.py"]
    for path in sorted(sources):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return prepared_tree(cache_dir(), "student-" + digest.hexdigest()[:16], build_student_library)


class References:
    """The reference answers, offered to the worker for the tasks not being graded right now.

    The student edition stubs every graded function; read-only library code that calls one (04's
    ``bucket`` calls ``fnv1a_32``) would fail wherever that task is unfinished, making one task's
    points depend on another's. So a stub with no exported answer asks here, and the judge runs
    the reference and returns the result as data. While a task's checks run, its own references
    refuse: an answer that calls the library instead of computing earns nothing.
    """

    def __init__(self):
        from autograder.authoring.publish import graded_pieces

        self.pieces = {(p.notebook, p.name): p for p in graded_pieces() if not p.methods}
        self.grading: set[str] = set()  # tasks whose checks are running: no reference for them

    def __call__(self, notebook: str, name: str):
        piece = self.pieces.get((notebook, name))
        return None if piece is None else _Reference(self, piece)


class _Reference:
    def __init__(self, references: References, piece):
        self.references, self.piece = references, piece

    def __call__(self, *args, **kwargs):
        if self.piece.task in self.references.grading:
            raise NotImplementedError(f"`{self.piece.name}` is graded on the code you write in the notebook, "
                                      "not on the library's")
        import importlib

        return getattr(importlib.import_module(self.piece.module), self.piece.name)(*args, **kwargs)


def new_template(preload: bool = True) -> Template:
    """A worker template (not started) for one submission: the student edition, the worker's code."""
    return Template(student_library(), grader_tree(cache_dir()), preload=preload)


class Session:
    """One notebook's worker, forked from ``template`` (the submission's: a template of its own
    if None), restarted (with the notebook's code run again) when it is lost."""

    def __init__(self, cells: list[dict], cell_timeout: float, template: Template | None = None):
        self.cells, self.cell_timeout = cells, cell_timeout
        self.own_template = template is None
        self.template = template or new_template()
        if not self.template.running:
            try:
                self.template.start()
            except PeerGone as error:  # no student code has run in it: the machine's failure
                said = getattr(error, "said", "") or "(nothing)"
                raise SandboxUnavailable(f"a new sandbox did not start ({error}); bwrap said: {said}") from None
        self.scratch = Scratch(parent=self.template.scratch)
        self.worker = ForkedWorker(self.template, self.scratch.path)
        self.references = References()
        self.broken = True
        self.skip: set[str] = set()  # cells that ended or hung the worker: not run again

    def run(self, cell: dict) -> dict:
        """Run one cell in the worker within its time limit; its outputs, or why it has none."""
        peer = self.worker.peer
        peer.deadline = time.monotonic() + self.cell_timeout
        try:
            result = peer.request("exec", cell={"id": cell["id"], "source": cell["source"]})
        except CallTimeout:
            reason = f"TimeoutError: this cell ran longer than its {self.cell_timeout:g} s limit and was stopped"
        except (PeerGone, ProtocolError) as error:
            reason = f"WorkerDied: running this cell ended the worker process ({error})"
        else:
            return _cell_result(result)
        finally:
            peer.deadline = None
        self.skip.add(cell["id"])
        self.broken = True
        name, _, message = reason.partition(": ")
        return {"stdout": "", "stderr": "", "error": {"ename": name, "evalue": message, "traceback": [reason]}}

    def run_notebook(self) -> dict[str, dict]:
        """Every code cell (not the demos, not the tests), in order, as the notebook would run;
        cell id -> outputs."""
        outputs = {}
        self.revive(replay=False)
        done = []
        for cell in self.cells:
            if cell["kind"] != "code":
                continue
            if self.broken:
                self.revive(upto=done)
            outputs[cell["id"]] = self.run(cell)
            done.append(cell)
        return outputs

    def revive(self, upto: list[dict] | None = None, replay: bool = True) -> None:
        """A fresh worker that has run the notebook's code (``upto`` those cells), tests excluded."""
        self._fresh_worker()
        for cell in (self.cells if upto is None else upto) if replay else []:
            if cell["kind"] == "code" and cell["id"] not in self.skip:
                self.run(cell)
                if self.broken:  # that cell hung or ended the worker: start again without it
                    return self.revive(upto, replay)

    def _fresh_worker(self) -> None:
        """A new worker, ready for the notebook's code. A retry forks it from a new template,
        in a new sandbox where no student code has run (a process the submission left behind
        may be killing the workers of the old one), so a worker that cannot start twice in a
        row is the machine's failure: ``SandboxUnavailable`` stops the grading instead of
        scoring the student 0. (The first retry waits out the processes of the previous
        worker, which may take a moment to be reaped.)"""
        for attempt in range(3):
            self.broken = False
            try:
                self.worker.restart(fresh_template=attempt > 0)  # a retry never trusts the template
                self.worker.peer.deadline = time.monotonic() + STARTUP_SECONDS  # a stopped worker never answers
                self.worker.peer.request("provide_answers", provider=self.references)
                self.worker.peer.deadline = None
                return
            except (PeerGone, ProtocolError, CallTimeout) as error:
                if attempt == 2:
                    said = f"; bwrap said: {error.said}" if getattr(error, "said", "") else ""
                    raise SandboxUnavailable(f"a fresh sandbox ended before running any code ({error}){said}") from None
                time.sleep(1 + attempt)

    def visible_test(self, cell: dict, imports: dict[str, str]) -> dict:
        """Run a visible test cell here, against the submission's names; its outputs and error."""
        self.references.grading = {cell["task"]}
        peer = self._live_peer()
        peer.deadline = time.monotonic() + self.cell_timeout
        try:
            result = run_test_cell(cell["source"], self._defined, imports,
                                   lambda: self.scratch.directory("visible-"), self.cell_timeout, fatal=LOST)
        finally:
            peer.deadline = None
            self.references.grading = set()
        if result.pop("lost", False):
            self.broken = True
            ename = result["error"]["ename"]
            reason = (f"timed out: it did not answer within {self.cell_timeout:g} s" if ename == CallTimeout.__name__ else
                      "its answer was too large" if ename == AnswerTooLarge.__name__ else "the worker process ended")
            result["error"].update(evalue=f"your code was called by this test and {reason}", traceback=[])
        return result

    def _live_peer(self):
        """The connection to a worker that has run the notebook (a fresh one if it was lost)."""
        if self.broken:
            self.revive()
        return self.worker.peer

    def lookup(self, name: str):
        try:
            return self._live_peer().request("lookup", name=name)
        except NameError:
            raise NotYourCode(f"your notebook does not define `{name}`: run the cell that defines it and keep the "
                              "name the task gives") from None

    def _defined(self, name: str):
        """``lookup``, with a name the submission lacks as a LookupError (a visible test reads
        such a name as the notebook would: NameError)."""
        try:
            return self.lookup(name)
        except NotYourCode:
            raise LookupError(name) from None

    def probes(self):
        """The public helpers of ``autograder.grading.probes``, living in the worker, as a handle."""
        return self._live_peer().request("probes")

    def close(self) -> None:
        self.worker.stop()
        if self.own_template:
            self.template.close()
        else:
            self.scratch.remove()


def solution_session(notebook: str) -> Session:
    """A worker that has run the code of the solution notebook ``source/mlops/<notebook>.ipynb``."""
    import nbformat

    from autograder.grading.engine import notebook_cells

    nb = nbformat.read(ROOT / "source" / "mlops" / f"{notebook}.ipynb", as_version=4)
    session = Session([c for c in notebook_cells(nb) if c["kind"] == "code"], cell_timeout=120)
    session.revive()
    return session


def _cell_result(result) -> dict:
    """The worker's report of a cell, checked to be what a report must be (it is untrusted)."""
    if not isinstance(result, dict):
        return {"stdout": "", "stderr": "", "error": {"ename": "ProtocolError", "evalue": "malformed cell report", "traceback": []}}
    text = lambda key: str(result.get(key) or "")[:40_000]  # noqa: E731
    error = result.get("error")
    if error is not None:
        error = error if isinstance(error, dict) else {}
        error = {"ename": str(error.get("ename", "Error"))[:100], "evalue": str(error.get("evalue", ""))[:2000],
                 "traceback": [str(line)[:2000] for line in list(error.get("traceback") or [])[:60]]}
    return {"stdout": text("stdout"), "stderr": text("stderr"), "error": error}


class StudentCode:
    """What a check calls ``student``: the names the submission defined, living in the worker."""

    def __init__(self, session: Session):
        self._session = session

    def __getattr__(self, name):
        if name.startswith("_"):  # tools such as hypothesis probe for private attributes
            raise AttributeError(name)
        return self._session.lookup(name)


class _Alarm(Exception):
    pass


def _alarm(signum, frame):
    raise _Alarm()


class Verdicts:
    """pytest plugin: runs the selected tasks' checks, each within its time limit; one record each."""

    def __init__(self, session: Session | None, tasks: set[str] | None, test_timeout: float):
        self.session, self.tasks, self.test_timeout = session, tasks, test_timeout
        self.records: list[dict] = []

    def pytest_collection_modifyitems(self, config, items):
        selected = [item for item in items if self.tasks is None or _task_of(item) in self.tasks]
        config.hook.pytest_deselected(items=[i for i in items if i not in selected])
        items[:] = selected

    def pytest_runtest_call(self, item):
        if self.session is not None:
            self.session.references.grading = {_task_of(item)}
            if self.session.worker.peer is not None:
                self.session.worker.peer.deadline = time.monotonic() + self.test_timeout
        signal.signal(signal.SIGALRM, _alarm)  # the judge's own code must not hang either
        signal.setitimer(signal.ITIMER_REAL, self.test_timeout + 5)

    def pytest_runtest_teardown(self, item):
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self.session is not None:
            self.session.references.grading = set()
            if self.session.worker.peer is not None:
                self.session.worker.peer.deadline = None

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            passed = call.excinfo is None
            message = "" if passed else self.message(item, call.excinfo.value)
            self.records.append({"name": item.name, "task": _task_of(item), "doc": _doc_of(item),
                                 "passed": passed, "message": message[:MAX_MESSAGE]})

    def message(self, item, error: BaseException) -> str:
        task = _task_of(item)
        if isinstance(error, AnswerTooLarge):
            self._lost()
            return f"answer too large: your code for `{task}` answered with more than {MAX_ANSWER // 2**20} MiB"
        if isinstance(error, (CallTimeout, _Alarm)):
            self._lost()
            return (f"timed out: this check gives `{task}` {self.test_timeout:g} s and it did not answer in time "
                    "(an endless loop, or a loop whose stopping condition is never met?)")
        if isinstance(error, (PeerGone, ProtocolError)):
            self._lost()
            return f"your code for `{task}` ended the worker process (os._exit, a crash or memory exhausted)"
        if getattr(error, "raised_by_peer", False):
            return f"your code raised {type(error).__name__}: {abstract(str(error))}"
        text = str(error) or _doc_of(item)
        if isinstance(error, (AssertionError, NotYourCode, NotPlainData)):
            return text
        return f"{type(error).__name__}: {text}"

    def _lost(self) -> None:
        if self.session is not None:
            self.session.broken = True


def abstract(message: str, limit: int = 120) -> str:
    """An exception message of the student's code, safe to show: its first line, numbers and
    quoted values replaced by ``…`` (they may be the hidden inputs), cut at ``limit`` characters.
    The exception's type is shown as it is."""
    line = (message.strip().splitlines() or [""])[0]
    line = QUOTED.sub("…", line)
    line = NUMBER.sub("…", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _task_of(item) -> str | None:
    marker = item.get_closest_marker("task")
    return marker.args[0] if marker else None


def _doc_of(item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    return doc.strip().splitlines()[0]


def summarise(records: list[dict]) -> dict:
    tasks: dict[str, dict] = {}
    for record in records:
        entry = tasks.setdefault(record["task"], {"passed": 0, "total": 0, "checks": []})
        entry["total"] += 1
        entry["passed"] += record["passed"]
        entry["checks"].append(record)
    return tasks


def run_checks(session: Session | None, checks: Path, tasks: set[str] | None, test_timeout: float) -> list[dict]:
    """Run the checks of ``checks`` for ``tasks`` (all if None) against ``session``'s submission."""
    global SESSION
    import pytest

    SESSION = session
    plugin = Verdicts(session, tasks, test_timeout)
    unused = [option for name in UNUSED_PLUGINS for option in ("-p", f"no:{name}")]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main([str(checks), "-q", *unused, "--assert=plain", "--rootdir", str(checks.parent),
                     "-W", "ignore"], plugins=[plugin])
    return plugin.records


# pytest plugins a verdict never reads (the checks use none of their fixtures: ``tmp_path`` is the
# checks' own). ``unraisableexception`` and ``threadexception`` alone cost 0.15 s per notebook: a
# full garbage collection of the judge's heap at the end of a session.
UNUSED_PLUGINS = ("cacheprovider", "unraisableexception", "threadexception", "doctest", "junitxml", "pastebin",
                  "legacypath", "faulthandler", "stepwise", "logging", "setuponly", "setupplan", "unittest",
                  "monkeypatch", "recwarn", "debugging", "subtests", "tmpdir")


_TEMPLATE: Template | None = None  # the worker template of the submission this judge is grading


def submission_template() -> Template:
    """The worker template of the submission being graded, made at its first notebook."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = new_template()
    return _TEMPLATE


def end_submission() -> None:
    """Stop the submission's template, and every process its workers left running."""
    global _TEMPLATE
    if _TEMPLATE is not None:
        _TEMPLATE.close()
        _TEMPLATE = None


def judge(request: dict) -> dict:
    global SEED
    started = time.perf_counter()
    cells = request["cells"]
    SEED = request.get("seed") if type(request.get("seed")) is int else None
    session = Session(cells, float(request.get("cell_timeout", 60)), submission_template())
    try:
        outputs = session.run_notebook()
        imports = request.get("imports")
        if not isinstance(imports, dict):  # the instructor's source notebook, as for the checks run directly
            source = ROOT / "source" / "mlops" / f"{request['notebook']}.ipynb"
            imports = trusted_imports(source) if source.is_file() else {}
        visible = {}
        for cell in cells:
            if cell["kind"] == "test":
                outputs[cell["id"]] = session.visible_test(cell, imports)
                visible[cell["task"]] = outputs[cell["id"]]["error"] is None
        passing = {task for task, ok in visible.items() if ok and task in request.get("tasks", [task])}
        records = []
        if passing:
            records = run_checks(session, CHECKS / f"test_{request['notebook']}.py", passing,
                                 float(request.get("test_timeout", 30)))
    finally:
        session.close()
    return {"cells": outputs, "visible": visible, "tasks": summarise(records),
            "seconds": round(time.perf_counter() - started, 3)}


PREFLIGHT_CELL = {"id": "preflight", "source": "print(6 * 7)"}


def preflight() -> dict:
    """Start one template, fork a worker from it and run one cell there: ``{}`` if it printed
    what it should, else ``{"fatal": why}`` with what bwrap (or the template) wrote to stderr."""
    template = new_template(preload=False)
    said = ""  # bwrap's words when the template did not start (else the template's stderr, read below)
    try:
        try:
            template.start()
            _, connection = template.fork(Scratch(parent=template.scratch).path)
            with connection:
                peer = Peer(connection.fileno(), connection.fileno(), Policy(public_only=True, setattr=False))
                peer.deadline = time.monotonic() + 60
                result = peer.request("exec", cell=PREFLIGHT_CELL)
            if isinstance(result, dict) and result.get("stdout") == "42\n":
                return {}
            why = f"the sandbox ran `print(6 * 7)` and answered {str(result)[:300]}"
        except (PeerGone, ProtocolError, CallTimeout, OSError, SandboxUnavailable) as error:
            why = f"{type(error).__name__}: {error}"
            said = getattr(error, "said", "")
        return {"fatal": why, "stderr": said or template.stop()[-3000:].strip()}
    finally:
        template.close()


def answer(request: dict) -> dict:
    """One request's results: a preflight's, or a notebook's verdict; ``{"fatal": ...}`` when the
    sandbox cannot start, so that the grading stops instead of recording a 0."""
    if request.get("preflight"):
        return preflight()
    try:
        return judge(request)
    except SandboxUnavailable as error:
        return {"fatal": str(error), "stderr": ""}


END = "end"  # the line that ends a submission


def answer_file(line: str) -> None:
    request_path, results_path = line.rstrip("\n").split("\t")
    Path(results_path).write_text(json.dumps(answer(json.loads(Path(request_path).read_text()))))


def serve(warm: bool = True) -> None:
    """Answer one request per line of stdin (``REQUEST.json<TAB>RESULTS.json``, answered
    ``done``) until it ends. A submission's requests are served by a process forked for it,
    from this one, which has done its imports once: nothing of one submission's grading (its
    template, the checks' modules and state, hypothesis's) is there for the next. ``end`` ends
    the submission (answered ``ended``); a request of a process that died unanswered is
    answered ``lost``. ``warm``: import what grading needs first (a preflight's judge does not)."""
    with loaded_once():  # what the parent holds is never collected: the forks' collections skip it
        if warm:
            warm_up()
    print("ready", flush=True)
    for line in iter(sys.stdin.readline, ""):
        if line.strip() == END:
            print("ended", flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            os._exit(serve_submission(line))
        _, status = os.waitpid(pid, 0)
        if status:
            print("lost", flush=True)


def serve_submission(line: str) -> int:
    """Answer ``line`` and the requests after it, up to ``end`` (or the end of stdin)."""
    try:
        while line and line.strip() != END:
            answer_file(line)
            print("done", flush=True)
            line = sys.stdin.readline()
        if line:
            print("ended", flush=True)
        return 0
    except BaseException:  # noqa: BLE001 - the parent answers "lost" for this request
        return 1
    finally:
        end_submission()


def warm_up() -> None:
    """Import, once per judge, what every submission's grading imports: pytest and its plugins,
    and every module a check imports (hypothesis, SciPy, statsmodels, the library...), and build
    what such a module lists in ``BUILT_ONCE`` (``checks/reference_models.py``: the models the
    checks train): about two seconds of CPU. The
    checks' own modules are imported by each submission's process: their hypothesis settings
    follow that submission's seed (``checks/conftest.py``)."""
    import _pytest.config

    for name in [*(n if "." in n else f"_pytest.{n}" for n in _pytest.config.default_plugins), *imported_by_checks()]:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for build in getattr(module, "BUILT_ONCE", ()):  # what a module of the checks builds the same every time
            build()
    References()


def imported_by_checks() -> list[str]:
    """The modules the checks import, at the top or inside a function (not the checks themselves)."""
    import ast

    names = set()
    for path in CHECKS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    checks = {path.stem for path in CHECKS.glob("*.py") if path.stem.startswith("test_") or path.stem == "conftest"}
    return sorted(name for name in names if name.split(".")[0] not in checks
                  and not any(name.startswith(f"autograder.checks.{check}") for check in checks))


def main(argv: list[str]) -> int:
    sys.modules.setdefault("rfc3987_syntax", None)  # 2-3 s of grammar building nothing here needs
    if argv[:1] == ["--serve"]:
        serve(warm="--cold" not in argv)
        return 0
    try:
        answer_file("\t".join(argv[:2]))
    finally:
        end_submission()
    return 0


if __name__ == "__main__":
    # Run as ``autograder.grading.judge``, not ``__main__``: the checks' fixture reads SESSION from that module.
    from autograder.grading import judge as this_module

    sys.exit(this_module.main(sys.argv[1:]))
