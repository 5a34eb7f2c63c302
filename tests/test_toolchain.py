"""The course toolchain: templates -> notebooks, the judge and its sandboxed worker, cell scoring."""

import json
import textwrap

import nbformat
import pytest

from autograder.authoring import notebooks
from autograder.grading.engine import judge_notebook, notebook_cells, score_test_cells
from autograder.grading.judge import NotYourCode, Session, StudentCode
from autograder.proof import selfcheck


def write(tmp_path, text, name="01_demo.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_template_cells_become_nbgrader_cells(tmp_path):
    path = write(tmp_path, """\
        # %% [markdown]
        # # Title
        # text

        # %% provided id=setup
        import math

        # %% solution id=area
        def area(r):
            \"\"\"Area of a circle.\"\"\"
            ### BEGIN SOLUTION
            return math.pi * r * r
            ### END SOLUTION

        # %% test id=area points=2
        assert area(1) == math.pi
        """)
    nb = notebooks.build_notebook(path)
    kinds = [(c.cell_type, c.metadata.get("nbgrader", {}).get("grade_id")) for c in nb.cells]
    assert kinds == [("markdown", None), ("code", "setup"), ("code", "area"), ("code", "test_area")]
    assert nb.cells[0].source == "# Title\ntext"
    test = nb.cells[3]
    assert test.metadata.nbgrader == {"grade": True, "solution": False, "locked": True, "points": 2.0,
                                      "grade_id": "test_area", "schema_version": 3}
    assert test.source == "assert area(1) == math.pi", "a test cell is the same in the release: no hidden block"
    assert [c.id for c in nb.cells] == [c.id for c in notebooks.build_notebook(path).cells], "ids must be stable"


def test_an_answer_cell_is_a_markdown_cell_graded_by_hand(tmp_path):
    from autograder.authoring.template_format import Task, read_tasks

    path = write(tmp_path, """\
        # %% [markdown]
        # Why?

        # %% answer points=2 id=why
        # Grading guide: one point per reason.
        """)
    (cell,) = [c for c in notebooks.build_notebook(path).cells if c.metadata.get("nbgrader")]
    assert cell.cell_type == "markdown" and cell.source == "Grading guide: one point per reason."
    assert cell.metadata.nbgrader == {"grade": True, "solution": True, "locked": False, "points": 2.0,
                                      "grade_id": "why", "schema_version": 3}
    assert read_tasks(path) == [Task("why", None, 2.0, manual=True)]


@pytest.mark.parametrize("text, message", [
    ("# %% solution\nx = 1\n", "needs id="),
    ("# %% wat id=a\nx = 1\n", "unknown cell kind"),
    ("# %% provided id=a\nx=1\n# %% provided id=a\ny=1\n", "duplicate cell id"),
    ("# %% test id=nothing\nassert True\n", "test for unknown task"),
    ("# %% solution id=a\nx = 1\n", "no solution region"),
    ("# %% solution id=a\n#| solution tinytorch.core.layers:NoSuchThing\n", "not defined at the top level"),
    ("# %% code\nmodel = 1\n# %% provided id=a\nprint(model)\n", "defined only in demo cells"),
    ("# %% answer points=2\n# guide\n", "needs id="),
    ("# %% answer id=why points=two\n# guide\n", "not a positive number"),
    ("# %% answer id=why\n", "needs its grading guide"),
    ("# %% answer id=why\n# guide\n# %% answer id=why\n# guide\n", "duplicate cell id"),
])
def test_template_mistakes_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(notebooks.TemplateError, match=message) as info:
        notebooks.build_notebook(path)
    assert str(path) in str(info.value)


def test_every_reader_of_a_template_sees_the_same_tasks_whatever_the_option_order(tmp_path, monkeypatch):
    """The builder, the grader and the book read templates through one parser: ``points=2 id=x``
    is ``id=x points=2`` for all of them (the book's table once showed no points for it)."""
    from autograder.authoring.template_format import Task, read_tasks
    from autograder.grading.engine import solution_targets

    target = "tinytorch.core.mlops.pipeline.canary:canary_decision"
    path = write(tmp_path, f"""\
        # %% solution id=decide
        #| solution {target}

        # %% test points=2 id=decide
        assert canary_decision
        """)
    assert read_tasks(path) == [Task("decide", target, 2.0)]
    test_cell = notebooks.build_notebook(path).cells[1]
    assert test_cell.metadata["nbgrader"]["points"] == 2.0
    monkeypatch.setattr("autograder.grading.engine.TEMPLATES", tmp_path)
    assert solution_targets(path.stem) == [target]


def test_solution_markers_go_after_docstrings_and_only_around_chosen_methods():
    source = textwrap.dedent('''\
        class Box:
            """A box."""
            size = 3

            def __init__(self):
                self.items = []

            def put(self, x):
                """Put x in."""
                self.items.append(x)

            def count(self):
                return len(self.items)
        ''')
    marked = notebooks.mark_solution(source, ["put"])
    assert marked.count("### BEGIN SOLUTION") == 1
    assert '"""Put x in."""\n        ### BEGIN SOLUTION\n        self.items.append(x)\n        ### END SOLUTION' in marked
    every = notebooks.mark_solution(source)
    assert every.count("### BEGIN SOLUTION") == 3  # __init__, put, count
    with pytest.raises(notebooks.TemplateError, match="no method"):
        notebooks.mark_solution(source, ["nope"])


def test_library_source_is_the_solution_text():
    text = notebooks.library_source("tinytorch.core.mlops.registry.storage:content_hash")
    assert text.startswith("def content_hash(") and "hashlib.sha256" in text


def test_committed_templates_build_valid_notebooks():
    for template in notebooks.templates():
        nb = notebooks.build_notebook(template)
        nbformat.validate(nb)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{template.name}: duplicate grade ids"


def cells(*sources):
    return [{"id": f"c{i}", "source": s, "kind": "code"} for i, s in enumerate(sources)]


def test_worker_survives_exit_loops_and_noise_and_keeps_going():
    session = Session(cells(
        "import sys\nsys.exit(3)",
        "while True:\n    pass",
        "print('x' * 10_000_000)\nimport sys\nprint('warn', file=sys.stderr)",
        "%matplotlib inline\nvalue = 41 + 1",
    ), cell_timeout=2)
    try:
        outputs = session.run_notebook()
        assert StudentCode(session).value == 42
        assert outputs["c0"]["error"]["ename"] == "SystemExit"
        assert outputs["c1"]["error"]["ename"] == "TimeoutError" and "limit" in outputs["c1"]["error"]["evalue"]
        assert len(outputs["c2"]["stdout"]) < 25_000 and "output cut" in outputs["c2"]["stdout"]
        assert outputs["c2"]["stderr"] == "warn\n" and outputs["c3"]["error"] is None
    finally:
        session.close()


def test_the_worker_sees_no_answer_and_no_check():
    session = Session(cells(
        "from tinytorch.core.mlops.registry.storage import content_hash",
        "def mine(x):\n    return x",
        "import os, pathlib\nchecks = pathlib.Path(%r)\nvisible = checks.exists()" % str(notebooks.ROOT / "autograder"),
    ), cell_timeout=30)
    try:
        session.run_notebook()
        student = StudentCode(session)
        assert student.mine(3) == 3 and student.visible is False
        session.references.grading = {"content_hash"}  # as while content_hash's checks run
        with pytest.raises(NotImplementedError, match="graded on the code you write"):
            student.content_hash(b"x")
        with pytest.raises(NotYourCode, match="does not define `absent`"):
            student.absent
    finally:
        session.close()


def graded_cell(points=4, outputs=()):
    cell = nbformat.v4.new_code_cell(
        "assert ok\n### BEGIN HIDDEN TESTS\n# hidden line\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "points": points,
                               "grade_id": "test_area", "schema_version": 3}})
    cell.outputs = [nbformat.NotebookNode(o) for o in outputs]
    return cell


def results(passed, total):
    checks = [{"name": f"t{i}", "doc": f"check {i}", "passed": i < passed, "message": "wrong"} for i in range(total)]
    return {"tasks": {"area": {"passed": passed, "total": total, "checks": checks}}}


def test_score_is_the_share_of_hidden_checks_and_stderr_no_longer_zeroes():
    cell = graded_cell(outputs=[{"output_type": "stream", "name": "stderr", "text": "UserWarning\n"},
                              {"output_type": "execute_result", "data": {"text/plain": "'999'"},
                               "metadata": {}, "execution_count": 1}])
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert score_test_cells(nb, results(3, 4)) == {"area": 3.0}
    assert [o.get("name") for o in cell.outputs if o.output_type == "stream"] == ["stdout", "stdout"]
    assert cell.outputs[-1].data["text/plain"] == "3.0", "the grader's score must be the only result"
    assert "FAIL check 3" in cell.outputs[-2].text


def test_failed_visible_test_scores_zero_and_the_worker_never_gets_the_hidden_block():
    error = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": ["----> 1 assert ok"]}
    cell = graded_cell(outputs=[error])
    assert score_test_cells(nbformat.v4.new_notebook(cells=[cell]), results(4, 4)) == {"area": 0.0}
    sent = notebook_cells(nbformat.v4.new_notebook(cells=[graded_cell()]))
    assert sent[0]["kind"] == "test" and "hidden" not in sent[0]["source"]


def test_scores_are_clamped_and_malformed_results_score_zero():
    for passed, total in ((-5, 4), (9, 4)):
        forged = results(4, 4)
        forged["tasks"]["area"].update(passed=passed, total=total)
        cell = graded_cell()
        assert score_test_cells(nbformat.v4.new_notebook(cells=[cell]), forged) == {"area": 0.0}
        assert "did not run" in cell.outputs[0].text
    cell = graded_cell()
    assert score_test_cells(nbformat.v4.new_notebook(cells=[cell]), {"tasks": {"area": "all passed"}}) == {"area": 0.0}


def test_missing_checks_score_zero_with_a_reason():
    cell = graded_cell()
    assert score_test_cells(nbformat.v4.new_notebook(cells=[cell]), {"tasks": {}, "error": "boom"}) == {"area": 0.0}
    assert "boom" in cell.outputs[0].text


def test_checks_grade_the_notebook_code_not_the_library():
    nb = nbformat.read(notebooks.SOURCE / "01_registry.ipynb", as_version=4)
    assert all(e["passed"] == e["total"] for e in judge_notebook(nb, "01_registry")["tasks"].values())
    fill = selfcheck.importing("01_registry")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = fill(cell.metadata.nbgrader.grade_id, cell.source, "raise NotImplementedError()")
    assert any(c["source"].startswith("from tinytorch") for c in notebook_cells(nb))
    forged = judge_notebook(nb, "01_registry")
    assert not any(e["passed"] for e in forged["tasks"].values())


def test_selfcheck_holds_nbgrader_to_grading_written_answers_by_hand():
    """An answered written answer must be left for manual grading; an unanswered one scores 0."""
    from autograder.proof.selfcheck import written_answer_problems

    def notebook(text):
        meta = {"grade": True, "solution": True, "locked": False, "points": 2.0, "grade_id": "why", "schema_version": 3}
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text, metadata={"nbgrader": meta})])

    released = {"01": notebook("YOUR ANSWER HERE")}
    answered, unanswered = {"01": (notebook("Because."), {})}, {"01": (released["01"], {})}
    zero, left, none = {"01": {"why": 0.0}}, {"01": {"why": 2.0}}, {"01": {}}
    assert written_answer_problems("s", answered, released, zero, left) == []
    assert "not left to grade by hand" in written_answer_problems("s", answered, released, zero, none)[0]
    assert written_answer_problems("s", unanswered, released, zero, none) == []
    assert "must score 0" in written_answer_problems("s", unanswered, released, {"01": {"why": 2.0}}, none)[0]
    assert "must score 0" in written_answer_problems("s", unanswered, released, zero, left)[0]
