"""Autograde a whole class, N students at a time, into one gradebook.

Each student is graded by its own ``nbgrader autograde --student S`` process, so a crash, a hang
or a kernel death stays inside that student's process. The processes share nbgrader's SQLite
gradebook; it is switched to write-ahead logging (readers never block the writer) and every
connection waits up to a minute for the write lock instead of failing with "database is locked".
SQLite serialises the writes, so the gradebook stays consistent.

Resumable: nbgrader skips a submission whose autograded copy is newer than the submission, so
re-running after an interruption grades only what is left (``force=True`` regrades everything);
such students are reported as skipped. Each graded student's nbgrader log is kept beside the
results, in ``autograded/<student>/mlops/autograde.log`` (the course config keeps it out of feedback).

Before grading, the due date of the course config (``c.Deadline.duedate``) is written into the
gradebook, so nbgrader computes lateness and the late penalty (``autograder.deadlines``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder.course import ASSIGNMENT, ROOT, gradebook_url, nbgrader_env
from autograder.deadlines import apply_duedate, configured_duedate
from autograder.grading import SANDBOX_FAILED, preflight
from autograder.preprocessors import configured_credit

LOCK_WAIT_SECONDS = 60
LOG_NAME = "autograde.log"
SKIPPED = "Skipping existing assignment"  # what nbgrader logs when the autograded copy is up to date


@dataclass
class Outcome:
    student: str
    ok: bool
    seconds: float
    log: str
    skipped: bool = False


def enable_wal(root: Path) -> None:
    """Write-ahead logging is a property of the database file: set it once, it stays."""
    with sqlite3.connect(root / "gradebook.db", timeout=LOCK_WAIT_SECONDS) as db:
        db.execute("PRAGMA journal_mode=WAL")


def students(root: Path) -> list[str]:
    submitted = root / "submitted"
    return sorted(p.name for p in submitted.iterdir() if (p / ASSIGNMENT).is_dir()) if submitted.exists() else []


def grade_student(root: Path, student: str, force: bool = False, extra: tuple[str, ...] = ()) -> Outcome:
    db_url = f"{gradebook_url(root)}?timeout={LOCK_WAIT_SECONDS}"
    command = [sys.executable, "-m", "autograder.nbgrader_app", "autograde", ASSIGNMENT, "--student", student,
               f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url={db_url}", *extra]
    if force:
        command.append("--force")
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=nbgrader_env())
    log = proc.stdout + proc.stderr
    outcome = Outcome(student, proc.returncode == 0, time.perf_counter() - started, log, skipped=SKIPPED in log)
    results = root / "autograded" / student / ASSIGNMENT
    if not outcome.skipped and results.is_dir():
        (results / LOG_NAME).write_text(log)
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


def autograde_class(root: Path = ROOT, jobs: int | None = None, force: bool = False,
                    extra: tuple[str, ...] = (), report=print) -> list[Outcome]:
    """Grade every student in ``root/submitted``, ``jobs`` at a time."""
    names = students(root)
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"{root / 'gradebook.db'} does not exist: release the assignment first "
                                "(python -m autograder release)")
    configured_credit()  # a mistyped credit policy stops the batch here, not each student's run
    preflight(report)  # a sandbox that cannot start stops the batch here, before anyone is graded
    enable_wal(root)
    duedate = configured_duedate()
    if duedate is not None:
        apply_duedate(root, duedate)
    jobs = jobs or os.cpu_count() or 1
    outcomes = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_student, root, name, force, extra) for name in names]
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            if SANDBOX_FAILED in outcome.log:  # never a 0 for the machine's failure: stop the batch
                from autograder.sandbox import SandboxUnavailable

                pool.shutdown(cancel_futures=True)
                raise SandboxUnavailable(f"grading stopped at {outcome.student}:\n{outcome.log[-4000:]}")
            outcomes.append(outcome)
            report(f"[{done}/{len(names)}] {outcome.student}: {describe(outcome, root)}")
    skipped = sum(o.skipped for o in outcomes)
    report(f"graded {len(names) - skipped} students ({skipped} skipped) with {jobs} at a time "
           f"in {time.perf_counter() - started:.1f} s")
    return sorted(outcomes, key=lambda o: o.student)
