"""Flag answers that are unusually similar: between students, and to the reference solution.

Each task's answer cell (matched by its nbgrader ``grade_id``) is fingerprinted with copydetect's
winnowing, the algorithm of MOSS: the code is tokenised and names are replaced by placeholders
(so renaming variables does not hide a copy), then hashes of every k-character window are
winnowed. The released cell (signature, docstring, ``raise NotImplementedError()``) is boilerplate:
its fingerprints are removed, so what every student was given never counts as shared.

For each pair of students, copydetect reports the share of each answer's fingerprinted code found
in the other; a pair is flagged when either share reaches ``threshold`` (so padding a copy with
extra code does not hide it). Independently written answers to the same task share common idioms
only: about 15-20% on ``compare_metrics``, against 100% for a copy with every name changed. An
answer is flagged against the reference solution the same way. Answers whose code, once the
boilerplate is removed, is shorter than ``min_chars`` are too short to tell a copy from the
obvious answer and are listed as such.

Cost: about 0.6 ms of CPU per pair for the longest task (``AliasHistory``), so a class of 100
(4,950 pairs) takes on the order of a minute for all tasks.

A flag is a reason to read two answers side by side, not a verdict. The report per task lists the
flagged pairs, their shares and the shared lines; ``summary.csv`` lists every pair compared.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import nbformat
from copydetect import CodeFingerprint, compare_files

from autograder.authoring.course import ASSIGNMENT, ROOT
from autograder.classroom import csv_safe
from autograder.grading.engine import nbgrader_meta

K = 25          # copydetect's default noise threshold: matches shorter than this are ignored
WINDOW = 1      # winnowing window; 1 keeps every fingerprint (answers are short)
THRESHOLD = 0.8
MIN_CHARS = 60  # filtered characters of non-boilerplate code below which an answer is not judged
REFERENCE = "(reference solution)"


@dataclass
class Pair:
    notebook: str
    task: str
    a: str
    b: str
    share_a: float       # of a's fingerprinted code, the part also in b
    share_b: float
    flagged: bool
    shared_lines: list[str]


def answer_cells(nb) -> dict[str, str]:
    """grade_id -> source of every answer (solution) cell."""
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade_id")}


def fingerprint(name: str, code: str, boilerplate: list[int]) -> CodeFingerprint:
    return CodeFingerprint(f"{name}.py", K, WINDOW, boilerplate=boilerplate, fp=io.StringIO(code), language="python")


def shared(code: str, slices, stub: str) -> list[str]:
    """The lines of ``code`` that copydetect's slices (character offsets) cover, numbered, except
    lines of the released stub (a match that starts at the signature covers the docstring too)."""
    given = {line.strip() for line in stub.splitlines()}
    covered = set()
    for start, end in zip(*slices):
        first = code.count("\n", 0, int(start))
        last = code.count("\n", 0, max(int(start), int(end) - 1))
        covered.update(range(first, last + 1))
    lines = code.splitlines()
    return [f"{n + 1:4d}  {lines[n]}" for n in sorted(covered) if n < len(lines) and lines[n].strip() not in given]


def compare(notebook: str, task: str, answers: dict[str, str], stub: str, reference: str | None,
            threshold: float = THRESHOLD, min_chars: int = MIN_CHARS) -> tuple[list[Pair], list[str]]:
    """(every pair compared, the students whose answer is too short to judge) for one task."""
    boilerplate = list(fingerprint("stub", stub, []).hashes)
    prints = {name: fingerprint(name, code, boilerplate) for name, code in answers.items()}
    too_short = sorted(name for name, fp in prints.items() if fp.token_coverage < min_chars)
    judged = sorted(name for name in prints if name not in too_short)
    candidates = list(itertools.combinations(judged, 2))
    if reference is not None:
        prints[REFERENCE] = fingerprint(REFERENCE, reference, boilerplate)
        candidates += [(name, REFERENCE) for name in judged]
    pairs = []
    for a, b in candidates:
        _, (share_a, share_b), (slices_a, _) = compare_files(prints[a], prints[b])
        flagged = max(share_a, share_b) >= threshold
        lines = shared(prints[a].raw_code, slices_a, stub) if flagged else []
        pairs.append(Pair(notebook, task, a, b, round(float(share_a), 3), round(float(share_b), 3), flagged, lines))
    return pairs, too_short


def submissions(root: Path, notebook: str) -> dict[str, nbformat.NotebookNode]:
    found = {}
    for path in sorted((root / "submitted").glob(f"*/{ASSIGNMENT}/{notebook}.ipynb")):
        try:
            found[path.parent.parent.name] = nbformat.read(path, as_version=4)
        except Exception:  # nbformat raises JSON, validation and encoding errors alike; collect reported it
            continue
    return found


def check_class(root: Path = ROOT, out: Path | None = None, threshold: float = THRESHOLD,
                min_chars: int = MIN_CHARS) -> list[Pair]:
    """Compare every task's answers in ``root/submitted``; write one report per task and summary.csv."""
    out = out or root / "reports" / "similarity"
    out.mkdir(parents=True, exist_ok=True)
    everything = []
    for source_path in sorted((root / "source" / ASSIGNMENT).glob("*.ipynb")):
        notebook = source_path.stem
        references = answer_cells(nbformat.read(source_path, as_version=4))
        stubs = answer_cells(nbformat.read(root / "assignments" / ASSIGNMENT / source_path.name, as_version=4))
        by_student = {s: answer_cells(nb) for s, nb in submissions(root, notebook).items()}
        for task, reference in references.items():
            answers = {s: cells[task] for s, cells in by_student.items() if task in cells}
            if not answers:
                continue
            pairs, too_short = compare(notebook, task, answers, stubs.get(task, ""), reference, threshold, min_chars)
            write_task_report(out / f"{notebook}-{task}.md", notebook, task, pairs, too_short, threshold)
            everything += pairs
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv_safe.writer(f)
        writer.writerow(["notebook", "task", "a", "b", "share of a", "share of b", "flagged"])
        writer.writerows([p.notebook, p.task, p.a, p.b, p.share_a, p.share_b, p.flagged] for p in everything)
    return everything


def write_task_report(path: Path, notebook: str, task: str, pairs: list[Pair], too_short: list[str],
                      threshold: float) -> None:
    flagged = sorted((p for p in pairs if p.flagged), key=lambda p: -max(p.share_a, p.share_b))
    lines = [f"# {notebook} / {task}", "",
             f"{len(pairs)} pairs compared; {len(flagged)} flagged (at least {threshold:.0%} of one answer found in the other)."]
    if too_short:
        lines += ["", f"Too short to judge: {', '.join(too_short)}."]
    for pair in flagged:
        lines += ["", f"## {pair.a} and {pair.b}: {pair.share_a:.0%} of {pair.a}'s answer, {pair.share_b:.0%} of {pair.b}'s",
                  "", f"Lines of {pair.a}'s answer found in {pair.b}'s:", "", "```python", *pair.shared_lines, "```"]
    path.write_text("\n".join(lines) + "\n")
