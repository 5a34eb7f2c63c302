"""Export: a student's finished answers become the code their ``tinytorch`` runs.

In the student edition of this package every graded function (and every graded method of a
class) is a stub decorated with :func:`graded`: it has the task's signature and docstring, and
at call time it runs the student's exported answer, or raises ``NotImplementedError`` naming the
notebook and task to finish. The library's composites (``ModelRegistry``, ``ModelServer``,
``DriftDetector``, routers, the learner, the pipeline) call the graded functions by name, so once
a student exports ``content_hash`` their registry hashes with it, in this notebook, after a
kernel restart and in every later notebook. As ``tito export`` does in TinyTorch, exporting is an
explicit step: the last cell of each notebook calls

    export("01_registry", content_hash, atomic_write_bytes, allocate_version, AliasHistory, compare_metrics)

which saves the source of each definition (with the imports and helpers it uses) to
``<answers>/01_registry/<name>.py``; exporting a name again replaces its file. ``<answers>`` is the ``answers`` folder inside this package, or the
folder named by the environment variable ``TINYTORCH_ANSWERS``.

The course's reference edition has no stubs (``tasks.json`` is absent): there ``export`` says so
and saves nothing.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import json
import linecache
import os
import sys
import textwrap
import types
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
TASKS = PACKAGE / "tasks.json"
"""The graded pieces, per notebook, written by the course's publish step into the student edition."""

_answers: dict[str, dict] = {}  # notebook -> {name: exported object}; loaded once, cleared by export

answer_provider = None
"""Where a function's answer is not exported, ``answer_provider(notebook, name)`` may supply a
callable in its place. The course's grader sets it in its sandbox, so that a read-only cell using
one task's function still runs while another task is graded; otherwise it stays None."""


def answers_dir() -> Path:
    """Where exported answers live: ``$TINYTORCH_ANSWERS``, or ``answers/`` inside this package."""
    return Path(os.environ.get("TINYTORCH_ANSWERS") or PACKAGE / "answers")


@functools.cache
def tasks() -> dict:
    """``{notebook: [{"name", "module", "task", "number", "methods", "revealed"}, ...]}``; empty in
    the reference edition."""
    return json.loads(TASKS.read_text()) if TASKS.exists() else {}


def not_written(notebook: str, task: str, number: int, what: str) -> str:
    """The message of a stub whose answer is not exported yet."""
    return f"{what} is not written yet: finish task {number} ({task}) of {notebook}.ipynb and run its export cell"


def require(notebook: str, *names: str) -> None:
    """Raise the stub's ``NotImplementedError`` for the first of ``names`` not exported yet.

    For cells whose graded code runs in another process (a load generator, a server), where
    the stub's message would arrive as a dropped connection."""
    for entry in tasks().get(notebook, []):
        exported = (answers_dir() / notebook / f"{entry['name']}.py").exists()
        if entry["name"] in names and not entry["revealed"] and not exported:
            raise NotImplementedError(not_written(notebook, entry["task"], entry["number"], entry["name"]))


def graded(notebook: str, name: str, method: str | None = None):
    """Decorate a student-edition stub so that calls run the student's exported answer.

    The answer is looked up at call time, so modules that imported the stub by name
    (``from .storage import content_hash``) run the answer exported after they were imported.
    """

    def decorate(stub):
        @functools.wraps(stub)
        def dispatch(*args, **kwargs):
            answer = _exported(notebook, name, method)
            if answer is None and method is None and answer_provider is not None:
                answer = answer_provider(notebook, name)
            return (answer or stub)(*args, **kwargs)

        return dispatch

    return decorate


def _exported(notebook: str, name: str, method: str | None):
    if notebook not in _answers:
        _answers[notebook] = _load(notebook)
    found = _answers[notebook].get(name)
    if found is None or method is None:
        return found
    return found.__dict__.get(method)


def _module_globals(notebook: str) -> dict:
    """The globals of the library modules whose graded objects ``notebook`` replaces: the imports
    and helpers the reference answers use, which the exported answers may use too."""
    namespace: dict = {}
    for module in sorted({entry["module"] for entry in tasks().get(notebook, [])}):
        namespace.update((k, v) for k, v in vars(importlib.import_module(module)).items() if not k.startswith("__"))
    return namespace


def _load(notebook: str) -> dict:
    """``{name: object}`` exported for ``notebook``: each ``<answers>/<notebook>/<name>.py`` is
    executed on top of the globals of the modules the answers replace."""
    files = sorted((answers_dir() / notebook).glob("*.py"))
    namespace = _module_globals(notebook)
    namespace["__name__"] = f"tinytorch.answers.{notebook}"
    for path in files:
        try:
            exec(compile(path.read_text(), str(path), "exec"), namespace)
        except Exception as error:
            raise ImportError(f"your exported answer {path} does not run ({type(error).__name__}: {error}); "
                              f"fix its cell and run the export cell of {notebook}.ipynb again") from error
    return {path.stem: namespace[path.stem] for path in files if path.stem in namespace}


def export(notebook: str, *objects) -> Path | None:
    """Save the source of ``objects`` (functions and classes written in this notebook) as answers
    of ``notebook``, one file each, so that this package runs them from now on; return the folder.

    Names the notebook's tasks do not grade are saved too, as helpers the answers may call.
    """
    table = tasks()
    if not table:
        print("This is the course's reference tinytorch: its graded functions are complete, nothing to export.")
        return None
    if notebook not in table:
        raise ValueError(f"unknown notebook {notebook!r}; the notebooks are {', '.join(sorted(table))}")
    if not objects:
        raise ValueError("name the functions and classes to export, e.g. export(\"01_registry\", content_hash)")
    caller = sys._getframe(1).f_globals
    graded_here = {entry["name"]: entry for entry in table[notebook]}
    sources = {}
    for obj in objects:
        name = getattr(obj, "__name__", None)
        if not isinstance(obj, (type, types.FunctionType)) or caller.get(name) is not obj:
            raise TypeError(f"export takes the functions and classes this notebook defines, got {obj!r}")
        if name in graded_here and obj.__module__.startswith("tinytorch"):
            raise TypeError(f"`{name}` is the library's stub, not your code: run the cell where you wrote it, then export")
        methods = (graded_here.get(name) or {}).get("methods") or []
        missing = [m for m in methods if not isinstance(obj.__dict__.get(m), types.FunctionType)]
        if missing:
            raise TypeError(f"class {name} must define {', '.join(missing)} (its task's methods)")
        sources[name] = source_of(obj)
        unfinished = _unfinished(sources[name], methods)
        if unfinished:
            entry = graded_here.get(name)
            task = f"task {entry['number']} ({entry['task']})" if entry else name
            what = ", ".join(unfinished if unfinished == [name] else [f"{name}.{m}" for m in unfinished])
            raise NotImplementedError(f"{what} still {'raises' if len(unfinished) == 1 else 'raise'} "
                                      f"NotImplementedError: finish {task} of {notebook}.ipynb, run its cell, "
                                      "then export again")
    folder = answers_dir() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        lines = [f"# Exported from {notebook}.ipynb: your {name}, which tinytorch runs in place of its stub.",
                 "# Edit the notebook and export again rather than this file."]
        lines += _context({name: source}, caller, _module_globals(notebook)) + [f"\n\n{source}"]
        (folder / f"{name}.py").write_text("\n".join(lines) + "\n")
    _answers.pop(notebook, None)
    exported = {path.stem for path in folder.glob("*.py")}
    todo = [e["name"] for e in table[notebook] if e["name"] not in exported]
    print(f"exported {', '.join(sources)} to {folder}"
          + (f"; {notebook} still to export: {', '.join(todo)}" if todo else f"; {notebook} is complete"))
    return folder


def source_of(obj) -> str:
    """The source of a function or class, also for a class defined in a notebook cell
    (``inspect.getsource`` cannot find a class in ``__main__`` before Python 3.13)."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if not isinstance(obj, type):
            raise
    for filename in reversed(list(linecache.cache)):  # the cells run last come last
        text = "".join(linecache.getlines(filename))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == obj.__name__:
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                return "".join(text.splitlines(keepends=True)[first - 1:node.end_lineno])
    raise OSError(f"cannot find the source of class {obj.__name__}: run the cell that defines it again")


def _context(sources: dict[str, str], caller: dict, library: dict) -> list[str]:
    """Import lines and helper definitions for the names the sources use from the notebook.

    A name the notebook imported becomes an import line; a function or class it defined becomes
    a helper (its own names followed in turn); a plain constant becomes an assignment. Names the
    library module also defines (the helpers a notebook's read-only cells copy from it) are left
    to the library, which the answers run on top of.
    """
    imports, helpers, seen = [], {}, set(sources) | set(dir(builtins))
    pending = [source for source in sources.values()]
    while pending:
        for name in sorted(_names_used(pending.pop()) - seen):
            seen.add(name)
            if name not in caller:
                continue
            value = caller[name]
            given = library.get(name)
            if given is value or (given is not None and getattr(value, "__module__", None) == "__main__"):
                continue
            if isinstance(value, types.ModuleType):
                module = value.__name__
                imports.append(f"import {module}" if module == name else f"import {module} as {name}")
            elif isinstance(value, (type, types.FunctionType)) and value.__module__ == "__main__":
                helpers[name] = source_of(value)
                pending.append(helpers[name])
            elif _importable(value):
                alias = "" if value.__name__ == name else f" as {name}"
                imports.append(f"from {value.__module__} import {value.__name__}{alias}")
            elif isinstance(value, (int, float, str, bool, bytes, type(None))):
                imports.append(f"{name} = {value!r}")
    return sorted(imports) + [f"\n\n{source}" for source in helpers.values()]


def _unfinished(source: str, methods: list[str]) -> list[str]:
    """The functions of ``source`` (only ``methods`` of a class) whose body is still the release's
    ``raise NotImplementedError()``."""
    node = ast.parse(textwrap.dedent(source)).body[0]
    functions = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name in methods] \
        if isinstance(node, ast.ClassDef) else [node]
    unfinished = []
    for function in functions:
        body = [n for n in function.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        if len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0]):
            unfinished.append(function.name)
    return unfinished


def _importable(value) -> bool:
    module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    return bool(module and name) and getattr(sys.modules.get(module), name, None) is value


def _names_used(source: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(textwrap.dedent(source))) if isinstance(node, ast.Name)}
