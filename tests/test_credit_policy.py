"""The instructor's credit policy (autograder/grading/credit.py) and the self-check's case files (autograder/proof/synthetic.py)."""

import textwrap

import nbformat
import pytest
from traitlets.config import Config

from autograder.authoring import course, notebooks
from autograder.grading.credit import Credit, CreditError, credit_policy
from autograder.grading.engine import all_hidden_checks, score_test_cells, written_verdict
from autograder.grading.preprocessors import JudgedExecute, configured_credit
from autograder.proof import selfcheck
from autograder.proof.synthetic import CaseError, load_cases

CHECKS = {"01_x": {"test_a": "area", "test_b": "area", "test_c": "area", "test_d": "volume"}}


def records(*passed, names=None):
    names = names or [f"test_{i}" for i in range(len(passed))]
    return [{"name": name, "doc": f"check {name}", "passed": ok, "message": "" if ok else "wrong"}
            for name, ok in zip(names, passed)]


def test_proportional_splits_points_over_checks():
    assert Credit().score(4, records(True, True, True, False, True)) == (3.2, "proportional: 4/5 checks passed, 3.2 of 4 points")


def test_all_or_nothing_pays_only_when_every_check_passes():
    policy = Credit("all_or_nothing")
    assert policy.score(4, records(True, True, True, True, False)) == (0.0, "all or nothing: 4/5 checks passed, 0 of 4 points")
    assert policy.score(4, records(True, True))[0] == 4.0


def test_weights_count_per_check_function_and_unlisted_checks_weigh_one():
    policy = Credit("weights", {"test_slow": 3.0, "test_cosmetic": 0.0, "test_p": 0.5})
    checks = records(True, False, False, True, names=["test_slow", "test_cosmetic", "test_p[1]", "test_p[2]"])
    assert policy.score(6, checks) == (5.25, "weighted: 2/4 checks passed (weight 3.5 of 4), 5.25 of 6 points")
    assert policy.score(6, records(False, True, names=["test_cosmetic", "test_other"]))[0] == 6.0


def test_scores_stay_within_the_cells_points():
    assert Credit("weights").score(2, records(True, True))[0] == 2.0
    assert Credit("weights", {"test_0": 0.0}).score(2, records(True, names=["test_0"]))[0] == 0.0


def test_feedback_says_how_the_score_was_computed():
    cell = nbformat.v4.new_code_cell("assert ok", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 4, "grade_id": "test_area", "schema_version": 3}})
    checks = records(True, True, True, True, False)
    results = {"tasks": {"area": {"passed": 4, "total": 5, "checks": checks}}}
    assert score_test_cells(nbformat.v4.new_notebook(cells=[cell]), results, Credit("all_or_nothing")) == {"area": 0.0}
    assert cell.outputs[0].text.startswith("Hidden checks, all or nothing: 4/5 checks passed, 0 of 4 points\n")
    assert cell.outputs[-1].data["text/plain"] == "0.0"
    assert written_verdict(cell) == ("Hidden checks, all or nothing: 4/5 checks passed, 0 of 4 points",
                                     [True, True, True, True, False]), "the self-check reads the verdicts back"


@pytest.mark.parametrize("policy, weights, error", [
    ("pass_fail", {}, r"c.JudgedExecute.credit = 'pass_fail' .* use one of 'proportional', 'all_or_nothing', 'weights'"),
    ("proportional", {"test_a": 2}, r"check_weights is set .* but c.JudgedExecute.credit is 'proportional'"),
    ("weights", {"test_aa": 2}, r"check_weights\['test_aa'\] = 2 .* no hidden check named 'test_aa' \(did you mean 'test_a'\?\)"),
    ("weights", {"test_a": -1}, r"check_weights\['test_a'\] = -1 .* cannot be negative"),
    ("weights", {"test_a": "2"}, r"a weight is a number"),
    ("weights", {"test_a": True}, r"a weight is a number"),
    ("weights", {"test_d": 0}, r"every check of task 'volume' \(01_x\) weight 0"),
])
def test_a_policy_grading_cannot_apply_is_an_error_naming_the_config_line(policy, weights, error):
    with pytest.raises(CreditError, match=error):
        credit_policy(policy, weights, CHECKS)


def test_a_valid_policy_keeps_its_weights():
    assert credit_policy("weights", {"test_a": 2, "test_b": 0}, CHECKS) == Credit("weights", {"test_a": 2.0, "test_b": 0.0})


def test_the_preprocessor_checks_its_config_when_grading_starts():
    config = Config({"JudgedExecute": {"credit": "weights", "check_weights": {"test_nope": 1}}})
    with pytest.raises(CreditError, match="no hidden check named 'test_nope'"):
        JudgedExecute(config=config)
    name = next(iter(all_hidden_checks()["01_registry"]))
    config = Config({"JudgedExecute": {"credit": "weights", "check_weights": {name: 2}}})
    assert JudgedExecute(config=config).policy == Credit("weights", {name: 2.0})
    assert configured_credit() == Credit(), "the shipped nbgrader_config.py keeps today's proportional credit"


# -- case files --------------------------------------------------------------------------------------

SOLUTIONS = {"area": ("01_x", "def area(w, h):\n    return w * h\n"), "volume": ("01_x", "def volume(a):\n    return a ** 3\n")}
FAIL_CASE = """
[[case]]
name = "area-adds"
task = "area"
problem = "a wrong answer"
why = "adds instead of multiplying"
expect = "fail"
check = "test_a"
message = "multiply"
[[case.replace]]
old = "w * h"
new = "w + h"
"""


def write(directory, text, name="01_x.toml"):
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(textwrap.dedent(text))
    return directory


def load(directory):
    return load_cases(SOLUTIONS, CHECKS, directory)


def test_a_valid_case_file_loads_with_its_edits_applied(tmp_path):
    write(tmp_path, FAIL_CASE.replace('expect = "fail"\ncheck = "test_a"\nmessage = "multiply"\n', 'expect = "full"\n')
          .replace('name = "area-adds"', 'name = "area-full"'), "other.toml")
    cases = load(write(tmp_path, FAIL_CASE))
    assert [(c.name, c.file, c.notebook, c.expect) for c in cases] == [
        ("area-adds", "01_x.toml", "01_x", "fail"), ("area-full", "other.toml", "01_x", "full")]
    assert cases[0].answer == "def area(w, h):\n    return w + h\n" and cases[0].check == "test_a"


@pytest.mark.parametrize("edit, error", [
    (('why = "adds instead of multiplying"', 'why = "adds"\nauthor = "me"'), r"01_x.toml, case 'area-adds': unknown key\(s\) \['author'\]"),
    (('problem = "a wrong answer"\n', ""), r"case 'area-adds': missing problem"),
    (('name = "area-adds"', 'name = "Area adds"'), r"name must be kebab-case"),
    (('expect = "fail"', 'expect = "partial"'), r"expect = 'partial'; use 'full' or 'fail'"),
    (('check = "test_a"\n', ""), r"check is required with expect = 'fail'"),
    (('old = "w * h"', 'old = "w * w"'), r"replace #1: old = 'w \* w' occurs 0 times"),
    (('old = "w * h"', 'old = "w"'), r"replace #1: old = 'w' occurs 2 times"),
    (('new = "w + h"', 'new = "w + h"\nsource = "x"'), r"exactly two strings, old and new"),
    (('task = "area"', 'task = "aera"'), r"no notebook has a task 'aera' \(did you mean 'area'\?\)"),
    (('check = "test_a"', 'check = "test_d"'), r"'test_d' is not a hidden check of task 'area'.*its checks: test_a, test_b, test_c"),
    (('message = "multiply"', 'message = ""'), r"message must be a non-empty string"),
])
def test_a_wrong_case_is_an_error_naming_file_and_case(tmp_path, edit, error):
    with pytest.raises(CaseError, match=error):
        load(write(tmp_path, FAIL_CASE.replace(*edit)))


@pytest.mark.parametrize("text, name, error", [
    (FAIL_CASE, "01_x.toml", None),
    (FAIL_CASE * 2, "01_x.toml", r"01_x.toml, case 'area-adds': another case already has this name"),
    (FAIL_CASE, "02_y.toml", r"02_y.toml, case 'area-adds': task 'area' belongs to 01_x"),
    (FAIL_CASE + "\n[options]\nfast = true\n", "01_x.toml", r"01_x.toml: a case file holds only \[\[case\]\] tables"),
    ("[[case]\n", "01_x.toml", r"01_x.toml: not valid TOML"),
    (FAIL_CASE.replace('[[case.replace]]\nold = "w * h"\nnew = "w + h"\n', 'source = "def area(w, h): return 0"\nreplace = []\n'),
     "01_x.toml", r"either \[\[case.replace\]\] edits or source"),
])
def test_whole_file_mistakes_are_errors(tmp_path, text, name, error):
    directory = write(tmp_path / "cases", text, name)
    if error is None:
        assert [c.name for c in load(directory)] == ["area-adds"]
        return
    with pytest.raises(CaseError, match=error):
        load(directory)


def test_the_course_case_files_are_valid():
    cases = load_cases(selfcheck.solutions(course.notebooks(notebooks.SOURCE)), all_hidden_checks())
    assert any(c.file == "example.toml" for c in cases)


# -- the self-check's verdict on a graded case ------------------------------------------------------

def graded(case, passed, visible=True):
    checks = records(*passed, names=["test_a", "test_b", "test_c"][:len(passed)])
    for check in checks:
        check["message"] = "" if check["passed"] else "you must multiply"
    results = {"visible": {"area": visible, "volume": True}, "cells": {"test_area": {"error": None}},
               "tasks": {"area": {"passed": sum(passed), "total": len(passed), "checks": checks}}}
    scores = {label: credit.score(3, checks)[0] for label, credit in selfcheck.proofs(case).items()}
    return selfcheck.case_problems(case, results, scores, 3)


def test_the_self_check_accepts_a_case_graded_as_it_expects_and_names_what_is_not(tmp_path):
    case = load(write(tmp_path, FAIL_CASE))[0]
    assert graded(case, [False, True, True]) == []
    assert graded(case, [True, False, True]) == [
        "test_a must fail with 'multiply' in its message (it passed)"]
    assert "a case must pass the visible test" in graded(case, [False, True, True], visible=False)[0]
    full = load(write(tmp_path / "full", FAIL_CASE.replace('expect = "fail"\ncheck = "test_a"\nmessage = "multiply"\n',
                                                            'expect = "full"\n')))[0]
    assert graded(full, [True, True, True]) == []
    assert graded(full, [True, True, False]) == ["test_c failed: you must multiply", "proportional gave 2 of 3",
                                                 "all or nothing gave 0 of 3"]
