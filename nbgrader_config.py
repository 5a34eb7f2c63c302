"""nbgrader configuration of the course: one assignment, ``mlops``, six notebooks.

Every path is derived from this file's location, so the course works from any clone.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
if ROOT not in sys.path:  # the grading hooks live in ./autograder
    sys.path.insert(0, ROOT)

from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, Execute, GetGrades, IgnorePattern,
    LimitOutput, SaveAutoGrades,
)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402

from autograder.preprocessors import HiddenChecks  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "tinytorch-mlops"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"

# One cell may run a minute; a notebook's hidden checks run outside the kernel (HiddenChecks).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 0

c.Autograde.autograde_preprocessors = [
    Execute,
    HiddenChecks,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# Feedback shows each check's name and message, never the hidden tests' source.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
