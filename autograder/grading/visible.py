"""Visible tests decided in the judge: a test cell's code runs here, against the submission's
names through the protocol, as the hidden checks do.

The worker runs the notebook's other cells and reports what they printed; it never runs a test
cell, so nothing done there (patching its own ``Worker.execute``, say) can turn a failing visible
test into a pass. A name the cell uses comes from, in this order: the cell itself, Python's
builtins, an import statement of the instructor's notebook (``trusted_imports``: read from the
course's own notebook, never from the submission), and last the submission, asked of the worker
(its functions and objects arrive as handles, its values as plain data). ``tempfile`` gives the
cell directories in the worker's scratch, so the files the test makes are the worker's to write.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import signal
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

FILENAME = "<visible test>"


def trusted_imports(notebook: Path) -> dict[str, str]:
    """name -> the import statement that binds it, from every code cell of ``notebook`` (the
    instructor's release or source notebook). IPython lines (``%pip``, ``!ls``) are left out."""
    import nbformat

    found: dict[str, str] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.setdefault(alias.asname or alias.name.split(".")[0], ast.unparse(ast.Import(names=[alias])))
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        found.setdefault(alias.asname or alias.name,
                                         ast.unparse(ast.ImportFrom(module=node.module, names=[alias], level=0)))
    return found


def free_names(tree: ast.AST) -> list[str]:
    """Names the code reads but never binds itself (parameters, assignments, defs, imports)."""
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return sorted(read - bound)


class SharedTempfile:
    """``tempfile`` for a visible test: its directories are made in the worker's scratch."""

    def __init__(self, make_directory: Callable[[], Path]):
        self._make_directory = make_directory

    def TemporaryDirectory(self, *args, **kwargs):  # noqa: N802 - stands in for tempfile's
        return contextlib.nullcontext(str(self._make_directory()))

    def mkdtemp(self, *args, **kwargs):
        return str(self._make_directory())

    def __getattr__(self, name):
        return getattr(tempfile, name)


class TestTimeout(BaseException):
    """The visible test ran past its limit (a BaseException: the test's own ``except`` cannot catch it)."""


def _alarm(signum, frame):
    raise TestTimeout()


def run_test_cell(source: str, lookup: Callable[[str], object], imports: dict[str, str],
                  make_directory: Callable[[], Path], timeout: float, fatal: tuple = ()) -> dict:
    """Run a visible test cell here; what it printed and, if it failed, its error (traceback
    lines of the test cell only). ``lookup(name)`` asks the submission for a name and raises an
    exception when it has none (or cannot send it); one of ``fatal`` (the connection is lost)
    fails the test instead, and the result says ``lost``."""
    out = io.StringIO()
    namespace: dict = {"__name__": "__visible_test__", "__builtins__": builtins}
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout + 5)  # the calls have ``timeout``: the judge's code 5 s more
    try:
        code = compile(source, FILENAME, "exec")
        for name in free_names(ast.parse(source)):
            if hasattr(builtins, name):
                continue
            if name in imports:
                exec(compile(imports[name], "<import>", "exec"), namespace)  # noqa: S102 - the instructor's import
                continue
            try:
                namespace[name] = lookup(name)
            except fatal:
                raise
            except Exception:  # noqa: BLE001 - not defined there: a NameError when the test reads it
                pass
        if "tempfile" in namespace:
            namespace["tempfile"] = SharedTempfile(make_directory)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(code, namespace)  # noqa: S102 - the instructor's test cell
    except TestTimeout:
        reason = f"timed out: this visible test ran longer than its {timeout:g} s limit and was stopped"
        return {"stdout": out.getvalue(), "stderr": "",
                "error": {"ename": "TimeoutError", "evalue": reason, "traceback": [f"TimeoutError: {reason}"]}}
    except BaseException as error:  # noqa: BLE001 - the test's failure, whatever it is, is its verdict
        return {"stdout": out.getvalue(), "stderr": "", "error": _error(error), "lost": isinstance(error, fatal)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {"stdout": out.getvalue(), "stderr": "", "error": None}


def _error(error: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == FILENAME]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)[-10:],
             *traceback.format_exception_only(type(error), error)]
    return {"ename": type(error).__name__, "evalue": str(error)[:2000], "traceback": [line[:2000] for line in lines]}
