"""Grade a notebook's tasks where no student code runs: in the judge (``autograder.grading.judge``).

nbgrader would run a submission in a kernel its code controls, as the instructor's user: a score
computed there can be forged, and the code could change the checks, the gradebook or the course.
So nothing of the submission runs in nbgrader's process. ``judge_notebook`` hands the notebook's
cells to a judge process, which runs them in a sandboxed worker, runs the hidden checks of each
task whose visible test passed, and reports outputs and verdicts; ``apply_results`` writes the
outputs into the notebook (for feedback) and each test cell's score into its result, where
nbgrader's ``SaveAutoGrades`` reads it as partial credit.

A test cell earns a share of its points from its task's hidden checks, as the instructor's credit
policy says (``autograder.grading.credit``; by default ``points * passed / total``), clamped to
``[0, points]``, and nothing if its own visible asserts failed. Text the code wrote to stderr is
shown as ordinary output, so a harmless warning does not zero a passing cell (nbgrader's rule).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import resource
import select
import stat
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.authoring.notebooks import CHECKS, DEMO_PREFIX, ROOT, TEMPLATES, hidden_checks_of, is_test_cell, nbgrader_meta
from autograder.authoring.template_format import solution_targets as template_solution_targets
from autograder.grading import cgroups
from autograder.grading.credit import Credit

TEST_PREFIX = "test_"
HIDDEN_BLOCK = re.compile(r"\n?### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
DEMO_NOTE = "(a demo: not run while grading)\n"
VERDICT, OK, FAIL = "Hidden checks, ", "  ok  ", "  FAIL"  # what score_test_cells writes under a test cell
NOT_RUN = "Hidden checks not run: this task's visible test failed ({}), so it scores 0; make it pass first.\n"
JUDGE_MEMORY = 3 * 2**30  # address space of a judge (its soft limit; the workers set their own)


def is_written_answer(cell) -> bool:
    """A Markdown answer cell with points: graded by hand in formgrader, never by the judge."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def task_of(cell) -> str:
    """The task a test cell grades: its grade_id without the ``test_`` prefix."""
    return nbgrader_meta(cell)["grade_id"].removeprefix(TEST_PREFIX)


def notebook_cells(nb) -> list[dict]:
    """The notebook's code cells as the judge takes them: id, source (hidden blocks removed), kind."""
    cells = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        grade_id = nbgrader_meta(c).get("grade_id") or ""
        kind = "test" if is_test_cell(c) else "demo" if grade_id.startswith(DEMO_PREFIX) else "code"
        cell = {"id": grade_id or c.get("id") or f"cell-{i}", "source": HIDDEN_BLOCK.sub("\n", c.source), "kind": kind}
        if kind == "test":
            cell["task"] = task_of(c)
        cells.append(cell)
    return cells


@functools.cache
def all_hidden_checks() -> dict[str, dict[str, str]]:
    """notebook -> {check function: the task it grades}, for every notebook that has checks
    (read once per process: every notebook's ``JudgedExecute`` asks)."""
    notebooks = (path.stem.removeprefix(TEST_PREFIX) for path in sorted(CHECKS.glob(f"{TEST_PREFIX}*.py")))
    return {notebook: {check.name: check.task for check in hidden_checks_of(notebook)} for notebook in notebooks}


def solution_targets(notebook: str) -> list[str]:
    """Library objects whose source is this notebook's answers (its ``#| solution`` directives)."""
    return template_solution_targets(TEMPLATES / f"{notebook}.py")


JUDGE_BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from autograder.grading.judge import main; sys.exit(main(sys.argv[1:]))"
SANDBOX_FAILED = "the grading sandbox cannot start"  # a batch stops at the first log that says so


class Judge:
    """A judge process that grades one notebook after another (``python -m autograder.grading.judge --serve``).

    Starting Python with pytest, hypothesis, NumPy and SciPy costs a second or two; one judge per
    grading process (a batch's job slot: ``autograder.classroom.batch``) pays it once for every
    student of that slot. The judge forks a process per submission, which ends with it
    (``end_submission``, or a notebook of another student), so nothing of one student's grading
    is left for the next. A notebook that runs past its time limit, or a judge that dies, costs
    that notebook: the process (and the workers it started, which die with it) is killed and the
    next notebook gets a new one.

    Start-up that nothing planted can change: an isolated interpreter (``-I``: neither the working
    directory nor ``PYTHON*`` variables on its path; the course's root is put there explicitly),
    started in its job slot's own directory (``autograder.grading.sandbox.Slot``). Grading as root, the
    judge runs as the slot's user (``setpriv``), reading the checks and writing only that directory;
    where that user could not start a sandbox (no unprivileged user namespaces: see ``preflight``)
    or where that user cannot read the course or Python, it stays root (``root_judge_reason``).
    """

    def __init__(self, warm: bool = True):
        """``warm``: the judge imports what grading needs before it is ready (not for a preflight)."""
        self.warm = warm
        self.proc: subprocess.Popen | None = None
        self.slot = self.directory = self.group = None
        self.submission: str | None = None  # whose notebooks the judge is grading

    def _start(self) -> subprocess.Popen:
        from autograder.grading import judge, sandbox  # not at import: they load NumPy

        if self.slot is None:
            self.slot = sandbox.Slot()
        self.directory = sandbox.fresh_slot_directory(self.slot)
        cache = sandbox.cache_dir()
        judge.student_library(), sandbox.grader_tree(cache), sandbox.font_lists()  # a judge cannot write the cache
        as_root = os.geteuid() == 0
        # One BLAS thread, as in the workers: the checks' matrices are small, and OpenBLAS's idle
        # threads spin after each product (about 5 % of a grading's CPU, taken from the other slots).
        env = dict(os.environ, MPLBACKEND="Agg", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", HOME=str(self.directory),
                   TMPDIR=str(self.directory), TINYTORCH_GRADING_SCRATCH=str(self.directory / "scratch"),
                   TINYTORCH_GRADING_CACHE=str(cache), **dict.fromkeys(sandbox.ONE_THREAD, "1"))
        command = [sys.executable, "-I", "-B", "-c", JUDGE_BOOT, str(ROOT), "--serve", *([] if self.warm else ["--cold"])]
        join_judge_group = None
        if as_root:
            env.update(TINYTORCH_SANDBOX_UID=str(self.slot.uid), TINYTORCH_SANDBOX_OWN_UID="1")
            if not root_judge_reason():
                command = sandbox.drop_privileges(self.slot.uid) + command
            self.group = cgroups.SlotGroup.make(self.slot.key, self.slot.uid,
                                                cgroups.slot_memory_bytes(sandbox.SLOT_MEMORY), sandbox.Limits().processes)
            if self.group is not None:
                env[cgroups.JOIN_ENV] = os.pathsep.join(self.group.procs("workers"))
                join_judge_group = functools.partial(cgroups.join, self.group.procs("judge"))
        with open(self.directory / "judge.log", "wb") as log:
            proc = subprocess.Popen(command, env=env, cwd=self.directory, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=log, text=True, start_new_session=True, preexec_fn=join_judge_group)
        # Before the first request: whatever an answer makes the judge parse, it fails with MemoryError here.
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (JUDGE_MEMORY, resource.prlimit(proc.pid, resource.RLIMIT_AS)[1]))
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
        if not ready or proc.stdout.readline().strip() != "ready":
            sandbox.end_process_group(proc)
            said = (self.directory / "judge.log").read_text(errors="replace")[-3000:]
            error = sandbox.SandboxUnavailable(sandbox_trouble({"fatal": JUDGE_NOT_STARTED, "stderr": said}))
            error.said = said
            raise error
        return proc

    def grade(self, request: dict, timeout: float, fatal_ok: bool = False, submission: str | None = None) -> dict:
        """The judge's results for ``request``, a notebook of ``submission`` (the one before is
        ended first if it was another's); ``SandboxUnavailable`` if no sandbox could start
        (unless ``fatal_ok``: then the results say why, under ``fatal``)."""
        if submission != self.submission:
            self.end_submission()
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        self.submission = submission
        request_path, results_path = self.directory / "request.json", self.directory / "results.json"
        results_path.unlink(missing_ok=True)
        _write_new(request_path, json.dumps(request).encode())
        try:
            self.proc.stdin.write(f"{request_path}\t{results_path}\n")
            self.proc.stdin.flush()
        except OSError as error:  # the judge died before it read the request
            self.stop()
            return {"error": f"the judge failed while grading this notebook ({error})"}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        answer = self.proc.stdout.readline() if ready else None
        if answer is None:
            self.stop()
            return {"error": f"grading this notebook took longer than {timeout:g} s and was stopped"}
        results = _read_regular(results_path) if answer.strip() == "done" else None
        if results is None:
            self.stop()
            return {"error": f"the judge failed while grading this notebook ({answer.strip()[:200] or 'it ended'})"}
        results = json.loads(results)
        if results.get("fatal"):
            self.stop()
            if not fatal_ok:
                from autograder.grading.sandbox import SandboxUnavailable

                raise SandboxUnavailable(sandbox_trouble(results))
        return results

    def end_submission(self) -> None:
        """Tell the judge the submission is finished: the process that graded it, and its
        sandboxes, end (a judge that does not say so within a minute is stopped)."""
        self.submission = None
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write("end\n")
            self.proc.stdin.flush()
        except OSError:
            return self.stop()
        ready, _, _ = select.select([self.proc.stdout], [], [], END_SECONDS)
        if not ready or self.proc.stdout.readline().strip() != "ended":
            self.stop()

    def stop(self) -> None:
        self.submission = None
        if self.proc is not None:
            from autograder.grading.sandbox import end_process_group  # not at import: it loads NumPy

            try:
                end_process_group(self.proc)
            except BrokenPipeError:  # a judge that died with a request unread: nothing to flush it to
                pass
            self.proc = None
        if self.group is not None:
            self.group.remove()
            self.group = None
        if self.slot is not None:
            from autograder.grading.sandbox import release_slot_directory

            release_slot_directory(self.slot)
            self.slot.release()
            self.slot = None


def _write_new(path, data: bytes) -> None:
    """Write a new file in the judge's folder (which the judge's user owns): never through a link
    that user may have put there."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read_regular(path) -> str | None:
    """A regular file's text, read without following a link; None if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read().decode() if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else None


JUDGE_AS_ROOT = "TINYTORCH_JUDGE_AS_ROOT"  # set by preflight when only a root judge can start sandboxes
STARTUP_SECONDS = 120
END_SECONDS = 60
JUDGE_NOT_STARTED = "the judge process did not start"


def root_judge_reason() -> str:
    """Why a root grader's judge must stay root ("" when it can run as its slot's user)."""
    if os.environ.get(JUDGE_AS_ROOT):
        return "its slot's user could not start a sandbox (no unprivileged user namespaces)"
    from autograder.grading.sandbox import others_can_read

    unreadable = [str(p) for p in (ROOT, sys.base_prefix, sys.prefix, Path(sys.executable).parent)
                  if not others_can_read(Path(p))]
    return f"its slot's user cannot read {', '.join(unreadable)} (make it readable by others)" if unreadable else ""


def sandbox_trouble(results: dict) -> str:
    """Why the sandbox cannot run, with bwrap's own words and what to do about it."""
    said = results.get("stderr") or "(nothing)"
    return (f"{SANDBOX_FAILED}, so nobody was graded: {results.get('fatal') or results.get('error')}\n"
            f"bwrap said:\n    " + "\n    ".join(said.splitlines()) + "\n" + SANDBOX_ADVICE)


SANDBOX_ADVICE = """What to do (grading runs every submission in a bubblewrap sandbox, which needs user namespaces):
- "setting up uid map: Permission denied" or "No permissions to create new namespace" on Ubuntu 23.10
  or later: AppArmor restricts unprivileged user namespaces. Allow them for bwrap with an AppArmor
  profile (/etc/apparmor.d/bwrap: `abi <abi/4.0>, include <tunables/global>
  profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }`, then `apparmor_parser -r
  /etc/apparmor.d/bwrap`), or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`.
- Debian before 11 and some kernels: `sudo sysctl kernel.unprivileged_userns_clone=1`; and
  `sysctl user.max_user_namespaces` must be above 0.
- In a container: Docker/Podman's default seccomp and AppArmor profiles forbid namespaces; run it with
  `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, or `--privileged`, or
  grade as root with CAP_SYS_ADMIN (Kubernetes: deployments/grading/).
- `bwrap` not found: install bubblewrap (apt-get install bubblewrap).
Then run this command again; `python -m autograder check 01_registry` tries the sandbox alone."""


def preflight(report=print) -> None:
    """Start one judge and have it run one cell in a sandbox, before anyone is graded; raise
    ``SandboxUnavailable`` (with bwrap's reason and what to do) if it cannot. As root, a judge that
    cannot start sandboxes as its slot's user is tried as root (``JUDGE_AS_ROOT`` for the judges
    that follow, including those of nbgrader processes started afterwards)."""
    from autograder.grading.sandbox import SandboxUnavailable

    results = _preflight_once()
    if results.get("fatal") or results.get("error"):
        if os.geteuid() != 0 or root_judge_reason():
            raise SandboxUnavailable(sandbox_trouble(results))
        os.environ[JUDGE_AS_ROOT] = "1"
        as_root = _preflight_once()
        if as_root.get("fatal") or as_root.get("error"):
            raise SandboxUnavailable(sandbox_trouble(as_root))
        report(f"note: bwrap as the slot's user said {(results.get('stderr') or results.get('fatal') or '').strip()[:300]!r}")
    if os.geteuid() == 0 and root_judge_reason():
        report(f"note: the judge runs as root (its workers as each slot's user): {root_judge_reason()}")
    if cgroups.unavailable():
        report(f"note: no cgroup per job slot ({cgroups.unavailable()}): memory is capped per process only, "
               "so a submission that forks many large processes presses the whole machine")


def _preflight_once() -> dict:
    from autograder.grading.sandbox import SandboxUnavailable

    judge = Judge(warm=False)
    try:
        return judge.grade({"preflight": True}, timeout=120, fatal_ok=True)
    except SandboxUnavailable as error:  # the judge itself did not start
        return {"fatal": JUDGE_NOT_STARTED, "stderr": getattr(error, "said", str(error))}
    finally:
        judge.stop()


_JUDGE = Judge()
atexit.register(_JUDGE.stop)


def end_submission() -> None:
    """The submission being graded is finished: nothing the judge kept for it is left for the next."""
    _JUDGE.end_submission()


def judge_notebook(nb, notebook: str, *, cell_timeout: float = 60, test_timeout: float = 30,
                   timeout: float = 600, tasks: list[str] | None = None, release: Path | None = None,
                   seed: int | None = None, submission: str | None = None) -> dict:
    """Have the judge grade ``nb`` as the notebook ``notebook`` (only ``tasks``, if given) of
    ``submission`` (a student's id); its results, or why there are none. The visible tests take
    their imports from ``release``, the course's own release notebook (without it, the judge reads
    the source notebook's); ``seed`` draws this student's inputs."""
    request = {"notebook": notebook, "cells": notebook_cells(nb), "cell_timeout": cell_timeout,
               "test_timeout": test_timeout, "seed": seed}
    if release is not None and release.is_file():
        from autograder.grading.visible import trusted_imports

        request["imports"] = trusted_imports(release)
    if tasks is not None:
        request["tasks"] = tasks
    return _JUDGE.grade(request, timeout, submission=submission)


def apply_results(nb, results: dict, credit: Credit = Credit()) -> dict[str, float]:
    """Write the judge's outputs into each code cell and each test cell's score under ``credit``;
    returns the scores."""
    outputs = results.get("cells") or {}
    for cell, entry in zip((c for c in nb.cells if c.cell_type == "code"), notebook_cells(nb)):
        if entry["kind"] == "demo":
            cell.outputs = [stream_output(DEMO_NOTE)]
        elif entry["id"] in outputs:
            cell.outputs = _outputs(outputs[entry["id"]])
        else:
            reason = results.get("error") or "this cell was not run"
            cell.outputs = [error_output("NotRun", evalue=reason, traceback=[f"NotRun: {reason}"])]
    return score_test_cells(nb, results, credit)


# Outputs made here are checked once, with the whole notebook, when nbgrader writes it;
# nbformat.v4.new_output checks each against the schema too (300 times a student).
def stream_output(text: str) -> nbformat.NotebookNode:
    return nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text})


def error_output(ename: str, evalue: str, traceback: list[str]) -> nbformat.NotebookNode:
    return nbformat.from_dict({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback})


def result_output(text: str) -> nbformat.NotebookNode:
    return nbformat.from_dict({"output_type": "execute_result", "data": {"text/plain": text}, "metadata": {},
                               "execution_count": None})


def _outputs(result: dict) -> list:
    out = []
    for name in ("stdout", "stderr"):  # stderr shown as stdout: nbgrader zeroes a cell with stderr
        if result.get(name):
            out.append(stream_output(result[name]))
    error = result.get("error")
    if error:
        out.append(error_output(error["ename"], evalue=error["evalue"], traceback=error["traceback"]))
    return out


def score_test_cells(nb, results: dict, credit: Credit = Credit()) -> dict[str, float]:
    """Write each test cell's hidden-check verdict and score (under ``credit``) into its outputs;
    returns the scores."""
    scores = {}
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        points = float(nbgrader_meta(cell)["points"])
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "execute_result":
                continue
            if output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
            outputs.append(output)
        errors = [o for o in outputs if o.output_type == "error"]
        if errors:
            scores[task_of(cell)] = 0.0
            outputs.append(stream_output(NOT_RUN.format(errors[0].ename)))
            cell.outputs = outputs
            continue
        entry = _verdict((results.get("tasks") or {}).get(task_of(cell)))
        if entry is None:
            reason = results.get("error") or f"no hidden checks ran for task {task_of(cell)!r} (tell your instructor)"
            score, lines = 0.0, [f"Hidden checks did not run: {reason}"]
        else:
            score, how = credit.score(points, entry["checks"])
            lines = [f"{VERDICT}{how}"]
            lines += [f"{OK if c['passed'] else FAIL} {c['doc']}" + ("" if c["passed"] else f"\n       {c['message']}")
                      for c in entry["checks"]]
        outputs.append(stream_output("\n".join(lines) + "\n"))
        outputs.append(result_output(repr(score)))
        cell.outputs = outputs
        scores[task_of(cell)] = score
    return scores


def written_verdict(cell) -> tuple[str, list[bool]]:
    """The line saying how ``score_test_cells`` scored a test cell, and each check's pass or fail,
    read back from what it wrote under the cell (empty when no hidden checks ran)."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")
    _, verdict, rest = text.rpartition(VERDICT)  # what the code under test printed comes before it
    how, *lines = (verdict + rest).splitlines() or [""]
    return how, [line.startswith(OK) for line in lines if line.startswith((OK, FAIL))]


def _verdict(entry) -> dict | None:
    """A task's results if they are well formed (counts, and one record per check), else None."""
    try:
        passed, total, checks = int(entry["passed"]), int(entry["total"]), list(entry["checks"])
        checks = [{"name": str(c["name"]), "doc": str(c["doc"]), "passed": bool(c["passed"]),
                   "message": str(c.get("message", ""))} for c in checks]
    except (TypeError, KeyError, ValueError):
        return None
    if total <= 0 or len(checks) != total or sum(c["passed"] for c in checks) != passed:
        return None
    return {"passed": passed, "total": total, "checks": checks}
