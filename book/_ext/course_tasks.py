"""Sphinx directive ``course-tasks``: a module's graded tasks and points, read from its template.

The table is built at every book build from ``autograder/templates/NN_name.py``, read by the
course's one template reader (``autograder/authoring/template_format.py``: each task's solution target and
test points), and from the first paragraph of each library object's docstring, so the book
cannot disagree with the notebook.

    ```{course-tasks} 02_serving
    ```
"""

import ast
import importlib.util
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the book is built from the repository root; make sure it imports
    sys.path.insert(0, str(ROOT))

from autograder.authoring.template_format import TemplateError, read_tasks  # noqa: E402

INLINE_CODE = re.compile(r"``?([^`]+)``?")


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


class CourseTasks(SphinxDirective):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        template = Path(self.env.srcdir) / "autograder" / "templates" / f"{name}.py"
        self.env.note_dependency(str(template))
        if not template.exists():
            raise self.error(f"course-tasks: no template autograder/templates/{name}.py")
        try:
            tasks = read_tasks(template)
        except TemplateError as error:
            raise self.error(str(error)) from None
        rows = []
        for task in tasks:
            if task.manual:
                text = "written answer to the Systems thinking questions, graded by hand"
            elif task.target is None:
                text = "(see the notebook)"
            else:
                try:
                    text = summary(*task.target.split(":", 1))
                except (ValueError, SyntaxError) as error:
                    raise self.error(f"{template.name}, task {task.id}: {error}") from None
            rows.append((task.id, text, f"{task.points:g}"))
        rows.append(("total", "", f"{sum(task.points for task in tasks):g}"))
        return [self.table(rows)]

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
