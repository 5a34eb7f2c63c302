"""The student edition (`python -m autograder publish`): everything a student needs, no answers.

The slow half (a fresh virtual environment, every release notebook run in it) is
tests/test_student_edition.py.
"""

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.notebooks import ROOT, SOURCE, library_source, repository_url
from autograder.authoring.publish import (
    PYTHON, REPOSITORY_URL, check_repository_url, fill_repository, graded_pieces, point_course_at, publish,
)

COURSE_ONLY = {"nbgrader", "pytest", "nbval", "hypothesis", "jupyter-book", "statsmodels",
               "scikit-learn", "tritonclient", "httpx"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".json", ".ipynb", ".html", ".cfg", ".yml", ".yaml"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "repo"
    publish(out)
    return out


def solution_lines() -> set[str]:
    """Lines of the solution blocks of the built source notebooks that are solution text only:
    lines the reference library also has outside its graded bodies (``return result``, a shared
    input check) are not an answer, and a student sees them in the library's other functions."""
    lines = set()
    for path in sorted(SOURCE.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if line.strip() in {"### BEGIN SOLUTION", "### END SOLUTION"}:
                    inside = line.strip() == "### BEGIN SOLUTION"
                elif inside and line.strip():
                    lines.add(line.strip())
    return lines - reference_lines_outside_graded_bodies()


def reference_lines_outside_graded_bodies() -> set[str]:
    graded = {}
    for piece in graded_pieces():
        graded.setdefault(piece.module, []).append(piece)
    lines = set()
    for path in (ROOT / "tinytorch").rglob("*.py"):
        text = path.read_text().splitlines()
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        hidden = set()
        for piece in graded.get(module, []):
            node = next(n for n in ast.parse("\n".join(text)).body if getattr(n, "name", None) == piece.name)
            functions = [m for m in node.body if getattr(m, "name", None) in piece.methods] if piece.methods else [node]
            for function in functions:
                hidden.update(range(function.body[0].lineno, function.end_lineno + 1))
        lines.update(line.strip() for number, line in enumerate(text, start=1) if number not in hidden)
    return lines


def text_files(tree: Path):
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            yield path, path.read_text()


def run_student(tree: Path, code: str, answers: Path) -> subprocess.CompletedProcess:
    """Run ``code`` as a script (so that its functions have source, as a notebook's cells do)
    with the student edition importable and ``answers`` as the export folder."""
    script = answers.parent / "student_script.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=str(tree), TINYTORCH_ANSWERS=str(answers), PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          cwd=answers.parent, timeout=120)


def test_the_tree_holds_the_student_files_only(tree):
    assert sorted(p.name for p in tree.iterdir()) == [
        ".gitignore", "README.md", "assignments", "pyproject.toml", "requirements.txt", "runtime.txt", "tinytorch"]
    released = sorted(p.name for p in (ROOT / "assignments" / "mlops").glob("*.ipynb"))
    assert sorted(p.name for p in (tree / "assignments" / "mlops").iterdir()) == released
    leftovers = [p for p in tree.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc" or p.name == "answers"]
    assert not leftovers, f"bytecode or exported answers in the student edition: {leftovers}"
    assert (tree / "tinytorch" / "datasets" / "digits.csv.gz").stat().st_size > 10_000, "the dataset ships"
    probes = ROOT / "autograder" / "grading" / "probes.py"
    assert (tree / "tinytorch" / "grading_probes.py").read_text() == probes.read_text(), \
        "the helpers the checks run in the sandbox are public: the student edition ships them"


def test_no_line_of_any_solution_appears_in_the_tree(tree):
    answers = solution_lines()
    assert len(answers) > 150, "the solution blocks were not found"
    leaks = {f"{path.relative_to(tree)}: {line.strip()}" for path, text in text_files(tree)
             for line in text.splitlines() if line.strip() in answers}
    assert not leaks, "solution text in the student edition:\n" + "\n".join(sorted(leaks))


def test_no_hidden_check_text_appears_in_the_tree(tree):
    checks = set()
    for path in (ROOT / "autograder" / "checks").glob("*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 30 and not line.startswith(("import ", "from ", "#")):
                checks.add(line)
    assert len(checks) > 100
    leaks = {f"{path.relative_to(tree)}: {line.strip()}" for path, text in text_files(tree)
             for line in text.splitlines() if line.strip() in checks}
    assert not leaks, "hidden-check text in the student edition:\n" + "\n".join(sorted(leaks))


def test_every_graded_object_is_a_stub_that_names_its_task(tree, tmp_path):
    pieces = [(p.module, p.name, list(p.methods), p.notebook, p.number) for p in graded_pieces()]
    assert len(pieces) == 26
    result = run_student(tree, f"""
        import importlib, inspect
        for module, name, methods, notebook, number in {pieces!r}:
            obj = getattr(importlib.import_module(module), name)
            assert obj.__module__ == module, (name, obj.__module__)
            for function in [getattr(obj, m) for m in methods] or [obj]:
                source = inspect.getsource(function)
                assert "raise NotImplementedError(" in source, source
                assert len([l for l in source.splitlines() if l.strip() and not l.strip().startswith("@")]) < 40
                required = [p for p in inspect.signature(function).parameters.values()
                            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                try:
                    function(*[None] * len(required))
                except NotImplementedError as error:
                    assert f"task {{number}}" in str(error) and f"{{notebook}}.ipynb" in str(error), str(error)
                else:
                    raise AssertionError(f"{{name}} ran without an exported answer")
        print("ok")
    """, tmp_path / "answers")
    assert result.stdout.strip() == "ok", result.stderr[-3000:]


def test_the_signatures_and_docstrings_are_the_releases(tree, tmp_path):
    """The stub shows what the release notebook's answer cell shows: signature and docstring."""
    release = "\n".join(c.source for p in sorted((tree / "assignments" / "mlops").glob("*.ipynb"))
                        for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")
    for piece in graded_pieces():
        module = tree.joinpath(*piece.module.split(".")).with_suffix(".py").read_text()
        node = next(n for n in ast.parse(module).body if getattr(n, "name", None) == piece.name)
        functions = [m for m in node.body if getattr(m, "name", None) in piece.methods] if piece.methods else [node]
        for function in functions:
            assert f"def {function.name}(" in release
            assert textwrap.dedent(ast.get_docstring(function, clean=False) or "").strip().splitlines()[0] in release


REGISTRY_ANSWERS = ["storage:content_hash", "storage:atomic_write_bytes", "versions:allocate_version",
                    "aliases:AliasHistory", "compare:compare_metrics"]


def test_exported_answers_run_inside_the_library_composites(tree, tmp_path):
    """A student's exported 01 answers make the student's ModelRegistry work, in a new process."""
    answers = tmp_path / "answers"
    sources = "\n\n".join(library_source(f"tinytorch.core.mlops.registry.{t}") for t in REGISTRY_ANSWERS)
    exported = run_student(tree, "import hashlib, os, tempfile, fcntl, json, time\nfrom pathlib import Path\n"
                                 "from tinytorch.core.mlops.registry.storage import locked\n"
                                 "from tinytorch.export import export\n\n" + sources +
                                 '\n\nexport("01_registry", content_hash, atomic_write_bytes)\n'
                                 'export("01_registry", allocate_version, AliasHistory, compare_metrics)\n', answers)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "01_registry is complete" in exported.stdout
    assert sorted(p.stem for p in (answers / "01_registry").glob("*.py")) == sorted(
        t.split(":")[1] for t in REGISTRY_ANSWERS)
    result = run_student(tree, """
        import tempfile
        from tinytorch.core.mlops.registry import ModelRegistry
        from tinytorch.core.mlops.experiments import fnv1a_32
        from tinytorch.core.training import train_digits_classifier
        model, _ = train_digits_classifier(hidden=(8,), epochs=1, seed=0)
        registry = ModelRegistry(tempfile.mkdtemp())
        registry.register_model(model, version="1", metrics={"accuracy": 0.5})
        registry.register_model(model, version="2", metrics={"accuracy": 0.7})
        registry.set_alias("champion", "1")
        registry.set_alias("champion", "2")
        assert registry.rollback("champion").version == "1"
        assert registry.compare_models("1", "2").metrics["accuracy"]["delta"] > 0.19
        assert (registry.load_model("1").predict(model_input := __import__("numpy").zeros((1, 64), "float32"))
                == model.predict(model_input)).all()
        try:
            fnv1a_32("user-1")
        except NotImplementedError as error:
            print(error)
    """, answers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ("fnv1a_32 is not written yet: finish task 1 (fnv1a_32) of "
                                     "04_ab_testing.ipynb and run its export cell")


def test_export_refuses_an_unfinished_answer_and_the_library_stub(tree, tmp_path):
    result = run_student(tree, '''
        from tinytorch.export import export
        from tinytorch.core.mlops.drift import psi

        def ks_statistic(reference, current):
            """The release's cell, untouched."""
            raise NotImplementedError()

        for args in [("03_monitoring", ks_statistic), ("03_monitoring", psi), ("99_nothing", ks_statistic)]:
            try:
                export(*args)
            except (NotImplementedError, TypeError, ValueError) as error:
                print(type(error).__name__, error)
    ''', tmp_path / "answers")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 3, result.stderr[-3000:]
    assert lines[0].startswith("NotImplementedError ks_statistic still raises") and "task 1" in lines[0]
    assert lines[1].startswith("TypeError `psi` is the library's stub")
    assert lines[2].startswith("ValueError unknown notebook '99_nothing'")
    assert not (tmp_path / "answers").exists()


def test_binder_builds_python_311_with_the_student_runtime_only(tree):
    """repo2docker's rules: runtime.txt picks Python; requirements.txt is pip-installed, and its
    `-e .` installs the package from the copied repository."""
    assert (tree / "runtime.txt").read_text() == f"python-{PYTHON}\n" == "python-3.11\n"
    lines = [line for line in (tree / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "-e ."
    names = {re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower() for line in lines[1:]}
    assert all("==" in line for line in lines[1:]), "every package pinned"
    assert not names & COURSE_ONLY, f"course-only packages in the student image: {names & COURSE_ONLY}"
    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    runtime = {re.match(r"[A-Za-z0-9_.-]+", dep).group(0).lower() for dep in project["dependencies"]}
    assert runtime <= names, f"run-time dependencies not pinned: {runtime - names}"
    assert project["requires-python"] == ">=3.11"
    assert "pytest" not in (tree / "pyproject.toml").read_text()


def test_launch_buttons_and_colab_lead_to_the_student_repository(tree):
    """One URL in _config.yml; the toc's notebook pages exist at the same paths in the published
    tree (the buttons link to repository/path), and the set-up cells install from it."""
    url = repository_url()
    assert url.endswith("-student")
    toc = (ROOT / "_toc.yml").read_text()
    pages = re.findall(r"file: (assignments/mlops/\d\d_\w+)", toc)
    assert len(pages) == 6 and all((tree / f"{page}.ipynb").exists() for page in pages)
    for page in pages:
        setup = nbformat.read(tree / f"{page}.ipynb", as_version=4).cells[1].source
        assert f"git+{url}" in setup and "from tinytorch.export import export" in setup, page
    assert url in (tree / "README.md").read_text()


def test_no_page_or_readme_writes_a_repository_url_of_its_own(tree):
    """The student repository is named in _config.yml only: the book's pages, the README template
    and the templates write ``{{REPOSITORY_URL}}``, filled in from it."""
    sources = [*(ROOT / "book").rglob("*.md"), *(ROOT / "book").rglob("*.ipynb"), ROOT / "autograder" / "authoring" / "student_readme.md",
               *(ROOT / "source" / "templates").glob("*.py")]
    written = {str(path.relative_to(ROOT)): REPOSITORY_URL.findall(path.read_text()) for path in sources}
    written = {path: urls for path, urls in written.items() if any("github.com" in u for u in urls)}
    assert not written, f"write {{{{REPOSITORY_URL}}}} instead of the URL: {written}"
    assert "{{REPOSITORY_URL}}" in (ROOT / "book" / "setup.md").read_text()


def test_the_readme_has_no_template_leftovers(tree):
    readme = (tree / "README.md").read_text()
    assert "{{" not in readme and "$(" not in readme, "a placeholder or a shell substitution left in the README"
    name = repository_url().rsplit("/", 1)[-1]
    assert f"git clone {repository_url()}\n" in readme and f"cd {name}\n" in readme


def test_repository_placeholders_are_filled_from_one_url():
    text = "git clone {{REPOSITORY_URL}}\ncd {{REPOSITORY_NAME}}\n"
    assert fill_repository(text, "https://github.com/me/course-student") == \
        "git clone https://github.com/me/course-student\ncd course-student\n"


@pytest.mark.parametrize("url", ["github.com/me/x", "https://github.com/me/x/", "https://github.com/me",
                                 "https://github.com/me/x.git extra", "git@github.com:me/x.git"])
def test_a_url_that_is_not_a_repository_address_is_refused_with_the_form_to_use(url):
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        check_repository_url(url)


def test_repo_url_is_written_into_the_one_config_entry(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text())
    assert point_course_at("https://github.com/someone/fork-student", config)
    assert "  url: https://github.com/someone/fork-student\n" in config.read_text()
    assert not point_course_at("https://github.com/someone/fork-student", config), "the same URL changes nothing"
    assert config.read_text().count("https://") == (ROOT / "_config.yml").read_text().count("https://")


def test_publish_with_a_bad_repo_url_stops_before_writing_anything(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "publish", "--out", str(tmp_path / "x"),
                           "--repo-url", "github.com/me/x"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "https://github.com/OWNER/NAME" in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "x").exists()


def test_a_pushed_fork_holds_no_answers_or_submissions(tree, tmp_path):
    """The student .gitignore covers exported answers (in the library or beside the notebooks)
    and what the submit cell writes."""
    repo = tmp_path / "fork"
    repo.mkdir()
    (repo / ".gitignore").write_text((tree / ".gitignore").read_text())
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    private = ["tinytorch/answers/01_registry/content_hash.py", "assignments/mlops/answers/01_registry.py",
               "assignments/mlops/tinytorch-answers/01_registry/content_hash.py",
               "assignments/mlops/submission/06_pipeline.ipynb", "submission/01_registry.ipynb"]
    public = ["assignments/mlops/01_registry.ipynb", "tinytorch/export.py"]
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", *private, *public],
                             capture_output=True, text=True).stdout.split()
    assert ignored == private, f"ignored {ignored}; must ignore exactly {private}"


def test_release_notebooks_import_no_reference_answer(tree):
    graded = {p.name for p in graded_pieces()}
    for path in sorted((tree / "assignments" / "mlops").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            tree_ = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.startswith(("%", "!"))))
            for node in ast.walk(tree_):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinytorch"):
                    imported = {alias.name for alias in node.names} & graded
                    assert not imported, f"{path.name} imports the reference {imported} from {node.module}"


def test_reveal_releases_one_notebooks_answers(tmp_path):
    publish(tmp_path / "repo", reveal=["01_registry"])
    storage = (tmp_path / "repo" / "tinytorch" / "core" / "mlops" / "registry" / "storage.py").read_text()
    assert library_source("tinytorch.core.mlops.registry.storage:content_hash") in storage
    stats = (tmp_path / "repo" / "tinytorch" / "core" / "mlops" / "drift" / "stats.py").read_text()
    assert "@_graded('03_monitoring', 'ks_statistic')" in stats
    solution = (tmp_path / "repo" / "solutions" / "01_registry.ipynb").read_text()
    assert "HIDDEN TESTS" not in solution and "BEGIN SOLUTION" not in solution
    assert "hashlib.sha256(data).hexdigest()" in solution
    assert [p.name for p in (tmp_path / "repo" / "solutions").iterdir()] == ["01_registry.ipynb"]
    tasks = json.loads((tmp_path / "repo" / "tinytorch" / "tasks.json").read_text())
    assert all(entry["revealed"] for entry in tasks["01_registry"])
    assert not any(entry["revealed"] for entry in tasks["03_monitoring"])


def test_publish_keeps_the_student_clone_git_folder_and_replaces_the_rest(tmp_path):
    out = tmp_path / "clone"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "stale.txt").write_text("from an older publish")
    publish(out)
    assert (out / ".git" / "HEAD").exists() and not (out / "stale.txt").exists()
    with pytest.raises(ValueError, match="no notebook named 07_nothing"):
        publish(out, reveal=["07_nothing"])
