"""Instructor commands, run from the repository root:

    python -m autograder build        templates -> source notebooks (source/mlops/*.ipynb)
    python -m autograder release      build, then nbgrader generate_assignment -> assignments/mlops
    python -m autograder verify       fail if source/ or assignments/ differ from a fresh build
    python -m autograder check NB [--task T] [--notebook PATH]
                                      run one notebook's hidden checks (default: against the solution)
    python -m autograder autograde [--jobs N] [--force] [--student ID ...] [--roster ROSTER.csv]
                                      nbgrader autograde every submission in submitted/, N at a time;
                                      resumable: already graded submissions are skipped; ends with a
                                      summary. Exit 0: all graded; 1: a student's grading failed
                                      (the summary says who); 2: nobody graded (the message says why)
    python -m autograder feedback     nbgrader generate_feedback (hidden checks' source never shown)
    python -m autograder export [--out grades.csv] [--roster ROSTER.csv] [--assignment NAME_OR_ID] [--lms-dir grades]
                                      grades with a column per task; with the LMS's roster also the
                                      LMS's own file filled (grades/canvas-grades.csv: the assignment's
                                      column; grades/moodle-grading-worksheet.csv) and grades/<lms>-feedback.zip
    python -m autograder collect ARCHIVE.zip [--lms canvas|moodle] [--timestamps FILE]
                                      import an LMS download into submitted/; every file's fate in
                                      reports/collect.csv (see `collect --help` for the file names);
                                      exit 1: some file or student needs a look (it prints which)
    python -m autograder similarity [--threshold 0.8]
                                      flag answers unusually similar between students or to the
                                      reference solution; a report per task in reports/similarity/
    python -m autograder selfcheck [NB ...]
                                      grade synthetic submissions and compare with expected scores
    python -m autograder mutation [NB ...] [--quick] [--record] [--jobs N]
                                      grade the answers' mutants: the hidden checks must kill every
                                      one not recorded as equivalent (--quick: a fixed sample, for CI)
    python -m autograder publish --out DIR [--reveal NB ...] [--repo-url URL]
                                      write the student repository (no answers, no hidden checks);
                                      --reveal adds the reference answers of notebooks past their deadline;
                                      --repo-url points the buttons, set-up cells, README and book at URL
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.authoring import course, notebooks
from autograder.grading.engine import judge_notebook, preflight
from autograder.proof import selfcheck


def cmd_build(args) -> int:
    for path in notebooks.build_all():
        print(f"built {path.relative_to(course.ROOT)}")
    return 0


def cmd_release(args) -> int:
    cmd_build(args)
    try:
        released = course.release(quiet=True)
    except course.CourseError as error:
        if "submissions associated" not in str(error):
            raise
        print("error: gradebook.db already holds submissions of this assignment, and nbgrader will not change\n"
              "an assignment's cells once students have submitted (it would orphan their grades).\n"
              "Keep the cell list as released (edit text, not cells), or, in a development copy only,\n"
              "move gradebook.db, submitted/ and autograded/ aside and release again.")
        return 1
    for path in sorted(released.glob("*.ipynb")):
        print(f"released {path.relative_to(course.ROOT)}")
    return 0


def cmd_verify(args) -> int:
    """The committed source and release must equal what the templates and nbgrader produce now."""
    stale = []
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        root = Path(tmp)
        built = notebooks.build_all(root / "source" / course.ASSIGNMENT)
        for path in built:
            committed = notebooks.SOURCE / path.name
            if not committed.exists() or committed.read_text() != path.read_text():
                stale.append(f"source/{course.ASSIGNMENT}/{path.name}")
        released = course.release(root, quiet=True)
        for path in sorted(released.glob("*")):
            committed = course.ROOT / "assignments" / course.ASSIGNMENT / path.name
            if not committed.exists() or committed.read_bytes() != path.read_bytes():
                stale.append(f"assignments/{course.ASSIGNMENT}/{path.name}")
        extra = {p.name for p in (course.ROOT / "assignments" / course.ASSIGNMENT).glob("*")} - {p.name for p in released.glob("*")}
        stale += [f"assignments/{course.ASSIGNMENT}/{name} (not produced by nbgrader)" for name in sorted(extra)]
    for item in stale:
        print(f"out of date: {item}")
    if stale:
        print("run `python -m autograder release` and commit the result")
        return 1
    print(f"source and release are in sync ({len(built)} notebooks)")
    return 0


def cmd_check(args) -> int:
    path = Path(args.notebook) if args.notebook else notebooks.SOURCE / f"{args.name}.ipynb"
    preflight()
    results = judge_notebook(nbformat.read(path, as_version=4), args.name, tasks=[args.task] if args.task else None)
    if results.get("error"):
        print(f"error: {results['error']}")
        return 1
    for cell, output in results["cells"].items():
        if output["error"]:
            print(f"cell {cell} raised {output['error']['ename']}: {output['error']['evalue']}")
    failed = 0
    for task, entry in results["tasks"].items():
        print(f"{task}: {entry['passed']}/{entry['total']}")
        for check in entry["checks"]:
            print(f"  {'ok  ' if check['passed'] else 'FAIL'} {check['name']}: {check['doc']}")
            if not check["passed"]:
                print(f"       {check['message']}")
        failed += entry["total"] - entry["passed"]
    silent = [t for t, ok in results["visible"].items() if ok and t not in results["tasks"] and args.task in (None, t)]
    for task in silent:  # e.g. the checks file failed to import: pytest collected nothing
        print(f"{task}: no hidden check ran; `pytest autograder/checks/test_{args.name}.py` shows why")
    print(f"{results['seconds']:.1f} s")
    failed += len(silent)
    return 1 if failed else 0


def cmd_autograde(args) -> int:
    from autograder.classroom.batch import BatchError, autograde_class
    from autograder.classroom.roster import RosterError, names_into_gradebook, read_roster
    from autograder.grading.credit import CreditError

    try:
        for path in args.roster:
            names_into_gradebook(course.ROOT, read_roster(path))
        outcomes = autograde_class(jobs=args.jobs, force=args.force, only=args.student or None)
    except (CreditError, BatchError, RosterError) as error:
        print(f"error: {error}")
        return 2
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_feedback(args) -> int:
    course.nbgrader("generate_feedback", course.ASSIGNMENT)
    return 0


def cmd_export(args) -> int:
    from autograder.classroom.grades import export_csv
    from autograder.classroom.lms_export import export_lms
    from autograder.classroom.roster import RosterError, names_into_gradebook, read_roster

    try:
        rosters = [read_roster(path) for path in args.roster]
        names = {student: person.name for roster in rosters for student, person in roster.items()}
        rows = export_csv(course.ROOT, Path(args.out), names)
        print(f"wrote {args.out}: {rows} students, one column per task")
        unknown = None
        for path, roster in zip(args.roster, rosters):
            names_into_gradebook(course.ROOT, roster)
            written = export_lms(course.ROOT, path, Path(args.lms_dir), args.assignment)
            for file in written.files:
                print(f"wrote {file}")
            for warning in written.warnings:
                print(f"warning: {warning}")
            if written.not_graded:
                print(f"on the roster but not graded: {', '.join(written.not_graded)}")
            unknown = set(written.not_in_roster) if unknown is None else unknown & set(written.not_in_roster)
    except RosterError as error:
        print(f"error: {error}")
        return 2
    if unknown:
        print(f"graded but on no roster (left out of the LMS files): {', '.join(sorted(unknown))}")
    return 0


def cmd_collect(args) -> int:
    from autograder.classroom.collect import REPORT, CollectError, collect, exit_status, missing_notebooks, table

    try:
        fates = collect(Path(args.archive), lms=args.lms, timestamps=args.timestamps)
    except CollectError as error:
        print(f"error: {error}")
        return 2
    missing = missing_notebooks(course.ROOT)
    print(table(fates, missing))
    print(f"report: {REPORT}")
    status, why = exit_status(fates, missing)
    print(why)
    return status


def cmd_similarity(args) -> int:
    from autograder.classroom.similarity import THRESHOLD, check_class

    out = Path(args.out) if args.out else course.ROOT / "reports" / "similarity"
    pairs = check_class(course.ROOT, out, threshold=args.threshold or THRESHOLD)
    for pair in sorted((p for p in pairs if p.flagged), key=lambda p: (p.notebook, p.task, p.a, p.b)):
        print(f"{pair.notebook}/{pair.task}: {pair.a} ~ {pair.b} ({pair.share_a:.0%} / {pair.share_b:.0%})")
    print(f"{sum(p.flagged for p in pairs)} of {len(pairs)} pairs flagged; a report per task in {out}")
    return 0


def cmd_selfcheck(args) -> int:
    return 0 if selfcheck.run(args.notebook or None) else 1


def cmd_mutation(args) -> int:
    from autograder.proof import mutation

    return mutation.run(args.notebook or mutation.notebook_names(), quick=args.quick, jobs=args.jobs, record=args.record)


def cmd_publish(args) -> int:
    from autograder.authoring.publish import publish

    try:
        before = notebooks.repository_url()
        publish(Path(args.out), reveal=args.reveal, repo_url=args.repo_url)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    print(f"published the student edition to {args.out}" + (f", revealing {', '.join(args.reveal)}" if args.reveal else ""))
    if notebooks.repository_url() != before:
        print(f"_config.yml now names {notebooks.repository_url()} (was {before}) and the notebooks were rebuilt for it:\n"
              "commit them, and rebuild and deploy the book (bash .ci/book) so its buttons and pages point there too")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ["build", "release", "verify", "feedback"]:
        sub.add_parser(name)
    autograde = sub.add_parser("autograde")
    autograde.add_argument("--jobs", type=int, default=None, help="students graded at once (default: CPU count)")
    autograde.add_argument("--force", action="store_true", help="regrade submissions already graded")
    autograde.add_argument("--student", action="append", default=[], metavar="ID",
                           help="regrade only this student (repeatable); their previous log is kept as "
                                "autograde.previous.log")
    autograde.add_argument("--roster", type=Path, action="append", default=[],
                           help="the LMS roster (as for export): students' names and emails into the gradebook, "
                                "so formgrader shows them")
    selfcheck_parser = sub.add_parser("selfcheck")
    selfcheck_parser.add_argument("notebook", nargs="*", help="only these notebooks, e.g. 01_registry")
    mutation_parser = sub.add_parser("mutation", help="mutation testing of the hidden checks")
    mutation_parser.add_argument("notebook", nargs="*", help="only these notebooks, e.g. 01_registry")
    mutation_parser.add_argument("--quick", action="store_true", help="a fixed sample of mutants per notebook")
    mutation_parser.add_argument("--record", action="store_true", help="record the scores as the floor CI holds")
    mutation_parser.add_argument("--jobs", type=int, default=2, help="mutants graded at once (default 2)")
    check = sub.add_parser("check")
    check.add_argument("name", help="notebook name, e.g. 01_registry")
    check.add_argument("--task", help="only this task's checks")
    check.add_argument("--notebook", help="grade this .ipynb instead of the solution")
    from autograder.classroom.collect import __doc__ as collect_doc

    collect_parser = sub.add_parser("collect", help="import a Canvas or Moodle zip of submissions into submitted/",
                                    description=collect_doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    collect_parser.add_argument("archive", help="the zip downloaded from the LMS")
    collect_parser.add_argument("--lms", choices=["auto", "canvas", "moodle"], default="auto",
                                help="whose file names to read (default: auto, both)")
    collect_parser.add_argument("--timestamps", type=Path, default=None,
                                help="submission times: Moodle's grading worksheet, or a CSV with student,submitted "
                                     "columns; nbgrader computes lateness from them")
    publish_parser = sub.add_parser("publish", help="write the student edition of the course repository")
    publish_parser.add_argument("--out", required=True,
                                help="the student repository's folder (a clone's .git is kept, everything else replaced)")
    publish_parser.add_argument("--reveal", nargs="*", default=[], metavar="NB",
                                help="notebooks whose reference answers to release, e.g. 01_registry")
    publish_parser.add_argument("--repo-url", default=None, metavar="URL",
                                help="the student repository's URL (default: repository: url: in _config.yml); "
                                     "a new one is written there and the notebooks rebuilt")
    similarity = sub.add_parser("similarity", help="flag answers unusually similar to another student's or to the reference")
    similarity.add_argument("--threshold", type=float, default=None,
                            help="flag a pair when this share of one answer is found in the other (default 0.8)")
    similarity.add_argument("--out", default=None, help="report folder (default: reports/similarity)")
    export = sub.add_parser("export", help="grades.csv, and with --roster the files the LMS imports")
    export.add_argument("--out", default="grades.csv")
    export.add_argument("--roster", type=Path, action="append", default=[],
                        help="Canvas's gradebook export or Moodle's grading worksheet: adds names, and fills "
                             "the LMS's own file for import and a feedback zip for bulk upload (repeatable)")
    export.add_argument("--assignment", default=None, metavar="NAME_OR_ID",
                        help="the Canvas roster's assignment column to fill, when it has several")
    export.add_argument("--lms-dir", default="grades", help="where the LMS files go (default: grades/)")
    args = parser.parse_args(argv)
    from autograder.grading.sandbox import SandboxUnavailable

    try:
        return globals()[f"cmd_{args.command}"](args)
    except SandboxUnavailable as error:  # preflight, or a sandbox lost mid-batch: nothing recorded for anyone after
        print(f"error: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
