"""Sphinx directive ``course-tasks``: a module's graded tasks and points, read from its template.

The table is built at every book build from ``source/templates/NN_name.py`` (the cells
``# %% solution id=T``, their ``#| solution module:qualname`` line and ``# %% test id=T points=P``)
and from the first paragraph of each library object's docstring, so the book cannot disagree
with the notebook. Until a module's template exists, the directive's own content (the planned
tasks, written by hand) is shown under a note saying so.

    ```{course-tasks} 02_serving
    - request validation ...
    ```
"""

import ast
import importlib.util
import re
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

CELL = re.compile(r"^# %% (solution|test) id=(\w+)(?: points=([\d.]+))?")
SOLUTION = re.compile(r"^#\| solution ([\w.]+):([\w.]+)")
INLINE_CODE = re.compile(r"``?([^`]+)``?")


def read_tasks(template):
    """``[(task_id, "module:qualname" or None, points or None)]`` in notebook order."""
    tasks, current = {}, None
    for line in template.read_text(encoding="utf-8").splitlines():
        cell = CELL.match(line)
        if cell:
            kind, task, points = cell.groups()
            current = task if kind == "solution" else None
            entry = tasks.setdefault(task, {"target": None, "points": None})
            if kind == "test" and points:
                entry["points"] = float(points)
            continue
        solution = SOLUTION.match(line)
        if solution and current:
            tasks[current]["target"] = solution.groups()
    return [(task, entry["target"], entry["points"]) for task, entry in tasks.items()]


def summary(module, qualname):
    """First paragraph of the docstring of ``module:qualname``, read from source (not imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"module {module} not found")
    node = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for part in qualname.split("."):
        found = [n for n in getattr(node, "body", []) if getattr(n, "name", None) == part]
        if not found:
            raise ValueError(f"{module} has no {qualname}")
        node = found[0]
    doc = ast.get_docstring(node) or ""
    return " ".join(doc.split("\n\n")[0].split())


def points_text(points):
    return "" if points is None else f"{points:g}"


class CourseTasks(SphinxDirective):
    required_arguments = 1
    has_content = True

    def run(self):
        name = self.arguments[0]
        template = Path(self.env.srcdir) / "source" / "templates" / f"{name}.py"
        self.env.note_dependency(str(template))
        if not template.exists():
            return self.planned(name)
        tasks, rows = read_tasks(template), []
        for task, target, points in tasks:
            if target is None:
                text = "(see the notebook)"
            else:
                try:
                    text = summary(*target)
                except (ValueError, SyntaxError) as error:
                    raise self.error(f"{template.name}, task {task}: {error}") from None
            rows.append((task, text, points_text(points)))
        total = sum(points for _, _, points in tasks if points)
        rows.append(("total", "", points_text(total)))
        return [self.table(rows)]

    def planned(self, name):
        note = nodes.note()
        note += nodes.paragraph(text=f"Planned tasks: notebook {name} is being written. This list becomes "
                                     f"a table of tasks and points, read from source/templates/{name}.py, "
                                     "as soon as that template exists.")
        body = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, body)
        return [note, *body.children]

    def table(self, rows):
        table = nodes.table(classes=["course-tasks"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (22, 68, 10):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self.row(["Task", "What you build", "Points"], header=True)
        body = nodes.tbody()
        group += body
        for task, text, points in rows:
            body += self.row([task, text, points], literal_first=task != "total")
        return table

    @staticmethod
    def row(cells, header=False, literal_first=False):
        row = nodes.row()
        for i, text in enumerate(cells):
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += [nodes.literal(text=text)] if (i == 0 and literal_first) else inline(text)
            if header:
                paragraph = nodes.paragraph("", "", nodes.strong(text=text))
            entry += paragraph
            row += entry
        return row


def inline(text):
    """Docstring text as nodes, with ``code`` and `code` shown as code."""
    parts = INLINE_CODE.split(text)
    return [nodes.literal(text=part) if i % 2 else nodes.Text(part) for i, part in enumerate(parts) if part]


def setup(app):
    app.add_directive("course-tasks", CourseTasks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
