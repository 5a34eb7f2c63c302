"""The student edition, used as a student would: installed into a fresh virtual environment with
its own requirements.txt alone, then every release notebook run in a kernel of that environment.

Slow (a venv install and twelve notebook runs, about two minutes): the fast checks of the
published tree are in tests/test_publish.py. Wheels come from a local wheelhouse
(``$TINYTORCH_WHEELHOUSE``, default ``~/.cache/tinytorch-mlops/wheels``), filled with
``pip download`` the first time, so later runs install offline.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring.notebooks import SOURCE
from autograder.authoring.publish import graded_pieces, publish
from tinytorch.export import ANSWERS_FOLDER
from tinytorch.submission import SKIP_ENV

pytestmark = pytest.mark.slow

WHEELHOUSE = Path(os.environ.get("TINYTORCH_WHEELHOUSE", Path.home() / ".cache" / "tinytorch-mlops" / "wheels"))
KERNEL_PACKAGES = ["ipykernel==7.4.0"]  # what Binder's and Colab's Jupyter add to the student's packages
BUILD_PACKAGES = ["setuptools>=77", "wheel"]  # `-e .` is built in an isolated environment
NAMED = "is not written yet"


def clean_env() -> dict:
    """This process's environment without what points at the course repository's tinytorch."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "TINYTORCH_ANSWERS"}}


def pip(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=900, env=clean_env())


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """(published tree, venv): the tree installed with its requirements.txt and a kernel."""
    root = tmp_path_factory.mktemp("edition")
    tree = root / "student-repo"
    publish(tree)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    offline = ["--no-index", "--find-links", str(WHEELHOUSE)]
    wanted = ["-r", "requirements.txt", *KERNEL_PACKAGES]
    installed = pip(venv, "install", *offline, *wanted, cwd=tree)
    if installed.returncode != 0:
        pinned = [line for line in (tree / "requirements.txt").read_text().splitlines()
                  if line and not line.startswith(("#", "-e"))]
        fetched = pip(venv, "download", "-d", str(WHEELHOUSE), *pinned, *KERNEL_PACKAGES, *BUILD_PACKAGES, cwd=tree)
        if fetched.returncode != 0:
            pytest.skip(f"no wheelhouse at {WHEELHOUSE} and no package index: {fetched.stderr[-500:]}")
        installed = pip(venv, "install", *offline, *wanted, cwd=tree)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    kernels = root / "jupyter"
    spec = kernels / "kernels" / "student-edition"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student edition", "language": "python"}))
    return tree, venv, kernels


def run_notebook(nb, student, monkeypatch, cwd: Path) -> list[tuple[str, str, str]]:
    """Execute ``nb`` in the student environment; (cell, error name, message) of each failed cell."""
    tree, venv, kernels = student
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("TINYTORCH_ANSWERS", raising=False)
    monkeypatch.setenv(SKIP_ENV, "1")  # the last cell's check-and-package step: tests/test_submission.py
    NotebookClient(nb, timeout=300, kernel_name="student-edition", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return [(cell.metadata.get("nbgrader", {}).get("grade_id", str(i)), out.ename, out.evalue)
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def release_notebooks(tree: Path) -> list[Path]:
    return sorted((tree / "assignments" / "mlops").glob("*.ipynb"))


def test_the_package_imports_from_the_published_tree(student):
    tree, venv, _ = student
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import tinytorch; print(tinytorch.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True, env=clean_env()).stdout.strip()
    assert Path(where) == tree / "tinytorch" / "__init__.py"
    listed = pip(venv, "list", "--format=freeze", cwd=tree).stdout
    assert not any(name in listed.lower() for name in ("nbgrader", "pytest", "jupyter-book"))


def test_a_colab_install_carries_the_task_table_and_the_dataset(student, tmp_path):
    """Colab installs from git without -e: the wheel must hold what the student edition reads."""
    import zipfile

    tree, venv, _ = student
    built = pip(venv, "wheel", "--no-deps", "--no-index", "--find-links", str(WHEELHOUSE), "-w", str(tmp_path),
                str(tree), cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert {"tinytorch/tasks.json", "tinytorch/export.py", "tinytorch/datasets/digits.csv.gz"} <= set(names)


def test_untouched_release_runs_until_a_cell_needs_an_unfinished_task(student, monkeypatch, tmp_path):
    """Every failing cell fails with NotImplementedError: the release's own unfinished answer
    (``raise NotImplementedError()``) or the library's stub, whose message names the task."""
    tree, _, _ = student
    for path in release_notebooks(tree):
        nb = nbformat.read(path, as_version=4)
        errors = run_notebook(nb, student, monkeypatch, tmp_path)
        obscure = [e for e in errors if e[1] != "NotImplementedError" and NAMED not in e[2]]
        assert not obscure, f"{path.name}: cells failing with something else than the named message: {obscure}"
        ran = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs") is not None
               and not any(o.output_type == "error" for o in c.outputs)]
        assert len(ran) >= 5, f"{path.name}: only {len(ran)} cells ran"
        assert errors, f"{path.name}: an untouched release ran without a single unfinished task"
    assert not (tmp_path / ANSWERS_FOLDER).exists(), "an unfinished answer was exported"


def test_each_notebook_runs_top_to_bottom_with_the_answers_pasted_and_exported(student, monkeypatch, tmp_path):
    """As a student who finished: the solution's answer cells pasted into the release, run in
    order 01 to 06, each in a new kernel; later notebooks run on the earlier ones' exports."""
    tree, _, _ = student
    for path in release_notebooks(tree):
        solution = nbformat.read(SOURCE / path.name, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = "\n".join(line for line in answers[grade_id].splitlines()
                                        if line.strip() not in {"### BEGIN SOLUTION", "### END SOLUTION"})
        errors = run_notebook(nb, student, monkeypatch, tmp_path)
        assert not errors, f"{path.name}: {errors}"
    exported = {p.stem for p in (tmp_path / ANSWERS_FOLDER).rglob("*.py")}  # beside the notebooks
    assert exported == {p.name for p in graded_pieces()}
