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

which saves the source of each definition (with the imports, helpers and constants it uses, and
nothing else) to ``<answers>/01_registry/<name>.py``; exporting a name again replaces its file.
``<answers>`` is the folder ``tinytorch-answers`` beside the student's notebooks, so that the
answers survive a new Colab runtime or Binder session with the notebooks: each notebook's setup
cell calls :func:`start`, which finds that folder (in Colab, on the student's Google Drive),
rebuilds every earlier piece not exported yet from the student's own earlier notebook there, and
lists in one message what is still missing. The environment variable ``TINYTORCH_ANSWERS`` names
another folder (the grader sets it).

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
import re
import symtable
import sys
import textwrap
import types
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
TASKS = PACKAGE / "tasks.json"
"""The graded pieces, per notebook, written by the course's publish step into the student edition."""

ANSWERS_ENV = "TINYTORCH_ANSWERS"
ANSWERS_FOLDER = "tinytorch-answers"
"""The folder beside the notebooks that holds the exported answers."""
COLAB_DRIVE = Path("/content/drive")
COLAB_FOLDER = COLAB_DRIVE / "MyDrive" / "Colab Notebooks"
"""Where Colab's "Save a copy in Drive" puts a notebook: the default folder of the course's notebooks."""
CLASS_INTERNALS = {"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__", "__firstlineno__",
                   "__static_attributes__", "__annotations__"}

_answers: dict[str, dict] = {}  # notebook -> {name: exported object}; loaded once, cleared by export

answer_provider = None
"""Where a function's answer is not exported, ``answer_provider(notebook, name)`` may supply a
callable in its place. The course's grader sets it in its sandbox, so that a read-only cell using
one task's function still runs while another task is graded; otherwise it stays None."""


def answers_dir() -> Path:
    """Where exported answers live: ``$TINYTORCH_ANSWERS`` (which :func:`start` sets, so that
    servers started from a notebook find them too), or ``tinytorch-answers`` in the current folder
    (a notebook's kernel runs in the notebook's folder)."""
    return Path(os.environ.get(ANSWERS_ENV) or Path.cwd() / ANSWERS_FOLDER)


@functools.cache
def tasks() -> dict:
    """``{notebook: [{"name", "module", "task", "number", "methods", "revealed"}, ...]}``; empty in
    the reference edition."""
    return json.loads(TASKS.read_text()) if TASKS.exists() else {}


def not_written(notebook: str, task: str, number: int, what: str) -> str:
    """The message of a stub whose answer is not exported yet."""
    return f"{what} is not written yet: finish task {number} ({task}) of {notebook}.ipynb and run its export cell"


def require(*pieces: str) -> None:
    """Before a demo starts: raise one ``NotImplementedError`` that lists every graded piece it
    needs that is not exported yet, each with its notebook and task.

    ``pieces`` are notebooks, each followed by the names of its pieces the demo needs (a notebook
    followed by no names: all of its pieces), e.g. ``require("01_registry", "04_ab_testing",
    "fnv1a_32", "assign_variant")``. A demo that stopped half-way, or whose graded code runs in
    another process or thread, would report one piece at a time, a dropped connection or a timeout.
    """
    if answer_provider is not None:
        return  # the grader supplies what is not exported
    missing = [entry for entry in wanted_pieces(pieces) if not _is_exported(entry)]
    if len(missing) == 1:
        raise NotImplementedError(not_written(missing[0]["notebook"], missing[0]["task"], missing[0]["number"],
                                              missing[0]["name"]))
    if missing:
        raise NotImplementedError(f"this cell needs {len(missing)} pieces that are not written yet: "
                                  + "; ".join(_where(entry) for entry in missing)
                                  + ". Finish them and run their export cells")


def wanted_pieces(pieces) -> list[dict]:
    """The task table's entries (with ``"notebook"``) named by ``require``'s arguments."""
    table, wanted, notebook = tasks(), {}, None
    for piece in pieces:
        if piece in table or not table:
            notebook = piece
            wanted.setdefault(notebook, set())
        elif notebook is None or piece not in {e["name"] for e in table[notebook]}:
            raise ValueError(f"{piece!r} is neither a notebook nor a graded piece of {notebook}")
        else:
            wanted[notebook].add(piece)
    return [{**entry, "notebook": name} for name, names in wanted.items() for entry in table.get(name, [])
            if not names or entry["name"] in names]


def _is_exported(entry: dict) -> bool:
    return entry["revealed"] or (answers_dir() / entry["notebook"] / f"{entry['name']}.py").exists()


def _where(entry: dict) -> str:
    return f"{entry['name']} (task {entry['number']}, {entry['task']}, of {entry['notebook']}.ipynb)"


def start(notebook: str, folder: str | os.PathLike | None = None) -> Path | None:
    """A notebook's setup: use the answers folder beside the notebooks, rebuild each earlier
    notebook's piece that is not exported from that notebook, and say what is still missing.

    ``folder`` is where the student keeps the course's notebooks: by default the current folder,
    and in Colab the Drive folder ``Colab Notebooks`` (Colab first offers to mount the Drive). Returns the
    answers folder, or None in the course's reference edition (nothing is exported there).
    """
    if notebook not in tasks():
        if tasks():
            raise ValueError(f"unknown notebook {notebook!r}; the notebooks are {', '.join(sorted(tasks()))}")
        return None
    if answer_provider is not None:
        return answers_dir()  # the grader runs this notebook and supplies what is not exported
    folder = notebooks_folder(folder)
    os.environ.setdefault(ANSWERS_ENV, str(folder / ANSWERS_FOLDER))
    from tinytorch.rebuild import rebuild_earlier  # noqa: PLC0415 - nbformat only when a notebook starts

    rebuilt, problems = rebuild_earlier(notebook, folder)
    if rebuilt:
        print(f"not exported yet, so rebuilt from your notebooks in {folder}: "
              + "; ".join(f"{Path(path).name} ({', '.join(names)})" for path, names in rebuilt.items()))
    earlier = [name for name in tasks() if name < notebook]
    missing = [entry for entry in wanted_pieces(earlier) if not _is_exported(entry)]
    if missing:
        print(f"not exported and not found in {folder}: " + "; ".join(
            _where(entry) + (f" [{problems[entry['name']]}]" if entry["name"] in problems else "")
            for entry in missing) + ". The demos that need them will stop with this list")
    return answers_dir()


def notebooks_folder(folder=None) -> Path:
    """The folder of the student's notebooks: ``folder``, else Colab's ``Colab Notebooks`` on the
    student's Drive (mounted first, which asks the student's permission), else the current one."""
    colab = "google.colab" in sys.modules
    if colab and not (COLAB_DRIVE / "MyDrive").is_dir():
        try:
            from google.colab import drive  # noqa: PLC0415 - only in Colab

            drive.mount(str(COLAB_DRIVE))
        except Exception as error:  # the student declined, or no Drive: answers last this runtime only
            print(f"Google Drive is not mounted ({error}): your exports last only this runtime")
            colab = False
    if folder is not None:
        return Path(folder).expanduser().resolve()
    if not colab:
        return Path.cwd()
    COLAB_FOLDER.mkdir(parents=True, exist_ok=True)
    return COLAB_FOLDER


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
    loaded = {path.stem: namespace[path.stem] for path in files if path.stem in namespace}
    for entry in tasks().get(notebook, []):
        if entry["methods"] and isinstance(loaded.get(entry["name"]), type):
            _adopt_class(entry, loaded[entry["name"]])
    return loaded


def _adopt_class(entry: dict, answer: type) -> None:
    """Give the library's class what the student's class defines beside its graded methods (its
    helpers, attributes and the given methods as the student left them), so that the graded
    methods, which run on the library's objects, find the same ``self`` as in the notebook."""
    library = getattr(importlib.import_module(entry["module"]), entry["name"])
    for key, value in vars(answer).items():
        if key not in CLASS_INTERNALS and key not in entry["methods"]:
            setattr(library, key, value)


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
    folder = save_answers(notebook, objects, caller, _cells(caller))
    exported = {path.stem for path in folder.glob("*.py")}
    todo = [e["name"] for e in table[notebook] if e["name"] not in exported]
    print(f"exported {', '.join(o.__name__ for o in objects)} to {folder}"
          + (f"; {notebook} still to export: {', '.join(todo)}" if todo else f"; {notebook} is complete"))
    return folder


def save_answers(notebook: str, objects, caller: dict, cells: list[str]) -> Path:
    """Write each of ``objects`` (defined in the namespace ``caller``, whose code ran from the
    linecache files ``cells``) with what it uses into the answers folder of ``notebook``."""
    table = tasks()
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
        sources[name] = source_of(obj, cells)
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
        lines += _context({name: source}, caller, _module_globals(notebook), cells) + [f"\n\n{source}"]
        (folder / f"{name}.py").write_text("\n".join(lines) + "\n")
    _answers.pop(notebook, None)
    return folder


def _cells(caller: dict) -> list[str]:
    """The linecache files of the code run in ``caller``: a kernel's cells in the order they
    ran, or the script's file."""
    script = caller.get("__file__")
    return [name for name in linecache.cache
            if name == script or re.search(r"ipykernel_\d+|<ipython-input-", name)] + ([script] if script else [])


def source_of(obj, cells=None) -> str:
    """The source of a function or class, also for a class defined in a notebook cell
    (``inspect.getsource`` cannot find a class in ``__main__`` before Python 3.13): the last
    definition of it in ``cells`` (linecache files, default: all)."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if not isinstance(obj, type):
            raise
    found = _defining_statement(obj.__name__, list(linecache.cache) if cells is None else cells)
    if found is None or not found.lstrip().startswith(("class ", "@")):
        raise OSError(f"cannot find the source of class {obj.__name__}: run the cell that defines it again")
    return found


def _defining_statement(name: str, cells: list[str]) -> str | None:
    """The source of the last top-level statement of ``cells`` (linecache files, in the order
    they ran) that binds ``name``: a def, a class, an assignment or an import."""
    for filename in reversed(cells):  # the cells run last come last
        text = "".join(linecache.getlines(filename))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in reversed(tree.body):
            if name in _bound_by(node):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                return "".join(text.splitlines(keepends=True)[first - 1:node.end_lineno])
    return None


def _bound_by(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None else []
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def _context(sources: dict[str, str], caller: dict, library: dict, cells: list[str]) -> list[str]:
    """Import lines and helper definitions for the global names the sources use from the notebook.

    A name the notebook imported becomes an import line; a function or class it defined becomes
    a helper (its own names followed in turn); a plain constant becomes an assignment, any other
    value the statement of ``cells`` that assigned it. Names the library module also defines (the
    helpers a notebook's read-only cells copy from it) are left to the library, which the answers
    run on top of. A function's parameters and local variables are not looked up, so unrelated
    notebook variables of the same names stay out.
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
            if given is value or (given is not None and (getattr(value, "__module__", None) == "__main__"
                                                         or _equal(given, value))):
                continue  # the library's own, or a read-only cell's copy of it
            if isinstance(value, types.ModuleType):
                module = value.__name__
                imports.append(f"import {module}" if module == name else f"import {module} as {name}")
            elif isinstance(value, (type, types.FunctionType)) and value.__module__ == "__main__":
                helpers[name] = source_of(value, cells)
                pending.append(helpers[name])
            elif _importable(value):
                alias = "" if value.__name__ == name else f" as {name}"
                imports.append(f"from {value.__module__} import {value.__name__}{alias}")
            elif isinstance(value, (int, float, str, bool, bytes, type(None))):
                imports.append(f"{name} = {value!r}")
            elif (statement := _defining_statement(name, cells)) is not None:
                helpers[name] = textwrap.dedent(statement)
                pending.append(helpers[name])
    # a helper found later is one an earlier one uses: defined first (an assignment evaluates it)
    return sorted(imports) + [f"\n\n{source}" for source in reversed(helpers.values())]


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


def _equal(a, b) -> bool:
    """``a == b`` for plain data; False for values whose ``==`` is not a truth value (arrays)."""
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _importable(value) -> bool:
    module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    return bool(module and name) and getattr(sys.modules.get(module), name, None) is value


def _names_used(source: str) -> set[str]:
    """The global names ``source`` reads (not its functions' parameters and local variables)."""
    used = set()

    def walk(table, top):
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (symbol.is_global() or (top and not symbol.is_assigned()
                                                                  and not symbol.is_imported())):
                used.add(symbol.get_name())
        for child in table.get_children():
            walk(child, False)

    walk(symtable.symtable(textwrap.dedent(source), "<answer>", "exec"), True)
    return used
