"""Mutation testing of the hidden checks: do they fail every wrong answer a student could write?

Cosmic Ray (``cosmic-ray``) makes the mutants: each is the reference answer with one small change
(``<`` for ``<=``, ``-`` for ``+``, a constant off by one, a loop that never runs, ...). Each is
graded as a submission would be, by the judge with its sandboxed worker, and is *killed* when its
task loses points: the visible test fails, a hidden check fails, or a cell times out. A mutant that
keeps full marks *survived*: either the checks miss a mistake, or the change is equivalent (it
cannot change any result; the argument is recorded in ``mutation_equivalents.toml``). A survivor
inside a ``raise`` statement changes only an error's wording (the tasks ask for the exception's
type; where a statement asks for words in a message, a check tests them, and kills the mutant), so
those are counted apart, as "only reword an error".

For each notebook the answers of its solution cells are written into one module
(``build/mutation/NN_name.py``), Cosmic Ray's ``init`` lists that module's mutations into its session
database (``build/mutation/NN_name.sqlite``, readable with ``cr-report``), and only mutations inside
an answer (between the solution markers, not in a released signature or docstring) are graded.

    python -m autograder mutation [NN ...]            every mutant; fails below the recorded score
    python -m autograder mutation --quick             a fixed sample per notebook (CI)
    python -m autograder mutation --record            write the figures (and survivors) as the floor
                                                      in ``mutation_scores.json``
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import threading
import time
import tomllib
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.authoring.notebooks import ROOT, SOURCE, templates
from autograder.grading.engine import Judge, nbgrader_meta, notebook_cells, preflight

WORK = ROOT / "build" / "mutation"
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")
SCORES = Path(__file__).with_name("mutation_scores.json")
CELL_HEADER = "# ---- answer cell "
QUICK_SAMPLE = 12  # mutants per notebook in the quick form


@dataclass(frozen=True)
class Answers:
    """A notebook's answer cells as one module, and which of its lines are answer code."""

    notebook: str
    module: str
    tasks_by_line: dict[int, str]  # 1-based line of the module -> the task whose answer it is

    @property
    def message_lines(self) -> set[int]:
        """Lines of ``raise`` statements: what they change is an error's wording, not its type."""
        return {line for node in ast.walk(ast.parse(self.module)) if isinstance(node, ast.Raise)
                for line in range(node.lineno, node.end_lineno + 1)}


def answers_module(notebook: str) -> Answers:
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    lines, tasks_by_line = [], {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution") or cell.cell_type != "code":  # written answers are graded by hand
            continue
        lines.append(f"{CELL_HEADER}{meta['grade_id']}")
        source = cell.source if cell.source.endswith("\n") else cell.source + "\n"
        inside = False
        for line in source.splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            else:
                lines.append(line)
                if inside:
                    tasks_by_line[len(lines)] = meta["grade_id"]
    return Answers(notebook, "\n".join(lines) + "\n", tasks_by_line)


def submission(notebook: str, module: str) -> nbformat.NotebookNode:
    """The solution notebook with each answer cell replaced by its part of ``module``."""
    parts = re.split(rf"^{re.escape(CELL_HEADER)}(\S+)\n", module, flags=re.MULTILINE)
    answers = dict(zip(parts[1::2], parts[2::2]))
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
            cell.source = answers[nbgrader_meta(cell)["grade_id"]]
    return nb


@dataclass
class Mutant:
    notebook: str
    job_id: str
    task: str
    operator: str
    operator_args: dict
    occurrence: int
    line: int
    before: str
    after: str = ""  # the changed line, once the mutant is made

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies a mutant across edits elsewhere: its task and the changed line."""
        return (self.task, self.operator, self.before.strip(), self.after.strip())


def mutants(answers: Answers) -> list[Mutant]:
    """Every mutation Cosmic Ray lists inside an answer (made later, by ``make``)."""
    from cosmic_ray.commands import init
    from cosmic_ray.work_db import WorkDB, use_db

    WORK.mkdir(parents=True, exist_ok=True)
    module_path = WORK / f"{answers.notebook}.py"
    module_path.write_text(answers.module)
    original = answers.module.splitlines()
    found = []
    with use_db(str(WORK / f"{answers.notebook}.sqlite"), WorkDB.Mode.create) as db:
        init(module_paths=[module_path], work_db=db, operator_cfgs={})
        db.add_work_items(extra_work_items(module_path))
        for item in db.work_items:
            spec = item.mutations[0]
            line = spec.start_pos[0]
            if line in answers.tasks_by_line:
                found.append(Mutant(answers.notebook, item.job_id, answers.tasks_by_line[line], spec.operator_name,
                                    spec.operator_args, spec.occurrence, line, original[line - 1]))
    return found


def make(answers: Answers, mutant: Mutant) -> str | None:
    """The mutated module (and ``mutant.after`` filled in), or None if the mutation changes nothing."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    from autograder.proof.mutation_operators import OPERATORS

    operator = OPERATORS.get(mutant.operator) or get_operator(mutant.operator)
    mutated = mutate_code(answers.module, operator(**mutant.operator_args), mutant.occurrence)
    if mutated is None or mutated == answers.module:
        return None
    original, changed = answers.module.splitlines(), mutated.splitlines()
    mutant.after = changed[mutant.line - 1] if len(changed) == len(original) else "(lines removed or added)"
    return mutated


def extra_work_items(module_path: Path):
    """Work items of our own operators, as Cosmic Ray's ``init`` makes them for its own."""
    import uuid

    from cosmic_ray.ast import ast_nodes, get_ast_from_path
    from cosmic_ray.work_item import MutationSpec, WorkItem

    from autograder.proof.mutation_operators import OPERATORS

    tree = get_ast_from_path(module_path)
    for name, operator in OPERATORS.items():
        positions = [pos for node in ast_nodes(tree) for pos in operator().mutation_positions(node)]
        for occurrence, (start, end) in enumerate(positions):
            yield WorkItem.single(uuid.uuid4().hex, MutationSpec(module_path, name, occurrence, start, end))


def sample(found: list[Mutant], size: int) -> list[Mutant]:
    """A fixed sample: the same mutants every run, spread over the tasks (by a hash of each one)."""
    ranked = sorted(found, key=lambda m: zlib.crc32(repr((m.task, m.operator, m.before.strip(), m.occurrence)).encode()))
    chosen, tasks = [], sorted({m.task for m in found})
    while len(chosen) < min(size, len(found)):
        for task in tasks:
            for mutant in ranked:
                if mutant.task == task and mutant not in chosen:
                    chosen.append(mutant)
                    break
            if len(chosen) >= size:
                break
    return chosen


def verdict(results: dict, task: str) -> str:
    """Why the mutant was killed (the first thing that cost it points), or "" if it survived."""
    if results.get("error"):
        return f"notebook: {results['error']}"
    if not results.get("visible", {}).get(task, False):
        error = (results.get("cells", {}).get(f"test_{task}") or {}).get("error") or {}
        return f"visible test ({error.get('ename', 'not run')})"
    entry = results.get("tasks", {}).get(task)
    if entry is None:
        return "no hidden checks ran"
    failed = [c["name"] for c in entry["checks"] if not c["passed"]]
    return f"check {failed[0]}" if failed else ""


class Grader:
    """One judge per thread, each grading mutants one after another."""

    def __init__(self, cell_timeout: float, test_timeout: float):
        self.local = threading.local()
        self.judges: list[Judge] = []
        self.cell_timeout, self.test_timeout = cell_timeout, test_timeout

    def __call__(self, mutant: Mutant, module: str) -> str:
        if not hasattr(self.local, "judge"):
            self.local.judge = Judge()
            self.judges.append(self.local.judge)
        request = {"notebook": mutant.notebook, "cells": notebook_cells(submission(mutant.notebook, module)),
                   "cell_timeout": self.cell_timeout, "test_timeout": self.test_timeout, "tasks": [mutant.task]}
        return verdict(self.local.judge.grade(request, timeout=600), mutant.task)

    def stop(self) -> None:
        for judge in self.judges:
            judge.stop()


def load_equivalents() -> dict[tuple, str]:
    """Recorded equivalent mutants: key -> the argument why no answer can differ."""
    data = tomllib.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}
    out = {}
    for entry in data.get("equivalent", []):
        unknown = set(entry) - {"notebook", "task", "operator", "before", "after", "why"}
        if unknown or not entry.get("why"):
            raise SystemExit(f"{EQUIVALENTS.name}: each [[equivalent]] needs notebook, task, operator, before, "
                             f"after and why, and nothing else; got {sorted(entry)}")
        out[(entry["notebook"], entry["task"], entry["operator"], entry["before"].strip(), entry["after"].strip())] = entry["why"]
    return out


def record_to_db(notebook: str, outcomes: dict[str, tuple[Mutant, str]], texts: dict[str, str], original: str) -> None:
    """Store each graded mutant's outcome in Cosmic Ray's session (``cr-report build/mutation/NN.sqlite``)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    with use_db(str(WORK / f"{notebook}.sqlite"), WorkDB.Mode.open) as db:
        for job_id, (mutant, why) in outcomes.items():
            diff = "".join(difflib.unified_diff(original.splitlines(True), texts[job_id].splitlines(True), n=1))
            db.set_result(job_id, WorkResult(worker_outcome=WorkerOutcome.NORMAL, output=why or "survived",
                                             test_outcome=TestOutcome.KILLED if why else TestOutcome.SURVIVED, diff=diff))


def progress(done: int, total: int, name: str, why: str) -> str:
    if done % 100 == 0:
        print(f"  {name}: {done}/{total} graded", flush=True)
    return why


def grade_notebook(name: str, quick: bool, jobs: int, grader: Grader, equivalents: dict) -> dict:
    """Grade a notebook's mutants (or its quick sample); the figures and the unexplained survivors."""
    started = time.perf_counter()
    answers = answers_module(name)
    found = mutants(answers)
    texts = {m.job_id: make(answers, m) for m in (sample(found, QUICK_SAMPLE) if quick else found)}
    chosen = [m for m in found if texts.get(m.job_id)]
    with ThreadPoolExecutor(jobs) as pool:
        graded = pool.map(lambda m: grader(m, texts[m.job_id]), chosen)
        whys = [progress(i, len(chosen), name, why) for i, why in enumerate(graded, 1)]
    outcomes = {m.job_id: (m, why) for m, why in zip(chosen, whys)}
    record_to_db(name, outcomes, texts, answers.module)
    survivors = [m for m, why in outcomes.values() if not why]
    raise_lines = answers.message_lines
    wording = [m for m in survivors if m.line in raise_lines]
    recorded = [m for m in survivors if (name, *m.key) in equivalents and m not in wording]
    unexplained = [m for m in survivors if m not in wording and m not in recorded]
    judged = len(chosen) - len(wording) - len(recorded)
    return {"mutants": len(chosen), "killed": len(chosen) - len(survivors), "equivalent": len(recorded),
            "error_wording": len(wording), "survived": len(unexplained),
            "score": round((judged - len(unexplained)) / max(judged, 1), 4),
            "seconds": round(time.perf_counter() - started),
            "survivors": [f"{m.task} [{m.operator}] line {m.line}: {m.before.strip()} -> {m.after.strip()}" for m in unexplained]}


def run(names: list[str], quick: bool, jobs: int, record: bool) -> int:
    """Grade the mutants of ``names``; 1 if a quick sample has an unexplained survivor or a full
    run scores below the recorded floor."""
    preflight()
    equivalents = load_equivalents()
    floor = json.loads(SCORES.read_text()) if SCORES.exists() else {}
    results, status = {}, 0
    grader = Grader(cell_timeout=20, test_timeout=20)
    try:
        for name in names:
            r = results[name] = grade_notebook(name, quick, jobs, grader, equivalents)
            print(f"{name}: {r['mutants']} mutants{' (sample)' if quick else ''}, {r['killed']} killed, "
                  f"{r['equivalent']} equivalent, {r['error_wording']} only reword an error, {r['survived']} survived: "
                  f"score {r['score']:.1%} ({r['seconds']} s)", flush=True)
            for line in r["survivors"]:
                print(f"  SURVIVED {line}")
            if quick and r["survived"]:
                status = 1
            elif not quick and r["score"] < floor.get(name, {}).get("score", 0.0):
                print(f"  below the recorded score {floor[name]['score']:.1%} ({SCORES.name})")
                status = 1
    finally:
        grader.stop()
    if record and not quick:
        kept = {name: {k: v for k, v in r.items() if k != "seconds"} for name, r in results.items()}  # no timing noise
        latest = json.loads(SCORES.read_text()) if SCORES.exists() else {}  # another run may have recorded meanwhile
        SCORES.write_text(json.dumps({**latest, **kept}, indent=2, sort_keys=True) + "\n")
        print(f"recorded in {SCORES.relative_to(ROOT)}")
    return status


def notebook_names() -> list[str]:
    return [path.stem for path in templates()]
