"""The nbgrader ``zip_collect`` plugin that reads Canvas and Moodle file names (see ``autograder.collect``).

    nbgrader zip_collect mlops --collector=autograder.lms_collector.LMSCollector [--LMSCollector.lms=canvas]
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Bool, Enum, Unicode

from autograder.collect import Fate, classify, write_report
from autograder.roster import submission_times


class LMSCollector(FileNameCollectorPlugin):
    """nbgrader collector for Canvas and Moodle downloads (file names: ``autograder.collect``).

    nbgrader asks about one file at a time; duplicates can only be decided knowing all of them, so
    the first call classifies the whole extracted folder, records every fate in reports/collect.csv,
    and later calls look the answer up.
    """

    lms = Enum(["auto", "canvas", "moodle"], default_value="auto",
               help="which LMS's file names to read; auto accepts both").tag(config=True)
    replace = Bool(False, help="replace submissions already in submitted/ (the old ones are moved to "
                               "downloaded/<assignment>/replaced/<time>/)").tag(config=True)
    timestamps = Unicode("", help="a Moodle grading worksheet or a student,submitted CSV: each student's "
                                  "submission time, written to nbgrader's timestamp.txt").tag(config=True)
    timezone = Unicode("UTC", help="the zone of submission times written without one").tag(config=True)

    _fates: dict[str, Fate] | None = None

    def collect(self, submitted_file: str) -> dict | None:
        if self._fates is None:
            self._fates = self._decide()
        fate = self._fates[os.path.abspath(submitted_file)]
        if fate.status != "collected":
            self.log.warning("Not collected (%s): %s: %s", fate.status, fate.file, fate.reason)
            return None
        found = {"student_id": fate.student, "file_id": f"{fate.notebook}.ipynb"}
        return dict(found, timestamp=fate.submitted) if fate.submitted else found

    def _decide(self) -> dict[str, Fate]:
        app = self.parent
        extracted = Path(app._format_collect_path(app.extracted_directory))  # nbgrader 0.9's layout
        root = Path(app.coursedir.root)
        times = submission_times(Path(self.timestamps), self.timezone) if self.timestamps else {}
        fates = classify(extracted, self.lms, times=times)
        set_aside = root / app.downloaded_directory / app.coursedir.assignment_id / "replaced" / time.strftime("%Y%m%dT%H%M%S")
        for student in sorted({f.student for f in fates if f.status == "collected"}):
            previous = Path(app.coursedir.format_path(app.coursedir.submitted_directory, student, app.coursedir.assignment_id))
            if not previous.exists():
                continue
            mine = [f for f in fates if f.student == student and f.status == "collected"]
            if self.replace:
                shutil.move(previous, set_aside / student / app.coursedir.assignment_id)
                note = f"replaces the previous submission, kept in {(set_aside / student).relative_to(root)}"
            else:
                note = "this student already has a submission in submitted/: collect with --replace to replace it"
            for fate in mine:
                fate.status = "collected" if self.replace else "already-submitted"
                fate.reason = "; ".join(filter(None, [fate.reason, note]))
        write_report(root, fates)
        return {str(extracted / fate.file): fate for fate in fates}
