"""The mutation-testing harness: its operators, its notebook round trip, and its verdicts."""

import pytest
from cosmic_ray.mutating import mutate_code

from autograder.proof import mutation
from autograder.proof.mutation_operators import OPERATORS


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operator_examples(name):
    operator = OPERATORS[name]
    for example in operator.examples():
        assert mutate_code(example.pre_mutation_code, operator(), example.occurrence) == example.post_mutation_code


def test_remove_context_manager_keeps_the_as_target_and_other_items():
    code = "with a() as x, b():\n    pass\n"
    assert mutate_code(code, OPERATORS["extra/RemoveContextManager"](), 1) == \
        'with a() as x, __import__("contextlib").nullcontext():\n    pass\n'


def test_the_answers_module_round_trips_to_the_solution_notebook():
    answers = mutation.answers_module("05_continuous_learning")
    nb = mutation.submission("05_continuous_learning", answers.module)
    solutions = [c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert solutions and all("### BEGIN SOLUTION" not in s for s in solutions)
    assert set(answers.tasks_by_line.values()) == {"should_retrain", "challenger_passes_gate", "should_rollback"}
    assert "".join(solutions).count("def ") == answers.module.count("def ")


def test_a_wrong_answer_is_killed_and_the_reference_survives():
    answers = mutation.answers_module("05_continuous_learning")
    found = mutation.mutants(answers)
    flipped = next(m for m in found if m.operator.startswith("core/ReplaceComparisonOperator") and m.task == "should_rollback")
    text = mutation.make(answers, flipped)
    assert flipped.after and flipped.after != flipped.before
    grader = mutation.Grader(cell_timeout=60, test_timeout=30)
    try:
        assert grader(flipped, text), f"the checks missed {flipped.before.strip()} -> {flipped.after.strip()}"
        assert grader(flipped, answers.module) == "", "the reference answer itself lost points"
    finally:
        grader.stop()


def test_the_quick_sample_is_fixed_and_covers_every_task():
    answers = mutation.answers_module("04_ab_testing")
    first, second = (mutation.sample(mutation.mutants(answers), 12) for _ in range(2))
    assert [(m.task, m.operator, m.line, m.occurrence) for m in first] == [(m.task, m.operator, m.line, m.occurrence) for m in second]
    assert {m.task for m in first} == set(answers.tasks_by_line.values())
