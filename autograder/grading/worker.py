"""The sandboxed worker: runs one submission's cells and answers the judge's calls with data.

    python -m autograder.grading.worker        (stdin and stdout are the connection to the judge)

Started by ``autograder.grading.sandbox`` inside the sandbox, with a copy of this module and of
``autograder.grading.protocol`` and the student edition of ``tinytorch``: nothing of the checks, the
solutions or the gradebook is there to read. Whatever the submission does here (patch a module,
print, exit, loop) changes only what it answers; the verdict is the judge's.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
import types

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


def main() -> None:
    """Keep the connection on private descriptors; what the submission prints goes nowhere."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = sys.stderr = io.TextIOWrapper(io.FileIO(1, "w", closefd=False))
    worker = Worker(rfd, wfd)
    with contextlib.suppress(Exception):
        worker.serve_forever()


if __name__ == "__main__":
    main()
