"""Grade a notebook's tasks from outside the student's kernel.

nbgrader runs the submitted notebook in a kernel the student's code controls: anything computed
there (a score, a test result) can be forged by code that ran earlier. So the score of each graded
test cell is decided here, in the grading process, by running the task's hidden checks in a fresh
interpreter (``autograder.runner``) against the notebook's code, and then written into the cell's
output, where nbgrader's ``SaveAutoGrades`` reads it as partial credit.

A test cell earns ``points * passed / total`` of its task's hidden checks, and nothing if its own
visible asserts failed. Text a student's code wrote to stderr is shown as ordinary output, so a
harmless warning no longer zeroes a passing cell (nbgrader's default rule).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.notebooks import DEMO_PREFIX, ROOT, TEMPLATES
from autograder.template_format import solution_targets as template_solution_targets

CHECKS = ROOT / "autograder" / "checks"
TEST_PREFIX = "test_"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def task_of(cell) -> str:
    """The task a test cell grades: its grade_id without the ``test_`` prefix."""
    return nbgrader_meta(cell)["grade_id"].removeprefix(TEST_PREFIX)


def program_cells(nb) -> list[dict]:
    """The notebook's code, in order, without its test cells and demos (the checks need neither)."""
    cells = []
    for i, c in enumerate(nb.cells):
        grade_id = nbgrader_meta(c).get("grade_id") or ""
        if c.cell_type == "code" and not is_test_cell(c) and not grade_id.startswith(DEMO_PREFIX):
            cells.append({"id": grade_id or c.get("id") or f"cell-{i}", "source": c["source"]})
    return cells


def solution_targets(notebook: str) -> list[str]:
    """Library objects whose source is this notebook's answers (its ``#| solution`` directives)."""
    return template_solution_targets(TEMPLATES / f"{notebook}.py")


def run_checks(nb, notebook: str, *, task: str | None = None, cell_timeout: float = 60,
               test_timeout: float = 30, timeout: float = 300) -> dict:
    """Run the hidden checks of ``notebook`` against the code of ``nb`` in a fresh interpreter."""
    checks = CHECKS / f"test_{notebook}.py"
    if not checks.exists():
        return {"tasks": {}, "error": f"no hidden checks file {checks.relative_to(ROOT)}"}
    program = {
        "cells": program_cells(nb),
        "poison": solution_targets(notebook),
        "cell_timeout": cell_timeout,
        "test_timeout": test_timeout,
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory(prefix=f"checks-{notebook}-") as work:
        program_path, results_path = Path(work, "program.json"), Path(work, "results.json")
        progress_path = Path(work, "results.json.progress")
        command = [sys.executable, "-m", "autograder.runner", str(program_path), str(checks), str(results_path)]
        if task:
            command += ["--task", task]
        sandbox = Path(work, "cwd")
        sandbox.mkdir()
        deadline = time.monotonic() + timeout
        while True:
            program_path.write_text(json.dumps(program))
            try:
                proc = subprocess.run(command, cwd=sandbox, env=env, timeout=max(1.0, deadline - time.monotonic()),
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True)
            except subprocess.TimeoutExpired:
                return {"tasks": {}, "error": f"the checks ran longer than {timeout:g} s (an endless loop?)"}
            if results_path.exists():
                return json.loads(results_path.read_text())
            crashed_in = progress_path.read_text().strip() if progress_path.exists() else ""
            if not crashed_in or crashed_in in program.setdefault("skip", []) or len(program["skip"]) >= 3:
                tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
                return {"tasks": {}, "error": f"the checks' process ended early (exit {proc.returncode}): {tail[0][:300]}"}
            program["skip"].append(crashed_in)  # run again without the cell that ended the process


def score_test_cells(nb, results: dict) -> dict[str, float]:
    """Write each test cell's hidden-check verdict and score into its outputs; returns the scores."""
    scores = {}
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        points = float(nbgrader_meta(cell)["points"])
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "execute_result":
                continue
            if output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
            outputs.append(output)
        if any(o.output_type == "error" for o in outputs):
            _scrub_hidden_lines(cell, outputs)
            scores[task_of(cell)] = 0.0
            cell.outputs = outputs
            continue
        entry = results.get("tasks", {}).get(task_of(cell))
        if entry is None or entry["total"] == 0:
            reason = results.get("error") or f"no hidden checks exist for task {task_of(cell)!r} (tell your instructor)"
            score, lines = 0.0, [f"Hidden checks did not run: {reason}"]
        else:
            score = round(points * entry["passed"] / entry["total"], 4)
            lines = [f"Hidden checks: {entry['passed']}/{entry['total']} passed, {score:g} of {points:g} points"]
            lines += [f"  {'ok  ' if c['passed'] else 'FAIL'} {c['doc']}" + ("" if c["passed"] else f"\n       {c['message']}")
                      for c in entry["checks"]]
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n"))
        outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None))
        cell.outputs = outputs
        scores[task_of(cell)] = score
    return scores


def _scrub_hidden_lines(cell, outputs) -> None:
    """Drop the hidden block's lines from tracebacks: IPython quotes lines around the failing one."""
    source = cell["source"]
    start, end = source.find("### BEGIN HIDDEN TESTS"), source.find("### END HIDDEN TESTS")
    if start < 0 or end < 0:
        return
    hidden = [line.strip() for line in source[start:end + len("### END HIDDEN TESTS")].splitlines() if line.strip()]
    for output in outputs:
        if output.output_type == "error":
            output.traceback = [
                "\n".join(line for line in frame.splitlines() if not any(h in line for h in hidden))
                for frame in output.traceback
            ]
