"""Check a notebook as the grader will, and package it under the name the grader expects.

The last cell of every course notebook runs ``check_and_package("NN_name")``; from a terminal::

    python -m tinytorch.submission 01_registry.ipynb        # or "Copy of 01_registry.ipynb", ...

What it does, without nbgrader (students do not install it):

1. runs the notebook from the top in a fresh kernel, as the grader does, and reports every
   visible test that failed and every graded or set-up cell that raised; a demo cell that raised
   is listed apart (the grader does not run demos, so it costs no points);
2. checks what nbgrader checks when it grades: each task's answer cell and test cell are present
   with their grading metadata intact, no answer is still ``raise NotImplementedError()``, no
   read-only cell was edited (the grader restores it, so edits there are lost), no cell id is
   duplicated (a copied cell copies its metadata);
3. writes ``submission/NN_name.ipynb``: the exact name the instructor's collection expects, whatever
   the file was called (Colab's "Copy of ...", a browser's "(1)"). In Colab it also downloads it.

Upload that file to your course's LMS. Problems are listed; the file is written anyway, since a
partly finished notebook still earns the points of its finished tasks.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

OUT_DIR = Path("submission")
SKIP_ENV = "TINYTORCH_SUBMISSION_CHECK"  # set while the check runs a notebook: its last cell must not recurse
UNANSWERED = "raise NotImplementedError()"
DEMO_PREFIX = "demo_"  # a demo cell's grade id starts so (autograder.authoring.notebooks, not in the student edition)
COURSE_NAME = re.compile(r"(?<![0-9A-Za-z])(\d\d_[a-z_]+?)(?:$|[ (\-]|_?\d)")


@dataclass
class Report:
    notebook: str
    problems: list[str] = field(default_factory=list)  # what costs points when graded
    demo_failures: list[str] = field(default_factory=list)  # demos that raised: not graded
    tests_passed: list[str] | None = None  # None: the notebook was not run
    written: Path | None = None

    def __str__(self) -> str:
        ran = "not run" if self.tests_passed is None else f"{len(self.tests_passed)} visible tests passed"
        lines = [f"{self.notebook}: {ran}"]
        if self.problems:
            lines.append("  graded problems (each costs points):")
            lines += [f"  - {problem}" for problem in self.problems]
        else:
            lines.append("  no graded problems found")
        if self.demo_failures:
            lines.append("  demos that stopped (not graded: the grader skips demos):")
            lines += [f"  - {failure}" for failure in self.demo_failures]
        if self.written:
            lines.append(f"upload {self.written}")
        return "\n".join(lines)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def flags(cell) -> tuple[bool, bool, bool]:
    """(grade, solution, locked) as nbgrader reads them: a test cell is always read-only, an answer never."""
    m = meta(cell)
    grade, solution = bool(m.get("grade", False)), bool(m.get("solution", False))
    return grade, solution, False if solution else True if grade else bool(m.get("locked", False))


def checksum(cell) -> str:
    """nbgrader's checksum of a graded or read-only cell (nbgrader.utils.compute_checksum)."""
    m = meta(cell)
    grade, solution, locked = flags(cell)
    digest = hashlib.md5()
    for part in [cell.source, cell.cell_type, str(grade), str(solution), str(locked), m["grade_id"]]:
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(m["points"])).encode("utf-8"))
    return digest.hexdigest()


def validate(nb) -> list[str]:
    """What nbgrader would find wrong with the cells of ``nb`` (before running it)."""
    problems, seen = [], set()
    graded = [c for c in nb.cells if meta(c)]
    for cell in graded:
        m = meta(cell)
        if "grade_id" not in m or "schema_version" not in m:
            problems.append(f"a cell has damaged grading metadata (no grade_id or schema_version): {cell.source[:60]!r}")
            continue
        if m["grade_id"] in seen:
            problems.append(f"two cells have the id {m['grade_id']!r}: a copied cell copies its id; "
                            "delete the copy (Edit > Delete cells)")
        seen.add(m["grade_id"])
        _, solution, locked = flags(cell)
        if solution and cell.cell_type == "markdown":  # a written answer, graded by hand
            if m.get("checksum") == checksum(cell):
                problems.append(f"written answer {m['grade_id']} is not answered yet (your instructor grades it by hand)")
        elif solution and (UNANSWERED in cell.source or m.get("checksum") == checksum(cell)):
            problems.append(f"task {m['grade_id']} is not finished: its cell still has {UNANSWERED}")
        elif locked and m.get("checksum") not in (None, checksum(cell)):
            problems.append(f"read-only cell {m['grade_id']} was edited: the grader restores the original, "
                            "so your change there is lost (put your code in the task cells)")
    tasks = {meta(c)["grade_id"] for c in graded if meta(c).get("solution") and "grade_id" in meta(c)}
    tests = {meta(c)["grade_id"].removeprefix("test_") for c in graded if meta(c).get("grade") and "grade_id" in meta(c)}
    for task in sorted(tests - tasks):
        problems.append(f"the answer cell of task {task} is missing (deleted?): that task scores zero; "
                        "download the notebook again and copy your answers into it")
    for task in sorted(tasks - tests):
        problems.append(f"the test cell of task {task} is missing: the grader puts it back, but you cannot check "
                        "your answer without it")
    return problems


def run(nb, workdir: Path, timeout: int = 300) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Run ``nb`` top to bottom in a fresh kernel: ([(cell, error name, message)], the visible tests that passed)."""
    from jupyter_client.kernelspec import find_kernel_specs
    from nbclient import NotebookClient

    executed = nbformat.from_dict(nb)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")  # the kernel the student chose
    kernel = kernel if kernel in find_kernel_specs() else "python3"
    os.environ[SKIP_ENV] = "1"  # the kernel inherits it, so this notebook's own last cell does nothing
    try:
        NotebookClient(executed, timeout=timeout, kernel_name=kernel, allow_errors=True,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        os.environ.pop(SKIP_ENV, None)
    errors, passed = [], []
    for index, cell in enumerate(executed.cells):
        raised = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        name = meta(cell).get("grade_id", f"cell {index + 1}")
        if raised:
            errors.append((name, raised[0]["ename"], (raised[0]["evalue"] or "").strip().split("\n")[0][:160]))
        elif meta(cell).get("grade") and cell.cell_type == "code":
            passed.append(name)
    return errors, passed


def check(nb, name: str, out_dir: Path = OUT_DIR, execute: bool = True) -> Report:
    """Validate and (optionally) run ``nb``, then write it to ``out_dir/name.ipynb``."""
    report = Report(name, validate(nb))
    if execute:
        errors, report.tests_passed = run(nb, Path.cwd())
        unfinished = {f"test_{meta(c)['grade_id']}" for c in nb.cells
                      if meta(c).get("solution") and UNANSWERED in c.source}
        for cell, error, message in errors:
            if error == "NotImplementedError" and cell in unfinished:
                continue  # already reported: the task is not finished
            what = "visible test" if cell.startswith("test_") else "cell"
            line = f"{what} {cell} raised {error}" + (f": {message}" if message else "")
            (report.demo_failures if cell.startswith(DEMO_PREFIX) else report.problems).append(line)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.written = out_dir / f"{name}.ipynb"
    nbformat.write(nb, report.written)
    return report


def find_notebook(name: str, folder: Path) -> Path:
    """The most recently saved notebook in ``folder`` whose file name contains ``name``."""
    found = sorted((p for p in folder.glob(f"*{name}*.ipynb") if p.parent.name != OUT_DIR.name),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no notebook named like {name}.ipynb in {folder}: run this from the folder "
                                f"that holds it, or pass its path: python -m tinytorch.submission PATH")
    return found[-1]


def colab_notebook():
    """The notebook open in Colab (with unsaved edits), or None outside Colab."""
    try:
        from google.colab import _message  # noqa: PLC0415 - only in Colab
    except ImportError:
        return None
    return nbformat.from_dict(_message.blocking_request("get_ipynb", timeout_sec=60)["ipynb"])


def check_and_package(name: str) -> None:
    """The notebooks' last cell: check this notebook as the grader will, write the file to upload
    and print the report once (it returns nothing, so the cell shows no second copy)."""
    if os.environ.get(SKIP_ENV) or os.environ.get("NBGRADER_EXECUTION"):
        return  # this notebook is being checked or graded right now
    nb = colab_notebook()
    if nb is None:
        path = find_notebook(name, Path.cwd())
        nb = nbformat.read(path, as_version=4)
        age = time.time() - path.stat().st_mtime
        print(f"checking {path.name}, last saved {age:.0f} s ago (save first: File > Save, or Ctrl-S)")
    if any("### BEGIN SOLUTION" in cell.source for cell in nb.cells):
        print("this is the instructor's source notebook, with the solutions: nothing to package")
        return
    print("running it from the top in a fresh kernel, as the grader will (up to a minute)...")
    report = check(nb, name)
    print(report)
    if "google.colab" in sys.modules:
        from google.colab import files  # noqa: PLC0415 - only in Colab
        files.download(str(report.written))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytorch.submission", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path, help="the notebook to check, e.g. 'Copy of 01_registry.ipynb'")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write it (default: submission/)")
    parser.add_argument("--no-run", action="store_true", help="only validate the cells; do not run the notebook")
    args = parser.parse_args(argv)
    name = course_name(args.notebook.stem)
    if name is None:
        print(f"error: {args.notebook.name} is not named after a course notebook (NN_name.ipynb, e.g. 01_registry.ipynb)")
        return 2
    report = check(nbformat.read(args.notebook, as_version=4), name, args.out, execute=not args.no_run)
    print(report)
    return 1 if report.problems else 0


def course_name(stem: str) -> str | None:
    """``Copy of 01_registry (1)`` -> ``01_registry``: the NN_name a downloaded copy stands for."""
    match = COURSE_NAME.search(stem.strip())
    return match[1] if match else None


if __name__ == "__main__":
    sys.exit(main())
