"""The autograder's parts import only what their layer allows (each subpackage's docstring says so).

``authoring`` is the bottom; ``grading`` builds on it and never touches the class tools;
``classroom`` builds on both; ``proof`` may use all three; only the command line
(``autograder.__main__``) sees everything. The worker's side runs in the sandbox with nothing but
the files ``sandbox.GRADER_MODULES`` copies, so it may import only those.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.grading.sandbox import GRADER_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"

MAY_IMPORT = {
    "authoring": {"authoring"},
    "grading": {"authoring", "grading"},
    "classroom": {"authoring", "grading", "classroom"},
    "proof": {"authoring", "grading", "classroom", "proof"},
    "checks": {"authoring", "grading", "checks"},  # the hidden checks run in the judge
}
WORKER_SIDE = {"autograder." + name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
               for name in GRADER_MODULES}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, source: str, is_package: bool = False) -> list[str]:
    """The ``autograder`` modules (or packages) that ``source``, the text of ``module``, imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            # ``from autograder.grading import judge`` imports the module autograder.grading.judge
            found += [f"{base}.{alias.name}" for alias in node.names] if base.count(".") < 2 else [base]
    return [name for name in found if name == "autograder" or name.startswith("autograder.")]


def crossing(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target``, or None when the rules allow it."""
    if module == "autograder.__main__" or module == "autograder":
        return None
    if module in WORKER_SIDE:
        if any(target == side or side.startswith(target + ".") for side in WORKER_SIDE):
            return None
        return f"{module} runs in the sandbox, which has only {sorted(WORKER_SIDE)}; it imports {target}"
    job = module.split(".")[1]
    target_job = target.split(".")[1] if target.count(".") else None
    if target_job not in MAY_IMPORT.get(job, set()):
        return f"{module} ({job}) may import only {sorted(MAY_IMPORT[job])} of autograder; it imports {target}"
    return None


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    return [reason for target in imported(module, source, is_package)
            if (reason := crossing(module, target))]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts and "selfcheck_cases" not in p.parts)


def test_every_part_has_a_job():
    jobs = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert jobs == set(MAY_IMPORT) - {"checks"}
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"modules outside the four parts: {loose}; move each into the part whose job it is"


def test_the_worker_side_is_what_the_sandbox_copies():
    for name in GRADER_MODULES:
        assert (PACKAGE / name).is_file(), f"sandbox.GRADER_MODULES lists {name}, which does not exist"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    assert violations(module_name(path), path.read_text(), path.name == "__init__.py") == []


@pytest.mark.parametrize("module, source", [
    ("autograder.grading.engine", "from autograder.classroom.roster import read_roster"),
    ("autograder.grading.preprocessors", "from autograder.classroom import deadlines"),
    ("autograder.authoring.course", "from autograder.grading.engine import nbgrader_meta"),
    ("autograder.authoring.publish", "def f():\n    import autograder.proof.selfcheck"),
    ("autograder.classroom.batch", "from autograder.proof import selfcheck"),
    ("autograder.grading.worker", "from autograder.grading.sandbox import Sandbox"),
    ("autograder.grading.worker", "from autograder.grading import judge"),
    ("autograder.grading.probes", "from ..authoring import notebooks"),
    ("autograder.grading.judge", "from autograder import __main__"),
])
def test_a_crossing_import_is_caught(module, source):
    assert violations(module, source)


@pytest.mark.parametrize("module, source", [
    ("autograder.grading.engine", "from autograder.authoring.notebooks import ROOT\nimport numpy"),
    ("autograder.classroom.batch", "from autograder.grading.engine import preflight"),
    ("autograder.proof.selfcheck", "from autograder.classroom.batch import autograde_class"),
    ("autograder.grading.worker", "from autograder.grading import probes\nfrom . import protocol"),
    ("autograder.__main__", "from autograder.proof import mutation"),
])
def test_an_allowed_import_passes(module, source):
    assert violations(module, source) == []
