"""The built book, read as a reader gets it (_build/html): launch buttons that open the student
notebooks in this repository, every module's tasks and points, an executed gallery, and no
solution, hidden check or error output anywhere.

The book is built once per session by `bash .ci/book --build-only` when _build/html is missing or
older than any of its sources; `bash .ci/book` builds it and then runs this file on that build.
"""

import functools
import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from autograder.authoring.template_format import read_tasks

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
STAMP = HTML / "book" / "intro.html"
TEXT_SOURCES = (".html", ".ipynb", ".md", ".txt", ".py")


def book_inputs():
    yield from (ROOT / name for name in ("_config.yml", "_toc.yml", ".ci/book"))
    for folder, pattern in (("book", "**/*"), ("assignments/mlops", "*.ipynb"),
                            ("autograder/templates", "*.py"), ("tinytorch", "**/*.py")):
        yield from (p for p in (ROOT / folder).glob(pattern) if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="session")
def html():
    """_build/html, rebuilt first if any source of the book is newer than the last build
    (unless .ci/book has just built it: BOOK_JUST_BUILT=1)."""
    fresh = os.environ.get("BOOK_JUST_BUILT") == "1" and STAMP.exists()
    if not fresh and (not STAMP.exists() or STAMP.stat().st_mtime < max(p.stat().st_mtime for p in book_inputs())):
        done = subprocess.run(["bash", ".ci/book", "--build-only"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"the book does not build:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return HTML


def toc_files():
    """Every `file:` of _toc.yml (the root included), as repository paths without suffix."""
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *walk(toc["parts"])]


ASSIGNMENTS = sorted(f for f in toc_files() if f.startswith("assignments/mlops/"))


@functools.cache
def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")


def page(html, name):
    return soup(html / f"{name}.html")


def served_files(html):
    """Every page and downloadable source the built book serves."""
    return [p for p in html.rglob("*") if p.suffix in TEXT_SOURCES and p.is_file()]


def test_every_released_notebook_is_a_chapter():
    released = {f"assignments/mlops/{p.stem}" for p in (ROOT / "assignments" / "mlops").glob("*.ipynb")}
    missing = sorted(released - set(ASSIGNMENTS))
    assert not missing, f"add these released notebooks to _toc.yml under their module page: {missing}"
    assert ASSIGNMENTS, "_toc.yml lists no student notebook"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_page_has_binder_and_colab_links_to_the_notebook(html, name):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    org, repo = config["repository"]["url"].rstrip("/").split("/")[-2:]
    branch = config["repository"]["branch"]
    path = f"{name}.ipynb"
    links = {a["href"] for a in page(html, name).find_all("a", href=True)}
    binder = f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=tree/{path}"
    colab = f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{path}"
    assert binder in links, f"{name}: no Binder link {binder}; launch links: {sorted(l for l in links if 'binder' in l)}"
    assert colab in links, f"{name}: no Colab link {colab}; launch links: {sorted(l for l in links if 'colab' in l)}"
    assert (ROOT / path).is_file(), f"the launch buttons open {path}, which does not exist"
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=ROOT, capture_output=True)
        assert tracked.returncode == 0, f"{path} is not committed, so Binder and Colab cannot open it from {branch}"


def solution_lines():
    """Distinctive lines of every solution body in source/mlops that the release does not also show."""
    released = "\n".join(cell_sources(ROOT / "assignments" / "mlops"))
    lines = set()
    for source in cell_sources(ROOT / "source" / "mlops"):
        for body in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S):
            lines |= {line.strip() for line in body.splitlines()
                      if len(line.strip()) >= 24 and line.strip() not in released}
    return lines


def cell_sources(folder):
    for notebook in sorted(folder.glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            yield "".join(cell["source"])


def hidden_check_texts():
    """What of the hidden checks stays hidden: their code (each line of 30 characters or more that is
    not an import or a comment, as tests/test_publish.py reads them). Their first docstring lines are
    public (each task's statement lists them), and so are their names (the instructor guide weighs
    checks by name)."""
    texts = set()
    for path in (ROOT / "autograder" / "checks").glob("test_*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 30 and not line.startswith(("import ", "from ", "#", '"""')):
                texts.add(line)
    shown = {line.strip() for path in (ROOT / "assignments" / "mlops").glob("*.ipynb")
             for cell in nbformat.read(path, as_version=4).cells for line in cell.source.splitlines()}
    return texts - shown  # a line a visible test shares with a check is no secret


def readable_text(path):
    """What a reader sees: tags stripped from pages; notebooks and sources as they are."""
    return soup(path).get_text() if path.suffix == ".html" else path.read_text(encoding="utf-8", errors="replace")


def test_no_page_shows_a_solution_or_a_hidden_check(html):
    solutions, checks = solution_lines(), hidden_check_texts()
    assert solutions, "no solution lines found in source/mlops: this test would pass vacuously"
    assert checks, "no hidden checks found in autograder/checks: this test would pass vacuously"
    for path in served_files(html):
        text = readable_text(path)
        name = path.relative_to(html)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in text, f"{name} contains '{marker}'"
        leaked = sorted(line for line in solutions if line in text)
        assert not leaked, f"{name} shows solution code: {leaked[:3]}"
        leaked = sorted(check for check in checks if check in text)
        assert not leaked, f"{name} shows hidden checks: {leaked[:3]}"


def test_no_output_is_an_error_or_a_warning(html):
    for path in html.rglob("*.html"):
        name = path.relative_to(html)
        assert "Traceback (most recent call last)" not in readable_text(path), f"{name} shows a traceback"
        for output in soup(path).select(".cell_output"):
            text = output.get_text()
            assert not output.select(".stderr, .traceback"), f"{name}: a cell wrote to stderr: {text[:300]}"
            assert not re.search(r"\w+Error\b", text), f"{name}: an output shows an error: {text[:300]}"


def test_gallery_was_executed_and_shows_its_plots(html):
    outputs = page(html, "book/gallery").select(".cell_output")
    images = [img for output in outputs for img in output.find_all("img")]
    assert len(images) >= 7, f"the gallery shows {len(images)} plots; expected 7 (registry, serving, dashboard, drift, peeking, stream, timeline)"
    for img in images:
        assert (html / "book" / img["src"]).resolve().is_file(), f"gallery image {img['src']} is missing"


@pytest.mark.parametrize("template", sorted((ROOT / "autograder" / "templates").glob("[0-9][0-9]_*.py")),
                         ids=lambda p: p.stem)
def test_module_page_lists_the_templates_tasks_and_points(html, template):
    tasks = read_tasks(template)
    table = page(html, f"book/modules/{template.stem}").select_one("table.course-tasks")
    assert table is not None, f"book/modules/{template.stem}.md has no course-tasks table"
    rows = {tr.find("td").get_text(strip=True): tr.find_all("td")[-1].get_text(strip=True)
            for tr in table.select("tbody tr")}
    for task in tasks:
        assert rows.get(task.id) == f"{task.points:g}", f"task {task.id}: the book says {rows.get(task.id)} points, the template {task.points}"
    assert rows["total"] == f"{sum(task.points for task in tasks):g}"


def test_every_page_of_the_toc_was_built(html):
    missing = [name for name in toc_files() if not (html / f"{name}.html").is_file()]
    assert not missing, f"pages in _toc.yml that were not built: {missing}"


REPOSITORY_LINK = re.compile(r"(?:github\.com|mybinder\.org/v2/gh|colab\.research\.google\.com/github)/"
                             r"([\w.-]+/[\w.-]+?)(?:\.git)?(?=[/?#\s\"'<]|$)")


def test_every_page_names_one_repository(html):
    """The student repository is named once, in _config.yml: a page whose launch buttons, text or
    code name two different repositories has a copy of the URL that was not updated."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    configured = config["repository"]["url"].rstrip("/").split("/", 3)[-1]
    for path in sorted(html.rglob("*.html")):
        named = set(REPOSITORY_LINK.findall(path.read_text(encoding="utf-8", errors="replace")))
        assert named <= {configured}, f"{path.relative_to(html)} names {sorted(named)}; only {configured} is configured"


def built_pages(html):
    """Every HTML page of the book (not the theme's template fragments in _static)."""
    return [p for p in sorted(html.rglob("*.html")) if "_static" not in p.relative_to(html).parts]


def external(url):
    return url.startswith(("http://", "https://", "//"))


def test_no_page_loads_a_script_or_stylesheet_from_another_site(html):
    """Read offline (a lecture hall without network, a downloaded copy), a page gets only what the
    book carries: a script or stylesheet from a CDN is missing there (formulas left as raw LaTeX)."""
    pages = built_pages(html)
    assert pages, f"no pages in {html}"
    for path in pages:
        page_soup = soup(path)
        loaded = [tag["src"] for tag in page_soup.find_all("script", src=True)]
        loaded += [tag["href"] for tag in page_soup.find_all("link", href=True)
                   if {"stylesheet", "preload", "modulepreload"} & set(tag.get("rel", []))]
        remote = [url for url in loaded if external(url)]
        assert not remote, f"{path.relative_to(html)} loads {remote} from another site"
        inline = " ".join(tag.get_text() for tag in page_soup.find_all("script", src=False))
        assert not re.search(r"(?:https?:)?//[^\s\"']*mathjax", inline, re.IGNORECASE), \
            f"{path.relative_to(html)} configures MathJax from another site"


def test_pages_with_formulas_load_the_mathjax_the_book_ships(html):
    """Every page with a formula loads MathJax from _build/html (sphinx-mathjax-offline copies it
    there), and the fonts its CommonHTML output asks for, beside the script, are there too."""
    with_math = [p for p in built_pages(html) if soup(p).select(".math")]
    assert any("03_monitoring" in p.name for p in with_math), "the monitoring notebook page shows no formula"
    for path in with_math:
        scripts = [tag["src"].split("?")[0] for tag in soup(path).find_all("script", src=True)
                   if "mathjax" in tag["src"].lower()]
        assert scripts, f"{path.relative_to(html)} has formulas but loads no MathJax"
        for src in scripts:
            script = (path.parent / src).resolve()
            assert script.is_relative_to(html.resolve()) and script.is_file(), \
                f"{path.relative_to(html)} loads {src}, which is not in {html}"
            fonts = script.parent / "output" / "chtml" / "fonts" / "woff-v2"
            assert (fonts / "MathJax_Main-Regular.woff").is_file(), f"no MathJax fonts in {fonts}"
