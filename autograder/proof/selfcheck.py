"""Prove the grading is right by grading synthetic submissions built from ``source/``.

Cases, each with the score it must get, per test cell:
- ``solution``: the solutions, plus a warning printed to stderr inside every solution: full marks;
- ``release``: the untouched student release: zero, and grading must not crash;
- ``imports``: every answer imported from the library instead of written: zero;
- ``without-<task>``: the solutions with one task left as released: loses exactly that task's points;
- ``one-bug-per-task``: the solutions with the first ``fail`` synthetic case of each task that has
  one: each such task fails some checks and scores what the configured credit policy gives them.

Written answers (Markdown answer cells with points) are graded by hand, in formgrader: every
submission above must leave an answered one for manual grading, and nbgrader must score one left
as released 0. Each submission's line gives its automatic points out of the automatic total, and
the points of written answers still to grade by hand (not counted as lost).

The synthetic cases (``autograder/selfcheck_cases/*.toml``, loaded by ``autograder.proof.synthetic``)
are graded by the judge alone, one task each, as ``JudgedExecute`` grades them (an nbgrader run
per case would take minutes). A ``full`` case must score full points with every check passing; a
``fail`` case must fail its named check with its message, lose points under ``proportional``
credit and score zero under ``all_or_nothing``; weighting that check 0 must give exactly the
proportional share of the other checks. Every other task's visible test must still pass. The scores
come from the scoring nbgrader uses (``apply_results``), so this also proves each credit policy on
real check results; ``one-bug-per-task`` proves that nbgrader applies the configured one.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.authoring import course, notebooks
from autograder.classroom.batch import autograde_class
from autograder.grading.credit import Credit, CreditError, check_function
from autograder.grading.engine import (VERDICT, all_hidden_checks, apply_results, is_written_answer, judge_notebook,
                                nbgrader_meta, preflight, solution_targets, written_verdict)
from autograder.grading.preprocessors import configured_credit
from autograder.proof.synthetic import Case, CaseError, load_cases

SOLUTION_REGION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*### END SOLUTION\n?",
                             re.MULTILINE | re.DOTALL)
NOISE = '{indent}print("DeprecationWarning: a harmless warning", file=__import__("sys").stderr)\n'
ONE_BUG = "one-bug-per-task"


def answered(source: str, noisy: bool = False) -> str:
    """A solution cell as a student would hand it in: the markers gone, the code kept."""
    return SOLUTION_REGION.sub(lambda m: (NOISE.format(indent=m["indent"]) if noisy else "") + m["body"], source)


def submission(release_nb, source_nb, fill) -> nbformat.NotebookNode:
    """The release with each answer cell's source replaced by ``fill(task, source_cell_text)``."""
    solutions = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        task = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = fill(task, solutions[task], cell.source)
    return nb


def importing(notebook: str):
    modules = {t.split(":")[1]: t.split(":")[0] for t in solution_targets(notebook)}

    def fill(task, solution, released):
        names = [n for n in modules if re.search(rf"^(def|class) {re.escape(n)}\b", answered(solution), re.MULTILINE)]
        return "\n".join(f"from {modules[n]} import {n}" for n in names) or released

    return fill


def solutions(source: dict) -> dict[str, tuple[str, str]]:
    """task -> (notebook, its solution cell's code as a student hands it in)."""
    return {nbgrader_meta(c)["grade_id"]: (name, answered(c.source))
            for name, nb in source.items() for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")}


def with_cases(released_nb, source_nb, chosen: list[Case]) -> nbformat.NotebookNode:
    """The solutions, with each case of ``chosen`` (at most one per task) answering its task."""
    answers = {case.task: case.answer for case in chosen}
    return submission(released_nb, source_nb, lambda t, s, r: answers.get(t, answered(s)))


def cases(source: dict, released: dict) -> dict[str, dict]:
    """student id -> {notebook: (submitted notebook, expected score per test cell)}."""
    full = {name: course.test_cells(nb) for name, nb in source.items()}
    zero = {name: dict.fromkeys(cells, 0.0) for name, cells in full.items()}
    out = {
        "solution": {n: (submission(released[n], nb, lambda t, s, r: answered(s, noisy=True)), full[n]) for n, nb in source.items()},
        "release": {n: (released[n], zero[n]) for n in source},
        "imports": {n: (submission(released[n], nb, importing(n)), zero[n]) for n, nb in source.items()},
    }
    for name, nb in source.items():
        for task in course.task_ids(nb):
            expected = {cell: (0.0 if cell.removeprefix("test_") == task else pts) for cell, pts in full[name].items()}
            keep_released = lambda t, s, r, task=task: r if t == task else answered(s)  # noqa: E731
            out[f"without-{task}"] = {name: (submission(released[name], nb, keep_released), expected)}
    return out


def proofs(case: Case) -> dict[str, Credit]:
    """The credit policies each case is scored under: label -> policy."""
    out = {"proportional": Credit(), "all or nothing": Credit("all_or_nothing")}
    if case.check:
        out["weights (that check 0)"] = Credit("weights", {case.check: 0.0})
    return out


def case_problems(case: Case, results: dict, scores: dict[str, float], points: float) -> list[str]:
    """What is wrong with how ``case`` was graded (nothing when it was graded as it expects);
    ``scores`` are its task's scores under each of ``proofs(case)``."""
    if results.get("error"):
        return [f"grading failed: {results['error']}"]
    broken = [task for task, ok in results["visible"].items() if not ok and task != case.task]
    problems = [f"the edit broke the visible test of task {task!r}" for task in broken]
    if not results["visible"].get(case.task):
        error = (results["cells"].get(f"test_{case.task}") or {}).get("error") or {}
        return problems + [f"its visible test failed ({error.get('ename')}: {error.get('evalue', '')[:200]}), "
                           "so no hidden check ran; a case must pass the visible test"]
    entry = results["tasks"].get(case.task)
    if entry is None:
        return problems + [f"no hidden check of task {case.task!r} ran"]
    judged = _full_problems if case.expect == "full" else _fail_problems
    return problems + judged(case, entry["checks"], scores, points)


def _full_problems(case: Case, checks: list[dict], scores: dict[str, float], points: float) -> list[str]:
    problems = [f"{c['name']} failed: {c['message'][:300]}" for c in checks if not c["passed"]]
    return problems + [f"{label} gave {score:g} of {points:g}" for label, score in scores.items() if score != points]


def _fail_problems(case: Case, checks: list[dict], scores: dict[str, float], points: float) -> list[str]:
    """The named check must fail with the message; each policy must give what its definition says."""
    problems = []
    named = [c for c in checks if check_function(c["name"]) == case.check]
    if not any(not c["passed"] and case.message in c["message"] for c in named):
        got = "; ".join(c["message"][:300] for c in named if not c["passed"]) or "it passed"
        problems.append(f"{case.check} must fail with {case.message!r} in its message ({got})")
    others = [c for c in checks if check_function(c["name"]) != case.check]
    expected = {"proportional": round(points * sum(c["passed"] for c in checks) / len(checks), 4),
                "all or nothing": 0.0}
    if others:
        expected["weights (that check 0)"] = round(points * sum(c["passed"] for c in others) / len(others), 4)
    problems += [f"{label} gave {scores[label]:g} of {points:g}, expected {want:g}"
                 for label, want in expected.items() if abs(scores[label] - want) > 1e-6]
    if scores["proportional"] >= points:
        problems.append(f"it kept all {points:g} points under proportional credit")
    return problems


def grade_cases(chosen: list[Case], released: dict, source: dict) -> tuple[dict[str, list[str]], list[str]]:
    """Grade each case with the judge and print a line per case; returns the names of its task's
    check records, in order (by case name), and the failures."""
    names, failures = {}, []
    for case in chosen:
        nb = with_cases(released[case.notebook], source[case.notebook], [case])
        results = judge_notebook(nb, case.notebook, tasks=[case.task])
        points = course.test_cells(source[case.notebook])[f"test_{case.task}"]
        scores = {label: apply_results(nb, results, credit)[case.task] for label, credit in proofs(case).items()}
        names[case.name] = [c["name"] for c in ((results.get("tasks") or {}).get(case.task) or {}).get("checks", [])]
        problems = case_problems(case, results, scores, points)
        shown = ", ".join(f"{label} {score:g}" for label, score in scores.items())
        print(f"  case {case.expect:<4} {case.name:<40} {'WRONG' if problems else 'ok':<5} of {points:g} points: {shown}")
        failures += [f"case {case.name} ({case.file}): {problem}" for problem in problems]
    return names, failures


def plan_one_bug(plan: dict, chosen: list[Case], released: dict, source: dict) -> dict[str, Case]:
    """Add the one-bug-per-task submission to ``plan``; returns its case per task. The tasks with
    a case are left out of its expected scores: ``one_bug_problems`` judges them."""
    one_bug = {case.task: case for case in reversed(chosen) if case.expect == "fail"}  # each task's first
    if one_bug:
        plan[ONE_BUG] = {name: (with_cases(released[name], nb, [c for c in one_bug.values() if c.notebook == name]),
                                {cell: points for cell, points in course.test_cells(nb).items()
                                 if cell.removeprefix("test_") not in one_bug})
                         for name, nb in source.items()}
    return one_bug


def one_bug_problems(root: Path, case: Case, names: list[str], configured: Credit) -> list[str]:
    """How nbgrader scored ``case``'s task in the one-bug-per-task submission must be what the
    configured policy gives the checks as they came out in that grading (checks on random data
    may come out differently from the case's own grading, so its verdicts are read back)."""
    path = root / "autograded" / ONE_BUG / course.ASSIGNMENT / f"{case.notebook}.ipynb"
    if not path.exists():
        return ["nbgrader did not grade it"]
    cells = nbformat.read(path, as_version=4).cells
    cell = next(c for c in cells if nbgrader_meta(c).get("grade_id") == f"test_{case.task}")
    how, flags = written_verdict(cell)
    if len(flags) != len(names) or all(flags):
        return [f"expected {len(names)} checks with some failing, the feedback shows {flags}"]
    points = float(nbgrader_meta(cell)["points"])
    score, line = configured.score(points, [{"name": name, "passed": ok} for name, ok in zip(names, flags)])
    have = course.cell_scores(root, ONE_BUG)[case.notebook][f"test_{case.task}"]
    problems = [] if how == f"{VERDICT}{line}" else [f"the feedback says {how!r}, expected {VERDICT}{line!r}"]
    if abs(have - score) > 1e-6:
        problems.append(f"the gradebook has {have:g}, {configured.policy} credit gives {score:g}")
    return problems


def written_answer_problems(student: str, books: dict, released: dict, got: dict, by_hand: dict) -> list[str]:
    """An answered written answer must be left to grade by hand; one left as released scores 0."""
    problems = []
    for name, (nb, _) in books.items():
        unanswered = {nbgrader_meta(c)["grade_id"]: c.source for c in released[name].cells if is_written_answer(c)}
        for cell in (c for c in nb.cells if is_written_answer(c)):
            grade_id = nbgrader_meta(cell)["grade_id"]
            answered_now = cell.source != unanswered[grade_id]
            if answered_now and grade_id not in by_hand.get(name, {}):
                problems.append(f"{student:>28} {name}/{grade_id}: an answered written answer was not left to grade by hand")
            if not answered_now and (grade_id in by_hand.get(name, {}) or got.get(name, {}).get(grade_id) != 0.0):
                problems.append(f"{student:>28} {name}/{grade_id}: an unanswered written answer must score 0, "
                                f"got {got.get(name, {}).get(grade_id)}")
    return problems


def run(only: list[str] | None = None) -> bool:
    """Grade the synthetic submissions and cases (of the notebooks in ``only``, or all) and compare."""
    started = time.perf_counter()
    try:
        configured = configured_credit()
        chosen = [case for case in load_cases(solutions(course.notebooks(notebooks.SOURCE)), all_hidden_checks())
                  if only is None or case.notebook in only]
    except (CreditError, CaseError) as error:
        print(f"error: {error}")
        return False
    preflight()
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as tmp:
        root = course.scratch_course(Path(tmp), only)
        released = course.notebooks(course.release(root, quiet=True))
        source = course.notebooks(root / "source" / course.ASSIGNMENT)
        plan = cases(source, released)
        one_bug = plan_one_bug(plan, chosen, released, source)
        names, failures = grade_cases(chosen, released, source)
        for student, books in plan.items():
            for name, (nb, _) in books.items():
                path = root / "submitted" / student / course.ASSIGNMENT / f"{name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, path)
        outcomes = autograde_class(root, report=lambda line: None)
        failures += [f"{o.student}: nbgrader autograde failed:\n{o.log[-2000:]}" for o in outcomes if not o.ok]
        for student, books in plan.items():
            got = course.cell_scores(root, student)
            for name, (_, expected) in books.items():
                for cell, want in expected.items():
                    have = got.get(name, {}).get(cell)
                    if have is None or abs(have - want) > 1e-6:
                        failures.append(f"{student:>28} {name}/{cell}: expected {want:g}, got {have}")
            by_hand = course.to_grade_by_hand(root, student)
            failures += written_answer_problems(student, books, released, got, by_hand)
            tests = {name: course.test_cells(source[name]) for name in books}
            auto = sum(got.get(name, {}).get(cell, 0.0) for name, cells in tests.items() for cell in cells)
            hand = sum(points for cells in by_hand.values() for points in cells.values())
            print(f"  {student:<32} {auto:6.2f} of {sum(sum(c.values()) for c in tests.values()):g} points"
                  + (f", {hand:g} more to grade by hand (written answers)" if hand else ""))
        failures += [f"{ONE_BUG} {case.notebook}/test_{case.task} (case {case.name}): {problem}"
                     for case in one_bug.values()
                     for problem in one_bug_problems(root, case, names[case.name], configured)]
    for line in failures:
        print("MISMATCH", line)
    print(f"self-check: {len(plan)} submissions and {len(chosen)} cases ({configured.policy} credit), "
          f"{'OK' if not failures else f'{len(failures)} mismatches'}"
          f" in {time.perf_counter() - started:.0f} s")
    return not failures
