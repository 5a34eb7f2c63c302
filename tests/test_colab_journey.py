"""The course as Colab plays it: every notebook in its own runtime, nothing exported before it.

Colab gives each notebook a new runtime, and a new Binder session keeps nothing, so what a
student has is the folder of their notebooks (Drive's ``Colab Notebooks``, or the files they
upload). Here each notebook runs in a fresh kernel on a fresh copy of the published student
edition, with the student's answered notebooks (the solution notebooks' answers pasted into the
release) in its folder and no exports anywhere: its setup cell must rebuild every earlier piece
from them, and every demo must run. With 04's notebook gone, 06 must stop with one message naming
04's pieces, at once, not a timeout.

Cost: one publish, then one kernel per notebook run (no venv per notebook: the kernel is this
environment's Python with a fresh copy of the published ``tinytorch`` first on ``PYTHONPATH``,
and a fresh notebook folder, so the package and the exports start empty every time).
"""

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring.notebooks import SOURCE
from autograder.authoring.publish import publish
from tinytorch.export import ANSWERS_ENV, ANSWERS_FOLDER
from tinytorch.submission import SKIP_ENV, meta

pytestmark = pytest.mark.slow

WHERE = "import tinytorch; print('tinytorch from', tinytorch.__file__)"


def answered(release: Path) -> nbformat.NotebookNode:
    """The release notebook with the solution notebook's answer cells pasted in, as a student
    who finished it saved it."""
    solution = nbformat.read(SOURCE / release.name, as_version=4)
    answers = {meta(c)["grade_id"]: c.source for c in solution.cells if meta(c).get("solution")}
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in answers:
            cell.source = "\n".join(line for line in answers[meta(cell)["grade_id"]].splitlines()
                                    if line.strip() not in {"### BEGIN SOLUTION", "### END SOLUTION"})
    return nb


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """(published tree, {notebook name: answered notebook})."""
    tree = tmp_path_factory.mktemp("edition") / "student-repo"
    publish(tree)
    releases = sorted((tree / "assignments" / "mlops").glob("*.ipynb"))
    return tree, {path.stem: answered(path) for path in releases}


def new_runtime(edition, root: Path, notebooks: list[str]) -> Path:
    """A fresh runtime: a copy of the student edition, a kernel running on it, and a notebook
    folder holding the student's ``notebooks``; returns that folder."""
    tree, answers = edition
    site = root / "site"
    shutil.copytree(tree / "tinytorch", site / "tinytorch")
    spec = root / "jupyter" / "kernels" / "runtime"
    spec.mkdir(parents=True)
    env = {"PYTHONPATH": str(site), "MPLBACKEND": "Agg", SKIP_ENV: "1"}  # SKIP_ENV: the submit cell
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "runtime", "language": "python", "env": env}))
    folder = root / "Colab Notebooks"
    folder.mkdir()
    for name in notebooks:
        nbformat.write(answers[name], folder / f"{name}.ipynb")
    return folder


def run(folder: Path, name: str, monkeypatch) -> nbformat.NotebookNode:
    """Execute the student's ``name`` notebook of ``folder`` top to bottom in its runtime."""
    monkeypatch.setenv("JUPYTER_PATH", str(folder.parent / "jupyter"))
    monkeypatch.delenv(ANSWERS_ENV, raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE))
    NotebookClient(nb, timeout=300, kernel_name="runtime", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def errors(nb) -> list[tuple[str, str, str]]:
    return [(meta(cell).get("grade_id", str(i)), out.ename, out.evalue) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" for out in cell.get("outputs", []) if out.output_type == "error"]


def text(cell) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.output_type == "stream")


def seconds(cell) -> float:
    timing = cell.metadata["execution"]
    started, ended = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
    return (ended - started).total_seconds()


@pytest.mark.parametrize("name", ["01_registry", "02_serving", "03_monitoring", "04_ab_testing",
                                  "05_continuous_learning", "06_pipeline"])
def test_every_demo_runs_on_pieces_rebuilt_from_the_earlier_notebooks(edition, tmp_path, monkeypatch, name):
    earlier = [n for n in edition[1] if n < name]
    folder = new_runtime(edition, tmp_path, earlier + [name])
    nb = run(folder, name, monkeypatch)
    assert not errors(nb), f"{name}: {errors(nb)}"
    assert str(tmp_path / "site" / "tinytorch") in text(nb.cells[-1]), "the kernel ran another tinytorch"
    setup = text(next(c for c in nb.cells if meta(c).get("grade_id") == "setup")).strip().splitlines()
    if earlier:
        assert len(setup) == 1 and setup[0].startswith(f"not exported yet, so rebuilt from your notebooks in {folder}: ")
        assert all(f"{n}.ipynb (" in setup[0] for n in earlier), setup
    else:
        assert setup == [], "01 has nothing to rebuild and says nothing"
    exported = {p.parent.name for p in (folder / ANSWERS_FOLDER).rglob("*.py")}
    assert exported == set(earlier) | {name}, "exports are written beside the notebooks"
    assert not (tmp_path / "site" / "tinytorch" / "answers").exists()


def test_06_without_04s_notebook_names_04s_pieces_at_once(edition, tmp_path, monkeypatch):
    others = [n for n in edition[1] if n != "04_ab_testing"]
    folder = new_runtime(edition, tmp_path, others)
    nb = run(folder, "06_pipeline", monkeypatch)
    setup = text(next(c for c in nb.cells if meta(c).get("grade_id") == "setup"))
    assert "fnv1a_32" in setup and "assign_variant" in setup and "no 04_ab_testing.ipynb there" in setup, setup
    failed = errors(nb)
    assert [(cell, error) for cell, error, _ in failed] == [(failed[0][0], "NotImplementedError")], failed
    message = failed[0][2]
    assert "fnv1a_32" in message and "assign_variant" in message and "04_ab_testing.ipynb" in message, message
    assert "01_registry" not in message and "05_continuous" not in message, "only what is missing is listed"
    cell = next(c for c in nb.cells if meta(c).get("grade_id") == failed[0][0])
    assert seconds(cell) < 5, f"the missing pieces took {seconds(cell):.1f} s to be named"
    assert "Timeout" not in json.dumps([c.get("outputs", []) for c in nb.cells])
