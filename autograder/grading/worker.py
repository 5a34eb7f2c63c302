"""The sandboxed worker: runs one submission's cells and answers the judge's calls with data.

    python -m autograder.grading.worker [--no-preload]     (stdin: a control socket from the judge)

Started by ``autograder.grading.sandbox`` inside the sandbox, with a copy of this module and of
``autograder.grading.protocol`` and the student edition of ``tinytorch``: nothing of the checks, the
solutions or the gradebook is there to read. Whatever the submission does here (patch a module,
print, exit, loop) changes only what it answers; the verdict is the judge's.

The process bubblewrap starts is a template, not a worker: it imports what every notebook imports
(NumPy, SciPy, matplotlib, the student edition: about half a second a notebook) once, before any
student code runs, and then forks a fresh worker for each notebook (and for each restart after a
check was lost) when the judge asks (``serve_template``). Each worker has its own directory, its
own session and a fresh random state; the template never runs student code.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import socket
import sys
import traceback
import types

from autograder.grading.heap import loaded_once
from autograder.grading.protocol import Peer, Policy, Remote

STUDENT_MODULE = "student"
MAX_OUTPUT = 20_000  # characters of a cell's printed output sent back


class _Capped(io.TextIOBase):
    """Keeps the first ``MAX_OUTPUT`` characters written to it."""

    def __init__(self):
        self.parts, self.size = [], 0

    def write(self, text):
        if self.size < MAX_OUTPUT:
            self.parts.append(text[: MAX_OUTPUT - self.size])
        self.size += len(text)
        return len(text)

    def text(self) -> str:
        cut = f"\n... [output cut at {MAX_OUTPUT} characters]\n" if self.size > MAX_OUTPUT else ""
        return "".join(self.parts) + cut


class _Shell:
    """Stands in for IPython's ``get_ipython()``: magics (``%matplotlib``, ``%pip``) do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _python_source(source: str) -> str:
    """IPython syntax (``%magic``, ``!shell``) as plain Python; cells without it are left alone."""
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class Worker(Peer):
    """Serves ``exec`` (run a cell), ``lookup`` (a name the submission defined) and the requests
    on the objects it handed out."""

    handle_type = Remote  # the judge's objects: the judge's policy says what may be done with them

    def __init__(self, rfd: int, wfd: int):
        self.module = types.ModuleType(STUDENT_MODULE)
        self.module.__dict__["get_ipython"] = _Shell
        sys.modules[STUDENT_MODULE] = self.module
        super().__init__(rfd, wfd, Policy(lookup=self.module.__dict__))

    def perform(self, op: str, message: dict):
        if op == "exec":
            return self.execute(self.decode(message.get("cell")))
        if op == "probes":
            return self.probes()
        if op == "provide_answers":
            import tinytorch.export

            tinytorch.export.answer_provider = self.answers(self.decode(message.get("provider")))
            return None
        return super().perform(op, message)

    def answers(self, references):
        """What the student edition's stubs run when no answer was exported: the notebook's own
        function of that name if it wrote one (as the student's exported answer would be), else
        the judge's reference (see ``autograder.grading.judge.References``)."""

        def provide(notebook: str, name: str):
            own = self.module.__dict__.get(name)
            if not callable(own) or str(getattr(own, "__module__", "")).startswith("tinytorch"):
                return references(notebook, name)

            def answer(*args, **kwargs):
                try:
                    return own(*args, **kwargs)
                except NotImplementedError:
                    return references(notebook, name)(*args, **kwargs)

            return answer

        return provide

    def probes(self) -> types.SimpleNamespace:
        """The public helpers of ``autograder.grading.probes`` (fault injection, recorders, child
        processes), for the judge to call here, where the submission runs."""
        from autograder.grading import probes

        return types.SimpleNamespace(**{k: v for k, v in vars(probes).items()
                                        if not k.startswith("_") and callable(v) and getattr(v, "__module__", "") == probes.__name__})

    def execute(self, cell: dict) -> dict:
        """Run one cell's source in the submission's namespace; what it printed and raised."""
        out, err = _Capped(), _Capped()
        error = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = compile(_python_source(cell["source"]), f"<cell {cell['id']}>", "exec")
                exec(code, self.module.__dict__)
            except BaseException as exc:  # noqa: BLE001 - a cell's SystemExit is an error of that cell
                frames = traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
                error = {"ename": type(exc).__name__, "evalue": str(exc)[:2000],
                         "traceback": [line[:2000] for line in frames[-40:]]}
        return {"stdout": out.text(), "stderr": err.text(), "error": error}


# Imported by the template once for all its workers: what the graded cells of the notebooks import
# (SciPy and matplotlib are most of it; the demos, which grading skips, import more).
PRELOADED = ("numpy", "scipy.stats", "matplotlib.pyplot", "IPython.core.inputtransformer2", "tinytorch.export",
             "tinytorch.core.data", "tinytorch.core.layers", "tinytorch.core.training", "tinytorch.core.serialization",
             "tinytorch.core.mlops", "tinytorch.core.mlops.registry", "tinytorch.core.mlops.serving",
             "tinytorch.core.mlops.monitoring", "tinytorch.core.mlops.drift", "tinytorch.core.mlops.experiments",
             "tinytorch.core.mlops.continuous", "tinytorch.core.mlops.pipeline")
PR_SET_DUMPABLE = 4


def _quiet() -> None:
    """What the submission prints goes nowhere (its cells' output is captured per cell)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = io.TextIOWrapper(io.FileIO(1, "w", closefd=False))


def _dumpable(value: int) -> None:
    """Whether processes of the same user may trace this one or read its memory and descriptors
    (``prctl(PR_SET_DUMPABLE)``): the template is not, so a process a submission left behind
    cannot tamper with the workers it forks later."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0)


def serve_template(control: socket.socket, preload: bool = True) -> None:
    """Fork a fresh worker per request of the judge: ``{"op": "fork", "directory": D}`` with the
    worker's end of its connection attached (SCM_RIGHTS) answers ``{"pid": N}``; ``{"op": "kill",
    "pid": N}`` ends that worker and every process of its session."""
    with loaded_once():  # the workers' collections skip what the template imported (and its pages stay shared)
        for name in PRELOADED if preload else ():
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    _dumpable(0)
    _quiet()
    control.send(b'{"ready": true}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, 1)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        _reap()
        if request.get("op") == "fork" and len(fds) == 1:
            pid = os.fork()
            if pid == 0:
                _worker(control, fds[0], str(request["directory"]))
            os.close(fds[0])
            control.send(json.dumps({"pid": pid}).encode())
        elif request.get("op") == "kill":
            _end(int(request["pid"]))
            control.send(b'{"ended": true}')
        else:
            for fd in fds:
                os.close(fd)
            control.send(b'{"error": "unknown request"}')


def _worker(control: socket.socket, fd: int, directory: str) -> None:
    """The forked child: a worker of its own session, in its own directory, on its own connection."""
    try:
        control.close()
        os.set_inheritable(fd, False)  # a program the submission starts does not hold the connection open
        os.setsid()
        os.chdir(directory)
        os.environ.update(HOME=directory, TMPDIR=f"{directory}/tmp", TINYTORCH_ANSWERS=f"{directory}/answers")
        import tempfile

        import numpy

        tempfile.tempdir = None  # the template's, if it computed one
        numpy.random.seed()  # the template's state would repeat in every worker
        _dumpable(1)  # the submission's own processes may inspect each other, as anywhere
        worker = Worker(fd, fd)
        with contextlib.suppress(Exception):
            worker.serve_forever()
    finally:
        os._exit(0)


def _end(pid: int) -> None:
    """Kill a worker's whole session and reap the worker."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, 9)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _reap() -> None:
    """Collect workers that ended on their own."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    """Stdin is the control socket; keep it on a private descriptor."""
    control = socket.socket(fileno=os.dup(0))
    serve_template(control, preload="--no-preload" not in sys.argv)


if __name__ == "__main__":
    main()
