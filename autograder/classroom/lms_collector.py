"""The nbgrader ``zip_collect`` plugins that read Canvas and Moodle downloads (see ``autograder.classroom.collect``).

    nbgrader zip_collect mlops --extractor=autograder.classroom.lms_collector.SafeExtractor \
        --collector=autograder.classroom.lms_collector.LMSCollector [--LMSCollector.lms=canvas]
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Enum, Unicode

from autograder.classroom.collect import Fate, classify, collected, write_report
from autograder.classroom.lms_archive import safe_extract, write_skipped
from autograder.classroom.roster import submission_times


class SafeExtractor(ExtractorPlugin):
    """Extracts each zip of the download as data (``autograder.classroom.lms_archive``): no nested archive
    is unpacked, and every entry not extracted is listed for the collect report."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        skipped = []
        for archive in sorted(Path(archive_path).glob("*.zip")):
            skipped += [dict(entry, file=f"{archive.stem}/{entry['file']}")
                        for entry in safe_extract(archive, Path(extracted_path) / archive.stem)]
        write_skipped(Path(extracted_path), skipped)


def newer(new: Fate, old: Fate) -> bool:
    """Whether ``new`` replaces ``old``, the copy of the same notebook collected before: a later
    download holds the student's latest upload, unless both submission times say otherwise."""
    if new.submitted and old.submitted:
        return datetime.fromisoformat(new.submitted) >= datetime.fromisoformat(old.submitted)
    return True


class LMSCollector(FileNameCollectorPlugin):
    """nbgrader collector for Canvas and Moodle downloads (file names: ``autograder.classroom.collect``).

    nbgrader asks about one file at a time; duplicates can only be decided knowing all of them, so
    the first call classifies the whole extracted folder, records every fate in reports/collect.csv,
    and later calls look the answer up.
    """

    lms = Enum(["auto", "canvas", "moodle"], default_value="auto",
               help="which LMS's file names to read; auto accepts both").tag(config=True)
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
        before = collected(root)
        set_aside = root / app.downloaded_directory / app.coursedir.assignment_id / "replaced" / time.strftime("%Y%m%dT%H%M%S")
        for student in sorted({f.student for f in fates if f.status == "collected"}):
            previous = Path(app.coursedir.format_path(app.coursedir.submitted_directory, student, app.coursedir.assignment_id))
            if not previous.exists():
                continue
            mine = [f for f in fates if f.student == student and f.status == "collected"]
            for fate in mine:
                old = before.get((student, fate.notebook))
                if old is not None and not newer(fate, old):
                    fate.status = "older"
                    fate.reason = f"the copy collected from {old.file} was submitted later ({old.submitted}): kept"
            mine = [f for f in mine if f.status == "collected"]
            if not mine:
                continue
            kept = set_aside / student / app.coursedir.assignment_id
            shutil.move(previous, kept)  # nbgrader fills an empty folder; collect() puts back what is not replaced
            for fate in mine:
                if (kept / f"{fate.notebook}.ipynb").exists():
                    fate.reason = "; ".join(filter(None, [fate.reason, f"replaces the copy collected before "
                                                          f"(kept in {kept.relative_to(root)})"]))
            replaced = {f"{f.notebook}.ipynb" for f in mine}
            for path in sorted(kept.iterdir()):
                if path.name not in replaced:
                    notebook = path.stem if path.suffix == ".ipynb" else ""
                    reason = ("collected from an earlier download; this one has no newer copy" if notebook else
                              "the earlier submission time; used only if this download gives none")
                    fates.append(Fate(str(path.relative_to(root)), student, notebook, "kept", reason))
        write_report(root, fates)
        return {str(extracted / fate.file): fate for fate in fates}
