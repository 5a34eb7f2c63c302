"""The similarity command on synthetic submissions: a copy and a copy with every name changed are
flagged (with each other and against the reference); an independently written answer is not."""

import nbformat
import pytest

from autograder import __main__ as cli
from autograder.authoring import course
from autograder.classroom.similarity import REFERENCE, check_class
from autograder.grading.engine import nbgrader_meta

NOTEBOOK, TASK = "01_registry", "compare_metrics"
COPIED = """
    result = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        delta = vb - va if va is not None and vb is not None else None
        result[key] = {"a": va, "b": vb, "delta": delta}
    return result
"""
RENAMED = """
    out = {}
    for metric in sorted(set(a) | set(b)):
        left, right = a.get(metric), b.get(metric)
        diff = right - left if left is not None and right is not None else None
        out[metric] = {"a": left, "b": right, "delta": diff}
    return out
"""
INDEPENDENT = """
    names = sorted(list(a.keys()) + [k for k in b if k not in a])
    table = {}
    for name in names:
        x = a[name] if name in a else None
        y = b[name] if name in b else None
        if x is None or y is None:
            table[name] = dict(a=x, b=y, delta=None)
        else:
            table[name] = dict(a=x, b=y, delta=y - x)
    return table
"""


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = course.scratch_course(tmp_path_factory.mktemp("similarity"), only=[NOTEBOOK])
    released = course.notebooks(course.release(root, quiet=True))[NOTEBOOK]
    for student, body in {"copier": COPIED, "renamer": RENAMED, "independent": INDEPENDENT}.items():
        nb = nbformat.from_dict(released)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == TASK and nbgrader_meta(c).get("solution")]
        cell.source = cell.source.replace("\n    raise NotImplementedError()", body.rstrip())
        path = root / "submitted" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return root, {(p.a, p.b): p for p in check_class(root) if p.task == TASK}


def test_copies_are_flagged_and_independent_work_is_not(pairs):
    _, found = pairs
    flagged = sorted(key for key, pair in found.items() if pair.flagged)
    assert flagged == [("copier", REFERENCE), ("copier", "renamer"), ("renamer", REFERENCE)]
    independent = [pair for key, pair in found.items() if "independent" in key]
    assert len(independent) == 3 and max(max(p.share_a, p.share_b) for p in independent) < 0.5


def test_the_task_report_names_the_pair_and_the_shared_lines(pairs):
    root, _ = pairs
    report = (root / "reports" / "similarity" / f"{NOTEBOOK}-{TASK}.md").read_text()
    assert "## copier and renamer: 100% of copier's answer, 100% of renamer's" in report
    assert 'result[key] = {"a": va, "b": vb, "delta": delta}' in report
    assert "def compare_metrics" not in report  # the released stub is boilerplate, never "shared"
    assert "independent and" not in report


def test_unanswered_tasks_are_too_short_to_judge(pairs):
    root, found = pairs
    assert not any(pair.flagged for pair in found.values() if pair.a == "independent")
    other = (root / "reports" / "similarity" / f"{NOTEBOOK}-content_hash.md").read_text()
    assert "Too short to judge: copier, independent, renamer." in other


def test_command_prints_the_flagged_pairs(pairs, capsys, monkeypatch):
    root, _ = pairs
    monkeypatch.setattr(course, "ROOT", root)
    assert cli.main(["similarity"]) == 0
    assert "01_registry/compare_metrics: copier ~ renamer (100% / 100%)" in capsys.readouterr().out
