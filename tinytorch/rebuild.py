"""Rebuild a student's exports from their own earlier notebooks.

Colab gives each notebook its own runtime and a new Binder session keeps nothing, so a piece
finished in ``01_registry.ipynb`` may never have been exported where ``05`` runs. The notebooks
themselves are kept (on Drive, in the student's repository), so each notebook's setup cell
(:func:`tinytorch.export.start`) reads the earlier ones with nbformat and exports again what they
define. The answer cells run whole, on top of the globals the exported answers will run on (the
library modules' constants and helpers); the other cells run only their imports, functions and
classes, never a demo, a test or a read-only cell's computation (02's trains a model).
"""

from __future__ import annotations

import ast
import builtins
import linecache
from pathlib import Path

import nbformat

from tinytorch.export import _module_globals, _unfinished, save_answers, source_of, tasks
from tinytorch.submission import find_notebook, meta

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def rebuild_earlier(notebook: str, folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Export every piece of the notebooks before ``notebook`` that is neither exported nor
    revealed, from the student's notebook of that name in ``folder``.

    Returns ``({notebook file: [names rebuilt]}, {name: why it could not be rebuilt})``.
    """
    from tinytorch.export import answers_dir  # noqa: PLC0415 - read at call time, set by start()

    rebuilt, problems = {}, {}
    for earlier in sorted(name for name in tasks() if name < notebook):
        todo = [e for e in tasks()[earlier]
                if not e["revealed"] and not (answers_dir() / earlier / f"{e['name']}.py").exists()]
        if not todo:
            continue
        try:
            path = find_notebook(earlier, folder)
        except FileNotFoundError:
            problems.update((e["name"], f"no {earlier}.ipynb there") for e in todo)
            continue
        names, why = rebuild(earlier, path, [e["name"] for e in todo])
        problems.update(why)
        if names:
            rebuilt[str(path)] = names
    return rebuilt, problems


def rebuild(notebook: str, path: Path, names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Export ``names`` from the notebook file ``path``; ``(names exported, {name: why not})``."""
    namespace = {**_module_globals(notebook), "__name__": "__main__", "__builtins__": builtins}
    cells = []
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # a damaged or half-synced file
        return [], dict.fromkeys(names, f"{path.name} does not open: {error}")
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        filename = f"<{path.name}, code cell {index + 1}>"
        text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        body = tree.body if meta(cell).get("solution") else [n for n in tree.body if isinstance(n, DEFINITIONS)]
        if not body:
            continue
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        cells.append(filename)
        try:
            exec(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), namespace)
        except Exception:  # a cell that fails here fails in the notebook too; its pieces are judged below
            continue
    done, why = [], {}
    try:
        for name in names:
            obj = namespace.get(name)
            if obj is None or getattr(obj, "__module__", None) != "__main__":
                why[name] = f"{path.name} does not define it"
                continue
            entry = next(e for e in tasks()[notebook] if e["name"] == name)
            if _unfinished(source_of(obj, cells), entry["methods"]):
                why[name] = f"not finished in {path.name}"
                continue
            try:
                save_answers(notebook, [obj], namespace, cells)
            except Exception as error:
                why[name] = f"{type(error).__name__}: {error}"
                continue
            done.append(name)
    finally:
        for filename in cells:
            linecache.cache.pop(filename, None)
    return done, why
