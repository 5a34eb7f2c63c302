"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into autograding and feedback."""

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

from autograder.grading import run_checks, score_test_cells


class HiddenChecks(NbGraderPreprocessor):
    """After nbgrader has executed a submission, grade its tasks outside the kernel.

    Runs right after ``Execute`` and before ``SaveAutoGrades``: the executed notebook's locked cells
    are already restored from the gradebook, so the code graded is the student's answers plus the
    instructor's cells.
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
