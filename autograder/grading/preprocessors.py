"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into autograding.

Order in ``Autograde.sanitize_preprocessors``: ``ReportTampering`` and ``RestoreWrittenAnswers``
before nbgrader's ``OverwriteCells`` (which restores locked cells silently). Order in
``Autograde.autograde_preprocessors``: ``JudgedExecute`` instead of nbgrader's ``Execute``, then
``LimitOutputSize`` before ``SaveAutoGrades``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import nbformat
from nbgrader import preprocessors as nbgrader_preprocessors
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, SchemaTooOldError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Float, Integer, Unicode

from autograder.authoring.course import course_config
from autograder.authoring.notebooks import ROOT
from autograder.grading.credit import POLICIES, Credit, credit_policy
from autograder.grading.engine import all_hidden_checks, apply_results, is_written_answer, judge_notebook, nbgrader_meta
from autograder.grading.seeds import course_secret, student_seed


def _course_root(preprocessor) -> Path:
    """The course directory of the nbgrader app running ``preprocessor`` (its exporter's parent)."""
    owner = preprocessor
    while owner is not None and not hasattr(owner, "coursedir"):
        owner = owner.parent
    if owner is None:
        raise RuntimeError(f"{type(preprocessor).__name__} must run inside an nbgrader converter")
    return Path(owner.coursedir.root)


class JudgedExecute(NbGraderPreprocessor):
    """Run and grade a submission in the judge (``autograder.grading.engine``) instead of a kernel.

    Takes the place of nbgrader's ``Execute``: the submission's cells (answers plus the
    instructor's read-only cells, already restored from the gradebook) run in a sandboxed worker,
    the hidden checks in a judge process, and the outputs and scores come back as data. Demo cells
    (read-only plots and experiments no task needs) are not run. A cell gets ``cell_timeout``
    seconds and a hidden check ``test_timeout``; a cell or check that runs past its limit or ends
    the worker costs that cell or task only. Past ``timeout`` for the whole notebook, the judge is
    stopped and every test cell scores zero, with the reason in its output.

    ``credit`` and ``check_weights`` are the instructor's credit policy (``autograder.grading.credit``),
    checked when grading starts: a policy grading cannot apply stops it with the config line to fix.

    ``secret`` makes each student's hidden-check inputs their own (``autograder.grading.seeds``): set it
    once per term in ``nbgrader_config.py`` and keep it private (a regrade needs the same one).
    Left empty, grading makes a random one, keeps it in ``.grading_secret`` in the course
    directory, and says so in the log: inputs are never predictable, and regrades stay the same.
    """

    cell_timeout = Float(60, help="Seconds one notebook cell may run").tag(config=True)
    test_timeout = Float(30, help="Seconds one hidden check may run").tag(config=True)
    timeout = Float(600, help="Seconds the whole notebook, cells and checks, may take").tag(config=True)
    credit = Unicode("proportional", help="How a test cell's points follow from its hidden checks: "
                     + ", ".join(POLICIES)).tag(config=True)
    check_weights = Dict(help="With credit = 'weights': check function name -> weight (unlisted checks weigh 1)"
                         ).tag(config=True)
    secret = Unicode("", help="The course secret the hidden checks' random inputs are drawn from, with the "
                     "student id: c.JudgedExecute.secret = '<a long random string>' (new each term, kept "
                     "private). Empty: a random one kept in <course>/.grading_secret").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.policy: Credit = credit_policy(self.credit, self.check_weights, all_hidden_checks())

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        notebook, root = info["notebook"], _course_root(self)
        secret = self.secret or course_secret(root, self.log)
        results = judge_notebook(nb, notebook, cell_timeout=self.cell_timeout, test_timeout=self.test_timeout,
                                 timeout=self.timeout, release=root / "assignments" / info["assignment"] / f"{notebook}.ipynb",
                                 seed=student_seed(secret, info["student"], notebook), submission=info["student"])
        if results.get("error"):
            self.log.warning("Grading %s: %s", notebook, results["error"])
        scores = apply_results(nb, results, self.policy)
        self.log.info("Graded %s: %s (%.1f s)", notebook, scores, results.get("seconds", 0))
        return nb, resources


def configured_credit(root: Path = ROOT) -> Credit:
    """The credit policy the ``nbgrader_config.py`` in ``root`` sets; a ``CreditError`` when
    grading could not apply it."""
    return JudgedExecute(config=course_config(root)).policy


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


def _released(preprocessor, resources) -> nbformat.NotebookNode | None:
    """The release of the notebook being graded (``assignments/<assignment>/<notebook>.ipynb``)."""
    info = resources["nbgrader"]
    path = _course_root(preprocessor) / "assignments" / info["assignment"] / f"{info['notebook']}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def _report_tampering(preprocessor, resources, findings: list[dict]) -> None:
    """Log each finding and append it to ``reports/tampering.jsonl`` in the course directory."""
    info = resources["nbgrader"]
    reports = _course_root(preprocessor) / "reports"
    reports.mkdir(exist_ok=True)
    with open(reports / "tampering.jsonl", "a") as f:
        for finding in findings:
            record = {"student": info["student"], "notebook": info["notebook"], **finding, "time": time.time()}
            f.write(json.dumps(record) + "\n")
            preprocessor.log.warning("Tampering: %s %s cell %s was %s (restored from the gradebook)",
                                     info["student"], info["notebook"], finding["cell"], finding["change"])


class RestoreWrittenAnswers(NbGraderPreprocessor):
    """Put back a written answer a student deleted, as released (so it scores 0), and report it.

    nbgrader's ``OverwriteCells.add_missing_cells`` re-inserts a deleted grade cell after the cell
    before it in the source, which it expects to be a graded or answer cell. A written answer
    follows a read-only demo cell, and nbgrader then fails the student's whole notebook with a
    ``KeyError``. So it is restored here first, after the nearest earlier cell the submission kept.
    """

    def preprocess(self, nb, resources):
        released = _released(self, resources)
        if released is None:
            return nb, resources
        findings = []
        for index, cell in enumerate(released.cells):
            grade_id = nbgrader_meta(cell).get("grade_id")
            kept = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
            if not is_written_answer(cell) or grade_id in kept:
                continue
            earlier = [nbgrader_meta(c).get("grade_id") for c in released.cells[:index]]
            anchor = next((kept.index(g) for g in reversed(earlier) if g and g in kept), len(nb.cells) - 1)
            nb.cells.insert(anchor + 1, nbformat.from_dict(cell))
            findings.append({"cell": grade_id, "change": "deleted"})
        if findings:
            _report_tampering(self, resources, findings)
        return nb, resources


class ReportTampering(NbGraderPreprocessor):
    """Compare every read-only cell of a submission with the release and report edits and deletions.

    nbgrader restores such cells from the gradebook without telling anyone; instructors want to
    know. Findings are logged and appended to ``reports/tampering.jsonl`` in the course directory.
    """

    def preprocess(self, nb, resources):
        released = _released(self, resources)
        if released is None:
            return nb, resources
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
            _report_tampering(self, resources, findings)
        return nb, resources


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's check of one cell's metadata against its JSON schema, with the schema's
    validator made once. nbgrader calls ``jsonschema.validate``, which first checks the schema
    itself against the JSON Schema meta-schema: on every cell, 500 times a student, a third of
    nbgrader's own work in a grading. The verdict and the error raised are the same."""

    validators: dict = {}  # schema version -> its validator, made once per process

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        schema = cell.metadata["nbgrader"].get("schema_version", 0)
        if schema < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {schema} (expected {self.schema_version})",
                                    schema, self.schema_version)
        if schema > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {schema} (expected {self.schema_version})",
                                    schema, self.schema_version)
        validator = self.validators.get(self.schema_version)
        if validator is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            validator = self.validators[self.schema_version] = kind(self.schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class _MetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's ``MetadataValidator``, whose base's schema check is ``_SchemaCheckedOnce``'s."""


class CheckCellMetadata(nbgrader_preprocessors.CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata``, with the cell schema's validator made once per process."""

    def preprocess(self, nb, resources):
        try:
            _MetadataValidator().validate_nb(nb)
        except jsonschema.ValidationError:
            return super().preprocess(nb, resources)  # nbgrader's own log and error
        return nb, resources
