"""Import a learning-management-system download into ``submitted/`` with nbgrader's ``zip_collect``.

Students who work in Colab or Binder download their notebooks and upload them to the LMS; the
instructor downloads every submission as one zip. File names in those zips:

    Canvas  lastfirst_[LATE_]studentid_submissionid_originalname.ipynb
            a re-upload of the same file gets a suffix: 01_registry-1.ipynb, 01_registry-2.ipynb
    Moodle  Full Name_participantid_assignsubmission_file_originalname.ipynb
            or, with "download submissions in folders", Full Name_participantid_assignsubmission_file/originalname.ipynb

Each notebook lands in ``submitted/<studentid>/mlops/NN_name.ipynb``, where ``NN_name`` is one of
the course's notebooks (``autograder/templates/NN_*.py``). The original name may carry what Colab, Drive,
browsers and students add: ``Copy of 01_registry.ipynb`` (Colab's "Save a copy in Drive"),
``01_registry (1).ipynb`` (a browser's second download), ``jdoe_01_registry.ipynb`` (a prefix); a
name that holds exactly one course notebook's name is placed there, and the report says how it was
read. Of several copies, the one with the highest number (Canvas submission id, then ``-N`` or
``(N)``) is collected.

Submission times: Canvas's download holds none (only a LATE flag in the name); Moodle's grading
worksheet has them. ``--timestamps FILE`` (the worksheet, or a CSV with ``student,submitted``)
writes each student's time into ``submitted/<student>/mlops/timestamp.txt``, nbgrader's own form,
from which nbgrader computes lateness against the due date (``autograder.classroom.deadlines``).

Every file in the download gets a fate, recorded in ``reports/collect.csv`` and kept in
``reports/collected/<zip name>.csv`` (file, student, notebook, status, reason, and the LMS's name
prefix, LATE flag and submission time):

    collected          copied to submitted/
    duplicate          an older copy of a notebook the same student re-uploaded; the newest is collected
    older              a copy collected from an earlier download was submitted later: that one stays
    kept               (a row for a file already in submitted/) this download has no newer copy: it stays
    ambiguous          several copies and none is newer: none collected, the instructor picks one
    misnamed           the name does not follow the LMS pattern
    unknown-notebook   the pattern matches, but the notebook is not one of the course's
    not-a-notebook     not an .ipynb file
    unreadable         an .ipynb that is not a notebook (e.g. truncated JSON)
    skipped            an entry of the zip not extracted (a nested archive, a ``..`` or absolute
                       path, a link, too large: ``autograder.classroom.lms_archive``)
    error              nbgrader did not copy a file it was given (its log says why)

Resubmissions never lose work: per student and per notebook, the newest file across downloads is
graded. An LMS download holds each student's latest upload of each file, so a notebook in a later
download replaces the one collected before (unless the submission times given say it is older),
and the student's other notebooks stay. The student's submission time (nbgrader's one
``timestamp.txt`` per student) becomes the latest upload's. After each download, ``collect`` lists
every student who has fewer than all of the released notebooks.

Nothing is lost: nbgrader keeps the archive and every extracted file under
``downloaded/mlops/archive/<zip name>/`` and ``downloaded/mlops/extracted/<zip name>/``, and a
replaced notebook is moved to ``downloaded/mlops/replaced/<time>/<student>/``.

nbgrader does the extracting and copying; ``autograder.classroom.lms_collector.LMSCollector`` is the
collector plugin that tells it which file is whose, using ``classify`` below.
"""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

import nbformat

from autograder.authoring import course
from autograder.authoring.course import ASSIGNMENT, ROOT
from autograder.authoring.notebooks import templates
from autograder.classroom import csv_safe
from autograder.classroom.deadlines import apply_duedate, configured_duedate
from autograder.classroom.lms_archive import read_skipped, skipped_path
from autograder.classroom.roster import RosterError, submission_times

REPORT = Path("reports") / "collect.csv"
ARCHIVE_REPORTS = Path("reports") / "collected"  # one report per archive, kept: the export reads their names
PATTERNS = {
    "canvas": re.compile(r"(?:^|/)(?P<name>[^/_]+)_(?P<late>LATE_)?(?P<student>\d+)_(?P<submission>\d+)_(?P<file>[^/]+)$"),
    "moodle": re.compile(r"(?:^|/)(?P<name>[^/]+)_(?P<student>\d+)_assignsubmission_file_?[/_](?P<file>[^/]+)$"),
}
HOW = {
    "canvas": "lastfirst_[LATE_]studentid_submissionid_NN_name.ipynb",
    "moodle": "Full Name_participantid_assignsubmission_file_NN_name.ipynb",
}
COPY_OF = re.compile(r"^(?:copy of\s+)+", re.IGNORECASE)  # Colab/Drive, possibly repeated
NUMBERED = re.compile(r"^(?P<stem>.+?)(?:-(?P<reupload>\d+)| ?\((?P<download>\d+)\))$")  # Canvas -1, browser (1)


class CollectError(RuntimeError):
    pass


@dataclass
class Fate:
    file: str
    student: str = ""
    notebook: str = ""
    status: str = ""
    reason: str = ""
    lms: str = ""
    prefix: str = ""      # the LMS's name prefix, reused to name feedback files for bulk upload
    late_flag: str = ""   # "LATE" when the LMS marked the file late
    submitted: str = ""   # the submission time given to nbgrader (UTC, ISO 8601), if known


def course_notebooks() -> list[str]:
    return [path.stem for path in templates()]


def read_name(relative: str, lms: str) -> tuple[str, dict] | None:
    """(lms, the pattern's groups) of the first LMS pattern that matches the file's path."""
    for name in (["canvas", "moodle"] if lms == "auto" else [lms]):
        match = PATTERNS[name].search(relative)
        if match:
            return name, match.groupdict()
    return None


def place(stem: str, notebooks: list[str]) -> tuple[str | None, int]:
    """(the course notebook a file name stands for, its copy number), or (None, 0).

    ``Copy of 01_registry (2)`` -> ("01_registry", 2); ``jdoe_01-Registry`` -> ("01_registry", 0).
    """
    stem, copy = COPY_OF.sub("", stem.strip()), 0
    numbered = NUMBERED.match(stem)
    if numbered:
        stem, copy = numbered["stem"], int(numbered["reupload"] or numbered["download"])
    key = re.sub(r"[\s\-]+", "_", stem.casefold())
    found = [n for n in notebooks if re.search(rf"(?:^|[^a-z0-9]){re.escape(n.casefold())}(?:$|[^a-z0-9])", key)]
    return (found[0], copy) if len(found) == 1 else (None, 0)


def prefix_of(system: str, groups: dict) -> str:
    """The part of an LMS file name that identifies the submission (LATE_ dropped)."""
    if system == "canvas":
        return f"{groups['name']}_{groups['student']}_{groups['submission']}_"
    return f"{groups['name']}_{groups['student']}_assignsubmission_file_"


def classify(extracted: Path, lms: str = "auto", notebooks: list[str] | None = None,
             times: dict[str, datetime] | None = None) -> list[Fate]:
    """The fate of every file under ``extracted``; of several copies of a notebook, the newest is
    collected. ``times``: student id -> submission time, recorded with each collected file."""
    notebooks = notebooks if notebooks is not None else course_notebooks()
    times = times or {}
    fates, claims = [], {}
    for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
        fate = Fate(path.relative_to(extracted).as_posix())
        fates.append(fate)
        if path.suffix != ".ipynb":
            fate.status, fate.reason = "not-a-notebook", "only .ipynb files are graded"
            continue
        found = read_name(fate.file, lms)
        if found is None:
            patterns = " or ".join(HOW[k] for k in (HOW if lms == "auto" else [lms]))
            fate.status, fate.reason = "misnamed", f"expected {patterns}; copy it by hand to submitted/<studentid>/{ASSIGNMENT}/NN_name.ipynb"
            continue
        system, groups = found
        fate.student, fate.lms, fate.prefix = groups["student"], system, prefix_of(system, groups)
        stem = Path(groups["file"]).stem
        notebook, copy = place(stem, notebooks)
        rank = (int(groups.get("submission") or 0), copy)
        if notebook is None:
            guess = [n for n in notebooks if n in stem or stem in n]
            hint = f"; it looks like {guess[0]}: rename it" if len(guess) == 1 else ""
            fate.status = "unknown-notebook"
            fate.reason = f"'{groups['file']}' is not one of {', '.join(n + '.ipynb' for n in notebooks)}{hint}"
            continue
        try:
            nbformat.read(path, as_version=4)
        except Exception as error:  # nbformat raises JSON, validation and encoding errors alike
            fate.status, fate.reason = "unreadable", f"not a notebook: {str(error).splitlines()[0][:120]}"
            continue
        fate.notebook, fate.status = notebook, "collected"
        fate.late_flag = "LATE" if groups.get("late") else ""
        notes = [f"'{groups['file']}' read as {notebook}.ipynb" if stem != notebook else "",
                 "marked LATE by Canvas" if fate.late_flag else ""]
        if fate.student in times:
            fate.submitted = times[fate.student].isoformat()
        elif fate.late_flag:
            notes.append("no submission time given (--timestamps), so nbgrader cannot apply the late penalty")
        fate.reason = "; ".join(filter(None, notes))
        claims.setdefault((fate.student, notebook), []).append((rank, fate))
    for claimants in claims.values():
        claimants.sort(key=lambda pair: pair[0])
        newest_rank, newest = claimants[-1]
        ties = [fate for rank, fate in claimants if rank == newest_rank]
        for rank, fate in claimants:
            if len(ties) > 1 and rank == newest_rank:
                fate.status = "ambiguous"
                fate.reason = (f"{len(ties)} files are this student's {fate.notebook} and none is newer: "
                               f"copy the right one to submitted/{fate.student}/{ASSIGNMENT}/{fate.notebook}.ipynb")
            elif fate is not newest:
                fate.status, fate.reason = "duplicate", f"superseded by the later upload {newest.file}"
    return fates


def write_report(root: Path, fates: list[Fate]) -> Path:
    path = root / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv_safe.dict_writer(f, [field.name for field in fields(Fate)])
        writer.writeheader()
        writer.writerows(asdict(fate) for fate in fates)
    return path


def read_report(root: Path) -> list[Fate]:
    with open(root / REPORT, newline="") as f:
        return [Fate(**row) for row in csv.DictReader(f)]


def collect(archive: Path, root: Path = ROOT, lms: str = "auto", timestamps: Path | None = None) -> list[Fate]:
    """Import ``archive`` into ``root/submitted`` and return every file's fate (also in reports/collect.csv).

    ``timestamps``: a Moodle grading worksheet or a ``student,submitted`` CSV; each collected
    student's time goes to nbgrader's ``timestamp.txt``."""
    archive = Path(archive).resolve()
    options = []
    if timestamps is not None:
        timestamps = Path(timestamps).resolve()
        try:
            submission_times(timestamps)
        except (OSError, RosterError) as error:
            raise CollectError(str(error)) from error
        options.append(f"--LMSCollector.timestamps={timestamps}")
    if not archive.is_file():
        raise CollectError(f"{archive}: no such file; pass the zip downloaded from the LMS")
    if not zipfile.is_zipfile(archive):
        raise CollectError(f"{archive} is not a zip archive: download the submissions as one zip "
                           "(Canvas: the assignment's Download Submissions; Moodle: View all submissions > "
                           "Download all submissions)")
    if not (root / "assignments" / ASSIGNMENT).is_dir():
        raise CollectError(f"{root / 'assignments' / ASSIGNMENT} does not exist: release the assignment first "
                           "(python -m autograder release)")
    downloaded = root / "downloaded" / ASSIGNMENT
    kept = downloaded / "archive" / archive.stem / archive.name
    if kept.exists() and kept.read_bytes() != archive.read_bytes():
        raise CollectError(f"a different archive named {archive.name} was collected before ({kept}); "
                           "rename the new download and collect it again")
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(archive, kept)
    extracted = downloaded / "extracted" / archive.stem
    shutil.rmtree(extracted, ignore_errors=True)  # re-extracted from the kept zip
    skipped_path(extracted).unlink(missing_ok=True)
    (root / REPORT).unlink(missing_ok=True)
    course.nbgrader("zip_collect", ASSIGNMENT, "--extractor=autograder.classroom.lms_collector.SafeExtractor",
                    "--collector=autograder.classroom.lms_collector.LMSCollector", f"--LMSCollector.lms={lms}",
                    f"--ZipCollectApp.archive_directory=archive/{archive.stem}",
                    f"--ZipCollectApp.extracted_directory=extracted/{archive.stem}", *options, root=root, quiet=True)
    duedate = configured_duedate()
    if duedate is not None and (root / "gradebook.db").exists():
        apply_duedate(root, duedate)  # so that any grader of these submissions (a pod too) sees it
    fates = read_report(root) if (root / REPORT).exists() else []  # no report: nbgrader found no file to ask about
    for fate in fates:
        target = root / "submitted" / fate.student / ASSIGNMENT / (f"{fate.notebook}.ipynb" if fate.notebook else "timestamp.txt")
        if fate.status == "kept" and not target.exists():
            shutil.copy2(root / fate.file, target)  # not replaced by this download: put back
        if fate.status == "collected" and (not target.exists() or target.read_bytes() != (extracted / fate.file).read_bytes()):
            fate.status, fate.reason = "error", f"nbgrader did not copy it to {target.relative_to(root)}"
    fates += [Fate(entry["file"], status="skipped", reason=entry["reason"]) for entry in read_skipped(extracted)]
    write_report(root, fates)
    (root / ARCHIVE_REPORTS).mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / REPORT, root / ARCHIVE_REPORTS / f"{archive.stem}.csv")
    return fates


def released_notebooks(root: Path) -> list[str]:
    return sorted(path.stem for path in (root / "assignments" / ASSIGNMENT).glob("*.ipynb"))


def missing_notebooks(root: Path) -> dict[str, list[str]]:
    """student -> the released notebooks not in their submitted/ folder, for every student missing any."""
    expected = released_notebooks(root)
    missing = {}
    for folder in sorted((root / "submitted").glob(f"*/{ASSIGNMENT}")):
        absent = [nb for nb in expected if not (folder / f"{nb}.ipynb").exists()]
        if absent:
            missing[folder.parent.name] = absent
    return missing


def collected(root: Path) -> dict[tuple[str, str], Fate]:
    """(student, notebook) -> the fate of the file now in submitted/, over every archive collected."""
    found = {}
    for report in sorted((root / ARCHIVE_REPORTS).glob("*.csv"), key=lambda p: p.stat().st_mtime):
        with open(report, newline="") as f:
            for fate in (Fate(**row) for row in csv.DictReader(f)):
                if fate.status == "collected":
                    found[fate.student, fate.notebook] = fate
    return found


NEEDS_A_LOOK = ["misnamed", "unknown-notebook", "ambiguous", "unreadable", "skipped", "error"]


def table(fates: list[Fate], missing: dict[str, list[str]] | None = None) -> str:
    """Every file's fate, a count per status, and every student missing notebooks."""
    shown = ["file", "student", "notebook", "status", "reason"]
    rows = [shown] + [[getattr(f, column) for column in shown] for f in fates]
    widths = [min(48, max(len(row[i]) for row in rows)) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]
    counts = {}
    for fate in fates:
        counts[fate.status] = counts.get(fate.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "the archive held no files"
    lines += ["", f"{len(fates)} files: {summary}"]
    for student, absent in sorted((missing or {}).items()):
        lines.append(f"student {student} has no {', '.join(absent)} (not in any download collected so far)")
    return "\n".join(lines)


def exit_status(fates: list[Fate], missing: dict[str, list[str]]) -> tuple[int, str]:
    """(0 or 1, the sentence saying why) for ``python -m autograder collect``."""
    look = sorted({f.status for f in fates if f.status in NEEDS_A_LOOK})
    reasons = ([f"files that need a look ({', '.join(look)}: their reasons above)"] if look else []) + (
        [f"{len(missing)} student{'s' if len(missing) > 1 else ''} without every notebook"] if missing else [])
    if not reasons:
        return 0, "every notebook found a place; exit status 0"
    return 1, (f"exit status 1: {' and '.join(reasons)}. Usual in a real class (a student who uploaded "
               "a wrong file or nothing yet); the students collected are ready to grade. Copy a file by hand "
               f"to submitted/<studentid>/{ASSIGNMENT}/NN_name.ipynb to place it.")
