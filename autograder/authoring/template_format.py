"""The notebook template format, read in one place by every tool that needs it.

A template (``autograder/templates/NN_name.py``) is Python cut into cells by ``# %%`` header lines
whose options are ``key=value`` words in any order (``points=2 id=x`` equals ``id=x points=2``);
``#| solution`` and ``#| provided`` lines inside a cell name library objects (see
``autograder/authoring/notebooks.py``, which builds the notebooks). An ``answer`` cell is a written answer
(Markdown) graded by hand: nbgrader's manually graded answer cell, worth its ``points=``. The notebook builder, the grader, the
book's task tables and the book's tests all import this module, so they cannot disagree on what
a template says.

Standard library only: the book's Sphinx extension imports it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CELL_KINDS = {"markdown", "provided", "code", "solution", "test", "answer"}
CELL_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
DIRECTIVE = re.compile(r"^(?P<indent>\s*)#\| (?P<kind>solution|provided) (?P<target>\S+)(?P<options>.*)$")
DEFAULT_POINTS = 1.0


class TemplateError(ValueError):
    """A template cannot be read; the message names the file and the line."""


@dataclass
class Cell:
    kind: str  # markdown | provided | code | solution | test | answer
    options: dict
    lines: list[str] = field(default_factory=list)
    line_number: int = 0

    def directives(self, kind):
        """The targets (``module:qualname``) of this cell's ``#| kind`` lines, in order."""
        return [m.group("target") for m in map(DIRECTIVE.match, self.lines) if m and m.group("kind") == kind]


@dataclass(frozen=True)
class Task:
    """A graded task: its id, the library object its solution is copied from (None if the
    solution is written in the template), and the points of its test cell; or (``manual``) a
    written answer, graded by hand, and its points."""

    id: str
    target: str | None
    points: float
    manual: bool = False


def parse_template(path: Path) -> list[Cell]:
    cells: list[Cell] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        header = CELL_HEADER.match(line)
        if header:
            kind, options = parse_header(header.group("rest"), path, number)
            cells.append(Cell(kind, options, line_number=number))
        elif cells:
            cells[-1].lines.append(line)
        elif line.strip() and not line.startswith("#"):
            raise TemplateError(f"{path}:{number}: code before the first '# %%' cell header")
    return cells


def parse_header(rest: str, path: Path, number: int) -> tuple[str, dict]:
    """The kind and options of a ``# %%`` line (``rest`` is what follows ``# %%``)."""
    words = rest.split()
    if not words:
        return "code", {}
    kind = "markdown" if words[0] == "[markdown]" else words[0]
    if kind not in CELL_KINDS:
        raise TemplateError(f"{path}:{number}: unknown cell kind {words[0]!r}")
    options = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise TemplateError(f"{path}:{number}: expected key=value, got {word!r}")
        options[key] = value
    if kind in {"provided", "solution", "test", "answer"} and "id" not in options:
        raise TemplateError(f"{path}:{number}: a {kind} cell needs id=...")
    if "points" in options:
        try:
            points = float(options["points"])
        except ValueError:
            points = -1.0
        if not points > 0:
            raise TemplateError(f"{path}:{number}: points={options['points']} is not a positive number")
    return kind, options


def cell_points(cell: Cell) -> float:
    """The points of a test or answer cell (``points=``, default 1)."""
    return float(cell.options.get("points", DEFAULT_POINTS))


def read_tasks(path: Path) -> list[Task]:
    """The template's graded tasks in notebook order: those with a test cell, and written answers."""
    cells = parse_template(path)
    targets = {c.options["id"]: next(iter(c.directives("solution")), None) for c in cells if c.kind == "solution"}
    return [Task(c.options["id"], targets.get(c.options["id"]), cell_points(c), manual=c.kind == "answer")
            for c in cells if c.kind in {"test", "answer"}]


def solution_targets(path: Path) -> list[str]:
    """Every library object whose source is one of this template's answers."""
    return [target for cell in parse_template(path) for target in cell.directives("solution")]
