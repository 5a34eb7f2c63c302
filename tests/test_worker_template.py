"""Workers forked from one submission's template: each starts clean, and nothing a submission
leaves behind (a process, a stopped template) costs a later notebook its grading or reaches the
next submission."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading import engine, sandbox
from autograder.grading import judge as judge_module
from autograder.grading.judge import Session, StudentCode, new_template

MARKER = "tinytorch-template-test-left-behind"
# A process that outlives its cell (its own session, a double fork) and kills every process
# started after it, as a submission could to stop its later workers. It spins without a pause, so
# a new worker dies before it answers (it lives until its template is stopped).
KILLER = f"""
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", '''
import os, time
me = os.getpid()
end = time.time() + 120
while time.time() < end:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) > me:
            try:
                os.kill(int(entry), 9)
            except OSError:
                pass
''', "{MARKER}"])
    os._exit(0)
"""


def cells(*sources):
    return [{"id": f"c{i}", "source": s, "kind": "code"} for i, s in enumerate(sources)]


def left_behind() -> list[str]:
    return subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()


def left_behind_after(seconds: float, wanted: bool) -> bool:
    """Whether a process left behind is running, once it is as ``wanted`` or ``seconds`` have
    passed (a busy machine starts and ends processes late)."""
    deadline = time.monotonic() + seconds
    while bool(left_behind()) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(left_behind())


@pytest.fixture
def template():
    made = new_template()
    made.start()
    yield made
    made.close()


def test_workers_of_one_template_share_no_state(template):
    first = Session(cells("import numpy\nnumpy.planted = 1\ndraw = float(numpy.random.random())"), 30, template)
    second = Session(cells("import numpy\nplanted = hasattr(numpy, 'planted')\ndraw = float(numpy.random.random())"),
                     30, template)
    try:
        first.run_notebook()
        second.run_notebook()
        assert StudentCode(second).planted is False, "a module change of one worker reached the next"
        assert StudentCode(first).draw != StudentCode(second).draw, "two workers drew the same random numbers"
        assert first.scratch.path != second.scratch.path
    finally:
        first.close()
        second.close()


def test_a_worker_cannot_read_its_templates_memory(template):
    session = Session(cells("import os\ntry:\n    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n    result = 'read'\n"
                            "except OSError as error:\n    result = type(error).__name__"), 30, template)
    try:
        session.run_notebook()
        assert StudentCode(session).result == "PermissionError"
    finally:
        session.close()


@contextlib.contextmanager
def ran_in_a_new_template(source):
    """The names ``source`` left in a worker of a template started for it."""
    made = new_template()
    made.start()
    session = Session(cells(source), 30, made)
    try:
        session.run_notebook()
        yield StudentCode(session)
    finally:
        session.close()
        made.close()


def test_a_template_loads_the_font_list_built_once_for_the_machine(tmp_path, monkeypatch):
    """The judge's font list (marked here) is the one the template's matplotlib uses: it does not scan the fonts again."""
    [built] = sandbox.font_cache(sandbox.cache_dir()).glob("fontlist-*.json")
    listing = json.loads(built.read_text())
    listing["tinytorch_marker"] = "judge-built"
    (tmp_path / built.name).write_text(json.dumps(listing))
    monkeypatch.setattr(sandbox, "font_cache", lambda cache: tmp_path)
    with ran_in_a_new_template("import matplotlib.font_manager as fm\n"
                               "marker = getattr(fm.fontManager, 'tinytorch_marker', None)") as names:
        assert names.marker == "judge-built"


def test_a_template_starts_without_the_font_list_when_it_cannot_be_built(monkeypatch):
    def cannot(cache):
        raise PermissionError("the cache is not writable")

    monkeypatch.setattr(sandbox, "font_cache", cannot)
    with ran_in_a_new_template("import matplotlib.pyplot as plt\n"
                               "fonts = len(plt.matplotlib.font_manager.fontManager.ttflist)") as names:
        assert names.fonts > 0


POISON_FONT_LIST = """
import glob, os, signal
for path in glob.glob(os.environ["MPLCONFIGDIR"] + "/fontlist-*.json"):
    os.remove(path)
    os.symlink("/dev/zero", path)
os.kill(os.getppid(), signal.SIGKILL)
"""


def test_a_font_list_the_submission_poisoned_costs_only_its_own_time(template):
    """The font list is in the submission's own folder: pointed at /dev/zero, it makes the next
    template read until its memory limit, then matplotlib scans the fonts, and plots still work."""
    first = Session(cells(POISON_FONT_LIST), 30, template)
    try:
        first.run_notebook()
    finally:
        first.close()
    assert not template.running, "the cell should have ended its template: this test tests nothing"
    second = Session(cells("import matplotlib.pyplot as plt\nfigure = plt.figure()\nfigure.text(0.5, 0.5, 'x')\n"
                           "figure.savefig('x.png')\nplotted = True"), 60, template)
    try:
        assert second.run_notebook()["c0"]["error"] is None and StudentCode(second).plotted is True
    finally:
        second.close()


def test_a_process_left_behind_cannot_stop_the_next_notebooks_worker(template):
    """The killer usually kills the next worker before its first answer: the retry then forks
    from a new template, out of the killer's reach, and the cell runs (with retries from the old
    template, every attempt dies and grading stops with SandboxUnavailable). On a busy machine
    the worker may answer first and die in the cell: that student loses the cell (their own
    process killed it), and grading still goes on."""
    first = Session(cells(KILLER), 30, template)
    try:
        first.run_notebook()
        assert left_behind_after(10, wanted=True), "the killer did not start: this test tests nothing"
    finally:
        first.close()
    second = Session(cells("answer = 6 * 7"), 30, template)
    try:
        error = second.run_notebook()["c0"]["error"]
        if error is None:
            assert StudentCode(second).answer == 42
        else:
            assert error["ename"] == "WorkerDied", error
    finally:
        second.close()
    template.stop()
    assert not left_behind_after(10, wanted=False), "a process of the submission outlived its template"


def test_a_stopped_template_is_replaced(template, monkeypatch):
    monkeypatch.setattr(sandbox.Template, "CONTROL_SECONDS", 2)
    first = Session(cells("import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"), 30, template)
    try:
        first.run_notebook()
    finally:
        first.close()
    second = Session(cells("answer = 6 * 7"), 30, template)
    try:
        second.run_notebook()
        assert StudentCode(second).answer == 42
    finally:
        second.close()


def descendants(pid: int) -> list[int]:
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return children + [grandchild for child in children for grandchild in descendants(child)]


def started(pid: int) -> int:
    """When ``pid`` started, in clock ticks since boot (/proc/PID/stat's 22nd field)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])


def newest_descendant(pid: int) -> int:
    """The process started last among ``pid``'s descendants (a worker just forked in its sandbox)."""
    return max(descendants(pid), key=started)


def test_a_worker_stopped_before_its_first_answer_is_replaced(template, monkeypatch):
    """A worker that never answers its first request (a process left behind stopped it) is given
    up after the startup deadline, and the notebook runs in a worker of a new template, instead
    of waiting until the notebook's own time limit."""
    monkeypatch.setattr(judge_module, "STARTUP_SECONDS", 5)
    stopped = []
    start = sandbox.ForkedWorker.start

    def start_then_stop_the_first(self, fresh_template=False):
        peer = start(self, fresh_template)
        if not stopped:
            stopped.append(newest_descendant(self.template.proc.pid))
            os.kill(stopped[0], signal.SIGSTOP)
        return peer

    monkeypatch.setattr(sandbox.ForkedWorker, "start", start_then_stop_the_first)
    def waited(signum, frame):
        raise AssertionError("the stopped worker was waited for, not replaced")

    # (not in a thread: bwrap dies with the thread that started it)
    session = Session(cells("answer = 6 * 7"), 30, template)
    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(60)
    try:
        outputs = session.run_notebook()
        signal.alarm(0)
        assert stopped, "no worker was stopped: this test tests nothing"
        assert outputs["c0"]["error"] is None and StudentCode(session).answer == 42
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        session.close()


def test_the_judge_ends_a_submission_before_the_next_ones_notebook():
    """One judge grades two students: what the first left running is gone before the second is graded."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
                                          f"'import time; time.sleep(120)', '{MARKER}'], start_new_session=True)")]
    try:
        first = engine.judge_notebook(nb, "01_registry", submission="first")
        assert not first.get("error"), first
        assert left_behind(), "the first submission's process did not start: this test tests nothing"
        nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
        second = engine.judge_notebook(nb, "01_registry", submission="second")
        assert next(iter(second["cells"].values()))["stdout"] == "42\n"
        assert not left_behind(), "the first submission's process ran while the second was graded"
    finally:
        engine.end_submission()
    assert engine._JUDGE.proc is not None and engine._JUDGE.proc.poll() is None, "the judge should stay warm"


@pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux's")
def test_a_template_that_cannot_start_says_why(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    made = new_template()
    with pytest.raises(sandbox.TemplateLost) as lost:
        made.start()
    assert "No permissions to create new namespace" in lost.value.said
    made.close()


def test_a_preflight_whose_cell_answers_wrong_says_what_it_answered(monkeypatch):
    from autograder.grading import judge

    monkeypatch.setattr(judge, "PREFLIGHT_CELL", {"id": "preflight", "source": "print(6 * 6)"})
    results = judge.preflight()
    assert "answered" in results["fatal"] and "36" in results["fatal"], results
