"""Run one notebook's hidden checks in a fresh interpreter, outside the student's kernel.

    python -m autograder.runner PROGRAM.json CHECKS.py RESULTS.json [--task TASK]

PROGRAM.json holds the notebook's code cells as the grader rebuilt them (the student's answer
cells, the instructor's restored read-only cells). They are executed, in order, into a fresh
module named ``student``; a cell that raises, exits or runs past its time limit is recorded and
the next cell runs, as in the notebook. Then pytest runs CHECKS.py, whose ``student`` fixture is
that module, and the outcome of every check is written to RESULTS.json.

Nothing the student's kernel did can reach this process, and the library's reference answers for
this notebook are replaced by stubs that fail before the student's code runs, so importing the
answer instead of writing it earns nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal
import sys
import time
import types

STUDENT_MODULE = "student"


class CellTimeout(Exception):
    pass


def _alarm(seconds: float):
    def handler(signum, frame):
        raise CellTimeout(f"ran longer than its {seconds:g} s limit")

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _cancel_alarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


class _Discard(io.TextIOBase):
    """Swallows what student code (or pytest) prints: nothing reads it, so nothing is kept."""

    def write(self, text):
        return len(text)


class _Shell:
    """Stands in for IPython's ``get_ipython()``: magics (``%matplotlib``, ``%pip``) do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _python_source(cell_source: str) -> str:
    """IPython syntax (``%magic``, ``!shell``) as plain Python; cells without it are left alone."""
    if not any(line.lstrip().startswith(("%", "!")) for line in cell_source.splitlines()):
        return cell_source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with nbgrader
        return cell_source
    return TransformerManager().transform_cell(cell_source)


def poison(targets: list[str]) -> None:
    """Replace the library's reference answers with stubs that fail with a clear message.

    The stub replaces the answer in its own module and in the packages above it that re-export it
    (``from tinytorch.core.mlops.experiments import assign_variant``). Sibling library modules that
    imported it keep the real one, so the library code a notebook provides keeps working.
    """
    for target in targets:
        module_name, _, name = target.partition(":")
        original = getattr(importlib.import_module(module_name), name)

        def stub(*args, _target=target, **kwargs):
            raise RuntimeError(
                f"{_target.replace(':', '.')} is the library's reference answer; "
                "this task is graded on the code you write in the notebook."
            )

        for loaded_name, module in list(sys.modules.items()):
            if module_name == loaded_name or module_name.startswith(loaded_name + "."):
                for attribute, value in list(getattr(module, "__dict__", {}).items()):
                    if value is original:
                        setattr(module, attribute, stub)


def execute_program(cells: list[dict], cell_timeout: float, skip=(), progress: str | None = None
                    ) -> tuple[types.ModuleType, list[dict]]:
    """Run ``cells`` into a fresh ``student`` module; errors are recorded, never raised.

    ``progress``, if given, is a file that names the cell running now: if a cell kills the whole
    process (``os._exit``, a crash), the grader reruns the program with that cell in ``skip``.
    """
    module = types.ModuleType(STUDENT_MODULE)
    module.__dict__["get_ipython"] = _Shell
    sys.modules[STUDENT_MODULE] = module
    errors = []
    for cell in cells:
        if cell["id"] in skip:
            errors.append({"cell": cell["id"], "error": "skipped: it ended the grading process (os._exit or a crash)"})
            continue
        if progress:
            with open(progress, "w") as f:
                f.write(cell["id"])
        out, err = _Discard(), _Discard()
        try:
            code = compile(_python_source(cell["source"]), f"<cell {cell['id']}>", "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                _alarm(cell_timeout)
                try:
                    exec(code, module.__dict__)
                finally:
                    _cancel_alarm()
        except BaseException as exc:  # noqa: BLE001 - a student's SystemExit must not stop grading
            errors.append({"cell": cell["id"], "error": f"{type(exc).__name__}: {exc}"[:500]})
    return module, errors


class _Collector:
    """pytest plugin: one record per check, with only the message a student may see."""

    def __init__(self, task: str | None, test_timeout: float):
        self.task, self.test_timeout, self.records = task, test_timeout, []

    def pytest_collection_modifyitems(self, config, items):
        selected = [item for item in items if self.task is None or _task_of(item) == self.task]
        config.hook.pytest_deselected(items=[i for i in items if i not in selected])
        items[:] = selected

    def pytest_runtest_call(self, item):
        _alarm(self.test_timeout)

    def pytest_runtest_teardown(self, item):
        _cancel_alarm()

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            message = ""
            if call.excinfo is not None:
                exc = call.excinfo.value
                message = str(exc) if str(exc) else _doc_of(item)
                if not isinstance(exc, AssertionError) and type(exc).__name__ != "NotYourCode":
                    message = f"{type(exc).__name__}: {message}"
            self.records.append({
                "name": item.name,
                "task": _task_of(item),
                "doc": _doc_of(item),
                "passed": call.excinfo is None,
                "message": message[:600],
            })


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


def main(argv: list[str]) -> int:
    program_path, checks_path, results_path = argv[:3]
    task = argv[argv.index("--task") + 1] if "--task" in argv else None
    with open(program_path) as f:
        program = json.load(f)
    started = time.perf_counter()
    import pytest

    grader_modules = {name: module for name, module in sys.modules.items()
                      if name.split(".")[0] in {"pytest", "_pytest", "pluggy", "autograder", "hypothesis"}}
    poison(program.get("poison", []))
    _, cell_errors = execute_program(program["cells"], program.get("cell_timeout", 60),
                                     skip=program.get("skip", []), progress=results_path + ".progress")
    with open(results_path + ".progress", "w") as f:
        f.write("")  # past the notebook's code: a crash from here on is in the checks
    sys.modules.update(grader_modules)  # undo fake modules the student's code planted

    collector = _Collector(task, program.get("test_timeout", 30))
    checks_dir = os.path.dirname(os.path.abspath(checks_path))
    with contextlib.redirect_stdout(_Discard()), contextlib.redirect_stderr(_Discard()):
        pytest.main(
            [checks_path, "-q", "-p", "no:cacheprovider", "--assert=plain", "--rootdir", checks_dir,
             "-W", "ignore"],
            plugins=[collector],
        )
    results = {
        "tasks": summarise(collector.records),
        "cell_errors": cell_errors,
        "seconds": round(time.perf_counter() - started, 3),
    }
    with open(results_path, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
