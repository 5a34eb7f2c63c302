"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into autograding.

Order in ``Autograde.sanitize_preprocessors``: ``ReportTampering`` before nbgrader's
``OverwriteCells`` (which restores locked cells silently). Order in
``Autograde.autograde_preprocessors``: ``BoundedExecute`` instead of nbgrader's ``Execute``, then
``HiddenChecks``, then ``LimitOutputSize`` before ``SaveAutoGrades``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Float, Integer

from autograder.grading import nbgrader_meta, run_checks, score_test_cells
from autograder.notebooks import DEMO_PREFIX


def _not_run(cell, reason: str) -> None:
    cell.outputs = [nbformat.v4.new_output("error", ename="NotRun", evalue=reason,
                                           traceback=[f"NotRun: {reason}"])]


def _course_root(preprocessor) -> Path:
    """The course directory of the nbgrader app running ``preprocessor`` (its exporter's parent)."""
    owner = preprocessor
    while owner is not None and not hasattr(owner, "coursedir"):
        owner = owner.parent
    if owner is None:
        raise RuntimeError(f"{type(preprocessor).__name__} must run inside an nbgrader converter")
    return Path(owner.coursedir.root)


class BoundedExecute(Execute):
    """nbgrader's ``Execute`` with a time limit for the whole notebook and no stop on a dead kernel.

    Demo cells (read-only plots and experiments, see ``autograder.notebooks``) are not run: no
    task depends on them, and they are most of a notebook's run time. A cell still gets ``Execute.timeout`` seconds, but never more than what is left of
    ``notebook_timeout``. A cell that times out is marked as failed and the next one runs; cells
    past the budget, or after the kernel died (``os._exit``, a crash, out of memory), are marked as
    not run. Their test cells score zero and the batch goes on: nbgrader's own ``Execute`` gives
    up on the whole notebook instead.
    """

    notebook_timeout = Float(600, help="Seconds all cells of one notebook may run in total").tag(config=True)
    skip_demos = Bool(True, help="Do not run demo cells (read-only plots and experiments no task needs)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_timeout = self.timeout
        self._dead = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self.skip_demos and nbgrader_meta(cell).get("grade_id", "").startswith(DEMO_PREFIX):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="(a demo: not run while grading)\n")]
            return cell, resources
        remaining = self._deadline - time.monotonic()
        if self._dead:
            _not_run(cell, f"the kernel died earlier ({self._dead})")
        elif remaining <= 0:
            _not_run(cell, f"the notebook used up its {self.notebook_timeout:g} s time limit")
        else:
            self.timeout = max(1, int(min(self._cell_timeout, remaining)))
            try:
                return super().preprocess_cell(cell, resources, index)
            except CellTimeoutError:
                _not_run(cell, f"this cell ran longer than its {self.timeout} s limit and was interrupted")
            except DeadKernelError as error:
                self._dead = str(error).splitlines()[0][:200] or "kernel died"
                _not_run(cell, f"the kernel died while running this cell ({self._dead})")
        return cell, resources


class HiddenChecks(NbGraderPreprocessor):
    """After nbgrader has executed a submission, grade its tasks outside the kernel.

    The executed notebook's locked cells are already restored from the gradebook, so the code
    graded is the student's answers plus the instructor's cells. See ``autograder.grading``.
    """

    cell_timeout = Float(60, help="Seconds one notebook cell may run in the checks' process").tag(config=True)
    test_timeout = Float(30, help="Seconds one hidden check may run").tag(config=True)
    timeout = Float(300, help="Seconds all checks of one notebook may run").tag(config=True)

    def preprocess(self, nb, resources):
        notebook = resources["nbgrader"]["notebook"]
        results = run_checks(nb, notebook, cell_timeout=self.cell_timeout,
                             test_timeout=self.test_timeout, timeout=self.timeout)
        if results.get("error"):
            self.log.warning("Hidden checks of %s: %s", notebook, results["error"])
        scores = score_test_cells(nb, results)
        self.log.info("Hidden checks of %s: %s (%.1f s)", notebook, scores, results.get("seconds", 0))
        return nb, resources


class LimitOutputSize(NbGraderPreprocessor):
    """Cap the characters a cell's outputs keep, so a student printing megabytes can't bloat
    the gradebook's feedback (nbgrader's ``LimitOutput`` counts lines, not characters)."""

    max_chars = Integer(20_000, help="Characters kept per cell output").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and len(output.text) > self.max_chars:
                output.text = output.text[: self.max_chars] + f"\n... [output cut at {self.max_chars} characters]\n"
            for key, value in output.get("data", {}).items():
                if isinstance(value, str) and len(value) > self.max_chars and key.startswith("text/"):
                    output.data[key] = value[: self.max_chars] + "\n... [output cut]"
        return cell, resources


class ReportTampering(NbGraderPreprocessor):
    """Compare every read-only cell of a submission with the release and report edits and deletions.

    nbgrader restores such cells from the gradebook without telling anyone; instructors want to
    know. Findings are logged and appended to ``reports/tampering.jsonl`` in the course directory.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        root = _course_root(self)
        released_path = root / "assignments" / info["assignment"] / f"{info['notebook']}.ipynb"
        if not released_path.exists():
            return nb, resources
        released = nbformat.read(released_path, as_version=4)
        submitted = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells if nbgrader_meta(c).get("grade_id")}
        findings = []
        for cell in released.cells:
            meta = nbgrader_meta(cell)
            if not meta.get("locked"):
                continue
            mine = submitted.get(meta["grade_id"])
            if mine is None:
                findings.append({"cell": meta["grade_id"], "change": "deleted"})
            elif mine.source.strip() != cell.source.strip():
                findings.append({"cell": meta["grade_id"], "change": "edited"})
        if findings:
            reports = root / "reports"
            reports.mkdir(exist_ok=True)
            with open(reports / "tampering.jsonl", "a") as f:
                for finding in findings:
                    record = {"student": info["student"], "notebook": info["notebook"], **finding, "time": time.time()}
                    f.write(json.dumps(record) + "\n")
                    self.log.warning("Tampering: %s %s cell %s was %s (restored from the gradebook)",
                                     info["student"], info["notebook"], finding["cell"], finding["change"])
        return nb, resources
