"""What export and the setup cell carry into the student's library (issue 26, items 1-4).

An exported answer behaves inside the library as it did in the notebook: its helper methods,
module-level helpers and constants come with it, unrelated notebook variables do not. The
setup cell rebuilds unexported pieces from the student's earlier notebooks, demos list every
missing piece at once, and library code accepts what the statements allow (NumPy bools).
"""

import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_colab_journey import answered
from test_publish import REGISTRY_ANSWERS, run_student

from autograder.authoring.notebooks import library_source
from autograder.authoring.publish import publish
from tinytorch import export
from tinytorch.core.mlops.continuous.gate import GateResult
from tinytorch.core.mlops.pipeline.traffic import TrafficGenerator

STUDENT_ALIASES = '''
def _push(stack, version):
    return stack if stack and stack[-1] == version else stack + [version]


_STEPS = {"set": _push, "rollback": lambda stack, version: stack[:-1],
          "remove_version": lambda stack, version: [v for v in stack if v != version]}
stack = ["an unrelated notebook variable"]
version = "another unrelated one"


class AliasHistory:
    def __init__(self, path):
        self.path = path

    def set(self, alias, version, when=None):
        with locked(self.path):
            self._record(alias, "set", version, when)

    def current(self, alias):
        return self.at(alias, float("inf"))

    def at(self, alias, when):
        stack = self._replay(e for e in self.history(alias) if e["at"] <= when)
        return stack[-1] if stack else None

    def rollback(self, alias, when=None):
        with locked(self.path):
            stack = self._replay(self.history(alias))
            if len(stack) < 2:
                raise LookupError(alias)
            self._record(alias, "rollback", stack[-2], when)
            return stack[-2]

    def _replay(self, events):
        stack = []
        for event in events:
            stack = _STEPS[event["action"]](stack, event["version"])
        return stack
'''


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "repo"
    publish(out)
    return out


def test_a_class_answer_keeps_its_helper_method_and_the_module_helpers_it_uses(tree, tmp_path):
    answers = tmp_path / "answers"
    others = "\n\n".join(library_source(f"tinytorch.core.mlops.registry.{t}") for t in REGISTRY_ANSWERS
                         if not t.endswith("AliasHistory"))
    exported = run_student(tree, "import hashlib, os, tempfile, fcntl, json, time\nfrom pathlib import Path\n"
                                 "from tinytorch.core.mlops.registry.storage import locked\n"
                                 "from tinytorch.export import export\n\n" + others + "\n\n" + STUDENT_ALIASES +
                                 '\n\nexport("01_registry", content_hash, atomic_write_bytes, allocate_version, '
                                 'AliasHistory, compare_metrics)\n', answers)
    assert exported.returncode == 0, exported.stderr[-3000:]
    written = (answers / "01_registry" / "AliasHistory.py").read_text()
    assert "_STEPS = {" in written and "def _push(" in written, written
    assert "unrelated" not in written, "a notebook variable the answer does not read was exported"
    result = run_student(tree, """
        import tempfile
        from tinytorch.core.mlops.registry import ModelRegistry
        from tinytorch.core.training import train_digits_classifier
        model, _ = train_digits_classifier(hidden=(8,), epochs=1, seed=0)
        registry = ModelRegistry(tempfile.mkdtemp())
        for version in ("1", "2"):
            registry.register_model(model, version=version)
            registry.set_alias("champion", version)
        assert registry.rollback("champion").version == "1"
        print(registry.get_alias("champion").version)
    """, answers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "1"


def test_one_message_lists_every_missing_piece_a_demo_needs(tree, tmp_path):
    result = run_student(tree, """
        from tinytorch.export import require
        require("01_registry", "04_ab_testing", "fnv1a_32")
    """, tmp_path / "answers")
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("NotImplementedError: this cell needs 6 pieces"), message
    for name in ("content_hash", "atomic_write_bytes", "allocate_version", "AliasHistory", "compare_metrics",
                 "fnv1a_32 (task 1, fnv1a_32, of 04_ab_testing.ipynb)"):
        assert name in message
    assert "assign_variant" not in message


def test_the_setup_cell_rebuilds_finished_pieces_from_the_earlier_notebook_and_names_the_rest(tree, tmp_path):
    release = tree / "assignments" / "mlops" / "01_registry.ipynb"
    nb = answered(release)
    unfinished = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "compare_metrics")
    unfinished.source = nbformat.read(release, as_version=4).cells[nb.cells.index(unfinished)].source
    hashing = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "content_hash")
    hashing.source = ('_HASHES = {"sha256": lambda data: hashlib.sha256(data).hexdigest()}\n'
                      'data = "an unrelated notebook variable"\n\n\n'
                      'def content_hash(data):\n    return _HASHES["sha256"](bytes(data))\n')
    nbformat.write(nb, tmp_path / "Copy of 01_registry.ipynb")
    result = run_student(tree, """
        import os
        os.environ.pop("TINYTORCH_ANSWERS")
        from tinytorch.export import start
        start("02_serving")
    """, tmp_path / "answers")
    assert result.returncode == 0, result.stderr[-3000:]
    rebuilt, missing = result.stdout.strip().splitlines()
    assert rebuilt == (f"not exported yet, so rebuilt from your notebooks in {tmp_path}: Copy of 01_registry.ipynb "
                       "(content_hash, atomic_write_bytes, allocate_version, AliasHistory)")
    assert missing.startswith("not exported and not found") and "compare_metrics (task 5" in missing
    assert "not finished in Copy of 01_registry.ipynb" in missing
    assert sorted(p.stem for p in (tmp_path / "tinytorch-answers" / "01_registry").glob("*.py")) == [
        "AliasHistory", "allocate_version", "atomic_write_bytes", "content_hash"]
    rebuilt_hash = (tmp_path / "tinytorch-answers" / "01_registry" / "content_hash.py").read_text()
    assert "_HASHES = {" in rebuilt_hash and "unrelated" not in rebuilt_hash, rebuilt_hash
    hashed = run_student(tree, "from tinytorch.core.mlops.registry.storage import content_hash\n"
                               "print(content_hash(b'')[:12])\n", tmp_path / "tinytorch-answers")
    assert hashed.stdout.strip() == "e3b0c44298fc", hashed.stderr[-2000:]


def test_an_error_in_a_traffic_thread_reaches_the_caller():
    def predict(unit, x, label):
        raise NotImplementedError("assign_variant is not written yet")

    traffic = TrafficGenerator(predict, np.zeros((4, 64)), np.zeros(4), clients=2).start()
    try:
        with pytest.raises(NotImplementedError, match="assign_variant"):
            traffic.wait_for(100, timeout=30)
    finally:
        traffic.stop()


def test_a_gate_verdict_may_be_a_numpy_bool():
    assert bool(GateResult(np.bool_(True), ["ok"])) is True
    assert not GateResult(np.bool_(False), ["failed"])


def test_in_colab_the_notebooks_folder_is_on_the_mounted_drive(monkeypatch, tmp_path):
    """Colab: the Drive is mounted once (Colab asks the student), then ``Colab Notebooks`` there is
    the folder; a refused mount leaves the runtime's folder, and says so."""
    mounts = []

    def mount(path):
        mounts.append(path)
        (Path(path) / "MyDrive").mkdir(parents=True)

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(export, "COLAB_DRIVE", tmp_path / "drive")
    monkeypatch.setattr(export, "COLAB_FOLDER", tmp_path / "drive" / "MyDrive" / "Colab Notebooks")
    assert export.notebooks_folder() == export.notebooks_folder() == export.COLAB_FOLDER
    assert mounts == [str(tmp_path / "drive")] and export.COLAB_FOLDER.is_dir()
    assert export.notebooks_folder(tmp_path / "mine") == tmp_path / "mine"

    def refuse(path):
        raise ValueError("permission denied")

    monkeypatch.setattr(export, "COLAB_DRIVE", tmp_path / "elsewhere")
    colab.drive.mount = refuse
    monkeypatch.chdir(tmp_path)
    assert export.notebooks_folder() == tmp_path
