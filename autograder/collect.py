"""Import a learning-management-system download into ``submitted/`` with nbgrader's ``zip_collect``.

Students who work in Colab or Binder download their notebooks and upload them to the LMS; the
instructor downloads every submission as one zip. File names in those zips:

    Canvas  lastfirst_[LATE_]studentid_submissionid_originalname.ipynb
            a re-upload of the same file gets a suffix: 01_registry-1.ipynb, 01_registry-2.ipynb
    Moodle  Full Name_participantid_assignsubmission_file_originalname.ipynb
            or, with "download submissions in folders", Full Name_participantid_assignsubmission_file/originalname.ipynb

Each notebook lands in ``submitted/<studentid>/mlops/NN_name.ipynb``, where ``NN_name`` is one of
the course's notebooks (``source/templates/NN_*.py``). Every file in the download gets a fate,
recorded in ``reports/collect.csv`` (file, student, notebook, status, reason):

    collected          copied to submitted/ (a Canvas re-upload -N is read as the file without -N)
    duplicate          an older copy of a notebook the same student re-uploaded; the newest is collected
    ambiguous          several copies and none is newer: none collected, the instructor picks one
    misnamed           the name does not follow the LMS pattern
    unknown-notebook   the pattern matches, but the notebook is not one of the course's
    not-a-notebook     not an .ipynb file
    unreadable         an .ipynb that is not a notebook (e.g. truncated JSON)
    already-submitted  the student already has a submission; collect with --replace to replace it
    error              nbgrader did not copy a file it was given (its log says why)

Nothing is lost: nbgrader keeps the archive and every extracted file under
``downloaded/mlops/archive/<zip name>/`` and ``downloaded/mlops/extracted/<zip name>/``, and a
replaced submission is moved to ``downloaded/mlops/replaced/<time>/<student>/``.

nbgrader does the extracting and copying; ``autograder.lms_collector.LMSCollector`` is the
collector plugin that tells it which file is whose, using ``classify`` below.
"""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import nbformat

from autograder import course
from autograder.course import ASSIGNMENT, ROOT
from autograder.notebooks import templates

REPORT = Path("reports") / "collect.csv"
PATTERNS = {
    "canvas": re.compile(r"(?:^|/)(?P<name>[^/_]+)_(?P<late>LATE_)?(?P<student>\d+)_(?P<submission>\d+)_(?P<file>[^/]+)$"),
    "moodle": re.compile(r"(?:^|/)(?P<name>[^/]+)_(?P<student>\d+)_assignsubmission_file_?[/_](?P<file>[^/]+)$"),
}
HOW = {
    "canvas": "lastfirst_[LATE_]studentid_submissionid_NN_name.ipynb",
    "moodle": "Full Name_participantid_assignsubmission_file_NN_name.ipynb",
}
CANVAS_REUPLOAD = re.compile(r"^(?P<stem>.+?)-(?P<copy>\d+)$")


class CollectError(RuntimeError):
    pass


@dataclass
class Fate:
    file: str
    student: str = ""
    notebook: str = ""
    status: str = ""
    reason: str = ""


def course_notebooks() -> list[str]:
    return [path.stem for path in templates()]


def read_name(relative: str, lms: str) -> tuple[str, dict] | None:
    """(lms, the pattern's groups) of the first LMS pattern that matches the file's path."""
    for name in (["canvas", "moodle"] if lms == "auto" else [lms]):
        match = PATTERNS[name].search(relative)
        if match:
            return name, match.groupdict()
    return None


def classify(extracted: Path, lms: str = "auto", notebooks: list[str] | None = None) -> list[Fate]:
    """The fate of every file under ``extracted``; of several copies of a notebook, the newest is collected."""
    notebooks = notebooks if notebooks is not None else course_notebooks()
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
        fate.student, stem, rank = groups["student"], Path(groups["file"]).stem, (0, 0)
        if system == "canvas":
            reupload = CANVAS_REUPLOAD.match(stem)
            stem, copy = (reupload["stem"], int(reupload["copy"])) if reupload else (stem, 0)
            rank = (int(groups["submission"]), copy)
        if stem not in notebooks:
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
        fate.notebook, fate.status = stem, "collected"
        fate.reason = "marked LATE by Canvas" if groups.get("late") else ""
        claims.setdefault((fate.student, stem), []).append((rank, fate))
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
        writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(Fate)])
        writer.writeheader()
        writer.writerows(asdict(fate) for fate in fates)
    return path


def read_report(root: Path) -> list[Fate]:
    with open(root / REPORT, newline="") as f:
        return [Fate(**row) for row in csv.DictReader(f)]


def collect(archive: Path, root: Path = ROOT, lms: str = "auto", replace: bool = False) -> list[Fate]:
    """Import ``archive`` into ``root/submitted`` and return every file's fate (also in reports/collect.csv)."""
    archive = Path(archive).resolve()
    if not archive.is_file():
        raise CollectError(f"{archive}: no such file; pass the zip downloaded from the LMS")
    if not zipfile.is_zipfile(archive):
        raise CollectError(f"{archive} is not a zip archive: download the submissions as one zip "
                           "(Canvas: Assignments > Download Submissions; Moodle: View all submissions > "
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
    shutil.rmtree(downloaded / "extracted" / archive.stem, ignore_errors=True)  # re-extracted from the kept zip
    (root / REPORT).unlink(missing_ok=True)
    course.nbgrader("zip_collect", ASSIGNMENT, "--collector=autograder.lms_collector.LMSCollector",
                    f"--LMSCollector.lms={lms}", f"--LMSCollector.replace={replace}",
                    f"--ZipCollectApp.archive_directory=archive/{archive.stem}",
                    f"--ZipCollectApp.extracted_directory=extracted/{archive.stem}", root=root, quiet=True)
    if not (root / REPORT).exists():
        return []  # nbgrader found no file to ask about: the zip was empty
    fates = read_report(root)
    extracted = downloaded / "extracted" / archive.stem
    for fate in fates:
        target = root / "submitted" / fate.student / ASSIGNMENT / f"{fate.notebook}.ipynb"
        if fate.status == "collected" and (not target.exists() or target.read_bytes() != (extracted / fate.file).read_bytes()):
            fate.status, fate.reason = "error", f"nbgrader did not copy it to {target.relative_to(root)}"
    write_report(root, fates)
    return fates


def table(fates: list[Fate]) -> str:
    rows = [["file", "student", "notebook", "status", "reason"]] + [list(asdict(f).values()) for f in fates]
    widths = [min(48, max(len(row[i]) for row in rows)) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]
    counts = {}
    for fate in fates:
        counts[fate.status] = counts.get(fate.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "the archive held no files"
    return "\n".join(lines + ["", f"{len(fates)} files: {summary}"])
