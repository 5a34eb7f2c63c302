"""What a student wrote reaches the feedback page and formgrader without active content, and the
feedback page reads well: task names in its summary, long lines wrapped, formulas as MathML with
no MathJax from a CDN. Formgrader finds one assignment and no missing exchange.

One student, one notebook, graded by nbgrader with the course's config (about a minute)."""

import json

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension
from traitlets.config import Config

from autograder.authoring import course
from autograder.classroom.batch import autograde_class
from autograder.grading.engine import is_written_answer, nbgrader_meta
from autograder.grading.feedback_html import SanitizeOutputs, markdown2html
from autograder.proof import selfcheck

NOTEBOOK = "01_registry"
STUDENT = "hacker"
DELETER = "deletes-the-written-answer"
MARK = "PWNED"  # in every payload: no script, handler or URL may carry it
HOSTILE_MARKDOWN = f"""My answer, with a formula: $\\alpha = 10^{{-6}}$ and $p < 0.05$.

<script>alert("{MARK}")</script>
<img src="x" onerror="alert('{MARK}')">
<iframe src="javascript:alert('{MARK}')"></iframe>
<a href="javascript:alert('{MARK}')">click</a> and [a link](javascript:alert('{MARK}'))
<svg onload="alert('{MARK}')"><circle r="3"/></svg>
"""
HOSTILE_OUTPUTS = [
    nbformat.v4.new_output("display_data", data={
        "text/html": f"<b>table</b><script>alert('{MARK}')</script><img src=x onerror=alert('{MARK}')>",
        "text/plain": "table"}),
    nbformat.v4.new_output("display_data", data={
        "image/svg+xml": f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"alert('{MARK}')\">"
                         f"<script>alert('{MARK}')</script><a href=\"javascript:alert('{MARK}')\"><circle r='4'/></a></svg>",
        "text/plain": "<Figure>"}),
    nbformat.v4.new_output("display_data", data={"application/javascript": f"alert('{MARK}')", "text/plain": "js"}),
]
LONG_LINE = "x" * 400


def active_content(html: str) -> list[str]:
    """Every script, handler attribute or javascript: URL in ``html`` that carries a payload, and any
    handler attribute or javascript: URL at all."""
    soup = BeautifulSoup(html, "html.parser")
    found = [f"<script> {s.get_text()[:80]!r}" for s in soup.find_all("script") if MARK in (s.get_text() + str(s.attrs))]
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}={value[:80]!r}>")
            if value.strip().lower().startswith(("javascript:", "data:text/html")):
                found.append(f"<{tag.name} {name}={value[:80]!r}>")
        if tag.name in {"iframe", "object", "embed"}:
            found.append(f"<{tag.name}>")
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A student whose written answer and added cells hold script, onerror and javascript: payloads,
    graded and given feedback by nbgrader; the autograded notebook also gets HTML, SVG and
    JavaScript outputs, as a notebook whose outputs survived would have."""
    root = course.scratch_course(tmp_path_factory.mktemp("feedback"), only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    source = course.notebooks(root / "source" / course.ASSIGNMENT)[NOTEBOOK]
    nb = selfcheck.submission(released, source, lambda t, s, r: selfcheck.answered(s))
    answer = next(c for c in nb.cells if is_written_answer(c))
    answer.source = HOSTILE_MARKDOWN
    nb.cells.append(nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
    without_answer = nbformat.from_dict(nb)
    without_answer.cells = [c for c in without_answer.cells if not is_written_answer(c)]
    for student, submitted in [(STUDENT, nb), (DELETER, without_answer)]:
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(submitted, path)
    outcomes = autograde_class(root, report=lambda line: None)
    assert all(o.ok for o in outcomes), [o.log[-2000:] for o in outcomes]
    autograded = root / "autograded" / STUDENT / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    graded_nb = nbformat.read(autograded, as_version=4)
    demo = next(c for c in graded_nb.cells if c.cell_type == "code" and not nbgrader_meta(c).get("grade"))
    demo.outputs = list(HOSTILE_OUTPUTS) + [nbformat.v4.new_output("stream", name="stdout", text=LONG_LINE)]
    nbformat.write(graded_nb, autograded)
    course.nbgrader("generate_feedback", course.ASSIGNMENT, root=root, quiet=True)
    feedback = (root / "feedback" / STUDENT / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    return root, autograded, feedback


def test_feedback_page_has_no_active_content_from_the_student(graded):
    _, _, feedback = graded
    assert "My answer, with a formula" in feedback, "the written answer is shown"
    assert "<b>table</b>" in feedback, "a clean HTML output is kept"
    assert active_content(feedback) == []
    soup = BeautifulSoup(feedback, "html.parser")
    assert not any(MARK in s.get_text() for s in soup.find_all(["script", "style"]))


def formgrader_config(monkeypatch) -> Config:
    """The config formgrader runs with when Jupyter is started from the repository root."""
    monkeypatch.chdir(course.ROOT)
    formgrader = FormgradeExtension()
    formgrader.root_dir = str(course.ROOT)
    formgrader.initialize([])
    return formgrader.config


def test_formgrader_view_of_the_submission_has_no_active_content(graded, monkeypatch):
    """Rendered as formgrader renders a submission: its HTMLExporter, with its config."""
    root, autograded, _ = graded
    config = formgrader_config(monkeypatch)
    assert config.HTMLExporter.template_name == "formgrade"
    resources = {"assignment_id": course.ASSIGNMENT, "notebook_id": NOTEBOOK, "submission_id": "1", "index": 0,
                 "total": 1, "base_url": "", "student": STUDENT, "last_name": None, "first_name": None,
                 "notebook_path": str(autograded)}
    html, _ = HTMLExporter(config=config).from_filename(str(autograded), resources=resources)
    assert "My answer, with a formula" in html
    notebook_part = str(BeautifulSoup(html, "html.parser").select_one("#notebook-container") or html)
    assert active_content(notebook_part) == []
    assert MARK not in "".join(s.get_text() for s in BeautifulSoup(html, "html.parser").find_all("script"))


def test_feedback_summary_names_tasks_wraps_lines_and_renders_formulas_offline(graded):
    _, _, feedback = graded
    soup = BeautifulSoup(feedback, "html.parser")
    summary = soup.select_one("#toc").get_text(" ", strip=True)
    assert "Test cell" not in summary
    points = course.test_cells(nbformat.read(course.SOURCE / f"{NOTEBOOK}.ipynb", as_version=4))
    for cell, full in points.items():  # the solution's answers: every task full marks, under its name
        assert f"Task {cell.removeprefix('test_')} (Score: {full:.1f} / {full:.1f})" in summary, summary
    assert "Written answer systems_thinking" in summary and "graded by hand" in summary
    assert "pre-wrap" in feedback and LONG_LINE in feedback
    assert soup.find("math") is not None, "formulas are MathML"
    assert not [s["src"] for s in soup.find_all("script", src=True)], "nothing is loaded from a CDN"
    assert "mathjax" not in feedback.lower()


def test_markdown_filter_keeps_formulas_and_quotes_and_escapes_what_it_refuses():
    html = markdown2html({"cell": {}, "resources": {}}, "> quoted $p < 0.05$\n\n<script>x()</script>")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("blockquote") is not None and soup.find("math") is not None
    assert soup.find("script") is None and "&lt;script&gt;" in html


def test_output_sanitizer_drops_svg_and_javascript_and_cleans_html():
    cell = nbformat.v4.new_code_cell("x", outputs=[nbformat.from_dict(o) for o in HOSTILE_OUTPUTS])
    SanitizeOutputs().preprocess_cell(cell, {}, 0)
    kinds = [set(o.data) for o in cell.outputs]
    assert kinds == [{"text/html", "text/plain"}, {"text/plain"}, {"text/plain"}]
    assert active_content(cell.outputs[0].data["text/html"]) == []


def test_formgrader_sees_one_assignment_and_an_exchange(monkeypatch):
    """What formgrader's Manage Assignments page reads: the source assignments, and whether the
    exchange is missing (its warning banner)."""
    config = formgrader_config(monkeypatch)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.get_source_assignments() == {course.ASSIGNMENT}
    assert not api.exchange_missing and api.course_id


def test_a_deleted_written_answer_is_put_back_unanswered_and_reported(graded):
    """nbgrader alone fails the whole notebook of a student who deleted it (its cell comes after
    a read-only one); restored as released, it scores 0 and the other tasks keep their points."""
    root, _, _ = graded
    source = nbformat.read(course.SOURCE / f"{NOTEBOOK}.ipynb", as_version=4)
    scores = course.cell_scores(root, DELETER)[NOTEBOOK]
    assert {cell: scores[cell] for cell in course.test_cells(source)} == course.test_cells(source)
    assert scores["systems_thinking"] == 0.0 and course.to_grade_by_hand(root, DELETER) == {NOTEBOOK: {}}
    findings = [json.loads(line) for line in (root / "reports" / "tampering.jsonl").read_text().splitlines()]
    assert [(f["cell"], f["change"]) for f in findings if f["student"] == DELETER] == [("systems_thinking", "deleted")]


def test_a_written_answer_graded_by_hand_counts_in_the_export_and_the_feedback(graded):
    """As formgrader does it: a manual score on the written answer. The export's total and the
    regenerated feedback include it, and nothing is left to grade by hand. (Runs last: it changes
    the gradebook the other tests read.)"""
    from nbgrader.api import Gradebook

    from autograder.classroom.grades import class_grades

    root, _, _ = graded
    assert course.to_grade_by_hand(root, STUDENT) == {NOTEBOOK: {"systems_thinking": 2.0}}
    _, before = class_grades(root)
    with Gradebook(course.gradebook_url(root)) as gradebook:
        grade = gradebook.find_grade("systems_thinking", NOTEBOOK, course.ASSIGNMENT, STUDENT)
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gradebook.db.commit()
    _, after = class_grades(root)
    before, after = ([row for row in rows if row.student == STUDENT] for rows in (before, after))
    assert after[0].raw_score == before[0].raw_score + 1.5
    assert after[0].max_score == before[0].max_score == sum(course.test_cells(
        nbformat.read(course.SOURCE / f"{NOTEBOOK}.ipynb", as_version=4)).values()) + 2.0
    assert course.to_grade_by_hand(root, STUDENT) == {NOTEBOOK: {}}
    course.nbgrader("generate_feedback", course.ASSIGNMENT, "--force", root=root, quiet=True)
    feedback = (root / "feedback" / STUDENT / course.ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    summary = BeautifulSoup(feedback, "html.parser").select_one("#toc").get_text(" ", strip=True)
    assert "Written answer systems_thinking (Score: 1.5 / 2.0, graded by hand)" in summary
