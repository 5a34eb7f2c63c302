"""Publish the student edition: the repository students clone, open in Binder or run in Colab.

    python -m autograder publish --out DIR [--reveal 01_registry ...] [--repo-url URL]

This repository is the instructor's: it holds the reference answers (the library, ``source/``),
the hidden checks (``autograder/``) and the gradebook. The student edition holds none of them:

- ``assignments/mlops/*.ipynb``: the release notebooks, as nbgrader generated them;
- ``tinytorch/``: the library, with every graded function and graded method replaced by a stub
  that keeps the release's signature and docstring, runs the student's exported answer
  (``tinytorch.export``) and otherwise raises ``NotImplementedError`` naming the notebook and
  task; everything else in the library (registry, server, detector, routers, learner, pipeline,
  ``tinytorch.core``, the dataset) works unchanged and calls the graded names;
- ``README.md``, ``pyproject.toml``, ``requirements.txt`` (the runtime packages only) and
  ``runtime.txt`` (the tested Python), which Binder's repo2docker builds from.

``reveal`` names notebooks whose deadline has passed: their reference answers go into the
library unstubbed, and their solution notebooks into ``solutions/``.

The student repository's URL is set in one place, ``_config.yml`` (``repository: url:``): the
book's launch buttons and pages, the notebooks' Colab set-up cell and the published README all
read it. ``repo_url`` (``--repo-url``) writes a new one there and rebuilds the notebooks, so
everything points at it; rebuild the book after.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from autograder.authoring.notebooks import (
    ASSIGNMENT, CONFIG, DIRECTIVE, ROOT, SOURCE, build_all, parse_template, repository_url, templates,
    write_notebook,
)
from tinytorch.export import not_written

PYTHON = "3.11"
"""The Python the course is tested on; Binder reads it from runtime.txt."""
RELEASE = ROOT / "assignments" / ASSIGNMENT
NOTEBOOK_PACKAGES = ["prometheus-client"]
"""Packages the release notebooks import beside the library's own dependencies."""
STUDENT_README = Path(__file__).resolve().parent / "student_readme.md"
PROBES = Path(__file__).resolve().parents[1] / "grading" / "probes.py"
LIBRARY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "answers", "tinytorch-answers", "*.egg-info")
STUDENT_GITIGNORE = """\
__pycache__/
*.egg-info/
.ipynb_checkpoints/
.venv/
# Your answers and submissions: a fork you push stays free of them.
answers/
tinytorch-answers/
submission/
"""
"""``tinytorch-answers/``: the exports beside the notebooks (``tinytorch.export``); ``answers/`` at any
depth: where older editions exported (``tinytorch/answers/``); ``submission/``: what the submit cell
writes beside the notebook."""
REPOSITORY_URL = re.compile(r"https://[\w.-]+/[\w.-]+/[\w.-]+")
"""A repository's web address, ``https://host/owner/name``: what git clones, pip installs from
(``git+URL``) and the launch buttons open."""


@dataclass(frozen=True)
class GradedPiece:
    """One library object a notebook's task is graded on (one ``#| solution`` directive)."""

    notebook: str
    task: str  # the solution cell's id
    number: int  # "Task N" of the notebook
    module: str
    name: str
    methods: tuple[str, ...] = ()

    def message(self, method: str | None = None) -> str:
        return not_written(self.notebook, self.task, self.number, f"{self.name}.{method}" if method else self.name)


def graded_pieces() -> list[GradedPiece]:
    """Every graded object, in notebook and task order, read from the templates' directives."""
    pieces = []
    for template in templates():
        solution_cells = [cell for cell in parse_template(template) if cell.kind == "solution"]
        for number, cell in enumerate(solution_cells, start=1):
            for line in cell.lines:
                directive = DIRECTIVE.match(line)
                if directive and directive.group("kind") == "solution":
                    module, _, name = directive.group("target").partition(":")
                    options = dict(word.split("=", 1) for word in directive.group("options").split())
                    methods = tuple(options["methods"].split(",")) if "methods" in options else ()
                    pieces.append(GradedPiece(template.stem, cell.options["id"], number, module, name, methods))
    return pieces


def build_student_library(dest: Path, reveal: Iterable[str] = ()) -> Path:
    """Write the student edition of ``tinytorch`` into ``dest/tinytorch`` and return that folder.

    Graded objects of the notebooks not in ``reveal`` become stubs; ``tinytorch/tasks.json`` lists
    them for ``tinytorch.export``. No bytecode, no exported answers of this checkout are copied.
    """
    reveal = set(reveal)
    _check_notebooks(reveal)
    target = Path(dest) / "tinytorch"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "tinytorch", target, ignore=LIBRARY_IGNORE)
    pieces = graded_pieces()
    by_module = defaultdict(list)
    for piece in pieces:
        if piece.notebook not in reveal:
            by_module[piece.module].append(piece)
    for module, module_pieces in by_module.items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(stub_module(path.read_text(), module_pieces))
    table = defaultdict(list)
    for piece in pieces:
        entry = asdict(piece)
        del entry["notebook"]
        table[piece.notebook].append({**entry, "revealed": piece.notebook in reveal})
    (target / "tasks.json").write_text(json.dumps(table, indent=1) + "\n")
    return target


def stub_module(text: str, pieces: list[GradedPiece]) -> str:
    """``text`` (a library module) with each piece's function, or its listed methods, stubbed."""
    lines = text.splitlines()
    tree = ast.parse(text)
    top = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    replacements = []  # (function node, piece, method)
    for piece in pieces:
        node = top.get(piece.name)
        if node is None:
            raise ValueError(f"{piece.module} defines no top-level {piece.name}")
        if isinstance(node, ast.FunctionDef):
            replacements.append((node, piece, None))
            continue
        methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
        replacements += [(methods[m], piece, m) for m in piece.methods]
    for function, piece, method in sorted(replacements, key=lambda r: r[0].lineno, reverse=True):
        first = function.decorator_list[0].lineno if function.decorator_list else function.lineno
        body = function.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str)
        keep = body[0].end_lineno if has_doc else body[0].lineno - 1
        indent = " " * function.col_offset
        body_indent = " " * body[0].col_offset
        method_arg = f", {method!r}" if method else ""
        stub = ([f"{indent}@_graded({piece.notebook!r}, {piece.name!r}{method_arg})"] + lines[first - 1:keep]
                + [f"{body_indent}raise NotImplementedError({piece.message(method)!r})"])
        lines[first - 1:function.end_lineno] = stub
    header_end = _header_end(tree)
    lines[header_end:header_end] = ["", "from tinytorch.export import graded as _graded"]
    return "\n".join(lines) + "\n"


def _header_end(tree: ast.Module) -> int:
    """The line index after the module docstring and ``from __future__`` imports."""
    end = 0
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (docstring or future):
            break
        end = node.end_lineno
    return end


def fill_repository(text: str, url: str) -> str:
    """``text`` with ``{{REPOSITORY_URL}}`` and ``{{REPOSITORY_NAME}}`` (the folder git clones
    into) filled in."""
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return text.replace("{{REPOSITORY_URL}}", url).replace("{{REPOSITORY_NAME}}", name)


def check_repository_url(url: str) -> str:
    if not REPOSITORY_URL.fullmatch(url):
        raise ValueError(f"--repo-url {url!r} is not a repository's web address; give it as "
                         "https://github.com/OWNER/NAME (no .git, no trailing slash)")
    return url


def point_course_at(url: str, config: Path = CONFIG) -> bool:
    """Write ``url`` as the student repository into ``config`` (``repository: url:``); whether it changed."""
    check_repository_url(url)
    text = config.read_text()
    changed, count = re.subn(r"^(repository:\s*\n\s+url:\s*)\S+", lambda m: m.group(1) + url, text, flags=re.M)
    if count != 1:
        raise ValueError(f"{config}: no `repository: url:` entry to set")
    config.write_text(changed)
    return changed != text


def publish(out: Path, reveal: Iterable[str] = (), repo_url: str | None = None) -> None:
    """Write the student repository into ``out``; a ``.git`` folder already there is kept, so
    ``out`` can be a clone of the student repository to commit and push from. A ``repo_url``
    other than the configured one is written into ``_config.yml`` and the notebooks rebuilt."""
    reveal = sorted(set(reveal))
    _check_notebooks(set(reveal))
    if repo_url is not None and point_course_at(repo_url):
        from autograder.authoring import course  # nbgrader: only when the notebooks must be released again

        build_all()
        course.release(quiet=True)
    url = repository_url()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    release = out / "assignments" / ASSIGNMENT
    release.mkdir(parents=True)
    for notebook in sorted(RELEASE.glob("*.ipynb")):
        shutil.copy2(notebook, release / notebook.name)
    build_student_library(out, reveal)
    # public by design: the helpers the hidden checks run inside the sandbox, where a submission can
    # read them anyway (autograder/grading/probes.py says why nothing in them is secret)
    shutil.copy2(PROBES, out / "tinytorch" / "grading_probes.py")
    for name in reveal:
        write_notebook(solution_notebook(SOURCE / f"{name}.ipynb"), out / "solutions" / f"{name}.ipynb")
    (out / "README.md").write_text(fill_repository(STUDENT_README.read_text(), url))
    (out / "pyproject.toml").write_text(student_pyproject())
    (out / "requirements.txt").write_text(student_requirements())
    (out / "runtime.txt").write_text(f"python-{PYTHON}\n")
    (out / ".gitignore").write_text(STUDENT_GITIGNORE)


def solution_notebook(path: Path) -> nbformat.NotebookNode:
    """A source notebook as a reader sees it: no nbgrader markers."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.source = "\n".join(line for line in cell.source.splitlines()
                                if line.strip() not in {"### BEGIN SOLUTION", "### END SOLUTION"})
        cell.metadata.pop("nbgrader", None)
    return nb


def _runtime_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def student_pyproject() -> str:
    """The course's pyproject.toml without the tools only the course repository uses."""
    text = (ROOT / "pyproject.toml").read_text()
    return text.split("\n[tool.pytest")[0].rstrip() + "\n"


def student_requirements() -> str:
    """``-e .`` and the course's pins of the library's run-time dependencies and of the packages
    the notebooks import, nothing else: no grading, book, test or benchmark packages in a
    student's Binder image."""
    names = {re.match(r"[A-Za-z0-9_.-]+", dep).group(0).lower() for dep in _runtime_dependencies() + NOTEBOOK_PACKAGES}
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if (m := re.match(r"[A-Za-z0-9_.-]+", line)) and m.group(0).lower() in names]
    missing = names - {re.match(r"[A-Za-z0-9_.-]+", pin).group(0).lower() for pin in pins}
    if missing:
        raise ValueError(f"requirements.txt pins no version of {sorted(missing)}: pin them there")
    return ("# The student edition: the tinytorch library (-e .) and what it runs on. Binder installs this file.\n"
            "-e .\n" + "\n".join(pins) + "\n")


def _check_notebooks(names: set[str]) -> None:
    known = {template.stem for template in templates()}
    unknown = names - known
    if unknown:
        raise ValueError(f"no notebook named {', '.join(sorted(unknown))}; the notebooks are {', '.join(sorted(known))}")

