"""One job slot of a class's grading: a process that imports nbgrader once and autogrades one
student after another in-process, with nbgrader's own ``NbGraderAPI.autograde``.

Started per slot by ``autograder.classroom.batch`` as

    python -m autograder.classroom.slot_runner --CourseDirectory.root=R --CourseDirectory.db_url=U [--A.b=v ...]

with the settings (``--Class.trait=value``) an ``nbgrader autograde --student S`` command line
would carry, and the config that command would read: every ``nbgrader_config.py`` nbgrader looks
for (Jupyter's config directories, the working directory, the course root), those settings on
top. It reads one JSON request a line on stdin, ``{"student": S, "force": bool}``, and answers
each with one JSON line on stdout: ``ok`` (that command would have exited 0), ``log`` (what it
would have printed: nbgrader's log lines, warnings, tracebacks), ``seconds``, ``skipped`` (the
autograded copy was up to date) and ``pid``. Its own stdout and stderr go to the file the batch
gave as its stderr, emptied before each student, so whatever a library prints lands in that
student's log and never among the answers; if the runner dies mid-student, the batch reads what
that file holds.

After each student ``engine.end_submission()`` runs, so the slot's one judge process
(``engine._JUDGE``) keeps nothing of a student for the next.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

SKIPPED = "Skipping existing assignment"  # what nbgrader logs when the autograded copy is up to date
SETTING = re.compile(r"--[A-Za-z_]\w*(\.[A-Za-z_]\w*)+=.*", re.DOTALL)  # --Class.trait=value


class SettingsError(ValueError):
    """A setting for nbgrader is not of the form ``--Class.trait=value``."""


def check_settings(settings: list[str] | tuple[str, ...]) -> None:
    wrong = [s for s in settings if not SETTING.fullmatch(s)]
    if wrong:
        raise SettingsError(f"nbgrader settings must look like --Class.trait=value (e.g. "
                            f"--JudgedExecute.timeout=300); not {', '.join(map(repr, wrong))}")


def nbgrader_config(settings: list[str]):
    """The config ``nbgrader autograde SETTINGS`` would run with, started in this process's
    working directory (nbgrader's order: later files and the command line win)."""
    from jupyter_core.paths import jupyter_config_dir, jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import KVArgParseConfigLoader

    from autograder.authoring.course import course_config

    check_settings(settings)
    command_line = KVArgParseConfigLoader(argv=settings).load_config()
    root = command_line.CourseDirectory.get("root", os.getcwd())
    config, loaded = Config(), set()
    for directory in [*reversed([jupyter_config_dir(), *jupyter_config_path()]), os.getcwd(), str(root)]:
        path = Path(directory).resolve()
        if path not in loaded and (path / "nbgrader_config.py").is_file():
            config.merge(course_config(path))
            loaded.add(path)
    config.merge(command_line)
    return config


def _grading_log() -> logging.Logger:
    """nbgrader's log, as its command line prints it (to stderr, which is the slot's log file)."""
    log = logging.getLogger("AutogradeApp")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(name)s | %(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def _printed() -> str:
    """What this process wrote to its stdout and stderr since the last ``_forget_printed``."""
    sys.stdout.flush()
    sys.stderr.flush()
    return os.pread(2, os.fstat(2).st_size, 0).decode(errors="replace")


def _forget_printed() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.ftruncate(2, 0)  # opened for appending: the next write starts the file again


def grade(api, student: str, force: bool) -> dict:
    """Autograde one student; the answer the batch gets."""
    from nbgrader.converters.base import NbGraderException

    from autograder.authoring.course import ASSIGNMENT
    from autograder.grading import engine

    _forget_printed()
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a warning shown for an earlier student is shown again, as in a new process
            result = api.autograde(ASSIGNMENT, student, force=force, create=True)
    finally:
        engine.end_submission()
    error = result.get("error", "")
    # nbgrader's command ends quietly (exit 1) on its own NbGraderException, after logging why;
    # any other exception it would have printed as a traceback.
    own = f"{NbGraderException.__module__}.{NbGraderException.__qualname__}"
    if error and not error.rstrip().splitlines()[-1].startswith(own):
        print(error, file=sys.stderr)
    log = _printed()
    return {"ok": result["success"], "log": log, "seconds": time.perf_counter() - started,
            "skipped": SKIPPED in log, "pid": os.getpid()}


def serve(settings: list[str]) -> None:
    answers = os.fdopen(os.dup(1), "w")  # not inherited: a child process never holds the answers open
    os.dup2(2, 1)  # whatever prints goes to the slot's log file, never into the answers
    fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_APPEND)  # emptied, it fills from the start
    from autograder.grading.heap import loaded_once

    with loaded_once():
        from nbgrader.apps.api import NbGraderAPI

        api = NbGraderAPI(config=nbgrader_config(settings), log=_grading_log())
    for line in sys.stdin:
        request = json.loads(line)
        answers.write(json.dumps(grade(api, request["student"], bool(request["force"]))) + "\n")
        answers.flush()


class SlotRunner:
    """The batch's end of one slot: its runner process, started at the first student and again
    after it died (the student it was grading is reported failed, with the reason)."""

    CLOSE_SECONDS = 60

    def __init__(self, settings: list[str]):
        self.settings = list(settings)
        self.proc: subprocess.Popen | None = None
        self.printed = None  # the runner's stdout and stderr

    def _start(self) -> subprocess.Popen:
        from autograder.authoring.course import ROOT, nbgrader_env

        self.printed = tempfile.TemporaryFile()
        return subprocess.Popen([sys.executable, "-m", "autograder.classroom.slot_runner", *self.settings], cwd=ROOT,
                                env=nbgrader_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.printed,
                                text=True)

    def grade(self, student: str, force: bool) -> dict:
        """The runner's answer for ``student`` (see the module docstring)."""
        if self.proc is not None and self.proc.poll() is not None:
            self.close()  # it ended between two students: nobody's grading was lost
        if self.proc is None:
            self.proc = self._start()
        started = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps({"student": student, "force": force}) + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except BrokenPipeError:
            answer = ""
        if answer:
            return json.loads(answer)
        return self._died(student, time.perf_counter() - started)

    def _died(self, student: str, seconds: float) -> dict:
        pid, status = self.proc.pid, self.proc.wait()
        said = os.pread(self.printed.fileno(), os.fstat(self.printed.fileno()).st_size, 0).decode(errors="replace")
        self.close()
        how = (f"was killed by signal {-status} ({signal.Signals(-status).name})" if status < 0
               else f"exited with status {status}")
        said += (f"\nThe grading process of this job slot (pid {pid}) {how} while grading {student}: {student} "
                 f"is not graded (regrade: autograde --student {student}); the next students go to a new process.\n")
        return {"ok": False, "log": said, "seconds": seconds, "skipped": False, "pid": pid}

    def close(self) -> None:
        """End the runner: it finishes its loop and stops its judge."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(self.CLOSE_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        if self.printed is not None:
            self.printed.close()
            self.printed = None


if __name__ == "__main__":
    sys.modules.setdefault("rfc3987_syntax", None)  # why: autograder.grading.nbgrader_app
    serve(sys.argv[1:])
