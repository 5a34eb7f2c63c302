"""nbgrader configuration of the course: one assignment, ``mlops``, six notebooks.

Every path is derived from this file's location, so the course works from any clone.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
if ROOT not in sys.path:  # the grading hooks live in ./autograder
    sys.path.insert(0, ROOT)

import nbgrader  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, ClearHiddenTests, ClearOutput, DeduplicateIds, GetGrades,
    IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

from autograder.classroom.deadlines import LatePenalty, ShowDeadline  # noqa: E402
from autograder.grading.preprocessors import (  # noqa: E402
    CheckCellMetadata, JudgedExecute, LimitOutputSize, ReportTampering, RestoreWrittenAnswers,
)

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "tinytorch-mlops"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
# nbgrader copies a submission's other files into autograded/ and feedback/; the grading log
# (autograded/<student>/mlops/autograde.log) stays out of the students' feedback.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "autograde.log"]

# Students get the notebooks from the published student edition and hand them in through the LMS,
# so nbgrader's exchange (a shared folder on one JupyterHub server) carries nothing here. A folder
# inside the course (exchange/, never committed) keeps formgrader from warning that the default
# /srv/nbgrader/exchange does not exist; its Release and Collect buttons only copy into that folder.
c.Exchange.root = os.path.join(ROOT, "exchange")
try:
    os.makedirs(c.Exchange.root, exist_ok=True)
except OSError:  # a read-only copy of the course (a grading container): only formgrader looks for it
    pass

# Submissions: read-only cells a student edited or deleted are reported, then restored.
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, ReportTampering, RestoreWrittenAnswers, OverwriteCells,
    CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True

# Execution and scores: no kernel runs the submission. JudgedExecute runs its cells in a sandboxed
# worker and its hidden checks in a judge process (autograder/grading/judge.py): a minute per cell, 30 s per
# check, ten minutes per notebook; a loop, crash or tampering costs only the cell or task it is in.
c.Autograde.autograde_preprocessors = [
    JudgedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    LimitOutputSize,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# nbconvert validates the whole notebook against its schema after every preprocessor (about 20 a
# notebook); once, after the last one, catches the same invalid notebook before it is written.
c.Exporter.optimistic_validation = True
c.JudgedExecute.cell_timeout = 60
c.JudgedExecute.test_timeout = 30
c.JudgedExecute.timeout = 600

# Credit policy (autograder/grading/credit.py): how a test cell's points follow from its task's hidden
# checks. "proportional": points x passed / total checks; "all_or_nothing": full points only when
# every check passes; "weights": points x passed weight / total weight, with
# c.JudgedExecute.check_weights = {"check_function_name": weight, ...} (unlisted checks weigh 1).
# A failed visible test scores zero under every policy. Checked when grading starts.
c.JudgedExecute.credit = "proportional"
c.JudgedExecute.check_weights = {}
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# Due date and late policy (autograder/classroom/deadlines.py). nbgrader computes each submission's lateness
# from the time `collect` writes into submitted/<student>/mlops/timestamp.txt; the export shows it.
c.Deadline.duedate = ""  # e.g. "2027-03-05 23:59:00 Europe/London"; empty: nothing is late
c.AssignLatePenalties.plugin_class = LatePenalty
c.LatePenalty.percent_per_day = 10  # of a late notebook's score, per started day
c.LatePenalty.max_days = 5  # later than this scores zero
c.Deadline.extensions = "lms/extensions.csv"  # per-student due dates: student,due[,note]; read when it exists
c.LMSCollector.timezone = "UTC"  # the zone your LMS shows submission times in (Moodle's worksheet has no zone)

# Feedback shows each check's name and message, never the hidden tests' source.
c.GenerateFeedback.preprocessors = [GetGrades, ShowDeadline, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
# What a student wrote (Markdown, HTML and SVG outputs) is shown without active content, in the
# feedback and in formgrader (autograder/grading/feedback_html.py: bleach, nbconvert's SanitizeHTML).
c.HTMLExporter.filters = {"markdown2html": "autograder.grading.feedback_html.markdown2html"}
c.HTMLExporter.preprocessors = ["autograder.grading.feedback_html.SanitizeOutputs"]
# The feedback page (autograder/feedback_template/): task names in its summary, long lines
# wrapped, formulas as MathML (no MathJax from a CDN). Formgrader keeps its own page.
FORMGRADER = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
c.GenerateFeedback.HTMLExporter.template_name = "feedback_template"  # extends nbgrader's feedback/index.html.j2
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [os.path.join(FORMGRADER, "templates"),
                                                           os.path.join(ROOT, "autograder")]
c.GenerateFeedback.HTMLExporter.extra_template_paths = [
    os.path.join(FORMGRADER, "templates"), os.path.join(FORMGRADER, "static", "node_modules", "bootstrap", "dist", "css"),
]
