"""Autograde a whole class, N students at a time, into one gradebook.

Each of the ``jobs`` slots is a thread with its own grading process
(``autograder.classroom.slot_runner``), started once: it imports nbgrader once and autogrades the
students the thread takes from the shared queue one after another, in-process, with the settings
the ``nbgrader autograde --student S`` command line had; its one judge process keeps nothing of a
student for the next. No student code runs in it (that is the judge's sandbox), so what can end it
is the machine (killed, out of memory): the student it was grading is then reported failed, with
the reason at the end of their log, and the slot goes on with a new process. The slots share
nbgrader's SQLite gradebook; it is switched to write-ahead logging (readers never block the
writer) and every connection waits up to a minute for the write lock instead of failing with
"database is locked". SQLite serialises the writes, so the gradebook stays consistent.

Resumable: nbgrader skips a submission whose autograded copy is newer than the submission, so
re-running after an interruption grades only what is left (``force=True`` regrades everything);
such students are reported as skipped. nbgrader judges "newer" by ``timestamp.txt`` alone, so a
student whose submitted files changed after their grading (a resubmission collected from a later
download) is regraded here whatever the timestamps say (``changed_since_graded``). Each graded student's nbgrader log is kept beside the
results, in ``autograded/<student>/mlops/autograde.log`` (the course config keeps it out of feedback).

Before grading, the due date of the course config (``c.Deadline.duedate``) and the students'
extensions are written into the gradebook, so nbgrader computes lateness and the late penalty
(``autograder.classroom.deadlines``). ``only=[student]`` regrades one student (always, as ``--force``), and
keeps the log of the grading it replaces as ``autograde.previous.log``.

The batch ends with a summary (``summary``): graded, failed, late, tampered and missing notebooks,
each with where to look.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.authoring.course import ASSIGNMENT, ROOT, gradebook_url
from autograder.classroom.collect import REPORT as COLLECT_REPORT
from autograder.classroom.collect import missing_notebooks
from autograder.classroom.deadlines import apply_duedate, apply_extensions, configured_duedate, span
from autograder.classroom.slot_runner import SlotRunner, check_settings
from autograder.grading.engine import SANDBOX_FAILED, preflight
from autograder.grading.preprocessors import configured_credit

LOCK_WAIT_SECONDS = 60
LOG_NAME = "autograde.log"
PREVIOUS_LOG_NAME = "autograde.previous.log"
TAMPERING = Path("reports") / "tampering.jsonl"  # written by autograder.grading.preprocessors.ReportTampering


@dataclass
class Outcome:
    student: str
    ok: bool
    seconds: float
    log: str
    skipped: bool = False
    runner: int | None = None  # the pid of the slot's process that graded it


def enable_wal(root: Path) -> None:
    """Write-ahead logging is a property of the database file: set it once, it stays."""
    with sqlite3.connect(root / "gradebook.db", timeout=LOCK_WAIT_SECONDS) as db:
        db.execute("PRAGMA journal_mode=WAL")


def students(root: Path) -> list[str]:
    submitted = root / "submitted"
    return sorted(p.name for p in submitted.iterdir() if (p / ASSIGNMENT).is_dir()) if submitted.exists() else []


def changed_since_graded(root: Path, student: str) -> bool:
    """Whether a file in the student's submitted/ folder is newer than their last grading's log."""
    log = root / "autograded" / student / ASSIGNMENT / LOG_NAME
    if not log.exists():
        return False
    graded = log.stat().st_mtime
    return any(path.stat().st_mtime > graded for path in (root / "submitted" / student / ASSIGNMENT).iterdir())


def runner_settings(root: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """What each slot's nbgrader runs with: the course directory, its gradebook (waiting for the
    write lock), and the caller's ``--Class.trait=value`` settings."""
    db_url = f"{gradebook_url(root)}?timeout={LOCK_WAIT_SECONDS}"
    return [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db_url}", *extra]


def grade_student(runner: SlotRunner, root: Path, student: str, force: bool = False) -> Outcome:
    results = root / "autograded" / student / ASSIGNMENT
    previous = (results / LOG_NAME).read_text() if force and (results / LOG_NAME).exists() else None
    answer = runner.grade(student, force)
    outcome = Outcome(student, answer["ok"], answer["seconds"], answer["log"], answer["skipped"], answer["pid"])
    if not outcome.skipped and results.is_dir():
        (results / LOG_NAME).write_text(outcome.log)
        if previous is not None:
            (results / PREVIOUS_LOG_NAME).write_text(previous)
    return outcome


def describe(outcome: Outcome, root: Path) -> str:
    if outcome.skipped:
        return "skipped: already graded (--force regrades)"
    log = root / "autograded" / outcome.student / ASSIGNMENT / LOG_NAME
    where = log.relative_to(root) if log.exists() else "not kept: nbgrader made no results folder"
    if outcome.ok:
        return f"graded in {outcome.seconds:.1f} s (log: {where})"
    tail = "\n".join("      " + line for line in outcome.log.strip().splitlines()[-5:])
    return f"FAILED in {outcome.seconds:.1f} s (log: {where})\n{tail}"


class BatchError(ValueError):
    """Nobody was graded: the batch's input is wrong (the message says how to fix it)."""


def autograde_class(root: Path = ROOT, jobs: int | None = None, force: bool = False,
                    extra: tuple[str, ...] = (), report=print, only: list[str] | None = None) -> list[Outcome]:
    """Grade every student in ``root/submitted`` (or ``only`` these, regraded), ``jobs`` at a time;
    ``extra``: nbgrader settings (``--Class.trait=value``) for this batch."""
    check_settings(extra)
    names = students(root)
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"{root / 'gradebook.db'} does not exist: release the assignment first "
                                "(python -m autograder release)")
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise BatchError(f"no submission in submitted/ for {', '.join(unknown)}; the students are "
                             f"{', '.join(names) or 'none yet (run collect first)'}")
        names, force = sorted(set(only)), True
    configured_credit()  # a mistyped credit policy stops the batch here, not each student's run
    preflight(report)  # a sandbox that cannot start stops the batch here, before anyone is graded
    enable_wal(root)
    duedate = configured_duedate()
    if duedate is not None:
        apply_duedate(root, duedate)
    extended = apply_extensions(root, names)
    if extended:
        report(f"extensions: {', '.join(f'{s} (+{span(d)})' for s, d in sorted(extended.items()))}")
    jobs = jobs or os.cpu_count() or 1
    outcomes = []
    started, wall = time.perf_counter(), time.time()
    pending, finished, stop = queue.SimpleQueue(), queue.SimpleQueue(), threading.Event()
    for name in names:
        pending.put(name)

    def slot() -> None:
        """One job slot: its runner grades students off the shared queue until none is left."""
        runner = SlotRunner(runner_settings(root, extra))
        try:
            while not stop.is_set():
                try:
                    name = pending.get_nowait()
                except queue.Empty:
                    return
                finished.put(grade_student(runner, root, name, force or changed_since_graded(root, name)))
        except BaseException as error:  # the batch re-raises it, rather than wait for a student forever
            finished.put(error)
        finally:
            runner.close()

    slots = [threading.Thread(target=slot, name=f"slot-{n}") for n in range(min(jobs, len(names)))]
    for thread in slots:
        thread.start()
    try:
        for done in range(1, len(names) + 1):
            outcome = finished.get()
            if isinstance(outcome, BaseException):
                raise outcome
            if SANDBOX_FAILED in outcome.log:  # never a 0 for the machine's failure: stop the batch
                from autograder.grading.sandbox import SandboxUnavailable

                raise SandboxUnavailable(f"grading stopped at {outcome.student}:\n{outcome.log[-4000:]}")
            outcomes.append(outcome)
            report(f"[{done}/{len(names)}] {outcome.student}: {describe(outcome, root)}")
    finally:
        stop.set()  # the slots finish the students they are grading, and take no more
        for thread in slots:
            thread.join()
    outcomes.sort(key=lambda o: o.student)
    report(summary(root, outcomes, jobs, time.perf_counter() - started, since=wall))
    return outcomes


def late_students(root: Path, names: list[str]) -> dict[str, float]:
    """student -> hours late (after any extension), as nbgrader computed it, for the late ones."""
    late = {}
    with Gradebook(gradebook_url(root)) as gradebook:
        for student in names:
            try:
                seconds = gradebook.find_submission(ASSIGNMENT, student).total_seconds_late
            except MissingEntry:
                continue
            if seconds > 0:
                late[student] = seconds / 3600
    return late


def tampering_since(root: Path, since: float, names: list[str]) -> list[dict]:
    path = root / TAMPERING
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("time", 0) >= since and r.get("student") in names]


def summary(root: Path, outcomes: list[Outcome], jobs: int, seconds: float, since: float) -> str:
    """What a batch did, and what needs the instructor: failed, late, tampered, missing notebooks."""
    names = [o.student for o in outcomes]
    failed = [o.student for o in outcomes if not o.ok]
    skipped = [o.student for o in outcomes if o.skipped]
    graded = len(outcomes) - len(failed) - len(skipped)
    lines = [f"summary: {len(outcomes)} student{'s' if len(outcomes) != 1 else ''} in {seconds:.1f} s, {jobs} at a time: {graded} graded, "
             f"{len(failed)} failed, {len(skipped)} skipped (already graded; --force regrades)"]
    if failed:
        lines.append(f"  failed: {', '.join(failed)}: their grades are incomplete; the reason is at the end of "
                     f"autograded/<student>/{ASSIGNMENT}/{LOG_NAME} (regrade one: autograde --student ID)")
    late = late_students(root, names)
    if late:
        lines.append(f"  late: {', '.join(f'{s} ({h:.1f} h)' for s, h in sorted(late.items()))}: the late policy "
                     "applied; export shows hours and penalty per student")
    tampered = tampering_since(root, since, names)
    if tampered:
        cells = sorted({f"{r['student']} {r['notebook']}/{r['cell']} {r['change']}" for r in tampered})
        lines.append(f"  tampered (read-only cells edited or deleted, restored before grading): {'; '.join(cells)}; "
                     f"details in {TAMPERING}")
    missing = {s: nbs for s, nbs in missing_notebooks(root).items() if s in names}
    if missing:
        lines.append(f"  missing notebooks (scored 0): " + "; ".join(f"{s}: {', '.join(nbs)}" for s, nbs in missing.items())
                     + f"; see {COLLECT_REPORT} for what the downloads held")
    if len(lines) == 1:
        lines.append("  nothing else to look at: no failure, no late or tampered submission, no missing notebook")
    return "\n".join(lines)
