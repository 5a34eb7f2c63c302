"""Build the nbgrader source notebooks from plain-text templates.

A template (``autograder/templates/NN_name.py``) is a Python file cut into cells by ``# %%`` lines::

    # %% [markdown]                      prose; each line starts with "# "
    # %% provided id=setup               read-only code the student runs
    # %% code                            a demo (plots, experiments); read-only, skipped by the
                                         hidden checks, so it must not define what later cells need
    # %% solution id=content_hash        a task: the student writes this code
    # %% test id=content_hash points=2   the task's visible test + hidden checks
    # %% answer id=systems_thinking points=2
                                         a written answer (Markdown) graded by hand; its text is
                                         the grading guide, "YOUR ANSWER HERE" in the release

Inside code cells two directives copy code from the library, which stays the single source of truth:

    #| solution tinytorch.core.mlops.registry:content_hash    body becomes the student's task
    #| provided tinytorch.core.mlops.registry:REGISTRY_LAYOUT  copied verbatim

``#| solution`` keeps signatures and docstrings and wraps every body in ``### BEGIN SOLUTION`` /
``### END SOLUTION``, which nbgrader replaces with ``raise NotImplementedError()`` in the release.
For a class, ``#| solution module:Class methods=a,b`` limits the task to the listed methods.

Cell ids are derived from the template (``id=``), never random, so rebuilding a notebook gives the
same file and nbgrader's gradebook keeps matching cells after a rebuild. The format itself is read
by ``autograder/authoring/template_format.py``, shared with the grader and the book.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import NamedTuple

import nbformat

from autograder.authoring.template_format import DIRECTIVE, TemplateError, parse_template, cell_points

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "autograder" / "templates"
CHECKS = ROOT / "autograder" / "checks"
ASSIGNMENT = "mlops"
SOURCE = ROOT / "source" / ASSIGNMENT
CONFIG = ROOT / "_config.yml"

DEMO_PREFIX = "demo_"

CHECKS_HEADING = "Graded by these hidden checks, run on your code after the task's test cell passes:"


class HiddenCheck(NamedTuple):
    name: str  # the check function
    task: str  # the task its @pytest.mark.task marker names
    requirement: str  # its docstring's first line: what the statement says it enforces


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def hidden_checks_of(notebook: str) -> list[HiddenCheck]:
    """The hidden checks of ``autograder/checks/test_<notebook>.py``, in file order.

    Read from the source (not imported): the checks file needs the grader's packages. A notebook
    without a checks file (a template being drafted) has none.
    """
    path = CHECKS / f"test_{notebook}.py"
    if not path.exists():
        return []
    checks = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            for mark in node.decorator_list:
                if (isinstance(mark, ast.Call) and ast.unparse(mark.func) == "pytest.mark.task"
                        and mark.args and isinstance(mark.args[0], ast.Constant)):
                    doc = (ast.get_docstring(node) or node.name).strip().splitlines()[0]
                    checks.append(HiddenCheck(node.name, mark.args[0].value, doc))
    return checks


def check_requirements(notebook: str) -> dict[str, list[str]]:
    """task -> the requirement of each of its hidden checks, in file order."""
    out: dict[str, list[str]] = {}
    for check in hidden_checks_of(notebook):
        out.setdefault(check.task, []).append(check.requirement)
    return out


def _with_check_list(nb_cells: list, requirements: list[str]) -> None:
    """Append the task's hidden-check list to its statement (the Markdown cell just before)."""
    text = "\n".join([CHECKS_HEADING, ""] + [f"- {line}" for line in requirements])
    if nb_cells and nb_cells[-1].cell_type == "markdown":
        nb_cells[-1].source += "\n\n" + text
    else:
        nb_cells.append(nbformat.v4.new_markdown_cell(text, id=f"md-checks-{len(nb_cells):02d}"))


def build_notebook(template: Path) -> nbformat.NotebookNode:
    """Turn one template into an nbgrader source notebook."""
    cells = parse_template(template)
    checks = f"autograder/checks/test_{template.stem}.py"
    requirements = check_requirements(template.stem)
    seen: set[str] = set()
    nb_cells = []
    for index, cell in enumerate(cells):
        text = _strip_blank_edges(cell.lines)
        if cell.kind == "markdown":
            nb_cells.append(nbformat.v4.new_markdown_cell(_markdown(text), id=f"md-{index:02d}"))
            continue
        if cell.kind == "answer":
            nb_cells.append(_answer_cell(cell, _markdown(text), template, seen))
            continue
        source = _expand_directives(text, template, cell.line_number)
        grade_id = {"code": f"{DEMO_PREFIX}{cell.options.get('id', index)}",
                    "test": f"test_{cell.options.get('id')}"}.get(cell.kind, cell.options.get("id"))
        if grade_id in seen:
            raise TemplateError(f"{template}:{cell.line_number}: duplicate cell id {grade_id!r}")
        seen.add(grade_id)
        meta = {"grade_id": grade_id, "schema_version": 3}
        if cell.kind in {"provided", "code"}:
            meta.update(grade=False, solution=False, locked=True)
        elif cell.kind == "solution":
            if "### BEGIN SOLUTION" not in source:
                raise TemplateError(f"{template}:{cell.line_number}: solution cell {grade_id!r} has no solution region")
            meta.update(grade=False, solution=True, locked=False)
            if requirements and not requirements.get(grade_id):
                raise TemplateError(f"{template}:{cell.line_number}: task {grade_id!r} has no hidden check in {checks}")
            if requirements:
                _with_check_list(nb_cells, requirements[grade_id])
        else:
            if cell.options["id"] not in seen:
                raise TemplateError(f"{template}:{cell.line_number}: test for unknown task {cell.options['id']!r}")
            meta.update(grade=True, solution=False, locked=True, points=cell_points(cell))
        nb_cells.append(nbformat.v4.new_code_cell(source, id=grade_id.replace("_", "-"), metadata={"nbgrader": meta}))
    _check_demos_define_nothing_needed(nb_cells, template)
    nb = nbformat.v4.new_notebook(cells=nb_cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def _markdown(lines: list[str]) -> str:
    """A Markdown cell's text from its template lines (each ``# text``)."""
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)


def _answer_cell(cell, guide: str, template: Path, seen: set[str]) -> nbformat.NotebookNode:
    """A written answer graded by hand: nbgrader's manually graded Markdown answer cell. Its text
    in the source notebook is the grading guide; the release replaces it with "YOUR ANSWER HERE",
    and autograde scores it 0 if left so, or leaves it to be graded in formgrader."""
    grade_id = cell.options["id"]
    if grade_id in seen:
        raise TemplateError(f"{template}:{cell.line_number}: duplicate cell id {grade_id!r}")
    if not guide.strip():
        raise TemplateError(f"{template}:{cell.line_number}: answer cell {grade_id!r} needs its grading guide "
                            "as text (the release shows YOUR ANSWER HERE instead)")
    seen.add(grade_id)
    meta = {"grade": True, "solution": True, "locked": False, "points": cell_points(cell),
            "grade_id": grade_id, "schema_version": 3}
    return nbformat.v4.new_markdown_cell(guide, id=grade_id.replace("_", "-"), metadata={"nbgrader": meta})


def _bound_and_used(source: str) -> tuple[set[str], set[str]]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax: nothing to check
        return set(), set()
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, used


def _check_demos_define_nothing_needed(cells, template: Path) -> None:
    """Grading skips demo cells, so a task, test or provided cell must not use what only a demo
    defines: it would pass in the notebook and fail, for every student, at grading time."""
    from_demos, from_graded = set(), set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        bound, used = _bound_and_used(cell.source)
        if cell.metadata["nbgrader"]["grade_id"].startswith(DEMO_PREFIX):
            from_demos |= bound
            continue
        missing = (used & from_demos) - from_graded - bound
        if missing:
            raise TemplateError(f"{template}: cell {cell.metadata['nbgrader']['grade_id']!r} uses {sorted(missing)}, "
                                "defined only in demo cells, which grading skips: define them in a provided cell")
        from_graded |= bound


def _strip_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _expand_directives(lines: list[str], template: Path, first_line: int) -> str:
    out: list[str] = []
    for offset, line in enumerate(lines):
        directive = DIRECTIVE.match(line)
        if not directive:
            out.append(line)
            continue
        where = f"{template}:{first_line + offset + 1}"
        options = dict(word.split("=", 1) for word in directive.group("options").split())
        source = library_source(directive.group("target"), where)
        if directive.group("kind") == "solution":
            methods = options.get("methods")
            source = mark_solution(source, methods.split(",") if methods else None, where)
        out.extend(directive.group("indent") + s if s else s for s in source.splitlines())
    return "\n".join(out).replace("{{REPOSITORY_URL}}", repository_url())


def library_source(target: str, where: str = "") -> str:
    """Source text of a top-level function, class or assignment in a library module."""
    module_name, _, qualname = target.partition(":")
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise TemplateError(f"{where}: module {module_name!r} not found")
    text, tree = _parsed_module(spec.origin)
    for node in tree.body:
        if _defines(node, qualname):
            first = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
            return "\n".join(text.splitlines()[first - 1 : node.end_lineno])
    raise TemplateError(f"{where}: {qualname!r} is not defined at the top level of {module_name}")


@functools.cache
def _parsed_module(origin: str) -> tuple[str, ast.Module]:
    """A library module's text and syntax tree, read once: a template copies many of its definitions."""
    text = Path(origin).read_text()
    return text, ast.parse(text)


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


def mark_solution(source: str, methods: list[str] | None = None, where: str = "") -> str:
    """Wrap function bodies (after their docstrings) in nbgrader solution markers."""
    lines = source.splitlines()
    node = ast.parse(source).body[0]
    if isinstance(node, ast.ClassDef):
        functions = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if methods is not None:
            missing = set(methods) - {f.name for f in functions}
            if missing:
                raise TemplateError(f"{where}: class {node.name} has no method(s) {sorted(missing)}")
            functions = [f for f in functions if f.name in methods]
        else:
            functions = [f for f in functions if not (f.name.startswith("__") and f.name != "__init__")]
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        functions = [node]
    else:
        raise TemplateError(f"{where}: only functions and classes can be solutions")
    # Insert from the bottom up so earlier line numbers stay valid.
    for function in sorted(functions, key=lambda f: f.lineno, reverse=True):
        body = function.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str)
        if has_doc and len(body) == 1:
            raise TemplateError(f"{where}: {function.name} has only a docstring")
        start = body[0].end_lineno if has_doc else function.body[0].lineno - 1
        indent = " " * body[1 if has_doc else 0].col_offset
        lines.insert(function.end_lineno, f"{indent}### END SOLUTION")
        lines.insert(start, f"{indent}### BEGIN SOLUTION")
    return "\n".join(lines)


@functools.cache
def repository_url() -> str:
    """The repository URL, set once in _config.yml (``repository: url:``)."""
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", CONFIG.read_text(), re.MULTILINE)
    if not match:
        raise TemplateError(f"{CONFIG}: no repository url")
    return match.group(1)


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def templates() -> list[Path]:
    return sorted(TEMPLATES.glob("[0-9][0-9]_*.py"))


def build_all(target_dir: Path = SOURCE) -> list[Path]:
    """Build every template into ``target_dir``; returns the notebooks written."""
    written = []
    for template in templates():
        path = target_dir / f"{template.stem}.ipynb"
        write_notebook(build_notebook(template), path)
        written.append(path)
    return written
