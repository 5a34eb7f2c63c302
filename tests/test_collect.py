"""Importing Canvas and Moodle downloads with nbgrader's zip_collect: every file lands in submitted/
or is reported with a reason, and nothing is lost."""

import csv
import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import __main__ as cli
from autograder.authoring import course
from autograder.classroom import csv_safe
from autograder.classroom.collect import REPORT, CollectError, classify, collect, exit_status, missing_notebooks, place, table

NOTEBOOKS = ["01_registry", "02_serving"]


def notebook(tag: str) -> str:
    """A notebook whose content says which upload it is."""
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {tag}")]))


CANVAS = {
    "doejane_101_9001_01_registry.ipynb": notebook("jane registry, first upload"),
    "doejane_101_9001_01_registry-1.ipynb": notebook("jane registry, re-upload"),
    "doejane_101_9001_02_serving.ipynb": notebook("jane serving"),
    "smithbob_LATE_102_9002_01_registry.ipynb": notebook("bob registry, late"),
    "smithbob_102_9002_registry_final.ipynb": notebook("bob, unknown name"),
    "smithbob_102_9002_notes.txt": "not a notebook",
    "Registry Homework.ipynb": notebook("no LMS prefix"),
    "leeann_103_9003_02_serving.ipynb": notebook("truncated")[:40],
}
MOODLE = {
    "Jane Doe_501_assignsubmission_file_01_registry.ipynb": notebook("moodle jane registry"),
    "Ann Lee_502_assignsubmission_file/02_serving.ipynb": notebook("moodle ann serving, in a folder"),
    "Ann Lee_502_assignsubmission_onlinetext_onlinetext.html": "<p>see attached</p>",
    "Bob Smith_503_assignsubmission_file_Copy of 01_registry.ipynb": notebook("colab copy"),
}


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def extract(tmp_path, members):
    for name, text in members.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def by_file(fates):
    return {f.file: f for f in fates}


def test_canvas_names_reuploads_and_rejects(tmp_path):
    fates = by_file(classify(extract(tmp_path, CANVAS), "canvas", NOTEBOOKS))
    assert set(fates) == set(CANVAS)
    assert {f: fates[f].status for f in fates} == {
        "doejane_101_9001_01_registry.ipynb": "duplicate",
        "doejane_101_9001_01_registry-1.ipynb": "collected",
        "doejane_101_9001_02_serving.ipynb": "collected",
        "smithbob_LATE_102_9002_01_registry.ipynb": "collected",
        "smithbob_102_9002_registry_final.ipynb": "unknown-notebook",
        "smithbob_102_9002_notes.txt": "not-a-notebook",
        "Registry Homework.ipynb": "misnamed",
        "leeann_103_9003_02_serving.ipynb": "unreadable",
    }
    assert "doejane_101_9001_01_registry-1.ipynb" in fates["doejane_101_9001_01_registry.ipynb"].reason
    late = fates["smithbob_LATE_102_9002_01_registry.ipynb"]
    assert late.late_flag == "LATE" and late.reason.startswith("marked LATE by Canvas; no submission time")
    assert late.prefix == "smithbob_102_9002_"
    assert (fates["doejane_101_9001_01_registry-1.ipynb"].student, fates["doejane_101_9001_01_registry-1.ipynb"].notebook) == ("101", "01_registry")


def test_moodle_names_flat_and_in_folders(tmp_path):
    fates = by_file(classify(extract(tmp_path, MOODLE), "moodle", NOTEBOOKS))
    assert sorted((f.student, f.notebook) for f in fates.values() if f.status == "collected") == [
        ("501", "01_registry"), ("502", "02_serving"), ("503", "01_registry")]
    copy = fates["Bob Smith_503_assignsubmission_file_Copy of 01_registry.ipynb"]
    assert "'Copy of 01_registry.ipynb' read as 01_registry.ipynb" in copy.reason
    assert copy.prefix == "Bob Smith_503_assignsubmission_file_"


@pytest.mark.parametrize("stem, placed", [
    ("01_registry", ("01_registry", 0)),
    ("Copy of 01_registry", ("01_registry", 0)),             # Colab's "Save a copy in Drive"
    ("Copy of Copy of 01_registry", ("01_registry", 0)),
    ("01_registry (1)", ("01_registry", 1)),                 # a browser's second download
    ("Copy of 01_registry (2)", ("01_registry", 2)),
    ("01_registry-3", ("01_registry", 3)),                   # Canvas re-upload
    ("jdoe_01_registry", ("01_registry", 0)),                # a student's prefix
    ("01-Registry", ("01_registry", 0)),
    ("registry_final", (None, 0)),                           # no course notebook's full name
    ("01_registry_and_02_serving", (None, 0)),               # two: not guessed
    ("101_registry", (None, 0)),
])
def test_names_that_colab_browsers_and_students_produce(stem, placed):
    assert place(stem, NOTEBOOKS) == placed


def test_a_numbered_download_supersedes_the_first(tmp_path):
    fates = by_file(classify(extract(tmp_path, {
        "Ann Lee_502_assignsubmission_file_02_serving.ipynb": notebook("first"),
        "Ann Lee_502_assignsubmission_file_02_serving (1).ipynb": notebook("second download")}), "moodle", NOTEBOOKS))
    assert fates["Ann Lee_502_assignsubmission_file_02_serving (1).ipynb"].status == "collected"
    assert fates["Ann Lee_502_assignsubmission_file_02_serving.ipynb"].status == "duplicate"


def test_equal_copies_are_ambiguous_not_guessed(tmp_path):
    fates = classify(extract(tmp_path, {"a/doejane_101_9001_01_registry.ipynb": notebook("a"),
                                        "b/doejane_101_9001_01_registry.ipynb": notebook("b")}), "auto", NOTEBOOKS)
    assert [f.status for f in fates] == ["ambiguous", "ambiguous"]


def test_one_lms_does_not_read_the_others_names(tmp_path):
    fates = classify(extract(tmp_path, {"doejane_101_9001_01_registry.ipynb": notebook("canvas")}), "moodle", NOTEBOOKS)
    assert fates[0].status == "misnamed" and "assignsubmission_file" in fates[0].reason


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = course.scratch_course(tmp_path_factory.mktemp("collect"), only=NOTEBOOKS)
    course.release(root, quiet=True)
    return root


def submitted(root, student, name):
    return (root / "submitted" / student / course.ASSIGNMENT / f"{name}.ipynb").read_text()


def test_canvas_zip_lands_in_submitted_and_every_file_is_reported(scratch, tmp_path):
    fates = collect(make_zip(tmp_path / "canvas.zip", CANVAS), scratch, lms="canvas")
    assert submitted(scratch, "101", "01_registry") == CANVAS["doejane_101_9001_01_registry-1.ipynb"]
    assert submitted(scratch, "101", "02_serving") == CANVAS["doejane_101_9001_02_serving.ipynb"]
    assert submitted(scratch, "102", "01_registry") == CANVAS["smithbob_LATE_102_9002_01_registry.ipynb"]
    assert sorted(p.name for p in (scratch / "submitted").iterdir()) == ["101", "102"]
    with open(scratch / REPORT, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"].split("/", 1)[1] for r in rows] == sorted(CANVAS)  # nbgrader extracts into canvas/
    assert list(rows[0])[:5] == ["file", "student", "notebook", "status", "reason"]
    assert [r["status"] for r in rows] == [f.status for f in fates]
    kept = scratch / "downloaded" / course.ASSIGNMENT / "extracted" / "canvas"
    assert sorted(p.name for p in (kept / "canvas").iterdir()) == sorted(CANVAS)
    printed = table(fates)
    assert "Registry Homework.ipynb" in printed and "3 collected" in printed


def test_moodle_zip_and_a_later_download_replaces_only_the_notebooks_it_holds(scratch, tmp_path):
    fates = collect(make_zip(tmp_path / "moodle.zip", MOODLE), scratch, lms="moodle")
    assert sum(f.status == "collected" for f in fates) == 3
    assert json.loads(submitted(scratch, "502", "02_serving")) == json.loads(MOODLE["Ann Lee_502_assignsubmission_file/02_serving.ipynb"])

    newer = {"Jane Doe_501_assignsubmission_file_01_registry.ipynb": notebook("moodle jane, second download")}
    again = collect(make_zip(tmp_path / "moodle-late.zip", newer), scratch, lms="moodle")
    assert [f.status for f in again] == ["collected"] and "replaces the copy collected before" in again[0].reason
    assert submitted(scratch, "501", "01_registry") == newer["Jane Doe_501_assignsubmission_file_01_registry.ipynb"]
    (old,) = (scratch / "downloaded" / course.ASSIGNMENT / "replaced").glob(f"*/501/{course.ASSIGNMENT}/01_registry.ipynb")
    assert old.read_text() == MOODLE["Jane Doe_501_assignsubmission_file_01_registry.ipynb"]


@pytest.fixture
def fresh(scratch, tmp_path_factory):
    """A course released as ``scratch`` was, with nothing collected yet (a copy: releasing takes seconds)."""
    root = tmp_path_factory.mktemp("fresh") / "course"
    shutil.copytree(scratch, root, ignore=shutil.ignore_patterns("submitted", "downloaded", "reports", "gradebook.db*"))
    shutil.copy2(scratch / "gradebook.db", root / "gradebook.db")
    return root


def test_a_resubmission_of_one_notebook_keeps_the_others(fresh, tmp_path):
    first = {"doejane_101_9001_01_registry.ipynb": notebook("registry v1"),
             "doejane_101_9001_02_serving.ipynb": notebook("serving v1")}
    times = tmp_path / "times.csv"
    times.write_text("student,submitted\n101,2026-11-20 10:00:00\n")
    collect(make_zip(tmp_path / "week1.zip", first), fresh, lms="canvas", timestamps=times)

    fixed = {"doejane_101_9001_02_serving.ipynb": notebook("serving v2")}  # Canvas: the latest upload only
    times.write_text("student,submitted\n101,2026-11-21 09:00:00\n")
    fates = by_file(collect(make_zip(tmp_path / "week2.zip", fixed), fresh, lms="canvas", timestamps=times))
    assert submitted(fresh, "101", "01_registry") == first["doejane_101_9001_01_registry.ipynb"]
    assert submitted(fresh, "101", "02_serving") == fixed["doejane_101_9001_02_serving.ipynb"]
    assert fates["week2/doejane_101_9001_02_serving.ipynb"].status == "collected"
    (kept,) = [f for f in fates.values() if f.status == "kept" and f.notebook]
    assert kept.notebook == "01_registry" and kept.student == "101"
    stamp = (fresh / "submitted" / "101" / course.ASSIGNMENT / "timestamp.txt").read_text()
    assert stamp.startswith("2026-11-21 09:00:00")  # the latest upload's time
    assert missing_notebooks(fresh) == {}

    stale = {"doejane_101_9001_02_serving.ipynb": notebook("serving v0, an old attempt")}
    times.write_text("student,submitted\n101,2026-11-19 09:00:00\n")
    fates = collect(make_zip(tmp_path / "old.zip", stale), fresh, lms="canvas", timestamps=times)
    assert [f.status for f in fates] == ["older"] and "submitted later" in fates[0].reason
    assert submitted(fresh, "101", "02_serving") == fixed["doejane_101_9001_02_serving.ipynb"]


def test_students_missing_notebooks_are_listed_and_explain_the_exit_status(fresh, tmp_path):
    fates = collect(make_zip(tmp_path / "some.zip", {
        "doejane_101_9001_01_registry.ipynb": notebook("jane"), "Registry Homework.ipynb": notebook("?")}), fresh, lms="canvas")
    missing = missing_notebooks(fresh)
    assert missing == {"101": ["02_serving"]}
    assert "student 101 has no 02_serving" in table(fates, missing)
    status, why = exit_status(fates, missing)
    assert status == 1 and "misnamed" in why and "1 student without every notebook" in why
    assert exit_status([f for f in fates if f.status == "collected"], {}) == (0, "every notebook found a place; exit status 0")


def test_a_hostile_download_is_data(fresh, tmp_path):
    """Nested archives stay packed, '..', absolute paths and links are not extracted, and a formula in
    a name is written inert; each skipped entry has a row with its reason."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("huge.ipynb", b"\0" * (8 * 2**20))
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_101_9001_01_registry.ipynb", notebook("honest"))
        zf.writestr("smithbob_102_9002_more.zip", inner.getvalue())
        zf.writestr("smithbob_102_9002_data.bin", b"\x1f\x8b" + b"\0" * 100)   # a gzip under another name
        zf.writestr("../../escaped_101_9001_02_serving.ipynb", notebook("outside"))
        zf.writestr("/tmp/absolute_101_9001_02_serving.ipynb", notebook("absolute"))
        link = zipfile.ZipInfo("smithbob_102_9002_01_registry.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr('=HYPERLINK("evil")_103_9003_01_registry.ipynb', notebook("formula"))
    fates = {f.file: f for f in collect(archive, fresh, lms="canvas")}
    skipped = {name.split("/", 1)[1]: f.reason for name, f in fates.items() if f.status == "skipped"}
    assert set(skipped) == {"smithbob_102_9002_more.zip", "smithbob_102_9002_data.bin",
                            "../../escaped_101_9001_02_serving.ipynb", "/tmp/absolute_101_9001_02_serving.ipynb",
                            "smithbob_102_9002_01_registry.ipynb"}
    assert "nested" not in skipped["smithbob_102_9002_more.zip"] and "not unpacked" in skipped["smithbob_102_9002_more.zip"]
    assert "'..'" in skipped["../../escaped_101_9001_02_serving.ipynb"]
    assert "absolute" in skipped["/tmp/absolute_101_9001_02_serving.ipynb"]
    assert "link" in skipped["smithbob_102_9002_01_registry.ipynb"]
    extracted = fresh / "downloaded" / course.ASSIGNMENT / "extracted"
    assert sum(p.stat().st_size for p in extracted.rglob("*") if p.is_file()) < 2**20  # nothing unpacked from the bomb
    assert not list(fresh.rglob("escaped_*")) and not Path("/tmp/absolute_101_9001_02_serving.ipynb").exists()
    assert sorted(p.name for p in (fresh / "submitted").iterdir()) == ["101", "103"]  # 103's name is a formula
    with open(fresh / REPORT, newline="") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))]
    assert "'=HYPERLINK(\"evil\")_103_9003_" in cells  # the name prefix, kept for feedback names, written inert


def test_bad_archives_get_clear_errors(scratch, tmp_path):
    (tmp_path / "grades.zip").write_text("not a zip")
    with pytest.raises(CollectError, match="not a zip archive"):
        collect(tmp_path / "grades.zip", scratch)
    with pytest.raises(CollectError, match="release the assignment first"):
        collect(make_zip(tmp_path / "x.zip", CANVAS), tmp_path)
    assert cli.main(["collect", str(tmp_path / "missing.zip")]) == 2


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
    ("Doe, Jane", "Doe, Jane"), ("101", "101"), ("", ""),
    ("-2.5", "-2.5"), ("+3", "+3"), ("-1e-3", "-1e-3"), ("-", "-"),   # numbers, and Moodle's "no value"
    (-2.5, -2.5), (0, 0), (None, None),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_written_inert(cell, written):
    assert csv_safe.neutralize(cell) == written


def test_every_csv_writer_neutralizes(tmp_path):
    with open(tmp_path / "a.csv", "w", newline="") as f:
        csv_safe.writer(f).writerows([["=1+1", -4.0, "-4"]])
        csv_safe.dict_writer(f, ["@x", "n"]).writerows([{"@x": "+cmd", "n": -1}])
    with open(tmp_path / "a.csv", newline="") as f:
        assert list(csv.reader(f)) == [["'=1+1", "-4.0", "-4"], ["'+cmd", "-1"]]
